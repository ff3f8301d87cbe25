/* The libguestfs handle of one client disk. The API cannot cancel a launch (user_cancel
 * is ignored, shutdown from another thread waits for the handle lock), and add_drive of a
 * read-only NBD drive runs qemu-img, which hangs on a silent server. What works is killing
 * our direct children (qemu-img, qemu): the call then fails within milliseconds. So a
 * watchdog thread does exactly that at the launch deadline, or on SIGTERM; it stays on
 * through the mounts, which hang on a stalled server just as the launch does. */
#include "mounter.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t deadline_ms;
	bool done;
	bool fired;
};

/* Parent pid from /proc/PID/stat; the command name may hold ')' so parse from the last. */
static pid_t ppid_of(const char *pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	char state;
	int ppid;
	if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
		return -1;
	return ppid;
}

static int kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (ppid_of(de->d_name) == getpid()) {
			pid_t pid = (pid_t)atoi(de->d_name);
			if (pid > 1 && kill(pid, SIGKILL) == 0)
				n++;
		}
	}
	closedir(d);
	return n;
}

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		/* Wake every 100 ms: the SIGTERM flag cannot signal a condition variable. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		if (!w->done && (mounter_term || mono_ms() >= w->deadline_ms)) {
			w->fired = true;
			kill_children();
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int watchdog_start(struct watchdog *w, uint32_t timeout_s)
{
	pthread_condattr_t ca;
	memset(w, 0, sizeof(*w));
	w->deadline_ms = mono_ms() + (int64_t)timeout_s * 1000;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	return pthread_create(&w->thread, NULL, watchdog_main, w) == 0 ? 0 : -1;
}

static bool watchdog_stop(struct watchdog *w)
{
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	return w->fired;
}

static int gfail(struct disk *d, const char *what, char *err, size_t errlen)
{
	const char *e = d->g ? guestfs_last_error(d->g) : NULL;
	snprintf(err, errlen, "%s: %s", what, e ? e : "unknown libguestfs error");
	return -1;
}

/* "force_tcg:a=b" -> { "force_tcg", "a=b" }, as LIBGUESTFS_BACKEND_SETTINGS splits it. */
static int set_backend_settings(struct disk *d, const char *s, char *err, size_t errlen)
{
	char buf[sizeof(((struct mounter_config *)0)->backend_settings)];
	char *v[32];
	int n = 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ":", &save); t && n < 31; t = strtok_r(NULL, ":", &save))
		v[n++] = t;
	v[n] = NULL;
	if (guestfs_set_backend_settings(d->g, v) < 0)
		return gfail(d, "backend settings", err, errlen);
	return 0;
}

static int configure(struct disk *d, const struct mounter_config *cfg, char *err, size_t errlen)
{
	/* Errors are read with guestfs_last_error and logged as one line of ours. */
	guestfs_set_error_handler(d->g, NULL, NULL);
	/* autosync makes shutdown and close run umount_all and sync inside the appliance:
	 * programs an appliance that a hostile disk tampered with may have replaced. The
	 * drive is read-only behind a throw-away overlay, so there is nothing to sync. */
	if (guestfs_set_autosync(d->g, 0) < 0)
		return gfail(d, "autosync", err, errlen);
	if (cfg->verbose > 1)
		guestfs_set_verbose(d->g, 1);
	if (cfg->backend_settings[0] && set_backend_settings(d, cfg->backend_settings, err, errlen) < 0)
		return -1;
	/* The cache is shared by every mounter (a 680 MB appliance); tmpdir is private. */
	if (cfg->cache_dir[0]) {
		if (mkdir(cfg->cache_dir, 0700) < 0 && errno != EEXIST)
			log_warn("cannot create the cache dir %s", cfg->cache_dir);
		if (guestfs_set_cachedir(d->g, cfg->cache_dir) < 0)
			return gfail(d, "cache dir", err, errlen);
	}
	if (cfg->tmp_dir[0] && guestfs_set_tmpdir(d->g, cfg->tmp_dir) < 0)
		return gfail(d, "tmp dir", err, errlen);
	return 0;
}

static int add_drive(struct disk *d, const struct nbdconf *c, char *err, size_t errlen)
{
	char *servers[] = { (char *)c->server, NULL };
	/* The export name is the drive's filename; readonly adds a qcow2 overlay in tmpdir. */
	if (guestfs_add_drive_opts(d->g, c->export_name,
				   GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
				   GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
				   GUESTFS_ADD_DRIVE_OPTS_PROTOCOL, "nbd",
				   GUESTFS_ADD_DRIVE_OPTS_SERVER, servers, -1) < 0)
		return gfail(d, "add_drive", err, errlen);
	return 0;
}

/* Without "/" from the disk, the mount points must be made in the appliance's root. */
static int make_mountpoints(struct disk *d, const struct nbdconf *c, char *err, size_t errlen)
{
	for (int i = 0; i < c->nmounts; i++) {
		char p[NBDCONF_PATH_MAX];
		const char *mp = c->mounts[i].mountpoint;
		bool nested = false;
		for (int j = 0; j < i; j++)
			nested = nested || nbdconf_path_within(mp, c->mounts[j].mountpoint);
		if (nested)
			continue;       /* lives on an earlier mount: it must exist there */
		for (size_t k = 1; mp[k - 1]; k++) {
			if (mp[k] != '/' && mp[k] != '\0')
				continue;
			snprintf(p, sizeof(p), "%.*s", (int)k, mp);
			if (guestfs_mkmountpoint(d->g, p) < 0 && guestfs_last_errno(d->g) != EEXIST)
				return gfail(d, p, err, errlen);
		}
	}
	d->mountpoints_made = true;
	return 0;
}

static bool has_root_mount(const struct nbdconf *c)
{
	for (int i = 0; i < c->nmounts; i++)
		if (strcmp(c->mounts[i].mountpoint, "/") == 0)
			return true;
	return false;
}

static int resolve_root(struct disk *d, const struct nbdconf *c, char *err, size_t errlen)
{
	char *rp = guestfs_realpath(d->g, c->tftp_root);
	if (!rp)
		return gfail(d, c->tftp_root, err, errlen);
	bool ok = false;
	for (int i = 0; i < c->nmounts; i++)
		ok = ok || nbdconf_path_within(rp, c->mounts[i].mountpoint);
	if (!ok || strlen(rp) >= sizeof(d->root_real)) {
		snprintf(err, errlen, "tftp_root %s resolves to %.200s, which is not on the disk", c->tftp_root, rp);
		free(rp);
		return -1;
	}
	snprintf(d->root_real, sizeof(d->root_real), "%s", rp);
	free(rp);
	return 0;
}

/* guestfsd stats "/sysroot" + mp and runs mount(8) on that path outside its chroot, so a
 * symlink on an earlier partition at mp's path would send this partition anywhere in the
 * appliance: over its /usr/sbin, say, and the next mount runs the disk's own program as
 * root. So a mount point on the disk must be a directory reached through no symlink at
 * all: its realpath (resolved inside the chroot) is itself, and it is not a link. */
static int check_mountpoint(struct disk *d, const char *mp, char *err, size_t errlen)
{
	char what[NBDCONF_PATH_MAX + 32];
	snprintf(what, sizeof(what), "mount point %s", mp);
	char *rp = guestfs_realpath(d->g, mp);
	if (!rp)
		return gfail(d, what, err, errlen);
	if (strcmp(rp, mp) != 0) {
		snprintf(err, errlen, "%s resolves to %.200s on the disk (a symlink): refused", what, rp);
		free(rp);
		return -1;
	}
	free(rp);
	int dir = guestfs_is_dir_opts(d->g, mp, GUESTFS_IS_DIR_OPTS_FOLLOWSYMLINKS, 0, -1);
	if (dir < 0)
		return gfail(d, what, err, errlen);
	if (!dir) {
		snprintf(err, errlen, "%s is not a directory on the disk: refused", what);
		return -1;
	}
	return 0;
}

/* After the fact: the appliance must list the partition on that very mount point (a mount
 * sent outside /sysroot is not listed at all). */
static int check_mounted(struct disk *d, const char *dev, const char *mp, char *err, size_t errlen)
{
	char **mps = guestfs_mountpoints(d->g);
	bool found = false;
	if (!mps)
		return gfail(d, "mountpoints", err, errlen);
	for (size_t i = 0; mps[i] && mps[i + 1]; i += 2)
		found = found || (strcmp(mps[i], dev) == 0 && strcmp(mps[i + 1], mp) == 0);
	for (size_t i = 0; mps[i]; i++)
		free(mps[i]);
	free(mps);
	if (!found) {
		snprintf(err, errlen, "%s is not mounted on %s after mount_ro: refused", dev, mp);
		return -1;
	}
	return 0;
}

static int mount_one(struct disk *d, const struct nbdconf_mount *m, bool on_disk, char *err, size_t errlen)
{
	char dev[32], what[NBDCONF_PATH_MAX + 64];
	snprintf(dev, sizeof(dev), "/dev/sda%d", m->partition);
	if (on_disk && check_mountpoint(d, m->mountpoint, err, errlen) < 0)
		return -1;
	if (guestfs_mount_ro(d->g, dev, m->mountpoint) < 0) {
		snprintf(what, sizeof(what), "mount partition %d on %s", m->partition, m->mountpoint);
		return gfail(d, what, err, errlen);
	}
	return check_mounted(d, dev, m->mountpoint, err, errlen);
}

static int mount_all(struct disk *d, const struct nbdconf *c, char *err, size_t errlen)
{
	if (!has_root_mount(c) && !d->mountpoints_made && make_mountpoints(d, c, err, errlen) < 0)
		return -1;
	/* The first mount point is "/" or one we made in the appliance: nothing of the disk
	 * is mounted yet. Every later one may lie on a partition already mounted. */
	for (int i = 0; i < c->nmounts; i++)
		if (mount_one(d, &c->mounts[i], i > 0, err, errlen) < 0)
			return -1;
	return resolve_root(d, c, err, errlen);
}

/* Launch and mounts run under one watchdog with the launch deadline: an NBD server that
 * stalls right after the launch hangs the first mount as surely as it would hang the
 * launch, and the mounter must give its own reason before the parent's backstop. */
static int launch_and_mount(struct disk *d, const struct nbdconf *c, uint32_t timeout_s,
			    char *err, size_t errlen)
{
	struct watchdog w;
	int64_t t0 = mono_ms();
	bool launched = false;
	if (watchdog_start(&w, timeout_s) < 0) {
		snprintf(err, errlen, "cannot start the launch watchdog");
		return -1;
	}
	int rc = add_drive(d, c, err, errlen);
	if (rc == 0 && guestfs_launch(d->g) < 0)
		rc = gfail(d, "launch", err, errlen);
	if (rc == 0) {
		launched = true;
		log_info("appliance up in %.1f s", (double)(mono_ms() - t0) / 1000);
		rc = mount_all(d, c, err, errlen);
	}
	if (watchdog_stop(&w)) {
		if (mounter_term)
			snprintf(err, errlen, "start interrupted by SIGTERM");
		else if (launched)
			snprintf(err, errlen, "mounting did not finish within the %u s launch timeout: qemu killed",
				 timeout_s);
		else
			snprintf(err, errlen, "launch took longer than %u s: qemu killed", timeout_s);
		return -1;
	}
	return rc;
}

int disk_start(struct disk *d, const struct nbdconf *c, const struct mounter_config *cfg,
	       char *err, size_t errlen)
{
	/* libguestfs puts its socket dir in XDG_RUNTIME_DIR (non-root), and supermin its
	 * scratch folder in TMPDIR (else /var/tmp), where a supermin that the watchdog kills
	 * leaves it: keep both in our private tmp dir, which the parent removes even after a
	 * SIGKILL. Not TMPDIR without an explicit cache dir: libguestfs's default cache dir is
	 * $TMPDIR, and the 680 MB appliance would then be built anew by every mounter. */
	if (cfg->tmp_dir[0]) {
		setenv("XDG_RUNTIME_DIR", cfg->tmp_dir, 1);
		if (cfg->cache_dir[0])
			setenv("TMPDIR", cfg->tmp_dir, 1);
	}
	d->g = guestfs_create();
	if (!d->g) {
		snprintf(err, errlen, "guestfs_create failed");
		return -1;
	}
	if (configure(d, cfg, err, errlen) < 0)
		return -1;
	return launch_and_mount(d, c, cfg->launch_timeout_s, err, errlen);
}

int disk_remount(struct disk *d, const struct nbdconf *c, char *err, size_t errlen)
{
	int64_t t0 = mono_ms();
	if (guestfs_umount_all(d->g) < 0)
		return gfail(d, "umount_all", err, errlen);
	if (mount_all(d, c, err, errlen) < 0)
		return -1;
	log_debug("remounted in %lld ms", (long long)(mono_ms() - t0));
	return 0;
}

void disk_stop(struct disk *d)
{
	if (!d->g)
		return;
	if (guestfs_shutdown(d->g) < 0)
		log_warnx("appliance shutdown: %s", guestfs_last_error(d->g) ? guestfs_last_error(d->g) : "?");
	guestfs_close(d->g);
	d->g = NULL;
}

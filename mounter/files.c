/* Opening files on the disk for the worker. A name is resolved inside the guest
 * (realpath, once per open: symlinks on the disk may point anywhere) and confined to
 * tftp_root after resolution; only regular files. The answer (WM_OPENED with a memfd of
 * the file's size, or WM_ERROR) goes at once; the memfd is then filled with guestfs_pread
 * in 1 MiB chunks, one chunk per loop turn, round-robin over the files being filled, with
 * a WM_PROGRESS after each. Complete memfds are sealed and kept in a cache bounded by
 * cache_max_bytes, keyed by the guest's (path, size, mtime, inode) and revalidated by a
 * statns on every open. */
#include "mounter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "nbdprobe.h"

struct entry {
	struct entry *next;
	char *path;                  /* resolved guest path */
	uint64_t size;
	int64_t mtime_sec, mtime_nsec, ino;
	int memfd;
	uint64_t filled;             /* bytes [0, filled) are final */
	bool complete;
	bool failed;
	int users;                   /* open ids that refer to it */
	int64_t last_used_ms;
};

struct open_file {
	struct open_file *next;
	uint32_t id;
	struct entry *e;
};

void files_init(struct files *f, uint64_t max_bytes)
{
	memset(f, 0, sizeof(*f));
	f->max_bytes = max_bytes;
}

static void send_error(struct mounter *mt, uint32_t id, uint32_t kind, const char *msg)
{
	uint8_t buf[sizeof(struct wm_error) + RTFTP_REASON_MAX];
	struct wm_error we = { .kind = kind };
	size_t n = strlen(msg);
	if (n > RTFTP_REASON_MAX - 1)
		n = RTFTP_REASON_MAX - 1;
	memcpy(buf, &we, sizeof(we));
	memcpy(buf + sizeof(we), msg, n);
	buf[sizeof(we) + n] = '\0';
	mounter_send_worker(mt, WM_ERROR, id, buf, sizeof(we) + n + 1, -1);
}

static void entry_free(struct files *f, struct entry *e)
{
	for (struct entry **pp = &f->entries; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	if (f->next_fill == e)
		f->next_fill = NULL;
	f->bytes -= e->size;
	close(e->memfd);
	free(e->path);
	free(e);
}

void files_drop_all(struct files *f)
{
	struct entry *e = f->entries, *n;
	for (; e; e = n) {
		n = e->next;
		if (e->users == 0)
			entry_free(f, e);
		else
			e->failed = true;   /* still valid for its users; never found again (old view) */
	}
}

static struct open_file *find_open(struct files *f, uint32_t id)
{
	for (struct open_file *o = f->opens; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

static void open_remove(struct files *f, struct open_file *o)
{
	for (struct open_file **pp = &f->opens; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	struct entry *e = o->e;
	f->nopen--;
	free(o);
	e->users--;
	e->last_used_ms = mono_ms();
	/* Only a complete, good memfd is worth keeping. */
	if (e->users == 0 && (!e->complete || e->failed))
		entry_free(f, e);
}

/* Evict unused complete entries, least recently used first, until size fits. */
static bool make_room(struct files *f, uint64_t size)
{
	while (f->bytes + size > f->max_bytes) {
		struct entry *lru = NULL;
		for (struct entry *e = f->entries; e; e = e->next)
			if (e->users == 0 && (!lru || e->last_used_ms < lru->last_used_ms))
				lru = e;
		if (!lru)
			return false;
		entry_free(f, lru);
	}
	return true;
}

/* qemu killed or crashed: every later call fails, so let a new mounter take over. The
 * caller's request is answered first by the exit path (EOF = unavailable to the worker). */
static void check_appliance(struct mounter *mt)
{
	if (guestfs_is_ready(mt->disk.g) <= 0) {
		log_warnx("the appliance is gone: exiting");
		mounter_status(mt, PM_ST_FAILED, "the appliance died");
		exit(1);
	}
}

/* Map a guest errno to the worker's error kind; ENOENT only when the server is alive,
 * because FAT on a dead server reports existing files as missing. */
static uint32_t error_kind(struct mounter *mt, int err, char *why, size_t whylen)
{
	char perr[256];
	check_appliance(mt);
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
		if (nbdprobe_alive(&mt->conf, MOUNTER_ALIVE_MS, perr, sizeof(perr)) < 0) {
			snprintf(why, whylen, "NBD server not answering: %s", perr);
			return WM_ERR_UNAVAILABLE;
		}
		snprintf(why, whylen, "not found");
		return WM_ERR_NOTFOUND;
	case ELOOP:
	case EACCES:
	case EPERM:
		snprintf(why, whylen, "%s", strerror(err));
		return WM_ERR_DENIED;
	default:
		snprintf(why, whylen, "disk error: %s", err ? strerror(err) : "unknown");
		return WM_ERR_UNAVAILABLE;
	}
}

struct resolved {
	char *path;
	struct guestfs_statns *st;
};

/* realpath + confinement + statns. 0, or an error kind with the reason in why. */
static uint32_t resolve(struct mounter *mt, const char *name, struct resolved *r, char *why, size_t whylen)
{
	guestfs_h *g = mt->disk.g;
	char full[PATH_MAX + MOUNTER_NAME_MAX];
	const char *root = mt->disk.root_real;
	snprintf(full, sizeof(full), "%s/%s", strcmp(root, "/") == 0 ? "" : root, name);
	r->path = guestfs_realpath(g, full);
	if (!r->path)
		return error_kind(mt, guestfs_last_errno(g), why, whylen);
	if (!nbdconf_path_within(r->path, root) || strcmp(r->path, root) == 0) {
		snprintf(why, whylen, "resolves outside tftp_root");
		return WM_ERR_DENIED;
	}
	r->st = guestfs_statns(g, r->path);
	if (!r->st)
		return error_kind(mt, guestfs_last_errno(g), why, whylen);
	if (!S_ISREG((mode_t)r->st->st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return WM_ERR_DENIED;
	}
	if (r->st->st_size < 0 || (uint64_t)r->st->st_size > mt->files.max_bytes) {
		snprintf(why, whylen, "file of %lld bytes is over the mounter's cache bound",
			 (long long)r->st->st_size);
		return WM_ERR_TOOBIG;
	}
	return 0;
}

static struct entry *cache_find(struct files *f, const struct resolved *r)
{
	for (struct entry *e = f->entries; e; e = e->next)
		if (!e->failed && e->size == (uint64_t)r->st->st_size && e->ino == r->st->st_ino &&
		    e->mtime_sec == r->st->st_mtime_sec && e->mtime_nsec == r->st->st_mtime_nsec &&
		    strcmp(e->path, r->path) == 0)
			return e;
	return NULL;
}

static struct entry *entry_new(struct files *f, const struct resolved *r, char *why, size_t whylen)
{
	uint64_t size = (uint64_t)r->st->st_size;
	if (!make_room(f, size)) {
		snprintf(why, whylen, "cache bound reached by files in use");
		return NULL;
	}
	struct entry *e = calloc(1, sizeof(*e));
	int fd = memfd_create("rtftp-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (!e || fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0 ||
	    !(e->path = strdup(r->path))) {
		snprintf(why, whylen, "memfd: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		free(e);
		return NULL;
	}
	e->memfd = fd;
	e->size = size;
	e->ino = r->st->st_ino;
	e->mtime_sec = r->st->st_mtime_sec;
	e->mtime_nsec = r->st->st_mtime_nsec;
	e->complete = size == 0;
	e->next = f->entries;
	f->entries = e;
	f->bytes += size;
	return e;
}

static void resolved_free(struct resolved *r)
{
	free(r->path);
	if (r->st)
		guestfs_free_statns(r->st);
}

/* Freshness: an open after a quiet spell (no open for remount_quiet_s) starts a new boot:
 * remount for a fresh, consistent view. Never while a file is being read from the disk;
 * memfds already handed out are copies and stay valid. */
static int maybe_remount(struct mounter *mt)
{
	char err[RTFTP_REASON_MAX];
	int64_t quiet = (int64_t)mt->cfg.remount_quiet_s * 1000;
	if (files_need_fill(&mt->files) || mono_ms() - mt->last_open_ms < quiet)
		return 0;
	files_drop_all(&mt->files);
	if (disk_remount(&mt->disk, &mt->conf, err, sizeof(err)) < 0) {
		log_warnx("remount failed: %s", err);
		return -1;
	}
	log_info("remounted after %lld s of quiet", (long long)(mono_ms() - mt->last_open_ms) / 1000);
	return 0;
}

static void send_opened(struct mounter *mt, uint32_t id, struct entry *e)
{
	struct wm_opened op = { .size = e->size };
	mounter_send_worker(mt, WM_OPENED, id, &op, sizeof(op), e->memfd);
	if (e->filled > 0 || e->complete) {
		struct wm_progress pr = { .available = e->complete ? e->size : e->filled };
		mounter_send_worker(mt, WM_PROGRESS, id, &pr, sizeof(pr), -1);
	}
}

static bool name_ok(const char *name)
{
	if (!name[0])
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static uint32_t open_entry(struct mounter *mt, const char *name, struct entry **out, char *why, size_t whylen)
{
	struct resolved r = { 0 };
	uint32_t kind = resolve(mt, name, &r, why, whylen);
	if (kind == 0) {
		*out = cache_find(&mt->files, &r);
		if (!*out && !(*out = entry_new(&mt->files, &r, why, whylen)))
			kind = WM_ERR_TOOBIG;
	}
	resolved_free(&r);
	return kind;
}

int files_open(struct mounter *mt, uint32_t id, const char *name)
{
	char why[RTFTP_REASON_MAX], esc[128];
	struct entry *e = NULL;
	struct files *f = &mt->files;
	log_escape(esc, sizeof(esc), name, strlen(name));
	if (find_open(f, id)) {
		log_warnx("worker reused open id %u", id);
		return -1;
	}
	if (!name_ok(name) || f->nopen >= MOUNTER_MAX_OPEN) {
		send_error(mt, id, name_ok(name) ? WM_ERR_UNAVAILABLE : WM_ERR_DENIED,
			   name_ok(name) ? "too many open files" : "bad name");
		return 0;
	}
	if (maybe_remount(mt) < 0) {
		send_error(mt, id, WM_ERR_UNAVAILABLE, "remount failed");
		mounter_exit(mt, 1);
	}
	uint32_t kind = open_entry(mt, name, &e, why, sizeof(why));
	if (kind) {
		log_debug("open \"%s\": %s", esc, why);
		send_error(mt, id, kind, why);
		return 0;
	}
	struct open_file *o = calloc(1, sizeof(*o));
	if (!o)
		fatal("calloc");
	o->id = id;
	o->e = e;
	o->next = f->opens;
	f->opens = o;
	f->nopen++;
	e->users++;
	e->last_used_ms = mono_ms();
	log_debug("open \"%s\" id %u: %llu bytes%s", esc, id, (unsigned long long)e->size,
		  e->complete ? " (cached)" : "");
	send_opened(mt, id, e);
	return 0;
}

int files_close(struct mounter *mt, uint32_t id)
{
	struct open_file *o = find_open(&mt->files, id);
	if (!o) {
		/* After a WM_ERROR mid-fill the id is already gone; the worker may still close it. */
		log_debug("close of unknown id %u", id);
		return 0;
	}
	open_remove(&mt->files, o);
	return 0;
}

static bool wants_fill(const struct entry *e);

bool files_need_fill(const struct files *f)
{
	for (const struct entry *e = f->entries; e; e = e->next)
		if (wants_fill(e))
			return true;
	return false;
}

static bool wants_fill(const struct entry *e)
{
	return e->users > 0 && !e->complete && !e->failed;
}

/* Round-robin: from where the last turn stopped to the end, then from the head. */
static struct entry *next_to_fill(struct files *f)
{
	struct entry *e;
	for (e = f->next_fill; e; e = e->next)
		if (wants_fill(e))
			break;
	for (struct entry *h = f->entries; !e && h; h = h->next)
		if (wants_fill(h))
			e = h;
	if (e)
		f->next_fill = e->next;
	return e;
}

static void fail_entry(struct mounter *mt, struct entry *e, const char *why)
{
	struct open_file *o, *n;
	log_warnx("reading %s failed at %llu of %llu bytes: %s", e->path, (unsigned long long)e->filled,
		  (unsigned long long)e->size, why);
	e->failed = true;
	e->users++;             /* keep e alive while its ids go */
	for (o = mt->files.opens; o; o = n) {
		n = o->next;
		if (o->e == e) {
			send_error(mt, o->id, WM_ERR_UNAVAILABLE, why);
			open_remove(&mt->files, o);
		}
	}
	e->users--;
	if (e->users == 0)
		entry_free(&mt->files, e);
}

static int write_all(int fd, const char *buf, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, buf, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static void progress(struct mounter *mt, struct entry *e)
{
	struct wm_progress pr = { .available = e->filled };
	for (struct open_file *o = mt->files.opens; o; o = o->next)
		if (o->e == e)
			mounter_send_worker(mt, WM_PROGRESS, o->id, &pr, sizeof(pr), -1);
}

/* guestfs_pread opens the file by name for every chunk: if the name came to mean another
 * file between the first chunk and the last, the memfd mixes two files. So once it is full,
 * the name must still give the inode, size and mtime the entry was made for. (It cannot
 * catch a file rewritten in place under the same inode and times; the remount policy is
 * what keeps the view consistent.) NULL when unchanged, else why not. */
static const char *changed_during_fill(struct mounter *mt, const struct entry *e, char *why, size_t whylen)
{
	struct guestfs_statns *st = guestfs_statns(mt->disk.g, e->path);
	if (!st) {
		int err = guestfs_last_errno(mt->disk.g);
		check_appliance(mt);
		snprintf(why, whylen, "stat after the read: %s", err ? strerror(err) : "error");
		return why;
	}
	bool same = st->st_ino == e->ino && st->st_size >= 0 && (uint64_t)st->st_size == e->size &&
		    st->st_mtime_sec == e->mtime_sec && st->st_mtime_nsec == e->mtime_nsec;
	guestfs_free_statns(st);
	if (same)
		return NULL;
	snprintf(why, whylen, "the file changed on the disk while it was read");
	return why;
}

void files_fill_step(struct mounter *mt)
{
	char why[RTFTP_REASON_MAX];
	struct entry *e = next_to_fill(&mt->files);
	size_t got = 0;
	if (!e)
		return;
	uint64_t left = e->size - e->filled;
	/* A small first chunk lets the first DATA leave at once; then 1 MiB for throughput. */
	uint64_t chunk = e->filled ? MOUNTER_CHUNK : MOUNTER_FIRST_CHUNK;
	int count = (int)(left < chunk ? left : chunk);
	char *buf = guestfs_pread(mt->disk.g, e->path, count, (int64_t)e->filled, &got);
	if (!buf) {
		int err = guestfs_last_errno(mt->disk.g);
		check_appliance(mt);
		snprintf(why, sizeof(why), "disk read: %s", err ? strerror(err) : "error");
		fail_entry(mt, e, why);
		return;
	}
	/* A short read is not EOF: the size is known, so anything less is a failure. */
	if (got != (size_t)count) {
		free(buf);
		snprintf(why, sizeof(why), "short read: %zu of %d bytes", got, count);
		fail_entry(mt, e, why);
		return;
	}
	int wr = write_all(e->memfd, buf, got, e->filled);
	free(buf);
	if (wr < 0) {
		snprintf(why, sizeof(why), "memfd write: %s", strerror(errno));
		fail_entry(mt, e, why);
		return;
	}
	if (e->filled + got == e->size && changed_during_fill(mt, e, why, sizeof(why))) {
		fail_entry(mt, e, why);
		return;
	}
	e->filled += got;
	if (e->filled == e->size) {
		e->complete = true;
		/* Sealed: the worker can trust that the bytes it serves never change. */
		if (fcntl(e->memfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL) < 0)
			log_warn("sealing a memfd");
	}
	progress(mt, e);
}

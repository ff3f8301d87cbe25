/* rtftp-mounter: started by the parent with its channel at fd 3 and the worker's at fd 4.
 * Order: confine, HELLO both ways on both channels, PM_CONFIG (fd = the .nbd file), parse,
 * libnbd pre-flight (milliseconds: a dead server, a wrong export or a missing partition is
 * reported before any launch), libguestfs launch and mounts, READY, serve. */
#include "checkconfig.h"
#include "mounter.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "nbdprobe.h"

#define HELLO_TIMEOUT_MS 10000

static char log_role[16 + RTFTP_ADDR_MAX];

/* Wait for one message with a deadline; anything but a message is fatal. */
static void recv_one(int fd, struct ipc_msg *m, const char *peer)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;
	do {
		n = poll(&p, 1, HELLO_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR && !mounter_term);
	if (n == 0)
		fatalx("no message from the %s in %d ms", peer, HELLO_TIMEOUT_MS);
	if (n < 0)
		fatal("poll");
	int r = ipc_recv(fd, m);
	if (r == 0)
		fatalx("the %s closed the channel", peer);
	if (r < 0)
		fatal("message from the %s", peer);
}

static void hello(int fd, uint16_t type, const char *peer)
{
	struct proto_hello h = { .version = RTFTP_PROTO_VERSION }, got;
	struct ipc_msg m;
	if (ipc_send(fd, type, 0, &h, sizeof(h), -1) < 0)
		fatal("HELLO to the %s", peer);
	recv_one(fd, &m, peer);
	if (m.hdr.type != type || m.fd >= 0 || ipc_get_exact(&m, &got, sizeof(got)) < 0)
		fatalx("bad HELLO from the %s", peer);
	if (got.version != RTFTP_PROTO_VERSION)
		fatalx("the %s speaks protocol %u, not %u", peer, got.version, RTFTP_PROTO_VERSION);
}

static bool cfg_strings_ok(const struct mounter_config *c)
{
	return memchr(c->backend_settings, 0, sizeof(c->backend_settings)) &&
	       memchr(c->cache_dir, 0, sizeof(c->cache_dir)) && memchr(c->tmp_dir, 0, sizeof(c->tmp_dir));
}

static int recv_config(struct mounter *mt)
{
	struct ipc_msg m;
	recv_one(mt->parent, &m, "parent");
	if (m.hdr.type != PM_CONFIG || m.fd < 0 ||
	    ipc_get_struct_string(&m, &mt->cfg, sizeof(mt->cfg), mt->addr, sizeof(mt->addr)) < 0 ||
	    !cfg_strings_ok(&mt->cfg)) {
		ipc_msg_drop_fd(&m);
		fatalx("bad PM_CONFIG from the parent");
	}
	for (const char *p = mt->addr; *p; p++)
		if (!strchr("0123456789abcdefABCDEF.:", *p))
			fatalx("bad client address in PM_CONFIG");
	return m.fd;
}

static void conf_warning(const char *msg, void *arg)
{
	log_warnx("%s.nbd: %s", (const char *)arg, msg);
}

/* Tell both peers why, then go: the worker falls through to default/ at once. */
static void __attribute__((noreturn)) fail_start(struct mounter *mt, const char *reason)
{
	char r[RTFTP_REASON_MAX];
	snprintf(r, sizeof(r), "%s", reason);
	log_warnx("%s", r);
	ipc_send_str(mt->worker, WM_FAILED, 0, r);
	mounter_status(mt, PM_ST_FAILED, r);
	disk_stop(&mt->disk);
	exit(1);
}

static int left_ms(int64_t deadline_ms)
{
	int64_t left = deadline_ms - mono_ms();
	return left > 0 ? (int)left : 0;
}

/* One deadline for all of it: the host resolved (once: the liveness checks later use the
 * address that answered), the table and partitions read, and a second connection answered
 * beside a first, because the appliance holds one for as long as it runs and an ENOENT is only
 * trusted after a liveness check on another (files.c). A server that takes one client at
 * a time (qemu-nbd's default) is refused here, in milliseconds, with that reason. */
static void preflight(struct mounter *mt)
{
	char err[NBDCONF_ERR_MAX], why[RTFTP_REASON_MAX];
	static struct nbdprobe_result pr;
	int64_t t0 = mono_ms(), deadline = t0 + MOUNTER_PROBE_MS;
	struct nbdconf *c = &mt->conf;
	if (resolve_and_probe(c, left_ms(deadline), &pr, err, sizeof(err)) < 0 ||
	    nbdprobe_check_mounts(c, &pr, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "%.200s: %.250s", c->url, err);
		fail_start(mt, why);
	}
	if (nbdprobe_alive_beside(c, left_ms(deadline), err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "%.150s: %.200s (the server must take two connections at once: "
			 "qemu-nbd needs --shared=0)", c->url, err);
		fail_start(mt, why);
	}
	log_info("NBD %s: %llu bytes, %s table, %d partitions, checked in %lld ms", c->url,
		 (unsigned long long)pr.size, pr.table, pr.nparts, (long long)(mono_ms() - t0));
}

static void start(struct mounter *mt, int conffd)
{
	char err[NBDCONF_ERR_MAX], why[RTFTP_REASON_MAX];
	int rc = nbdconf_read_fd(conffd, &mt->conf, err, sizeof(err), conf_warning, mt->addr);
	close(conffd);
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s.nbd: %s", mt->addr, err);
		fail_start(mt, why);
	}
	preflight(mt);
	int64_t t0 = mono_ms();
	if (disk_start(&mt->disk, &mt->conf, &mt->cfg, why, sizeof(why)) < 0)
		fail_start(mt, why);
	snprintf(why, sizeof(why), "%.300s mounted (%d partition%s) in %.1f s", mt->conf.url, mt->conf.nmounts,
		 mt->conf.nmounts == 1 ? "" : "s", (double)(mono_ms() - t0) / 1000);
	log_info("%s", why);
	if (ipc_send(mt->worker, WM_READY, 0, NULL, 0, -1) < 0)
		fatal("WM_READY");
	mounter_status(mt, PM_ST_READY, why);
}

static void check_channel(int fd)
{
	struct stat st;
	int type;
	socklen_t len = sizeof(type);
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		fatalx("fd %d is not a SOCK_SEQPACKET channel (rtftp-mounter is started by rtftp)", fd);
}

int main(int argc, char **argv)
{
	static struct mounter mt;
	if (argc == 3 && strcmp(argv[1], "--check-config") == 0)
		return checkconfig_run(argv[2]);
	if (argc != 1)
		fatalx("usage: rtftp-mounter (started by rtftp), or --check-config FILE");
	log_init("mounter", 0);
	sandbox_early();
	check_channel(RTFTP_FD_PARENT);
	check_channel(RTFTP_FD_WORKER);
	mt.parent = RTFTP_FD_PARENT;
	mt.worker = RTFTP_FD_WORKER;
	/* A worker that stops reading must not freeze us for ever. */
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(mt.worker, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	hello(mt.parent, PM_HELLO, "parent");
	int conffd = recv_config(&mt);
	snprintf(log_role, sizeof(log_role), "mounter %s", mt.addr);
	log_init(log_role, (int)mt.cfg.verbose);
	hello(mt.worker, WM_HELLO, "worker");
	files_init(&mt.files, mt.cfg.cache_max_bytes);
	start(&mt, conffd);
	int code = loop_run(&mt);
	mounter_exit(&mt, code);
}

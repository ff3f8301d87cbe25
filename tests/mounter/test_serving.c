/* The mounter's serving loop (mounter/loop.c, files.c) after READY, over its two real
 * channels, on a stand-in disk (fake_disk.c). Each case runs loop_run in a child process, as
 * rtftp-mounter does, and plays the worker and the parent. What it covers is what the
 * appliance tests cannot afford or cannot cause: each protocol error from the worker or the
 * parent ends the mounter (so each would cost a ~17 s launch), an open file holds off the
 * idle exit, a missing name on a dead NBD server is "unavailable", not "not found", and a
 * file that changes on the disk while it is read is never handed out whole. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_disk.h"
#include "ipc.h"
#include "log.h"
#include "proto.h"

#define ROOT "/srv/tftp"
#define WAIT_MS 3000

/* Each child's stderr; kept when a case fails (fail() names the file), removed when it passes. */
static char logdir[] = "/tmp/rtftp-serving.XXXXXX";   /* mkdtemp's template */

struct child {
	pid_t pid;
	int worker, parent;     /* the test's ends of the two channels */
	char log[128];
	const char *name;
};

static void __attribute__((noreturn, format(printf, 2, 3))) fail(const struct child *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "FAIL [%s]: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (c->pid > 0)
		kill(c->pid, SIGKILL);
	exit(1);
}

static struct fake_file *add_file(const char *path, size_t size, int64_t ino)
{
	struct fake_file *f = &fake.files[fake.nfiles++];
	*f = (struct fake_file){ .path = path, .size = size, .ino = ino };
	return f;
}

static void disk_setup(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.ready = 1;
	fake.alive = true;
	add_file(ROOT "/vmlinuz", 200 * 1024 + 17, 11);
	add_file(ROOT "/small", 5000, 12);
	add_file(ROOT "/changing", 100000, 13)->changes = true;
	add_file(ROOT "/boot", 0, 14)->is_dir = true;
	add_file("/etc/shadow", 100, 15);
	/* 3 MiB in 4 reads (64 KiB, then 1 MiB each) of 400 ms: a fill that outlasts 1 s */
	add_file(ROOT "/slow", 3u << 20, 16)->read_ms = 400;
	add_file(ROOT "/badsector", 70000, 17)->read_fails = true;
	fake.links[fake.nlinks++] = (struct fake_link){ ROOT "/evil", "/etc/shadow" };
}

static void __attribute__((noreturn)) run_mounter(int worker, int parent, const char *log, uint32_t idle_s)
{
	static struct mounter mt;
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(99);
	log_init("mounter test", 1);
	mt.worker = worker;
	mt.parent = parent;
	mt.cfg.idle_timeout_s = idle_s;
	mt.cfg.remount_quiet_s = 3600;
	mt.cfg.cache_max_bytes = 16u << 20;
	snprintf(mt.addr, sizeof(mt.addr), "127.0.0.9");
	snprintf(mt.disk.root_real, sizeof(mt.disk.root_real), ROOT);
	files_init(&mt.files, mt.cfg.cache_max_bytes);
	mounter_exit(&mt, loop_run(&mt));
}

/* The disk is set up before the fork: a case changes `fake` first to inject a fault. */
static struct child start(const char *name, uint32_t idle_s)
{
	struct child c = { .name = name };
	int w[2], p[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, w) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
		fail(&c, "socketpair: %s", strerror(errno));
	snprintf(c.log, sizeof(c.log), "%s/%s.log", logdir, name);
	c.pid = fork();
	if (c.pid < 0)
		fail(&c, "fork: %s", strerror(errno));
	if (c.pid == 0) {
		close(w[0]);
		close(p[0]);
		run_mounter(w[1], p[1], c.log, idle_s);
	}
	close(w[1]);
	close(p[1]);
	c.worker = w[0];
	c.parent = p[0];
	return c;
}

/* 1 = a message, 0 = the mounter closed the channel, -1 = nothing within ms. */
static int recv_within(const struct child *c, int fd, struct ipc_msg *m, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n = poll(&pfd, 1, ms);
	if (n < 0)
		fail(c, "poll: %s", strerror(errno));
	if (n == 0)
		return -1;
	int r = ipc_recv(fd, m);
	if (r < 0)
		fail(c, "ipc_recv: %s", strerror(errno));
	return r;
}

static void send_msg(const struct child *c, int chan, uint16_t type, uint32_t id, const void *p, size_t len, int fd)
{
	if (ipc_send(chan, type, id, p, len, fd) < 0)
		fail(c, "sending a message: %s", strerror(errno));
}

static void send_open(const struct child *c, uint32_t id, const char *name, int fd)
{
	send_msg(c, c->worker, WM_OPEN, id, name, strlen(name) + 1, fd);
}

static void send_close(const struct child *c, uint32_t id)
{
	send_msg(c, c->worker, WM_CLOSE, id, NULL, 0, -1);
}

static void worker_msg(const struct child *c, struct ipc_msg *m, uint32_t id)
{
	int r = recv_within(c, c->worker, m, WAIT_MS);
	if (r <= 0)
		fail(c, "id %u: %s", id, r == 0 ? "the mounter closed the channel" : "no answer");
	if (m->hdr.id != id)
		fail(c, "answer for id %u while waiting for id %u", m->hdr.id, id);
}

static void check_error(const struct child *c, struct ipc_msg *m, uint32_t id, uint32_t kind, const char *why)
{
	struct wm_error we;
	if (m->hdr.type != WM_ERROR || m->hdr.len < sizeof(we) + 1)
		fail(c, "id %u: %s, expected WM_ERROR", id, wm_msg_name(m->hdr.type));
	memcpy(&we, m->payload, sizeof(we));
	const char *msg = (const char *)m->payload + sizeof(we);
	if (we.kind != kind || !memchr(msg, 0, m->hdr.len - sizeof(we)) || !strstr(msg, why))
		fail(c, "id %u: error kind %u \"%.200s\", expected kind %u \"%s\"", id, we.kind, msg, kind, why);
}

static void expect_error(const struct child *c, uint32_t id, uint32_t kind, const char *why)
{
	struct ipc_msg m;
	worker_msg(c, &m, id);
	ipc_msg_drop_fd(&m);
	check_error(c, &m, id, kind, why);
}

/* WM_OPENED for id; its memfd is not kept (for a file whose fill is to fail). */
static void expect_opened(const struct child *c, uint32_t id, const char *name)
{
	struct ipc_msg m;
	worker_msg(c, &m, id);
	if (m.hdr.type != WM_OPENED)
		fail(c, "%s: %s, expected WM_OPENED", name, wm_msg_name(m.hdr.type));
	ipc_msg_drop_fd(&m);
}

/* WM_OPENED, then progress up to the whole size; the memfd must hold the file and be sealed. */
static void expect_file(const struct child *c, uint32_t id, const char *path)
{
	const struct fake_file *f = fake_find(path);
	if (!f)
		fail(c, "%s is not on the stand-in disk", path);
	struct ipc_msg m;
	struct wm_opened op;
	struct wm_progress pr = { 0 };
	worker_msg(c, &m, id);
	if (m.hdr.type != WM_OPENED || m.fd < 0 || ipc_get_exact(&m, &op, sizeof(op)) < 0)
		fail(c, "id %u: %s, expected WM_OPENED with a memfd", id, wm_msg_name(m.hdr.type));
	int memfd = m.fd;
	if (op.size != f->size)
		fail(c, "id %u: size %llu, expected %zu", id, (unsigned long long)op.size, f->size);
	while (pr.available < f->size) {
		worker_msg(c, &m, id);
		if (m.hdr.type != WM_PROGRESS || ipc_get_exact(&m, &pr, sizeof(pr)) < 0)
			fail(c, "id %u: %s during the fill", id, wm_msg_name(m.hdr.type));
	}
	char *buf = malloc(f->size + 1);
	if (!buf || pread(memfd, buf, f->size + 1, 0) != (ssize_t)f->size)
		fail(c, "id %u: the memfd does not hold %zu bytes", id, f->size);
	for (size_t i = 0; i < f->size; i++)
		if (buf[i] != fake_byte(f, i))
			fail(c, "id %u: byte %zu differs", id, i);
	int seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_WRITE) || !(seals & F_SEAL_GROW))
		fail(c, "id %u: memfd not sealed against writes (seals %#x)", id, seals);
	free(buf);
	close(memfd);
}

static bool log_has(const struct child *c, const char *line)
{
	char buf[16384];
	int fd = open(c->log, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, line) != NULL;
}

/* The mounter exits with code; its channels are closed. The log stays for the caller. */
static void reap(struct child *c, int code)
{
	int status = 0;
	if (waitpid(c->pid, &status, 0) != c->pid || !WIFEXITED(status) || WEXITSTATUS(status) != code)
		fail(c, "the mounter did not exit with %d (status %#x)", code, status);
	c->pid = 0;
	close(c->worker);
	close(c->parent);
}

/* The mounter must end: the worker's channel closes with nothing more on it, the process
 * exits with code, and its log gives the reason. */
static void expect_end(struct child *c, const char *reason, int code)
{
	struct ipc_msg m;
	int r = recv_within(c, c->worker, &m, WAIT_MS);
	if (r != 0)
		fail(c, "the mounter went on (%s) after: %s", r > 0 ? wm_msg_name(m.hdr.type) : "no EOF", reason);
	reap(c, code);
	if (!log_has(c, reason))
		fail(c, "its log does not say \"%s\" (%s)", reason, c->log);
	unlink(c->log);
	printf("ok   %s: \"%s\"\n", c->name, reason);
}

/* The worker closes its channel: the mounter shuts down and exits 0. */
static void expect_clean_exit(struct child *c, const char *what)
{
	shutdown(c->worker, SHUT_RDWR);
	reap(c, 0);
	unlink(c->log);
	printf("ok   %s: %s\n", c->name, what);
}

/* The next state reported to the parent: enum pm_state, 0 on EOF, -1 if none within ms. */
static int next_state(const struct child *c, int ms)
{
	struct ipc_msg m;
	struct pm_status st;
	int r = recv_within(c, c->parent, &m, ms);
	if (r <= 0)
		return r == 0 ? 0 : -1;
	if (m.hdr.type != PM_STATUS || m.hdr.len < sizeof(st))
		fail(c, "%s to the parent, expected PM_STATUS", pm_msg_name(m.hdr.type));
	memcpy(&st, m.payload, sizeof(st));
	return (int)st.state;
}

static void case_serving(void)
{
	disk_setup();
	struct child c = start("serving", 600);
	send_open(&c, 1, "vmlinuz", -1);
	expect_file(&c, 1, ROOT "/vmlinuz");
	send_open(&c, 2, "missing", -1);
	expect_error(&c, 2, WM_ERR_NOTFOUND, "not found");
	send_open(&c, 3, "evil", -1);
	expect_error(&c, 3, WM_ERR_DENIED, "outside tftp_root");
	send_open(&c, 4, "boot", -1);
	expect_error(&c, 4, WM_ERR_DENIED, "not a regular file");
	send_open(&c, 5, "bad\x01name", -1);
	expect_error(&c, 5, WM_ERR_DENIED, "bad name");
	/* Read whole, then the name gives a newer file: the reader gets an error, not a mix. */
	send_open(&c, 6, "changing", -1);
	expect_opened(&c, 6, "changing");
	struct ipc_msg m;
	for (;;) {
		struct wm_progress pr;
		worker_msg(&c, &m, 6);
		if (m.hdr.type == WM_ERROR)
			break;
		if (ipc_get_exact(&m, &pr, sizeof(pr)) < 0 || pr.available >= 100000)
			fail(&c, "changing: the whole file was handed out although it changed");
	}
	check_error(&c, &m, 6, WM_ERR_UNAVAILABLE, "the file changed on the disk while it was read");
	send_close(&c, 1);
	send_close(&c, 6);                  /* already gone after its error: ignored */
	send_open(&c, 8, "vmlinuz", -1);    /* from the cache, complete at once */
	expect_file(&c, 8, ROOT "/vmlinuz");
	if (!log_has(&c, "open \"vmlinuz\" id 8: 204817 bytes (cached)"))
		fail(&c, "the second open of vmlinuz was not served from the cache");
	send_open(&c, 9, "small", -1);
	expect_file(&c, 9, ROOT "/small");
	expect_clean_exit(&c, "contents, errors, a file changed during its read, the cache");
}

/* A missing name while the NBD server does not answer: FAT on a dead server reports files
 * that exist as missing, so "not found" (which sends the client to default/) is only said
 * by a server that answers. Files that can be read are still served. */
static void case_dead_server(void)
{
	disk_setup();
	fake.alive = false;
	struct child c = start("dead-server", 600);
	send_open(&c, 1, "missing", -1);
	expect_error(&c, 1, WM_ERR_UNAVAILABLE, "NBD server not answering");
	send_open(&c, 2, "small", -1);
	expect_file(&c, 2, ROOT "/small");
	send_open(&c, 3, "evil", -1);
	expect_error(&c, 3, WM_ERR_DENIED, "outside tftp_root");
	expect_clean_exit(&c, "a missing name is \"unavailable\", not \"not found\"");
}

/* A read error fails that file's open ids with "unavailable" (the worker falls back as for a
 * dead disk) and nothing else: the next file is served. */
static void case_read_error(void)
{
	disk_setup();
	struct child c = start("read-error", 600);
	send_open(&c, 1, "badsector", -1);
	expect_opened(&c, 1, "badsector");
	expect_error(&c, 1, WM_ERR_UNAVAILABLE, "disk read: Input/output error");
	send_open(&c, 2, "small", -1);
	expect_file(&c, 2, ROOT "/small");
	expect_clean_exit(&c, "that file fails, the next is served");
}

/* qemu gone: every later call would fail, so the mounter tells the parent and exits, and a
 * new one takes over; a missing name is never answered "not found" from a dead appliance. */
static void case_appliance_died(void)
{
	disk_setup();
	fake.ready = 0;
	struct child c = start("appliance-died", 600);
	send_open(&c, 1, "missing", -1);
	int st = next_state(&c, WAIT_MS);
	if (st != PM_ST_FAILED)
		fail(&c, "state %d to the parent, expected FAILED", st);
	expect_end(&c, "the appliance is gone: exiting", 1);
}

static void case_close_with_payload(void)
{
	disk_setup();
	struct child c = start("close-with-payload", 600);
	uint32_t junk = 7;
	send_open(&c, 1, "small", -1);
	expect_file(&c, 1, ROOT "/small");
	send_msg(&c, c.worker, WM_CLOSE, 1, &junk, sizeof(junk), -1);
	expect_end(&c, "WM_CLOSE with a payload", 0);
}

/* Descriptors go from the mounter to the worker only. */
static void case_open_with_fd(void)
{
	disk_setup();
	struct child c = start("open-with-fd", 600);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	send_open(&c, 1, "small", fd);
	close(fd);
	expect_end(&c, "malformed message from the worker", 0);
}

static void case_reused_id(void)
{
	disk_setup();
	struct child c = start("reused-id", 600);
	send_open(&c, 9, "small", -1);
	expect_file(&c, 9, ROOT "/small");
	send_open(&c, 9, "vmlinuz", -1);
	expect_end(&c, "worker reused open id 9", 0);
}

static void case_unknown_type(void)
{
	disk_setup();
	struct child c = start("unknown-type", 600);
	send_msg(&c, c.worker, WM_READY, 0, NULL, 0, -1);
	expect_end(&c, "unexpected WM_READY from the worker", 0);
}

/* The parent sends nothing after PM_CONFIG. */
static void case_parent_message(void)
{
	disk_setup();
	struct child c = start("parent-message", 600);
	struct proto_hello h = { .version = RTFTP_PROTO_VERSION };
	send_msg(&c, c.parent, PM_HELLO, 0, &h, sizeof(h), -1);
	expect_end(&c, "unexpected PM_HELLO from the parent", 0);
}

/* --idle-timeout 1: a file being read from a slow disk for 1.6 s and then held open keeps
 * the mounter (BUSY, nothing else); once it is closed the mounter reports IDLE, then
 * IDLE_EXIT after the second, and exits. */
static void case_idle_exit(void)
{
	disk_setup();
	struct child c = start("idle-exit", 1);
	send_open(&c, 1, "slow", -1);
	expect_file(&c, 1, ROOT "/slow");
	int st, busy = 0;
	while ((st = next_state(&c, 1500)) > 0) {
		if (st != PM_ST_BUSY)
			fail(&c, "state %d reported with a file open", st);
		busy++;
	}
	if (st == 0 || busy != 1)
		fail(&c, "with a file open: %s, %d BUSY", st == 0 ? "channel closed" : "quiet", busy);
	struct ipc_msg m;
	if (recv_within(&c, c.worker, &m, 0) != -1)
		fail(&c, "the worker's channel did not stay open and quiet with a file open");
	send_close(&c, 1);
	if ((st = next_state(&c, WAIT_MS)) != PM_ST_IDLE)
		fail(&c, "after the close: state %d, expected IDLE", st);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((st = next_state(&c, WAIT_MS)) != PM_ST_IDLE_EXIT)
		fail(&c, "state %d, expected IDLE_EXIT", st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (ms < 900)
		fail(&c, "IDLE_EXIT %ld ms after the close, before the idle timeout of 1 s", ms);
	expect_end(&c, "idle for 1 s: exiting", 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);   /* nothing buffered is copied into the children */
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(logdir)) {
		perror("mkdtemp");
		return 1;
	}
	case_serving();
	case_dead_server();
	case_read_error();
	case_appliance_died();
	case_close_with_payload();
	case_open_with_fd();
	case_reused_id();
	case_unknown_type();
	case_parent_message();
	case_idle_exit();
	if (rmdir(logdir) < 0)
		fprintf(stderr, "could not remove %s: %s\n", logdir, strerror(errno));
	printf("ALL SERVING TESTS OK\n");
	return 0;
}

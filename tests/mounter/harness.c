/* Test harness for rtftp-mounter: plays the parent and the worker. It makes the two
 * socketpairs, execs the mounter with them at fd 3 and 4, says HELLO, sends PM_CONFIG with
 * the .nbd file, waits for READY or FAILED, then runs a script of checks:
 *
 *   fetch NAME FILE        open NAME, follow WM_PROGRESS, compare the memfd with FILE, close
 *   fetch-nowait NAME FILE the same, and fail if a file of over 1 MiB needed no progress wait
 *   error NAME KIND        open NAME and expect WM_ERROR of KIND (1..4)
 *   error-or-eof NAME      WM_ERROR (not NOTFOUND) or the mounter gone, within 200 s
 *   stall NAME SEC         open NAME; expect it not to complete in SEC s (a stall) or UNAVAILABLE
 *   sh COMMAND             run COMMAND with $MOUNTER_PID set; it must exit 0
 *   sleep SEC
 *   idle-exit SEC          expect PM_ST_IDLE_EXIT and exit status 0 within SEC s
 *   kill                   SIGKILL the mounter (as the parent does on a stall)
 *   hold N NAME            open NAME N times (each must open and fill) and keep the ids
 *   release                close the held ids
 *
 * Usage: harness MOUNTER NBDFILE SCRIPT|- [ready|failed:SUBSTRING|refused] [MAX_MS] [key=value...]
 * keys: launch=S idle=S quiet=S cache_mb=N, and for a parent that breaks the protocol:
 * version=N (its HELLO), nofd=1 (PM_CONFIG without the .nbd), addr=STRING (the client address
 * in PM_CONFIG), unterminated=1 (cache_dir without its NUL). "refused": the mounter must exit 1
 * within MAX_MS without READY or FAILED (it never gets far enough to tell the worker).
 * Every fetch also checks the memfd's seals. Prints one line per step; exit 0 = all good. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "proto.h"

static int parent_ch = -1, worker_ch = -1;
static pid_t child = -1;
static uint32_t next_id = 1;
static uint32_t held[1024];
static int nheld;
static int last_pm_state;

/* How the parent's side breaks the protocol (all off: a correct parent). */
static struct {
	unsigned version;
	bool nofd;
	bool unterminated;
	const char *addr;
} bad = { .version = RTFTP_PROTO_VERSION, .addr = "127.0.0.1" };

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stdout, "FAIL: ");
	vfprintf(stdout, fmt, ap);
	fprintf(stdout, "\n");
	va_end(ap);
	fflush(stdout);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	exit(1);
}

/* The child keeps a descriptor of the .nbd file open across exec, as a careless parent
 * might: the mounter must close it (sandbox.c). The check is in test_serve.sh. */
static void spawn(const char *mounter, const char *nbdfile)
{
	int p[2], w[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, w) < 0)
		die("socketpair: %s", strerror(errno));
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		int a = fcntl(p[1], F_DUPFD, 10), b = fcntl(w[1], F_DUPFD, 10);
		dup2(a, RTFTP_FD_PARENT);
		dup2(b, RTFTP_FD_WORKER);
		if (open(nbdfile, O_RDONLY) < 0)
			_exit(126);
		execl(mounter, "rtftp-mounter", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	close(w[1]);
	parent_ch = p[0];
	worker_ch = w[0];
}

static void drain_parent(void)
{
	struct ipc_msg m;
	struct pollfd pfd = { .fd = parent_ch, .events = POLLIN };
	while (parent_ch >= 0 && poll(&pfd, 1, 0) == 1) {
		int r = ipc_recv(parent_ch, &m);
		if (r <= 0) {
			close(parent_ch);
			parent_ch = -1;
			return;
		}
		struct pm_status st;
		char detail[RTFTP_REASON_MAX];
		if (m.hdr.type == PM_STATUS &&
		    ipc_get_struct_string(&m, &st, sizeof(st), detail, sizeof(detail)) == 0) {
			last_pm_state = (int)st.state;
			printf("  [parent] PM_STATUS %u %s\n", st.state, detail);
		} else if (m.hdr.type != PM_HELLO) {
			die("unexpected %s on the parent channel", pm_msg_name(m.hdr.type));
		}
		ipc_msg_drop_fd(&m);
	}
}

/* Next message from the worker channel within ms; 0 = timeout, -1 = EOF. */
static int recv_worker(struct ipc_msg *m, long long ms)
{
	long long end = now_ms() + ms;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = worker_ch, .events = POLLIN }, { .fd = parent_ch, .events = POLLIN } };
		long long left = end - now_ms();
		if (left <= 0)
			return 0;
		int n = poll(pfd, parent_ch >= 0 ? 2 : 1, (int)(left > 200 ? 200 : left));
		if (n < 0 && errno != EINTR)
			die("poll");
		drain_parent();
		if (n > 0 && pfd[0].revents) {
			int r = ipc_recv(worker_ch, m);
			if (r < 0)
				die("bad message from the mounter: %s", strerror(errno));
			return r == 0 ? -1 : 1;
		}
	}
}

/* A mounter that refuses a broken parent may be gone before the next send: only a
 * correct parent insists on its sends (tolerant). */
static void hello(int fd, uint16_t type, unsigned version, bool tolerant)
{
	struct proto_hello h = { version };
	if (ipc_send(fd, type, 0, &h, sizeof(h), -1) < 0 && !tolerant)
		die("hello: %s", strerror(errno));
}

static void send_config(const char *nbdfile, const struct mounter_config *cfg, bool tolerant)
{
	uint8_t buf[sizeof(*cfg) + RTFTP_ADDR_MAX];
	size_t alen = strnlen(bad.addr, RTFTP_ADDR_MAX - 1);
	int fd = open(nbdfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", nbdfile, strerror(errno));
	memcpy(buf, cfg, sizeof(*cfg));
	if (bad.unterminated)
		memset(buf + offsetof(struct mounter_config, cache_dir), 'x', sizeof(cfg->cache_dir));
	memcpy(buf + sizeof(*cfg), bad.addr, alen);
	buf[sizeof(*cfg) + alen] = '\0';
	if (ipc_send(parent_ch, PM_CONFIG, 0, buf, sizeof(*cfg) + alen + 1, bad.nofd ? -1 : fd) < 0 && !tolerant)
		die("PM_CONFIG: %s", strerror(errno));
	close(fd);
}

static void expect_hellos(void)
{
	struct ipc_msg m;
	struct pollfd pfd = { .fd = parent_ch, .events = POLLIN };
	if (poll(&pfd, 1, 5000) != 1 || ipc_recv(parent_ch, &m) != 1 || m.hdr.type != PM_HELLO)
		die("no PM_HELLO from the mounter");
	if (recv_worker(&m, 5000) != 1 || m.hdr.type != WM_HELLO)
		die("no WM_HELLO from the mounter");
}

static void start_phase(const char *expect, long long max_ms)
{
	struct ipc_msg m;
	char reason[RTFTP_REASON_MAX] = "";
	long long t0 = now_ms();
	int r = recv_worker(&m, max_ms);
	long long dt = now_ms() - t0;
	if (r == 0)
		die("neither READY nor FAILED within %lld ms", max_ms);
	if (r < 0)
		die("mounter closed the worker channel during start");
	if (m.hdr.type == WM_FAILED && ipc_get_string(&m, reason, sizeof(reason)) < 0)
		die("WM_FAILED without a proper reason string");
	printf("start: %s in %lld ms %s\n", wm_msg_name(m.hdr.type), dt, reason);
	if (strcmp(expect, "ready") == 0) {
		if (m.hdr.type != WM_READY)
			die("expected WM_READY, got %s %s", wm_msg_name(m.hdr.type), reason);
		return;
	}
	if (m.hdr.type != WM_FAILED || !strstr(reason, expect + 7))
		die("expected WM_FAILED containing \"%s\"", expect + 7);
	/* The parent must get PM_STATUS FAILED too, and the mounter must exit 1. */
	for (long long end = now_ms() + 3000; last_pm_state != PM_ST_FAILED && now_ms() < end;)
		recv_worker(&m, 100) < 0 ? usleep(50000) : (void)0, drain_parent();
	if (last_pm_state != PM_ST_FAILED)
		die("no PM_STATUS FAILED");
	int st;
	for (int i = 0; i < 100 && waitpid(child, &st, WNOHANG) == 0; i++)
		usleep(50000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		die("mounter did not exit 1 after FAILED");
	child = -1;
	printf("ok failed as expected\n");
	exit(0);
}

/* A protocol error from the parent's side: the mounter must exit 1 within max_ms, having
 * told the worker nothing but HELLO (it has no disk, so no READY, and no FAILED either). */
static void expect_refused(long long max_ms)
{
	struct ipc_msg m;
	struct pollfd pfd = { .fd = worker_ch, .events = POLLIN };
	int st = 0;
	pid_t r = 0;
	/* Its end closed with our HELLO unread: ECONNRESET, as good as EOF here. */
	for (long long end = now_ms() + max_ms; now_ms() < end && (r = waitpid(child, &st, WNOHANG)) == 0;) {
		if (poll(&pfd, 1, 50) != 1)
			continue;
		if (ipc_recv(worker_ch, &m) <= 0)
			pfd.fd = -1;
		else if (m.hdr.type != WM_HELLO)
			die("expected no message but HELLO, got %s", wm_msg_name(m.hdr.type));
	}
	if (r != child)
		die("mounter still running %lld ms after a broken parent", max_ms);
	child = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		die("mounter did not exit 1 after a broken parent");
	printf("ok refused as expected\n");
	exit(0);
}

/* The worker relies on SHRINK|GROW from the start (worker/remote.c), and on the bytes of a
 * complete file never changing: WRITE once it is full (an empty file cannot change). */
static void check_seals(const char *name, int memfd, uint64_t size)
{
	int want = F_SEAL_SHRINK | F_SEAL_GROW | (size ? F_SEAL_WRITE : 0);
	int seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0 || (seals & want) != want)
		die("fetch %s: memfd seals %#x, expected at least %#x", name, seals, want);
}

static int compare_file(int memfd, uint64_t size, const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		die("expected file %s: %s", path, strerror(errno));
	if ((uint64_t)st.st_size != size) {
		close(fd);
		return -1;
	}
	int rc = 0;
	if (size) {
		void *a = mmap(NULL, size, PROT_READ, MAP_SHARED, memfd, 0);
		void *b = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (a == MAP_FAILED || b == MAP_FAILED)
			die("mmap");
		rc = memcmp(a, b, size) ? -1 : 0;
		munmap(a, size);
		munmap(b, size);
	}
	close(fd);
	return rc;
}

/* Open NAME; returns the kind of WM_ERROR (0 for OPENED, -1 for EOF, -2 timeout). */
static int do_open(const char *name, uint32_t *id, int *memfd, uint64_t *size, char *msg, size_t msglen)
{
	struct ipc_msg m;
	*id = next_id++;
	*memfd = -1;
	if (ipc_send(worker_ch, WM_OPEN, *id, name, strlen(name) + 1, -1) < 0)
		return -1;
	int r = recv_worker(&m, 200000);
	if (r <= 0)
		return r == 0 ? -2 : -1;
	if (m.hdr.id != *id)
		die("reply for id %u, expected %u", m.hdr.id, *id);
	if (m.hdr.type == WM_ERROR) {
		struct wm_error we;
		if (ipc_get_struct_string(&m, &we, sizeof(we), msg, msglen) < 0 || m.fd >= 0)
			die("malformed WM_ERROR");
		return (int)we.kind;
	}
	struct wm_opened op;
	if (m.hdr.type != WM_OPENED || m.fd < 0 || ipc_get_exact(&m, &op, sizeof(op)) < 0)
		die("expected WM_OPENED, got %s", wm_msg_name(m.hdr.type));
	struct stat st;
	if (fstat(m.fd, &st) < 0 || (uint64_t)st.st_size != op.size)
		die("memfd size %lld != announced %llu", (long long)st.st_size, (unsigned long long)op.size);
	*memfd = m.fd;
	*size = op.size;
	return 0;
}

/* Follow WM_PROGRESS until size; returns 0, or the WM_ERROR kind, -1 EOF, -2 timeout. */
static int follow(uint32_t id, uint64_t size, long long ms, int *waits)
{
	struct ipc_msg m;
	uint64_t avail = 0;
	bool first = true;
	*waits = 0;
	for (;;) {
		if (avail == size && !first)
			return 0;
		int r = recv_worker(&m, ms);
		if (r <= 0)
			return r == 0 ? -2 : -1;
		if (m.hdr.id != id)
			die("message for id %u while following %u", m.hdr.id, id);
		if (m.hdr.type == WM_ERROR)
			return WM_ERR_UNAVAILABLE;
		struct wm_progress pr;
		if (m.hdr.type != WM_PROGRESS || ipc_get_exact(&m, &pr, sizeof(pr)) < 0)
			die("expected WM_PROGRESS, got %s", wm_msg_name(m.hdr.type));
		if (pr.available < avail || pr.available > size)
			die("progress went from %llu to %llu (size %llu)", (unsigned long long)avail,
			    (unsigned long long)pr.available, (unsigned long long)size);
		avail = pr.available;
		first = false;
		(*waits)++;
	}
}

static void close_id(uint32_t id)
{
	ipc_send(worker_ch, WM_CLOSE, id, NULL, 0, -1);
}

static void cmd_fetch(const char *name, const char *file, bool nowait)
{
	char msg[RTFTP_REASON_MAX];
	uint32_t id;
	int memfd, waits;
	uint64_t size;
	long long t0 = now_ms();
	int k = do_open(name, &id, &memfd, &size, msg, sizeof(msg));
	if (k != 0)
		die("fetch %s: error %d %s", name, k, k > 0 ? msg : "");
	long long topen = now_ms() - t0;
	int f = follow(id, size, 60000, &waits);
	if (f != 0)
		die("fetch %s: fill ended with %d", name, f);
	check_seals(name, memfd, size);
	if (compare_file(memfd, size, file) < 0)
		die("fetch %s: bytes differ from %s", name, file);
	if (nowait && size > (1u << 20) && waits > 1)
		die("fetch-nowait %s: needed %d progress messages (not cached)", name, waits);
	close(memfd);
	close_id(id);
	printf("ok fetch %s: %llu bytes, opened in %lld ms, complete in %lld ms, %d progress\n", name,
	       (unsigned long long)size, topen, now_ms() - t0, waits);
}

static void cmd_error(const char *name, int want)
{
	char msg[RTFTP_REASON_MAX] = "";
	uint32_t id;
	int memfd;
	uint64_t size;
	long long t0 = now_ms();
	int k = do_open(name, &id, &memfd, &size, msg, sizeof(msg));
	if (k != want)
		die("open %s: got %d (%s), expected error %d", name, k, msg, want);
	printf("ok error %s: kind %d \"%s\" in %lld ms\n", name, k, msg, now_ms() - t0);
}

static void cmd_error_or_eof(const char *name)
{
	char msg[RTFTP_REASON_MAX] = "";
	uint32_t id;
	int memfd, waits;
	uint64_t size;
	long long t0 = now_ms();
	int k = do_open(name, &id, &memfd, &size, msg, sizeof(msg));
	if (k == 0)
		k = follow(id, size, 200000, &waits);
	if (k == 0 || k == WM_ERR_NOTFOUND || k == -2)
		die("error-or-eof %s: got %d %s", name, k, msg);
	printf("ok error-or-eof %s: %d %s in %lld ms\n", name, k, msg, now_ms() - t0);
}

/* Ids kept open, as a worker with that many transfers of NAME would. */
static void cmd_hold(int n, const char *name)
{
	char msg[RTFTP_REASON_MAX];
	int memfd, waits;
	uint64_t size;
	long long t0 = now_ms();
	if (n < 0 || nheld + n > (int)(sizeof(held) / sizeof(held[0])))
		die("hold %d: at most %zu ids", n, sizeof(held) / sizeof(held[0]));
	for (int i = 0; i < n; i++) {
		int k = do_open(name, &held[nheld], &memfd, &size, msg, sizeof(msg));
		if (k != 0)
			die("hold %s: open %d of %d: error %d %s", name, i + 1, n, k, k > 0 ? msg : "");
		nheld++;
		close(memfd);
		if ((k = follow(held[nheld - 1], size, 60000, &waits)) != 0)
			die("hold %s: fill ended with %d", name, k);
	}
	printf("ok hold %s: %d ids open (%d in all) in %lld ms\n", name, n, nheld, now_ms() - t0);
}

static void cmd_release(void)
{
	for (; nheld > 0; nheld--)
		close_id(held[nheld - 1]);
	printf("ok released the held ids\n");
}

/* NBD server gone mid-fill: either UNAVAILABLE, or no completion (a stall the worker's
 * progress deadline turns into a TFTP error); never wrong bytes or "not found". */
static void cmd_stall(const char *name, int sec)
{
	char msg[RTFTP_REASON_MAX] = "";
	uint32_t id;
	int memfd, waits;
	uint64_t size;
	int k = do_open(name, &id, &memfd, &size, msg, sizeof(msg));
	if (k == 0)
		k = follow(id, size, (long long)sec * 1000, &waits);
	if (k == 0 || k == WM_ERR_NOTFOUND)
		die("stall %s: got %d %s", name, k, msg);
	printf("ok stall %s: %s\n", name, k == -2 ? "no progress (stalled)" : k == -1 ? "mounter gone" : "UNAVAILABLE");
}

static void cmd_idle_exit(int sec)
{
	struct ipc_msg m;
	int st;
	long long end = now_ms() + (long long)sec * 1000;
	while (now_ms() < end && last_pm_state != PM_ST_IDLE_EXIT)
		if (recv_worker(&m, 100) < 0)
			usleep(50000), drain_parent();
	if (last_pm_state != PM_ST_IDLE_EXIT)
		die("no PM_ST_IDLE_EXIT within %d s", sec);
	while (now_ms() < end + 5000 && waitpid(child, &st, WNOHANG) == 0)
		usleep(50000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("mounter did not exit 0 after idle");
	child = -1;
	printf("ok idle exit\n");
}

/* What the parent does on PW_MOUNTER_STALLED: SIGKILL; it must be gone at once. */
static void cmd_kill(void)
{
	int st;
	kill(child, SIGKILL);
	if (waitpid(child, &st, 0) != child || !WIFSIGNALED(st))
		die("kill: mounter not reaped");
	child = -1;
	printf("ok killed the mounter\n");
}

static void run_line(char *line)
{
	char *cmd = strtok(line, " \t\n"), *a = strtok(NULL, " \t\n"), *b = strtok(NULL, "\n");
	char pid[32];
	if (!cmd || cmd[0] == '#')
		return;
	if (strcmp(cmd, "fetch") == 0 && a && b)
		cmd_fetch(a, b, false);
	else if (strcmp(cmd, "fetch-nowait") == 0 && a && b)
		cmd_fetch(a, b, true);
	else if (strcmp(cmd, "error") == 0 && a && b)
		cmd_error(a, atoi(b));
	else if (strcmp(cmd, "error-or-eof") == 0 && a)
		cmd_error_or_eof(a);
	else if (strcmp(cmd, "stall") == 0 && a && b)
		cmd_stall(a, atoi(b));
	else if (strcmp(cmd, "kill") == 0)
		cmd_kill();
	else if (strcmp(cmd, "hold") == 0 && a && b)
		cmd_hold(atoi(a), b);
	else if (strcmp(cmd, "release") == 0)
		cmd_release();
	else if (strcmp(cmd, "idle-exit") == 0 && a)
		cmd_idle_exit(atoi(a));
	else if (strcmp(cmd, "sleep") == 0 && a)
		usleep((useconds_t)(atof(a) * 1e6)), drain_parent();
	else if (strcmp(cmd, "sh") == 0 && a) {
		char full[4096];
		snprintf(pid, sizeof(pid), "%d", (int)child);
		setenv("MOUNTER_PID", pid, 1);
		snprintf(full, sizeof(full), "%s %s", a, b ? b : "");
		if (system(full) != 0)
			die("sh %s failed", full);
		printf("ok sh %s\n", full);
	} else
		die("bad script line: %s", cmd);
	fflush(stdout);
}

static void parse_kv(const char *kv, struct mounter_config *cfg)
{
	unsigned v;
	if (strncmp(kv, "addr=", 5) == 0)
		bad.addr = kv + 5;
	else if (sscanf(kv, "version=%u", &v) == 1)
		bad.version = v;
	else if (sscanf(kv, "nofd=%u", &v) == 1)
		bad.nofd = v;
	else if (sscanf(kv, "unterminated=%u", &v) == 1)
		bad.unterminated = v;
	else if (sscanf(kv, "launch=%u", &v) == 1)
		cfg->launch_timeout_s = v;
	else if (sscanf(kv, "idle=%u", &v) == 1)
		cfg->idle_timeout_s = v;
	else if (sscanf(kv, "quiet=%u", &v) == 1)
		cfg->remount_quiet_s = v;
	else if (sscanf(kv, "cache_mb=%u", &v) == 1)
		cfg->cache_max_bytes = (uint64_t)v << 20;
	else
		die("bad option %s", kv);
}

int main(int argc, char **argv)
{
	static struct mounter_config cfg;
	char line[4096];
	if (argc < 4)
		die("usage: harness MOUNTER NBDFILE SCRIPT [ready|failed:SUBSTR] [MAX_MS] [k=v...]");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	cfg.launch_timeout_s = 150;
	cfg.idle_timeout_s = 600;
	cfg.remount_quiet_s = 30;
	cfg.cache_max_bytes = 64u << 20;
	cfg.verbose = getenv("HARNESS_VERBOSE") ? 1 : 0;
	snprintf(cfg.cache_dir, sizeof(cfg.cache_dir), "%s", getenv("RTFTP_TEST_CACHE") ? getenv("RTFTP_TEST_CACHE") : "");
	snprintf(cfg.tmp_dir, sizeof(cfg.tmp_dir), "%s", getenv("RTFTP_TEST_TMP") ? getenv("RTFTP_TEST_TMP") : "");
	snprintf(cfg.backend_settings, sizeof(cfg.backend_settings), "%s",
		 getenv("LIBGUESTFS_BACKEND_SETTINGS") ? getenv("LIBGUESTFS_BACKEND_SETTINGS") : "");
	for (int i = 6; i < argc; i++)
		parse_kv(argv[i], &cfg);
	const char *expect = argc > 4 ? argv[4] : "ready";
	long long max_ms = argc > 5 ? atoll(argv[5]) : 150000;
	bool refused = strcmp(expect, "refused") == 0;
	spawn(argv[1], argv[2]);
	hello(parent_ch, PM_HELLO, bad.version, refused);
	send_config(argv[2], &cfg, refused);
	hello(worker_ch, WM_HELLO, RTFTP_PROTO_VERSION, refused);
	if (refused)
		expect_refused(max_ms);
	expect_hellos();
	start_phase(expect, max_ms);
	FILE *f = strcmp(argv[3], "-") == 0 ? stdin : fopen(argv[3], "r");
	if (!f)
		die("script %s", argv[3]);
	while (fgets(line, sizeof(line), f))
		run_line(line);
	if (child > 0) {
		/* EOF on both channels: the mounter must shut down and exit by itself. */
		close(worker_ch);
		close(parent_ch);
		int st = 0;
		long long end = now_ms() + 10000;
		while (now_ms() < end && waitpid(child, &st, WNOHANG) == 0)
			usleep(50000);
		if (now_ms() >= end)
			die("mounter still running 10 s after its channels closed");
		printf("mounter exited with %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	printf("ALL OK\n");
	return 0;
}

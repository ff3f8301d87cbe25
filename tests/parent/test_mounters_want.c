/* The parent's supervision of mounters (parent/mounters.c, mounters_admit.c), driven
 * directly: the worker is a socketpair end, the mounters a stand-in program (fake_mounter.c)
 * whose behaviour the environment chooses, and this program plays the parent's event loop and
 * SIGCHLD reaping.
 *   - a request that names the channel the worker already has replaces the mounter; one that
 *     crossed a newer hand-over on the way (it names an older channel, or none) does not stop
 *     the mounter just handed over;
 *   - --max-mounters holds even while mounters are being stopped: a worker that asks for
 *     replacement after replacement, or an eviction, never has more than N mounter processes
 *     running; a replacement starts only once its predecessor is reaped;
 *   - starts are rate limited overall;
 *   - the delays that run to many seconds (the launch backstop, the cap on a .nbd debounce)
 *     hold exactly, on a clock the test moves forward (see monotonic_ms below). */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "mounters_priv.h"

static int failures, checks;
#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

#define ADDR "127.0.0.9"
#define ADDR_B "127.0.0.10"
#define ADDR_C "127.0.0.11"
#define ADDR_D "127.0.0.12"
#define MAX_BENCHES 32

/* One parent's worth of state. The mounters tables are held for the test's whole life, as
 * the parent holds its own (LeakSanitizer). */
struct bench {
	struct mounters *m;
	struct evloop loop;
	struct rtftp_options opt;
	int ws[2];                  /* ws[0]: the parent's end of the worker channel */
	char root[64];
	pid_t seen[256];            /* every mounter pid the parent started */
	int nseen;
};
/* The parent's clock, replacing parent/clock.c (which the static library then leaves out):
 * real time plus what the test skipped, so delays of many seconds are checked without
 * waiting for them. It only ever moves forward. */
static int64_t skipped_ms;

int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + skipped_ms;
}

static struct bench benches[MAX_BENCHES];
static int nbenches;
static const char *fake_mounter;

static void write_nbd(const char *root, const char *addr)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s.nbd", root, addr);
	FILE *f = fopen(path, "w");
	fputs("{\"url\":\"nbd+unix:///?socket=/nonexistent\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/\"}]}\n", f);
	fclose(f);
}

/* A parent with ROOT holding ADDR.nbd (and ADDR_B.nbd), --max-mounters max, no inotify. */
static struct bench *bench_new_watching(const char *max, const char *mounter_env, bool proactive)
{
	struct bench *b = &benches[nbenches++];
	char *args[] = { "rtftp", "--no-proactive", "--max-mounters", (char *)max, "--state-dir",
			 b->root, b->root, NULL };
	if (proactive)
		args[1] = "-v";                    /* any option that leaves the watch on */
	snprintf(b->root, sizeof(b->root), "/tmp/rtftp-mwant-XXXXXX");
	if (!mkdtemp(b->root))
		exit(2);
	write_nbd(b->root, ADDR);
	write_nbd(b->root, ADDR_B);
	unsetenv("FAKE_MOUNTER_IGNORE_TERM");
	unsetenv("FAKE_MOUNTER_READY");
	unsetenv("FAKE_MOUNTER_EXIT");
	unsetenv("FAKE_MOUNTER_BUSY");
	unsetenv("FAKE_MOUNTER_SEND_FD");
	unsetenv("FAKE_MOUNTER_NO_HELLO");
	if (mounter_env)
		putenv((char *)mounter_env);
	optind = 0;                                 /* getopt again from the start */
	options_parse(7, args, &b->opt);
	/* Above the descriptors a child gets its channels on, as helpers_open() places it. */
	static struct helper exe = { .fd = -1 };
	if (exe.fd < 0) {
		exe.fd = fcntl(open(fake_mounter, O_PATH | O_CLOEXEC), F_DUPFD_CLOEXEC, 16);
		snprintf(exe.path, sizeof(exe.path), "%s", fake_mounter);
	}
	evloop_init(&b->loop);
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b->ws);
	b->m = mounters_new(&b->loop, &b->opt, open(b->root, O_PATH | O_DIRECTORY), &exe);
	mounters_set_worker(b->m, b->ws[0]);
	return b;
}

static struct bench *bench_new(const char *max, const char *mounter_env)
{
	return bench_new_watching(max, mounter_env, false);
}

static void note_pids(struct bench *b)
{
	for (struct mrec *r = b->m->list; r; r = r->next) {
		bool known = false;
		for (int i = 0; i < b->nseen; i++)
			known |= b->seen[i] == r->pid;
		if (!known && r->pid > 0 && b->nseen < 256)
			b->seen[b->nseen++] = r->pid;
	}
}

/* Mounter processes of this bench that exist now (reaped ones do not). */
static int running(struct bench *b)
{
	int n = 0;
	note_pids(b);
	for (int i = 0; i < b->nseen; i++)
		n += kill(b->seen[i], 0) == 0;
	return n;
}

/* The parent's loop for ms: timers, channels, and SIGCHLD's reaping. Returns the largest
 * number of mounter processes seen running at once. */
static int pump(struct bench *b, int ms)
{
	int64_t until = monotonic_ms() + ms;
	int most = running(b);
	do {
		int st;
		pid_t pid;
		evloop_run_once(&b->loop, 5);
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			mounters_child_exited(b->m, pid, st);
		int now = running(b);
		most = now > most ? now : most;
	} while (monotonic_ms() < until);
	return most;
}

/* The serial of the PW_MOUNTER the worker end holds for addr, 0 when none came. */
static uint32_t handed_over_for(struct bench *b, const char *want_addr)
{
	struct ipc_msg m;
	struct pw_mounter pm;
	char addr[RTFTP_ADDR_MAX];
	if (ipc_recv(b->ws[1], &m) != 1)
		return 0;
	bool ok = m.hdr.type == PW_MOUNTER && m.fd >= 0 &&
		  ipc_get_struct_string(&m, &pm, sizeof(pm), addr, sizeof(addr)) == 0 &&
		  strcmp(addr, want_addr) == 0;
	ipc_msg_drop_fd(&m);
	return ok ? pm.serial : 0;
}

static uint32_t handed_over(struct bench *b)
{
	return handed_over_for(b, ADDR);
}

/* The type of the next message the worker end holds (0: none), its address in addr. */
static int next_msg(struct bench *b, char *addr)
{
	struct ipc_msg m;
	uint8_t head[sizeof(struct pw_mounter) > sizeof(struct pw_refusal) ?
		     sizeof(struct pw_mounter) : sizeof(struct pw_refusal)];
	size_t headsize;
	addr[0] = '\0';
	if (ipc_recv(b->ws[1], &m) != 1)
		return 0;
	ipc_msg_drop_fd(&m);
	headsize = m.hdr.type == PW_MOUNTER ? sizeof(struct pw_mounter) : sizeof(struct pw_refusal);
	if (ipc_get_struct_string(&m, head, headsize, addr, RTFTP_ADDR_MAX) < 0)
		return -1;
	return m.hdr.type;
}

/* Pump until the worker end holds a message (at most ms); its type, 0 when none came. */
static int wait_msg(struct bench *b, int ms, char *addr)
{
	int type = 0;
	for (int i = 0; i < ms / 10 && !(type = next_msg(b, addr)); i++)
		pump(b, 10);
	return type;
}

/* Pump until addr's mounter is READY (and, with busy, says a file is open). */
static struct mrec *wait_ready(struct bench *b, const char *addr, bool busy)
{
	struct mrec *r = NULL;
	for (int i = 0; i < 200; i++) {
		r = mounters_find_live(b->m, addr);
		if (r && r->state == M_READY && r->busy == busy)
			return r;
		pump(b, 10);
	}
	return NULL;
}

static pid_t live_pid(struct bench *b, const char *addr)
{
	struct mrec *r = mounters_find_live(b->m, addr);
	return r ? r->pid : -1;
}

/* Pump (at most ms) until no mounter is known any more: all exited and reaped. */
static bool pump_until_none(struct bench *b, int ms)
{
	for (int i = 0; i < ms / 10 && b->m->list; i++)
		pump(b, 10);
	return b->m->list == NULL;
}

/* Pump (at most ms) until pid is gone. */
static bool pump_until_dead(struct bench *b, pid_t pid, int ms)
{
	for (int i = 0; i < ms / 10 && kill(pid, 0) == 0; i++)
		pump(b, 10);
	return kill(pid, 0) != 0;
}

/* Pump (at most 2 s) until both watched clients have a live mounter: started proactively. */
static bool pump_until_both_started(struct bench *b)
{
	for (int i = 0; i < 200 && !(live_pid(b, ADDR) > 0 && live_pid(b, ADDR_B) > 0); i++)
		pump(b, 10);
	return live_pid(b, ADDR) > 0 && live_pid(b, ADDR_B) > 0;
}

static void bench_end(struct bench *b)
{
	char cmd[128];
	mounters_shutdown_begin(b->m);
	mounters_kill_all(b->m);
	for (int i = 0; i < 300 && mounters_any_running(b->m); i++)
		pump(b, 10);                       /* reap the stand-ins (bounded: 3 s) */
	mounters_forget_all(b->m);
	close(b->ws[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", b->root);
	if (system(cmd) != 0)
		failures++;
}

static void test_serials(void)
{
	struct bench *b = bench_new("4", NULL);
	mounters_want(b->m, ADDR, 0);              /* the worker has none: start one */
	uint32_t first = handed_over(b);
	pid_t pid = live_pid(b, ADDR);
	CHECK(first != 0 && pid > 0);
	mounters_want(b->m, ADDR, 0);              /* sent before it read that hand-over */
	CHECK(handed_over(b) == 0);
	CHECK(live_pid(b, ADDR) == pid && kill(pid, 0) == 0);
	mounters_want(b->m, ADDR, first);          /* it has that channel and still asks */
	CHECK(handed_over(b) == 0);                /* ... the replacement waits for the old one */
	pump(b, 1000);
	uint32_t second = handed_over(b);
	CHECK(second != 0 && second != first);
	CHECK(live_pid(b, ADDR) > 0 && live_pid(b, ADDR) != pid);
	mounters_want(b->m, ADDR, first);          /* crossed the second hand-over */
	CHECK(handed_over(b) == 0);
	bench_end(b);
}

/* A compromised worker asks for a replacement of the mounter it was just given, 100 times,
 * 20 ms apart, against --max-mounters 1 and a mounter that ignores SIGTERM. */
static void test_replacement_flood(void)
{
	struct bench *b = bench_new("1", "FAKE_MOUNTER_IGNORE_TERM=1");
	int most = 0;
	uint32_t have = 0, got;
	mounters_want(b->m, ADDR, have);
	have = handed_over(b);
	CHECK(have != 0);
	pump(b, 200);                              /* the stand-in has set SIGTERM aside */
	for (int i = 0; i < 100; i++) {
		mounters_want(b->m, ADDR, have);
		int n = pump(b, 20);
		most = n > most ? n : most;
		if ((got = handed_over(b)))
			have = got;
	}
	/* The first one gets SIGKILL 3 s after its SIGTERM; only then does the new one start. */
	for (int i = 0; i < 300 && !(got = handed_over(b)); i++) {
		int n = pump(b, 20);
		most = n > most ? n : most;
	}
	CHECK(most == 1);
	CHECK(b->nseen == 2);
	CHECK(got != 0 && live_pid(b, ADDR) > 0);
	fprintf(stderr, "replacement flood: %d mounters started, at most %d at once\n", b->nseen, most);
	bench_end(b);
}

/* The same with mounters that stop at once: starts are bounded by the rate, a burst of
 * --max-mounters and then one a second. */
static void test_start_rate(void)
{
	struct bench *b = bench_new("2", NULL);
	uint32_t have = 0, got;
	int64_t t0 = monotonic_ms();
	while (monotonic_ms() - t0 < 3000) {
		mounters_want(b->m, ADDR, have);
		pump(b, 20);
		if ((got = handed_over(b)))
			have = got;
	}
	fprintf(stderr, "start rate: %d mounters started in 3 s\n", b->nseen);
	CHECK(b->nseen >= 3);                      /* it does replace them ... */
	CHECK(b->nseen <= 2 + 3 + 1);              /* ... at the rate: burst 2, then 1/s */
	bench_end(b);
}

/* Eviction: the idle mounter of A makes room for B, and B starts only when A has exited. */
static void test_eviction_waits(void)
{
	struct bench *b = bench_new("1", "FAKE_MOUNTER_IGNORE_TERM=1");
	putenv("FAKE_MOUNTER_READY=1");
	mounters_want(b->m, ADDR, 0);
	CHECK(handed_over(b) != 0);
	struct mrec *a = mounters_find_live(b->m, ADDR);
	for (int i = 0; i < 100 && a && a->state != M_READY; i++)
		pump(b, 10);
	CHECK(a && a->state == M_READY);
	mounters_want(b->m, ADDR_B, 0);
	CHECK(mounters_find_live(b->m, ADDR) == NULL);     /* evicted */
	CHECK(live_pid(b, ADDR_B) < 0);                     /* not yet */
	int most = 1;
	uint32_t got = 0;
	for (int i = 0; i < 300 && !(got = handed_over_for(b, ADDR_B)); i++) {
		int n = pump(b, 20);
		most = n > most ? n : most;
	}
	CHECK(got != 0 && live_pid(b, ADDR_B) > 0);
	CHECK(most == 1);
	bench_end(b);
}

/* Log lines, kept for the checks below and still printed. */
static char logged[16384];

static void log_keep(enum log_level lvl, const char *line, void *arg)
{
	(void)lvl;
	(void)arg;
	fprintf(stderr, "%s\n", line);
	size_t n = strlen(logged);
	snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
}

/* A mounter that exits without reading what the parent sent leaves the parent's end of the
 * channel reset (ECONNRESET), read after it has been reaped: an end of file, not a malformed
 * message, and no SIGKILL to a pid that may be another process's by now. */
static void test_exit_without_reading(void)
{
	struct bench *b = bench_new("2", "FAKE_MOUNTER_EXIT=1");
	logged[0] = '\0';
	log_set_sink(log_keep, NULL);
	mounters_want(b->m, ADDR, 0);
	CHECK(handed_over(b) != 0);
	CHECK(pump_until_none(b, 2000));           /* reaped and forgotten */
	CHECK(strstr(logged, "exited") != NULL);
	CHECK(strstr(logged, "SIGKILL") == NULL);
	CHECK(strstr(logged, "malformed") == NULL);
	log_set_sink(NULL, NULL);
	unsetenv("FAKE_MOUNTER_EXIT");
	bench_end(b);
}

/* A.nbd that is a symlink (even to a file inside ROOT) is not a remote disk for the worker,
 * so the parent must not start a mounter for it either: it answers PW_MOUNTER_NONE. */
static void test_symlinked_nbd(void)
{
	char link[128];
	struct bench *b = bench_new("2", NULL);
	struct ipc_msg msg;
	snprintf(link, sizeof(link), "%s/%s.nbd", b->root, ADDR);
	CHECK(unlink(link) == 0 && symlink(ADDR_B ".nbd", link) == 0);   /* stays inside ROOT */
	logged[0] = '\0';
	log_set_sink(log_keep, NULL);
	mounters_want(b->m, ADDR, 0);
	CHECK(live_pid(b, ADDR) < 0 && b->m->list == NULL);
	CHECK(ipc_recv(b->ws[1], &msg) == 1 && msg.hdr.type == PW_MOUNTER_NONE);
	CHECK(strstr(logged, "symbolic link") != NULL);
	log_set_sink(NULL, NULL);
	bench_end(b);
}

/* Events lost to an inotify queue overflow: the rescan must also look at the mounters whose
 * file is gone, not only at the files there are. */
static void test_overflow_rescan(void)
{
	struct bench *b = bench_new_watching("2", NULL, true);
	char junk[128], path[128];
	CHECK(pump_until_both_started(b));
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	int max = 16384;
	if (f) {
		if (fscanf(f, "%d", &max) != 1)
			max = 16384;
		fclose(f);
	}
	snprintf(junk, sizeof(junk), "%s/junk", b->root);
	for (int i = 0; i < max / 2 + 100; i++) {  /* three events each: the queue overflows */
		int fd = open(junk, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		close(fd);
		unlink(junk);
	}
	snprintf(path, sizeof(path), "%s/%s.nbd", b->root, ADDR);
	CHECK(unlink(path) == 0);                  /* its event is lost in the overflow */
	for (int i = 0; i < 200 && mounters_find_live(b->m, ADDR); i++)
		pump(b, 10);
	CHECK(mounters_find_live(b->m, ADDR) == NULL);
	CHECK(live_pid(b, ADDR_B) > 0);            /* unchanged file: kept */
	bench_end(b);
}

/* --max-mounters 0 turns remote disks off: no watch on ROOT, no warning per .nbd file. */
static void test_no_mounters_no_watch(void)
{
	logged[0] = '\0';
	log_set_sink(log_keep, NULL);
	struct bench *b = bench_new_watching("0", NULL, true);
	pump(b, 600);
	CHECK(b->m->ino_fd < 0);
	CHECK(b->m->list == NULL);
	CHECK(strstr(logged, "max-mounters") == NULL);
	log_set_sink(NULL, NULL);
	bench_end(b);
}

/* Only the canonical text of a client address names a mounter (what the worker derives):
 * not the IPv4-mapped spelling of an IPv4 client, not IPv6 text other than RFC 5952's. */
static void test_canonical_addresses(void)
{
	CHECK(mounters_addr_ok("127.0.0.9"));
	CHECK(mounters_addr_ok("2001:db8::1"));
	CHECK(!mounters_addr_ok("::ffff:127.0.0.9"));
	CHECK(!mounters_addr_ok("2001:DB8::1"));
	CHECK(!mounters_addr_ok("2001:db8:0:0::1"));
	CHECK(!mounters_addr_ok("127.0.0.9 "));
	struct bench *b = bench_new("2", NULL);
	write_nbd(b->root, "::ffff:127.0.0.9");
	mounters_want(b->m, "::ffff:127.0.0.9", 0);
	CHECK(b->m->list == NULL);
	bench_end(b);
}

/* A.nbd that is a FIFO is no remote disk (and opening it must not hang the parent). */
static void test_fifo_nbd(void)
{
	char path[128], addr[RTFTP_ADDR_MAX];
	struct bench *b = bench_new("2", NULL);
	snprintf(path, sizeof(path), "%s/%s.nbd", b->root, ADDR);
	CHECK(unlink(path) == 0 && mkfifo(path, 0644) == 0);
	logged[0] = '\0';
	log_set_sink(log_keep, NULL);
	mounters_want(b->m, ADDR, 0);
	CHECK(b->m->list == NULL);
	CHECK(next_msg(b, addr) == PW_MOUNTER_NONE && strcmp(addr, ADDR) == 0);
	CHECK(strstr(logged, "not a regular file") != NULL);
	log_set_sink(NULL, NULL);
	bench_end(b);
}

/* A mounter that sends a descriptor, or a status before its HELLO, is not trusted: SIGKILL. */
static void test_mounter_misbehaves(void)
{
	static const char *const cases[][2] = {
		{ "FAKE_MOUNTER_SEND_FD=1", "SIGKILL: unexpected descriptor" },
		{ "FAKE_MOUNTER_NO_HELLO=1", "SIGKILL: unexpected message" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bench *b = bench_new("2", cases[i][0]);
		logged[0] = '\0';
		log_set_sink(log_keep, NULL);
		mounters_want(b->m, ADDR, 0);
		CHECK(handed_over(b) != 0);
		CHECK(pump_until_none(b, 2000));   /* killed and reaped */
		CHECK(strstr(logged, cases[i][1]) != NULL);
		log_set_sink(NULL, NULL);
		bench_end(b);
	}
}

/* A start that waited for its predecessor and then finds its .nbd file gone answers the
 * worker's request with PW_MOUNTER_NONE, so the worker does not wait out its deadline. */
static void test_waiting_start_refused(void)
{
	char path[128], addr[RTFTP_ADDR_MAX];
	struct bench *b = bench_new("1", NULL);
	mounters_want(b->m, ADDR, 0);
	uint32_t have = handed_over(b);
	CHECK(have != 0);
	mounters_want(b->m, ADDR, have);           /* replace it: the new one waits */
	CHECK(next_msg(b, addr) == 0);
	snprintf(path, sizeof(path), "%s/%s.nbd", b->root, ADDR);
	CHECK(unlink(path) == 0);
	CHECK(wait_msg(b, 2000, addr) == PW_MOUNTER_NONE && strcmp(addr, ADDR) == 0);
	CHECK(b->nseen == 1);
	bench_end(b);
}

/* A new worker does not have the old one's mounter channels: those mounters are stopped. */
static void test_worker_restart_stops_mounters(void)
{
	int ws2[2];
	struct bench *b = bench_new("2", NULL);
	mounters_want(b->m, ADDR, 0);
	CHECK(handed_over(b) != 0);
	pid_t pid = live_pid(b, ADDR);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ws2) == 0);
	mounters_set_worker(b->m, ws2[0]);
	CHECK(mounters_find_live(b->m, ADDR) == NULL);
	CHECK(pump_until_dead(b, pid, 2000));
	bench_end(b);
	close(ws2[1]);
}

/* Stopping: a mounter reaped during shutdown does not make room for a start that waited. */
static void test_shutdown_starts_nothing(void)
{
	struct bench *b = bench_new("1", NULL);
	mounters_want(b->m, ADDR, 0);
	uint32_t have = handed_over(b);
	CHECK(have != 0);
	mounters_want(b->m, ADDR, have);           /* the replacement waits */
	mounters_shutdown_begin(b->m);
	pump(b, 1500);                              /* past the start rate's interval too */
	CHECK(b->nseen == 1);
	CHECK(b->m->list == NULL);
	bench_end(b);
}

/* The worker reports a mounter that stopped answering: it is killed at once. */
static void test_stalled_is_killed(void)
{
	struct bench *b = bench_new("2", "FAKE_MOUNTER_IGNORE_TERM=1");
	mounters_want(b->m, ADDR, 0);
	CHECK(handed_over(b) != 0);
	pid_t pid = live_pid(b, ADDR);
	pump(b, 100);
	logged[0] = '\0';
	log_set_sink(log_keep, NULL);
	mounters_stalled(b->m, ADDR);
	CHECK(mounters_find_live(b->m, ADDR) == NULL);
	CHECK(pump_until_dead(b, pid, 500));       /* SIGKILL, not a 3 s SIGTERM grace */
	CHECK(strstr(logged, "stalled") != NULL);
	log_set_sink(NULL, NULL);
	bench_end(b);
}

/* The start rate exactly: a burst of --max-mounters starts at once, and the next start only
 * a second after the burst. */
static void test_start_burst(void)
{
	char addr[RTFTP_ADDR_MAX];
	struct bench *b = bench_new("3", "FAKE_MOUNTER_EXIT=1");
	write_nbd(b->root, ADDR_C);
	write_nbd(b->root, ADDR_D);
	int64_t t0 = monotonic_ms();
	mounters_want(b->m, ADDR, 0);
	mounters_want(b->m, ADDR_B, 0);
	mounters_want(b->m, ADDR_C, 0);
	CHECK(handed_over_for(b, ADDR) != 0);
	CHECK(handed_over_for(b, ADDR_B) != 0);
	CHECK(handed_over_for(b, ADDR_C) != 0);
	CHECK(pump_until_none(b, 1000));           /* they exit at once: room, but no rate */
	mounters_want(b->m, ADDR_D, 0);
	CHECK(next_msg(b, addr) == 0);
	CHECK(wait_msg(b, 2500, addr) == PW_MOUNTER && strcmp(addr, ADDR_D) == 0);
	/* Loose above (a loaded CI machine pumps late), yet below a two-second interval. */
	int64_t waited = monotonic_ms() - t0;
	CHECK(waited >= 900 && waited < 1900);
	bench_end(b);
}

/* Eviction takes an idle mounter only: one with a file open is left alone, and the start
 * that would need its room is refused. */
static void test_busy_not_evicted(void)
{
	char addr[RTFTP_ADDR_MAX];
	struct bench *b = bench_new("1", "FAKE_MOUNTER_READY=1");
	putenv("FAKE_MOUNTER_BUSY=1");
	mounters_want(b->m, ADDR, 0);
	CHECK(handed_over(b) != 0);
	CHECK(wait_ready(b, ADDR, true) != NULL);
	mounters_want(b->m, ADDR_B, 0);
	CHECK(next_msg(b, addr) == PW_MOUNTER_NONE && strcmp(addr, ADDR_B) == 0);
	struct mrec *a = mounters_find_live(b->m, ADDR);
	CHECK(a && a->state == M_READY);
	bench_end(b);
}

/* Of two idle mounters, the least recently used one makes room. */
static void test_lru_evicted(void)
{
	struct bench *b = bench_new("2", "FAKE_MOUNTER_READY=1");
	write_nbd(b->root, ADDR_C);
	mounters_want(b->m, ADDR, 0);
	CHECK(handed_over(b) != 0);
	CHECK(wait_ready(b, ADDR, false) != NULL);
	pump(b, 50);
	mounters_want(b->m, ADDR_B, 0);
	CHECK(handed_over_for(b, ADDR_B) != 0);
	CHECK(wait_ready(b, ADDR_B, false) != NULL);
	mounters_want(b->m, ADDR_C, 0);
	CHECK(mounters_find_live(b->m, ADDR) == NULL);     /* the older one */
	CHECK(mounters_find_live(b->m, ADDR_B) != NULL);
	bench_end(b);
}

/* A .nbd file that appears never evicts a mounter a client may be about to use: only the
 * worker's requests do. */
static void test_proactive_never_evicts(void)
{
	struct bench *b = bench_new_watching("1", "FAKE_MOUNTER_READY=1", true);
	for (int i = 0; i < 200 && !b->m->list; i++)
		pump(b, 10);
	struct mrec *r = b->m->list;
	CHECK(r != NULL);
	const char *first = r && strcmp(r->addr, ADDR) == 0 ? ADDR : ADDR_B;
	CHECK(wait_ready(b, first, false) != NULL);
	pid_t pid = live_pid(b, first);
	write_nbd(b->root, ADDR_C);
	pump(b, 1600);                             /* past the 1 s debounce */
	CHECK(live_pid(b, first) == pid && kill(pid, 0) == 0);
	CHECK(mounters_find_live(b->m, ADDR_C) == NULL);
	bench_end(b);
}

/* Starts that wait for room go first come, first served, and a start that arrives while a
 * mounter is on its way out waits too (it is not refused for want of an idle one). */
static void test_waiting_order(void)
{
	char addr[RTFTP_ADDR_MAX];
	struct bench *b = bench_new("1", "FAKE_MOUNTER_IGNORE_TERM=1");
	putenv("FAKE_MOUNTER_READY=1");
	write_nbd(b->root, ADDR_C);
	mounters_want(b->m, ADDR, 0);
	CHECK(handed_over(b) != 0);
	CHECK(wait_ready(b, ADDR, false) != NULL);
	mounters_want(b->m, ADDR_B, 0);            /* evicts ADDR, which takes its 3 s */
	mounters_want(b->m, ADDR_C, 0);
	pump(b, 100);
	CHECK(next_msg(b, addr) == 0);             /* both wait */
	CHECK(wait_msg(b, 4000, addr) == PW_MOUNTER && strcmp(addr, ADDR_B) == 0);
	bench_end(b);
}

/* Proactive: a .nbd file rewritten with the same bytes keeps its mounter; one deleted stops
 * its mounter. */
static void test_nbd_rewrite_and_delete(void)
{
	char path[128];
	struct bench *b = bench_new_watching("2", NULL, true);
	CHECK(pump_until_both_started(b));
	pid_t a = live_pid(b, ADDR);
	write_nbd(b->root, ADDR);
	snprintf(path, sizeof(path), "%s/%s.nbd", b->root, ADDR_B);
	CHECK(unlink(path) == 0);
	for (int i = 0; i < 250 && mounters_find_live(b->m, ADDR_B); i++)
		pump(b, 10);
	CHECK(mounters_find_live(b->m, ADDR_B) == NULL);
	pump(b, 300);
	CHECK(live_pid(b, ADDR) == a);
	bench_end(b);
}

/* A mounter that reports neither READY nor FAILED (its own watchdog failed it) is killed
 * when --launch-timeout + 15 s have passed since its start, and not before. */
static void test_launch_backstop(void)
{
	struct bench *b = bench_new("2", NULL);          /* the stand-in never reports */
	mounters_want(b->m, ADDR, 0);
	CHECK(handed_over(b) != 0);
	pid_t pid = live_pid(b, ADDR);
	int64_t backstop_ms = ((int64_t)b->opt.launch_timeout_s + LAUNCH_BACKSTOP_S) * 1000;
	logged[0] = '\0';
	log_set_sink(log_keep, NULL);
	skipped_ms += backstop_ms - 1000;
	pump(b, MOUNTERS_TICK_MS + 50);                 /* a tick came, and let it live */
	CHECK(live_pid(b, ADDR) == pid && kill(pid, 0) == 0);
	skipped_ms += 1000;
	CHECK(pump_until_dead(b, pid, 1000));
	CHECK(strstr(logged, "no READY or FAILED within --launch-timeout + 15 s") != NULL);
	log_set_sink(NULL, NULL);
	bench_end(b);
}

/* A .nbd file rewritten again and again (a provisioning tool that keeps saving it) is acted
 * on 5 s after its first change, though it never stays unchanged for the 1 s debounce: here
 * it changes every 0.4 s of skipped time plus one tick of real time. */
static void test_debounce_cap(void)
{
	struct bench *b = bench_new_watching("3", NULL, true);
	CHECK(pump_until_both_started(b));
	int64_t first = monotonic_ms(), started_after = -1;
	write_nbd(b->root, ADDR_C);
	while (started_after < 0 && monotonic_ms() - first < 7000) {
		pump(b, MOUNTERS_TICK_MS + 10);
		if (mounters_find_live(b->m, ADDR_C))
			started_after = monotonic_ms() - first;
		skipped_ms += 400;
		write_nbd(b->root, ADDR_C);
	}
	CHECK(started_after >= 5000 && started_after < 6000);
	bench_end(b);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	fake_mounter = argv[1];
	test_serials();
	test_replacement_flood();
	test_start_rate();
	test_eviction_waits();
	test_exit_without_reading();
	test_symlinked_nbd();
	test_overflow_rescan();
	test_no_mounters_no_watch();
	test_canonical_addresses();
	test_fifo_nbd();
	test_mounter_misbehaves();
	test_waiting_start_refused();
	test_worker_restart_stops_mounters();
	test_shutdown_starts_nothing();
	test_stalled_is_killed();
	test_start_burst();
	test_busy_not_evicted();
	test_lru_evicted();
	test_proactive_never_evicts();
	test_waiting_order();
	test_nbd_rewrite_and_delete();
	test_launch_backstop();
	test_debounce_cap();
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}

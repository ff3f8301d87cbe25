/* The worker's side of remote disks when the other side misbehaves, driven with a fake clock:
 * a request for a mounter that the parent never answers, a mounter channel that sends a
 * descriptor before its HELLO, a file that is not a sealed memfd. A real worker struct and
 * real sockets; time moves when the test says so. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "ipc.h"
#include "log.h"
#include "worker.h"

static int failures, checks;
#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

#define WAIT_MS 30000u     /* the worker's mounter_wait_ms in these tests */

static struct worker W;
static int client_fd, client2_fd, parent_end;
static uint32_t serial;      /* of the channels this test hands over */
static struct sockaddr_storage client_addr, client2_addr, server_local;

static void quiet(enum log_level lvl, const char *line, void *arg)
{
	(void)lvl; (void)line; (void)arg;
}

static void make_root(char *root)
{
	char p[512];
	if (!mkdtemp(root))
		exit(2);
	snprintf(p, sizeof(p), "%s/127.0.0.1.nbd", root);       /* only its presence counts here */
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/127.0.0.2.nbd", root);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/default", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/default/three", root);
	FILE *f = fopen(p, "w");
	fputs("hello", f);
	fclose(f);
}

static void setup(const char *root)
{
	int ctl[2];
	struct worker_config cfg = { .timeout_ms = 1000, .retries = 3, .max_windowsize = 64,
		.max_transfers = 100, .max_per_client = 100, .rrq_rate = 1000,
		.remote_deadline_ms = 5000, .mounter_wait_ms = WAIT_MS, .remote_disks = 1 };
	struct wclient c1, c2;
	harness_init(&W, root, &cfg, &server_local);
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, ctl);
	W.ctl = ctl[0];
	parent_end = ctl[1];
	harness_client(&c1, INADDR_LOOPBACK);
	harness_client(&c2, 0x7f000002);
	client_fd = c1.fd, client_addr = c1.addr;
	client2_fd = c2.fd, client2_addr = c2.addr;
	log_set_sink(quiet, NULL);
}

static void rrq_from(const struct sockaddr_storage *from, const char *name)
{
	uint8_t pkt[128];
	size_t n = 2;
	pkt[0] = 0; pkt[1] = TFTP_RRQ;
	n += (size_t)sprintf((char *)pkt + n, "%s", name) + 1;
	n += (size_t)sprintf((char *)pkt + n, "octet") + 1;
	transfer_start(&W, &W.listeners[0], from, &server_local, 0, pkt, n);
}

static void rrq(const char *name)
{
	rrq_from(&client_addr, name);
}

static void advance(uint64_t ms)
{
	harness_advance(&W, ms);
}

static uint32_t last_have;   /* the serial named by the last WANT read */

/* How many PW_MOUNTER_WANT for 127.0.0.1 the "parent" has received since the last call. */
static int wants(void)
{
	struct ipc_msg m;
	struct pw_mounter pm;
	char addr[RTFTP_ADDR_MAX];
	int n = 0;
	while (ipc_recv(parent_end, &m) == 1)
		if (m.hdr.type == PW_MOUNTER_WANT &&
		    ipc_get_struct_string(&m, &pm, sizeof(pm), addr, sizeof(addr)) == 0 &&
		    strcmp(addr, "127.0.0.1") == 0) {
			last_have = pm.serial;
			n++;
		}
	return n;
}

/* The payload of a DATA 1 that reached this client ("ERROR" for an error), "" when none came. */
static const char *data1_at(int fd)
{
	static char text[600];
	uint8_t buf[600];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	text[0] = '\0';
	if (poll(&p, 1, 500) <= 0)
		return text;
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n >= 4 && buf[1] == TFTP_DATA && buf[3] == 1)
		snprintf(text, sizeof(text), "%.*s", (int)(n - 4), (const char *)buf + 4);
	else if (n >= 4 && buf[1] == TFTP_ERROR)
		snprintf(text, sizeof(text), "ERROR");
	return text;
}

static void drain_client(void)
{
	uint8_t buf[600];
	while (recv(client_fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

static const char *data1(void)
{
	return data1_at(client_fd);
}

/* The transfer of client_addr (a request served from default/ after its wait), ended. */
static void end_client_transfer(void)
{
	struct transfer *t = transfer_find(&W, &client_addr);
	if (t)
		transfer_end(t, "ok", NULL);
}

/* The worker's end of a mounter channel: after its HELLO, closed by the worker. */
static bool closed_by_worker(int ch)
{
	uint8_t b[64];
	ssize_t n;
	while ((n = recv(ch, b, sizeof(b), MSG_DONTWAIT)) > 0)
		;                                  /* the worker's HELLO */
	return n == 0;
}

/* The parent never answers (its answer lost, or never sent): the request is asked again
 * every few seconds, the client is served from default/ once the wait is over, and the next
 * request asks for the mounter again instead of waiting on the old one for ever. */
static void test_unanswered_want(void)
{
	rrq("three");
	CHECK(wants() == 1);
	CHECK(last_have == 0);                 /* no channel received yet */
	CHECK(transfer_find(&W, &client_addr) != NULL);
	advance(5000);
	CHECK(wants() == 1);                   /* asked again */
	CHECK(strcmp(data1(), "") == 0);       /* still waiting */
	advance(WAIT_MS);
	CHECK(strcmp(data1(), "hello") == 0);  /* from default/ */
	struct transfer *t = transfer_find(&W, &client_addr);
	CHECK(t != NULL);
	if (t) {
		uint8_t a[4];
		tftp_build_ack(a, 1);
		transfer_on_packet(t, a, sizeof(a));
	}
	CHECK(transfer_find(&W, &client_addr) == NULL);
	rrq("three");
	CHECK(wants() == 1);                   /* a new request asks afresh */
}

static int memfds_open(void)
{
	char path[300], target[300];
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, target, sizeof(target) - 1);
		if (k > 0 && (target[k] = '\0', strstr(target, "/memfd:") != NULL))
			n++;
	}
	closedir(d);
	return n;
}

/* A mounter whose first message is WM_OPENED with a descriptor: the channel is ended and the
 * descriptor closed, not kept. */
static void test_descriptor_before_hello(void)
{
	int mp[2];
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, mp);
	remote_on_mounter_fd(&W, "127.0.0.1", 7, mp[0]);
	int mfd = memfd_create("early", 0);
	CHECK(ftruncate(mfd, 10) == 0);
	struct wm_opened o = { .size = 10 };
	CHECK(ipc_send(mp[1], WM_OPENED, 1, &o, sizeof(o), mfd) == 0);
	close(mfd);
	CHECK(memfds_open() == 0);
	for (int i = 0; i < 5; i++)
		evloop_run_once(&W.loop, 100);
	CHECK(memfds_open() == 0);
	CHECK(closed_by_worker(mp[1]));
	close(mp[1]);
	/* The next request for a mounter names the channel it got (serial 7), so the parent can
	 * tell it from a request that crossed a newer hand-over. */
	advance(10001);                        /* past the back-off of a failed start */
	end_client_transfer();
	drain_client();
	rrq("three");
	CHECK(wants() == 1);
	CHECK(last_have == 7);
}

/* A ready mounter for 127.0.0.2 on a fresh channel; returns the test's end of it. */
static int ready_mounter(void)
{
	int mp[2];
	struct proto_hello hello = { .version = RTFTP_PROTO_VERSION };
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, mp);
	remote_on_mounter_fd(&W, "127.0.0.2", ++serial, mp[0]);
	CHECK(ipc_send(mp[1], WM_HELLO, 0, &hello, sizeof(hello), -1) == 0);
	CHECK(ipc_send(mp[1], WM_READY, 0, NULL, 0, -1) == 0);
	for (int i = 0; i < 3; i++)
		evloop_run_once(&W.loop, 50);
	return mp[1];
}

/* A channel the worker could not receive (no free descriptor) counts as received: the next
 * request asks the parent to replace it, naming its serial. And a mounter that says HELLO
 * but never READY is given up after the whole wait, its requests served from default/. */
static void test_lost_channel_and_silent_mounter(void)
{
	remote_on_mounter_lost(&W, "127.0.0.1", 9);
	CHECK(strcmp(data1(), "hello") == 0);  /* the waiting request, from default/ */
	end_client_transfer();
	advance(10001);                        /* past the back-off of a failed start */
	rrq("three");
	CHECK(wants() == 1);
	CHECK(last_have == 9);
	end_client_transfer();
	/* The event loop reads the real clock: the channel is set up before the request, so
	 * that only the test's clock runs while the request waits. */
	int mp[2];
	struct proto_hello hello = { .version = RTFTP_PROTO_VERSION };
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, mp);
	remote_on_mounter_fd(&W, "127.0.0.1", 10, mp[0]);
	CHECK(ipc_send(mp[1], WM_HELLO, 0, &hello, sizeof(hello), -1) == 0);
	for (int i = 0; i < 3; i++)
		evloop_run_once(&W.loop, 50);
	rrq("three");
	CHECK(wants() == 0);                   /* its mounter is starting: nothing to ask */
	advance(WAIT_MS - 1000);
	CHECK(strcmp(data1(), "") == 0);       /* still starting: waited for */
	advance(1000);
	CHECK(strcmp(data1(), "hello") == 0);  /* given up: default/ */
	CHECK(closed_by_worker(mp[1]));
	close(mp[1]);
	end_client_transfer();
}

/* What a mounter sends for an open: a memfd holding "hello" (sealed against shrinking and
 * growing, as rtftp-mounter seals it, or not) and how much of it is final. */
static void send_file(int ch, uint32_t id, bool sealed, uint64_t available)
{
	int mfd = memfd_create("file", MFD_ALLOW_SEALING);
	CHECK(write(mfd, "hello", 5) == 5);
	if (sealed)
		CHECK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	struct wm_opened o = { .size = 5 };
	struct wm_progress pr = { .available = available };
	CHECK(ipc_send(ch, WM_OPENED, id, &o, sizeof(o), mfd) == 0);
	CHECK(ipc_send(ch, WM_PROGRESS, id, &pr, sizeof(pr), -1) == 0);
	close(mfd);
	for (int i = 0; i < 3; i++)
		evloop_run_once(&W.loop, 50);
}

/* The id of the WM_OPEN the worker sent on this channel, 0 when none. */
static uint32_t open_id(int ch)
{
	struct ipc_msg m;
	for (int i = 0; i < 10; i++)
		if (ipc_recv(ch, &m) == 1 && m.hdr.type == WM_OPEN)
			return m.hdr.id;
	return 0;
}

/* The mounter answers an open with a memfd holding "hello", sealed against shrinking and
 * growing (what rtftp-mounter sends) or not: an unsealed file ends that mounter and the
 * request gets an error; the sealed one is served. */
static void answer_open(bool sealed, const char *expect)
{
	int ch = ready_mounter();
	rrq_from(&client2_addr, "three");
	uint32_t id = open_id(ch);
	CHECK(id != 0);
	send_file(ch, id, sealed, 5);
	CHECK(strcmp(data1_at(client2_fd), expect) == 0);
	struct transfer *t = transfer_find(&W, &client2_addr);
	if (t) {
		uint8_t a[4];
		tftp_build_ack(a, 1);
		transfer_on_packet(t, a, sizeof(a));
	}
	CHECK(transfer_find(&W, &client2_addr) == NULL);
	close(ch);
	evloop_run_once(&W.loop, 50);
}

/* A netascii request waits for the whole file before it converts it; a mounter that stops
 * sending progress meanwhile is found out by the same deadline as any other (the request
 * gets an error and the parent hears of the stall), not waited on for ever. */
static void test_netascii_stall(void)
{
	int ch = ready_mounter();
	uint8_t pkt[64];
	size_t n = 2;
	pkt[0] = 0; pkt[1] = TFTP_RRQ;
	n += (size_t)sprintf((char *)pkt + n, "three") + 1;
	n += (size_t)sprintf((char *)pkt + n, "netascii") + 1;
	transfer_start(&W, &W.listeners[0], &client2_addr, &server_local, 0, pkt, n);
	uint32_t id = open_id(ch);
	CHECK(id != 0);
	send_file(ch, id, true, 2);
	CHECK(transfer_find(&W, &client2_addr) != NULL);   /* waiting for the rest */
	advance(W.cfg.remote_deadline_ms + 1);
	CHECK(transfer_find(&W, &client2_addr) == NULL);
	CHECK(strcmp(data1_at(client2_fd), "ERROR") == 0);
	struct ipc_msg m;
	bool stalled = false;
	while (ipc_recv(parent_end, &m) == 1)
		stalled = stalled || m.hdr.type == PW_MOUNTER_STALLED;
	CHECK(stalled);
	close(ch);
}

/* A descriptor may come only with WM_OPENED: one with any other message ends that mounter, and
 * the descriptor is closed, not kept. */
static void test_descriptor_with_other_message(void)
{
	int ch = ready_mounter(), before = memfds_open();
	int mfd = memfd_create("stray", 0);
	struct wm_progress pr = { .available = 0 };
	CHECK(ipc_send(ch, WM_PROGRESS, 99, &pr, sizeof(pr), mfd) == 0);
	close(mfd);
	for (int i = 0; i < 3; i++)
		evloop_run_once(&W.loop, 50);
	CHECK(memfds_open() == before);
	CHECK(closed_by_worker(ch));
	close(ch);
}

/* A mounter whose progress goes backwards (bytes it said were final are not) is broken: it is
 * ended and the transfer reading from it gets an error, not bytes that may change. */
static void test_progress_backwards_ends_the_mounter(void)
{
	int ch = ready_mounter();
	rrq_from(&client2_addr, "three");
	uint32_t id = open_id(ch);
	CHECK(id != 0);
	send_file(ch, id, true, 2);              /* 2 of 5 bytes final: DATA 1 waits */
	CHECK(strcmp(data1_at(client2_fd), "") == 0);
	struct wm_progress pr = { .available = 1 };
	CHECK(ipc_send(ch, WM_PROGRESS, id, &pr, sizeof(pr), -1) == 0);
	for (int i = 0; i < 3; i++)
		evloop_run_once(&W.loop, 50);
	CHECK(transfer_find(&W, &client2_addr) == NULL);
	CHECK(strcmp(data1_at(client2_fd), "ERROR") == 0);
	close(ch);
	evloop_run_once(&W.loop, 50);
}

/* A client whose mounter could not start is not asked for again for 10 s: meanwhile its
 * requests are served from default/ at once; after that the next request asks afresh. */
static void test_failed_start_backs_off(void)
{
	/* past any earlier back-off: the event loop of the tests before set the clock back to the
	 * real one, up to a whole mounter wait behind the test's */
	advance(WAIT_MS + 10001);
	wants();
	drain_client();
	rrq("three");
	CHECK(wants() == 1);
	remote_on_mounter_none(&W, "127.0.0.1"); /* the parent starts none */
	CHECK(strcmp(data1(), "hello") == 0);    /* the waiting request, from default/ */
	end_client_transfer();
	advance(9000);
	rrq("three");
	CHECK(wants() == 0);
	CHECK(strcmp(data1(), "hello") == 0);    /* at once, without waiting for a disk */
	end_client_transfer();
	advance(1001);
	rrq("three");
	CHECK(wants() == 1);
	end_client_transfer();
}

int main(void)
{
	char root[] = "/tmp/rtftp-remote-wait-XXXXXX";
	make_root(root);
	setup(root);
	test_unanswered_want();
	test_descriptor_before_hello();
	test_lost_channel_and_silent_mounter();
	answer_open(false, "ERROR");
	answer_open(true, "hello");
	test_netascii_stall();
	test_progress_backwards_ends_the_mounter();
	test_descriptor_with_other_message();
	test_failed_start_backs_off();
	return harness_finish(root, checks, failures);
}

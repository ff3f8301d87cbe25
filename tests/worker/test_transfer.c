/* The transfer state machine, driven packet by packet with a fake clock: a real worker
 * struct and real loopback sockets, but time only moves when the test says so. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

static int failures, checks;
#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

static struct worker W;
static int client_fd;
static struct sockaddr_storage client_addr, server_local;
static char last_log[4096];

static void capture_log(enum log_level lvl, const char *line, void *arg)
{
	(void)lvl; (void)arg;
	snprintf(last_log, sizeof(last_log), "%s", line);
}

static void write_file(const char *dir, const char *name, size_t size, unsigned seed)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	for (size_t i = 0; i < size; i++)
		fputc((int)((i * 31 + seed) & 0xff), f);
	fclose(f);
}

static void setup(const char *root)
{
	memset(&W, 0, sizeof(W));
	W.cfg = (struct worker_config){ .timeout_ms = 1000, .retries = 3, .max_windowsize = 64,
		.max_transfers = 100, .max_per_client = 100, .rrq_rate = 1000,
		.probe_cache_ms = 0, .remote_deadline_ms = 5000 };
	W.rng = 12345;
	W.now_ms = 1000000;
	W.next_housekeeping_ms = UINT64_MAX;
	evloop_init(&W.loop);
	W.rootfd = open(root, O_PATH | O_DIRECTORY);
	int lfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	listener_add(&W, lfd);
	client_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	bind(client_fd, (struct sockaddr *)&a, sizeof(a));
	socklen_t len = sizeof(client_addr);
	getsockname(client_fd, (struct sockaddr *)&client_addr, &len);
	memset(&server_local, 0, sizeof(server_local));
	memcpy(&server_local, &a, sizeof(a));
	log_set_sink(capture_log, NULL);
}

/* Receive one datagram from the server within wait_ms, or -1. */
static int recv_wait(uint8_t *buf, size_t cap, int wait_ms)
{
	struct pollfd p = { .fd = client_fd, .events = POLLIN };
	if (poll(&p, 1, wait_ms) <= 0)
		return -1;
	ssize_t n = recv(client_fd, buf, cap, MSG_DONTWAIT);
	return n < 0 ? -1 : (int)n;
}

/* A packet the server sent is on loopback at once; a second is plenty even on a busy host. */
static int recv_pkt(uint8_t *buf, size_t cap)
{
	return recv_wait(buf, cap, 1000);
}

/* Count what arrives until the line has been quiet for a while. */
static int drain(void)
{
	uint8_t buf[70000];
	int n = 0;
	while (recv_wait(buf, sizeof(buf), 50) >= 0)
		n++;
	return n;
}

static void rrq(const char *name, const char *const *opts)
{
	uint8_t pkt[512];
	size_t n = 2;
	pkt[0] = 0; pkt[1] = TFTP_RRQ;
	n += (size_t)sprintf((char *)pkt + n, "%s", name) + 1;
	n += (size_t)sprintf((char *)pkt + n, "octet") + 1;
	for (int i = 0; opts && opts[i]; i++)
		n += (size_t)sprintf((char *)pkt + n, "%s", opts[i]) + 1;
	transfer_start(&W, &W.listeners[0], &client_addr, &server_local, 0, pkt, n);
}

static struct transfer *cur(void) { return transfer_find(&W, &client_addr); }

static void ack(uint16_t block)
{
	uint8_t a[4];
	tftp_build_ack(a, block);
	struct transfer *t = cur();
	if (t)
		transfer_on_packet(t, a, 4);
}

static void advance(uint64_t ms)
{
	W.now_ms += ms;
	struct transfer *t;
	while ((t = timer_expired(&W, W.now_ms)) != NULL)
		transfer_on_timer(t);
}

/* When set, DATA payloads are checked against write_file's pattern for this seed. */
static int data_seed = -1;
static unsigned data_blksize;

static bool payload_ok(const uint8_t *p, int len, uint16_t block)
{
	size_t off = (size_t)(block - 1) * data_blksize;
	for (int i = 0; i < len; i++)
		if (p[i] != (uint8_t)(((off + (size_t)i) * 31 + (unsigned)data_seed) & 0xff))
			return false;
	return true;
}

/* Expect a DATA packet with this block number and length. */
static void expect_data(uint16_t block, int len)
{
	uint8_t buf[70000];
	int n = recv_pkt(buf, sizeof(buf));
	CHECK(n == len + 4);
	CHECK(n >= 4 && buf[1] == TFTP_DATA && (buf[2] << 8 | buf[3]) == block);
	if (data_seed >= 0 && n == len + 4)
		CHECK(payload_ok(buf + 4, len, block));
	if (n != len + 4 || (buf[2] << 8 | buf[3]) != block)
		fprintf(stderr, "  wanted DATA %u len %d, got n=%d op=%d block=%d\n", block, len, n,
			n >= 2 ? buf[1] : -1, n >= 4 ? (buf[2] << 8 | buf[3]) : -1);
}

static void test_plain_and_sorcerer(void)
{
	rrq("three", NULL);                      /* 1124 bytes: 512 + 512 + 100 */
	expect_data(1, 512);
	ack(1);
	expect_data(2, 512);
	ack(1);                                  /* duplicate ACK: nothing may be resent */
	CHECK(drain() == 0);
	ack(2);
	expect_data(3, 100);
	ack(3);
	CHECK(cur() == NULL);
	CHECK(strstr(last_log, "outcome=ok") && strstr(last_log, "bytes=1124"));
}

static void test_exact_multiple_ends_empty(void)
{
	rrq("exact", NULL);                      /* 1024 bytes */
	expect_data(1, 512);
	ack(1);
	expect_data(2, 512);
	ack(2);
	expect_data(3, 0);
	ack(3);
	CHECK(cur() == NULL);
}

static void test_window_go_back(void)
{
	const char *opts[] = { "windowsize", "4", "blksize", "512", NULL };
	uint8_t buf[600];
	data_seed = 3;                           /* every resent block has the right bytes */
	data_blksize = 512;
	rrq("ten", opts);                        /* 5120 bytes: 10 blocks + an empty 11th */
	int n = recv_pkt(buf, sizeof(buf));
	CHECK(n > 2 && buf[1] == TFTP_OACK);
	ack(0);
	for (int b = 1; b <= 4; b++)
		expect_data((uint16_t)b, 512);
	CHECK(cur() && !cur()->no_gso);          /* the window went out segmented (UDP GSO) */
	ack(2);                                  /* inside the window: block 3 was lost */
	for (int b = 3; b <= 6; b++)
		expect_data((uint16_t)b, 512);
	ack(2);                                  /* duplicate: no second resend */
	CHECK(drain() == 0);
	ack(6);
	for (int b = 7; b <= 10; b++)
		expect_data((uint16_t)b, 512);
	ack(10);
	expect_data(11, 0);
	ack(11);
	CHECK(cur() == NULL);
	data_seed = -1;
}

static void test_pre_ack_resends_are_bounded(void)
{
	const char *opts[] = { "tsize", "0", NULL };
	rrq("three", opts);
	CHECK(drain() == 1);                     /* OACK */
	int resent = 0;
	for (int i = 0; i < 10 && cur(); i++) {
		advance(20000);
		resent += drain();
	}
	CHECK(cur() == NULL);
	CHECK(resent == PRE_ACK_RESENDS);
	CHECK(strstr(last_log, "outcome=timeout") != NULL);
}

static void test_retries_after_ack(void)
{
	rrq("three", NULL);
	expect_data(1, 512);
	ack(1);
	expect_data(2, 512);
	int resent = 0;
	for (int i = 0; i < 10 && cur(); i++) {
		advance(20000);
		resent += drain();
	}
	CHECK(resent == (int)W.cfg.retries);
	CHECK(cur() == NULL);
}

static void test_rollover(void)
{
	const char *opts[] = { "blksize", "8", NULL };
	uint8_t buf[64];
	rrq("roll", opts);                       /* 65537 blocks of 8 bytes + empty last */
	CHECK(recv_pkt(buf, sizeof(buf)) > 0 && buf[1] == TFTP_OACK);
	ack(0);
	int bad = 0;
	for (uint32_t b = 1; b <= 65538; b++) {
		int n = recv_pkt(buf, sizeof(buf));
		uint16_t wire = (uint16_t)(buf[2] << 8 | buf[3]);
		if (n < 4 || wire != (uint16_t)b)
			bad++;
		ack((uint16_t)b);
		if (b == 65536)
			CHECK(wire == 0);                /* rolled over to 0 */
	}
	CHECK(bad == 0);
	CHECK(cur() == NULL);
	CHECK(strstr(last_log, "outcome=ok") != NULL);
}

static void test_duplicate_rrq_one_transfer(void)
{
	rrq("three", NULL);
	rrq("three", NULL);                      /* a BIOS ROM's second identical RRQ */
	expect_data(1, 512);
	CHECK(drain() == 0);
	ack(1);
	expect_data(2, 512);
	ack(2);
	expect_data(3, 100);
	rrq("three", NULL);                      /* after progress: a new boot restarts it */
	CHECK(drain() == 1);                     /* DATA 1 of the new; nothing to the old */
	ack(1); drain(); ack(2); drain(); ack(3);
	CHECK(cur() == NULL);
}

/* The client re-sends its RRQ just as our first reply (answered late: a remote disk was
 * starting) reaches it, so the retransmission arrives behind its ACK 0. It is the same
 * request, not a reboot: restarting would answer from a new port that the client, locked to
 * the first one, ignores (seen with curl against a launching disk). A reboot's RRQ a moment
 * later restarts as usual. */
static void test_rrq_echo_after_first_ack(void)
{
	const char *opts[] = { "tsize", "0", NULL };
	uint8_t buf[600], a[4];
	struct sockaddr_storage tport;
	socklen_t len = sizeof(tport);
	rrq("three", opts);
	CHECK(recv_pkt(buf, sizeof(buf)) > 0 && buf[1] == TFTP_OACK);
	struct transfer *t = cur();
	getsockname(t->sock, (struct sockaddr *)&tport, &len);
	tftp_build_ack(a, 0);
	sendto(client_fd, a, 4, 0, (struct sockaddr *)&tport, len);   /* read by settle_old */
	usleep(20000);
	rrq("three", opts);
	CHECK(cur() == t && t->state == XS_SENDING);
	expect_data(1, 512);
	CHECK(drain() == 0);                     /* no second OACK from a new port */
	ack(1); expect_data(2, 512);
	ack(2); expect_data(3, 100);
	ack(3);
	CHECK(cur() == NULL && strstr(last_log, "outcome=ok") != NULL);

	rrq("three", NULL);                      /* no options: the first answer is ACK 1 */
	expect_data(1, 512);
	ack(1); expect_data(2, 512);
	t = cur();
	rrq("three", NULL);
	CHECK(cur() == t && drain() == 0);
	W.now_ms += 1500;                        /* long after the answer: a new boot */
	rrq("three", NULL);
	CHECK(cur() != t || cur()->base == 1);
	CHECK(strstr(last_log, "outcome=restarted") != NULL);
	expect_data(1, 512);
	ack(1); drain(); ack(2); drain(); ack(3);
	CHECK(cur() == NULL);
}

/* The client sends its final ACK and at once a new RRQ from the same port (an ephemeral
 * port reused, or GRUB): the ACK still waits in the old transfer's socket when the RRQ is
 * read. The old transfer must end as ok, and the new one start. */
static void test_final_ack_then_port_reuse(void)
{
	uint8_t a[4];
	struct sockaddr_storage tport;
	socklen_t len = sizeof(tport);
	rrq("three", NULL);
	expect_data(1, 512); ack(1);
	expect_data(2, 512); ack(2);
	expect_data(3, 100);
	getsockname(cur()->sock, (struct sockaddr *)&tport, &len);
	tftp_build_ack(a, 3);
	sendto(client_fd, a, 4, 0, (struct sockaddr *)&tport, len);   /* via the socket */
	usleep(20000);
	rrq("three", NULL);
	CHECK(strstr(last_log, "outcome=ok") != NULL);
	CHECK(cur() != NULL && cur()->base == 1);
	expect_data(1, 512);
	ack(1); drain(); ack(2); drain(); ack(3);
	CHECK(cur() == NULL);
}

/* The size probe's lookup is kept: the real request right after it costs no second lookup
 * (proved by removing the file in between), and the kept result expires. */
static void test_lookup_cache(const char *root)
{
	const char *opts[] = { "tsize", "0", NULL };
	uint8_t err[32];
	char path[600];
	snprintf(path, sizeof(path), "%s/default/once", root);
	FILE *f = fopen(path, "wb");
	fputs("kept for the real request", f);
	fclose(f);
	W.cfg.probe_cache_ms = 5000;
	rrq("once", opts);
	CHECK(drain() == 1);                                 /* OACK */
	size_t len = tftp_build_error(err, sizeof(err), TFTP_EOPTNEG, "probe");
	transfer_on_packet(cur(), err, len);
	CHECK(unlink(path) == 0);
	rrq("once", NULL);
	expect_data(1, 25);                                  /* served from the kept lookup */
	ack(1);
	CHECK(cur() == NULL && strstr(last_log, "outcome=ok") != NULL);
	W.now_ms += 6000;
	cache_expire(&W, false);
	rrq("once", NULL);
	CHECK(strstr(last_log, "outcome=not-found") != NULL); /* expired: looked up again */
	drain();
	W.cfg.probe_cache_ms = 0;
}

static void test_probe_then_error8(void)
{
	const char *opts[] = { "tsize", "0", "blksize", "1468", NULL };
	uint8_t err[32], buf[128];
	rrq("three", opts);
	int n = recv_pkt(buf, sizeof(buf));
	CHECK(n > 0 && buf[1] == TFTP_OACK);
	CHECK(n > 0 && memmem(buf, (size_t)n, "tsize\0" "1124", 11) != NULL);
	size_t len = tftp_build_error(err, sizeof(err), TFTP_EOPTNEG, "probe");
	transfer_on_packet(cur(), err, len);
	CHECK(cur() == NULL);
	CHECK(strstr(last_log, "outcome=probe") != NULL);
}

int main(void)
{
	char root[] = "/tmp/rtftp-sm-XXXXXX";
	char dir[600];
	if (!mkdtemp(root))
		return 1;
	snprintf(dir, sizeof(dir), "%s/default", root);
	mkdir(dir, 0755);
	write_file(dir, "three", 1124, 1);
	write_file(dir, "exact", 1024, 2);
	write_file(dir, "ten", 5120, 3);
	write_file(dir, "roll", 8 * 65537, 4);
	setup(root);
	test_plain_and_sorcerer();
	test_exact_multiple_ends_empty();
	test_window_go_back();
	test_pre_ack_resends_are_bounded();
	test_retries_after_ack();
	test_duplicate_rrq_one_transfer();
	test_rrq_echo_after_first_ack();
	test_probe_then_error8();
	test_final_ack_then_port_reuse();
	test_lookup_cache(root);
	test_rollover();
	printf("%d passed, %d failed\n", checks - failures, failures);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		return 1;
	return failures ? 1 : 0;
}

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

#include "addr.h"
#include "harness.h"
#include "log.h"
#include "worker.h"

static int failures, checks;
#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

static struct worker W;
static int client_fd;
static struct sockaddr_storage client_addr, server_local;
static char last_log[4096];
static int refused_lines;          /* "refused ..." lines logged */
static char refusal_notes[1024];   /* the limiter's own lines, one after the other */

static void capture_log(enum log_level lvl, const char *line, void *arg)
{
	(void)lvl; (void)arg;
	snprintf(last_log, sizeof(last_log), "%s", line);
	if (strstr(line, ": refused client="))
		refused_lines++;
	else if (strstr(line, "refusals"))
		snprintf(refusal_notes + strlen(refusal_notes), sizeof(refusal_notes) - strlen(refusal_notes),
			 "%s\n", strchr(line, ' ') + 1);
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
	struct worker_config cfg = { .timeout_ms = 1000, .retries = 3, .max_windowsize = 64,
		.max_transfers = 100, .max_per_client = 100, .rrq_rate = 1000,
		.probe_cache_ms = 0, .remote_deadline_ms = 5000 };
	struct wclient c;
	harness_init(&W, root, &cfg, &server_local);
	harness_client(&c, INADDR_LOOPBACK);
	client_fd = c.fd;
	client_addr = c.addr;
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
	harness_advance(&W, ms);
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

/* "three" with DATA 2 out: the rest of it, and a clean end with every byte counted. */
static void finish_three(void)
{
	ack(2);
	expect_data(3, 100);
	ack(3);
	CHECK(cur() == NULL);
	CHECK(strstr(last_log, "outcome=ok") && strstr(last_log, "bytes=1124"));
}

static void test_plain_and_sorcerer(void)
{
	rrq("three", NULL);                      /* 1124 bytes: 512 + 512 + 100 */
	expect_data(1, 512);
	ack(1);
	expect_data(2, 512);
	ack(1);                                  /* duplicate ACK: nothing may be resent */
	CHECK(drain() == 0);
	finish_three();
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

/* A client's timeout option does not stretch an unanswered transfer: until its first ACK the
 * server's own --timeout paces the few packets (the OACK still echoes what was asked, as
 * U-Boot requires); after it, the asked timeout is honoured. */
static void test_timeout_option_before_and_after_ack(void)
{
	const char *opts[] = { "timeout", "255", NULL };
	uint8_t buf[128];
	rrq("three", opts);
	int n = recv_pkt(buf, sizeof(buf));
	CHECK(n > 0 && buf[1] == TFTP_OACK && memmem(buf, (size_t)n, "timeout\0" "255\0", 12) != NULL);
	for (int i = 0; i < 10 && cur(); i++)
		advance(1000);
	CHECK(cur() == NULL);                    /* gone within 10 s, not 30 minutes */
	drain();
	const char *three[] = { "timeout", "3", NULL };
	rrq("three", three);
	CHECK(drain() == 1);                     /* OACK */
	ack(0);
	CHECK(drain() == 1);                     /* DATA 1 */
	advance(2900);
	CHECK(drain() == 0);                     /* 3 s asked: not yet */
	advance(900);
	CHECK(drain() == 1);                     /* resent within 3 s + jitter */
	transfers_stop_all(&W);
	drain();
}

static struct sockaddr_storage peer_port(uint16_t port)
{
	struct sockaddr_storage p = client_addr;
	((struct sockaddr_in *)&p)->sin_port = htons(port);
	return p;
}

/* Netascii text is converted once per opened file and all of it held at once is bounded:
 * past the budget a request is refused as busy, and the memory comes back when transfers end. */
static void test_netascii_budget(void)
{
	struct sockaddr_storage peers[40];
	int started = 0, refused_at = -1;
	for (int i = 0; i < 40; i++) {
		uint8_t pkt[64];
		size_t n = 2;
		pkt[0] = 0; pkt[1] = TFTP_RRQ;
		n += (size_t)sprintf((char *)pkt + n, "text4m") + 1;
		n += (size_t)sprintf((char *)pkt + n, "netascii") + 1;
		peers[i] = peer_port((uint16_t)(40000 + i));
		transfer_start(&W, &W.listeners[0], &peers[i], &server_local, 0, pkt, n);
		if (transfer_find(&W, &peers[i]))
			started++;
		else if (refused_at < 0)
			refused_at = i;
	}
	CHECK(refused_at == 14);    /* 14 x 4 MiB held: one more conversion (8 MiB) passes 64 */
	CHECK(started == refused_at);
	CHECK(strstr(last_log, "server busy") != NULL);
	transfers_stop_all(&W);
	transfer_start(&W, &W.listeners[0], &peers[0], &server_local, 0,
		       (const uint8_t *)"\0\1text4m\0netascii\0", 18);
	CHECK(transfer_find(&W, &peers[0]) != NULL);     /* released when they ended */
	transfers_stop_all(&W);
	/* With the lookup cache, the same file for the same client is converted once. */
	W.cfg.probe_cache_ms = 5000;
	started = 0;
	for (int i = 0; i < 40; i++) {
		transfer_start(&W, &W.listeners[0], &peers[i], &server_local, 0,
			       (const uint8_t *)"\0\1text4m\0netascii\0", 18);
		started += transfer_find(&W, &peers[i]) != NULL;
	}
	CHECK(started == 40);
	transfers_stop_all(&W);
	W.cfg.probe_cache_ms = 0;
	drain();
}

/* Replies to requests that start no transfer are bounded for the whole server: a burst of
 * 200, then 100 a second, however many arrive (a spoofed flood is not reflected). */
static void test_refusals_bounded(void)
{
	const uint8_t bad_mode[] = "\0\1three\0mail";
	advance(5000);                           /* a full bucket */
	refused_lines = 0;
	refusal_notes[0] = '\0';
	for (int i = 0; i < 300; i++)
		transfer_start(&W, &W.listeners[0], &client_addr, &server_local, 0, bad_mode,
			       sizeof(bad_mode));
	CHECK(drain() == 200);
	advance(1000);
	for (int i = 0; i < 300; i++)
		transfer_start(&W, &W.listeners[0], &client_addr, &server_local, 0, bad_mode,
			       sizeof(bad_mode));
	CHECK(drain() == 100);
	advance(5000);
	transfer_start(&W, &W.listeners[0], &client_addr, &server_local, 0, bad_mode, sizeof(bad_mode));
	CHECK(drain() == 1);
	/* every reply had its log line, none of the dropped had one; the limiter said so once
	 * when it started dropping and once, with the count, when it was calm again */
	CHECK(refused_lines == 301);
	CHECK(strcmp(refusal_notes, "more than 100 refusals a second: the rest are neither answered "
		     "nor logged until it calms down\n300 refusals were neither answered nor logged "
		     "(more than 100 a second)\n") == 0);
}

static bool client_listed(const struct sockaddr_storage *peer)
{
	struct sockaddr_storage host = *peer;
	((struct sockaddr_in *)&host)->sin_port = 0;
	for (unsigned b = 0; b < CLIENT_BUCKETS; b++)
		for (const struct client *c = W.clients[b]; c; c = c->next)
			if (addr_host_equal(&c->addr, &host))
				return true;
	return false;
}

/* A table full of addresses that asked once and went (a flood from an IPv6 /64) does not
 * shut out a new client: an idle entry makes room. */
static void test_client_table_full(void)
{
	const uint8_t req[] = "\0\1missing\0octet";
	struct sockaddr_storage p;
	W.cfg.rrq_rate = 1000000;
	for (unsigned i = 0; i < 65536; i++) {
		memset(&p, 0, sizeof(p));
		struct sockaddr_in *s4 = (struct sockaddr_in *)&p;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		s4->sin_addr.s_addr = htonl(0x7f640000u + i);      /* 127.100.0.0/16 */
		transfer_start(&W, &W.listeners[0], &p, &server_local, 0, req, sizeof(req));
	}
	CHECK(W.nclients >= 65536);
	struct wclient c3;                       /* a client never seen before */
	harness_client(&c3, 0x7f000003);
	const uint8_t three[] = "\0\1three\0octet";
	transfer_start(&W, &W.listeners[0], &c3.addr, &server_local, 0, three, sizeof(three));
	CHECK(transfer_find(&W, &c3.addr) != NULL);    /* served: an idle entry made room */
	uint8_t buf[600];
	struct pollfd pf = { .fd = c3.fd, .events = POLLIN };
	CHECK(poll(&pf, 1, 1000) == 1 && recv(c3.fd, buf, sizeof(buf), 0) == 516 && buf[1] == TFTP_DATA);
	CHECK(W.nclients <= 65536);
	close(c3.fd);
	transfers_stop_all(&W);
	W.cfg.rrq_rate = 1000;
}

/* A full table makes room by forgetting an idle address, never one with a transfer in flight,
 * even when that one is the longest quiet (a long transfer sends no new request): freeing it
 * would leave the transfer pointing at freed memory. Two tables' worth of new addresses pass
 * every bucket, so the busy client is the oldest of its bucket at some point. */
static void test_full_table_keeps_busy_clients(void)
{
	const uint8_t req[] = "\0\1missing\0octet";
	const uint8_t three[] = "\0\1three\0octet";
	struct wclient b;
	struct sockaddr_storage p;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&p;
	W.cfg.rrq_rate = 1000000;
	harness_client(&b, 0x7f000032);          /* 127.0.0.50 */
	transfer_start(&W, &W.listeners[0], &b.addr, &server_local, 0, three, sizeof(three));
	struct transfer *t = transfer_find(&W, &b.addr);
	CHECK(t != NULL);
	W.now_ms += 1;                           /* every address from now on is newer */
	for (unsigned i = 0; i < 2 * 65536; i++) {
		memset(&p, 0, sizeof(p));
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		s4->sin_addr.s_addr = htonl(0x7f650000u + i);      /* 127.101.0.0 - 127.102.255.255 */
		transfer_start(&W, &W.listeners[0], &p, &server_local, 0, req, sizeof(req));
	}
	CHECK(W.nclients <= 65536);
	CHECK(client_listed(&b.addr));
	CHECK(t == transfer_find(&W, &b.addr) && t->client == client_get(&W, &b.addr));
	close(b.fd);
	transfers_stop_all(&W);
	W.cfg.rrq_rate = 1000;
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

/* Another request from the port of a transfer not yet answered is a new request, not a
 * retransmission, even when it is just as long: the transfer restarts with the new file. */
static void test_other_rrq_same_port_restarts(void)
{
	rrq("three", NULL);
	expect_data(1, 512);
	rrq("exact", NULL);                      /* the same length, another file */
	CHECK(strstr(last_log, "outcome=restarted") != NULL);
	data_seed = 2;                           /* "exact"'s bytes, not "three"'s */
	data_blksize = 512;
	expect_data(1, 512);
	data_seed = -1;
	ack(1); drain(); ack(2); drain(); ack(3);
	CHECK(cur() == NULL && strstr(last_log, "outcome=ok") != NULL);
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
	rrq("once", NULL);
	CHECK(strstr(last_log, "outcome=not-found") != NULL); /* expired before housekeeping ran */
	drain();
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

/* While the OACK waits, only ACK 0 starts the data; and an ACK for a block not yet sent (the
 * one after the window) moves nothing: taking it would skip a block the client never had. */
static void test_acks_outside_the_window_ignored(void)
{
	const char *opts[] = { "tsize", "0", NULL };
	rrq("three", opts);
	CHECK(drain() == 1);                     /* OACK */
	ack(1);
	CHECK(drain() == 0);
	CHECK(cur() && cur()->state == XS_OACK);
	ack(0);
	expect_data(1, 512);
	ack(2);                                  /* DATA 2 was never sent */
	CHECK(drain() == 0);
	CHECK(cur() && cur()->base == 1);
	ack(1);
	expect_data(2, 512);
	finish_three();
}

/* Each retransmission doubles the timeout, at most three times (1, 2, 4, 8, 8 ... s as
 * docs/protocol.md says), plus at most 25 % jitter: every resend comes neither before its
 * doubled timeout nor after that plus a quarter. */
static void test_backoff_doubles_three_times(void)
{
	W.cfg.retries = 6;
	rrq("three", NULL);
	expect_data(1, 512);
	ack(1);                                  /* an answer: --retries applies, not the pre-ACK bound */
	expect_data(2, 512);
	for (unsigned k = 0; k < 6; k++) {
		unsigned rto = 1000u << (k < 3 ? k : 3);
		advance(rto - 1);
		CHECK(drain() == 0);
		advance(rto / 4 + 1);
		CHECK(drain() == 1);
		if (k == 5)
			CHECK(cur() != NULL);            /* the sixth resend, still within --retries */
	}
	advance(8000 + 2000);
	CHECK(cur() == NULL);
	CHECK(strstr(last_log, "outcome=timeout") && strstr(last_log, "retransmits=6"));
	W.cfg.retries = 3;
}

/* Any progress resets the retry count (and the back-off): a transfer that loses one packet of
 * every block, far more often than --retries in all, still completes. */
static void test_progress_resets_the_retry_count(void)
{
	rrq("ten", NULL);                        /* 10 blocks of 512 and an empty 11th */
	for (unsigned b = 1; b <= 11; b++) {
		expect_data((uint16_t)b, b < 11 ? 512 : 0);
		advance(1250);                       /* its ACK lost: resent after 1 s + jitter */
		expect_data((uint16_t)b, b < 11 ? 512 : 0);
		ack((uint16_t)b);
	}
	CHECK(cur() == NULL);
	CHECK(strstr(last_log, "outcome=ok") && strstr(last_log, "retransmits=11"));
}

/* The timer heap gives every transfer back exactly at its deadline, whatever the order its
 * timers were set, moved and cleared in; the event loop's wait ends at the earliest one. */
static void test_timer_heap_order(void)
{
	enum { N = 300, SPAN = 5000 };
	static struct transfer tt[N];
	uint64_t due[N], now = W.now_ms, earliest = UINT64_MAX;
	unsigned seed = 7;
	int armed = 0, fired = 0, late = 0;
	CHECK(W.timers.n == 0);
	for (int i = 0; i < N; i++) {
		tt[i].heap_idx = SIZE_MAX;
		seed = seed * 1103515245u + 12345u;
		due[i] = now + 1 + (seed >> 8) % SPAN;
		timer_set(&W, &tt[i], due[i]);
	}
	for (int i = 0; i < N; i += 3) {         /* out of the middle of the heap */
		seed = seed * 1103515245u + 12345u;
		if (i % 2) {
			timer_clear(&W, &tt[i]);
			due[i] = 0;
		} else {
			due[i] = now + 1 + (seed >> 8) % SPAN;
			timer_set(&W, &tt[i], due[i]);
		}
	}
	for (int i = 0; i < N; i++) {
		armed += due[i] != 0;
		if (due[i] && due[i] < earliest)
			earliest = due[i];
	}
	CHECK(timer_next_wait_ms(&W, now) == (int)(earliest - now));
	for (uint64_t t = now; t <= now + SPAN + 1; t++) {
		struct transfer *x;
		while ((x = timer_expired(&W, t)) != NULL) {
			fired++;
			late += due[x - tt] != t;
		}
	}
	CHECK(fired == armed);
	CHECK(late == 0);
	CHECK(W.timers.n == 0);
}

/* An address idle for long is forgotten, but never one with a transfer in flight: the
 * transfer points at it. */
static void test_busy_client_not_expired(void)
{
	struct sockaddr_storage idle;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&idle;
	memset(&idle, 0, sizeof(idle));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(9);
	s4->sin_addr.s_addr = htonl(0x7f000063);                 /* 127.0.0.99 */
	CHECK(client_get(&W, &idle) != NULL);
	rrq("three", NULL);
	expect_data(1, 512);
	W.now_ms += 61000;                       /* both idle a minute; the timer is not run */
	clients_expire(&W);
	CHECK(!client_listed(&idle));
	CHECK(client_listed(&client_addr));
	CHECK(cur() != NULL && cur()->client == client_get(&W, &client_addr));
	transfers_stop_all(&W);
	drain();
}

/* No larger block than fits the path MTU without fragmentation: on an Ethernet path (1500)
 * an IPv4 client asking for the maximum gets 1500 - 20 - 8 - 4 = 1468. */
static void test_blksize_fits_path_mtu(void)
{
	const char *opts[] = { "blksize", "65464", NULL };
	struct client *c = client_get(&W, &client_addr);
	uint8_t buf[128];
	c->mtu = 1500;
	c->mtu_ms = W.now_ms;                    /* as if just measured */
	rrq("ten", opts);
	int n = recv_pkt(buf, sizeof(buf));
	CHECK(n == 15 && memcmp(buf, "\0\6" "blksize\0" "1468\0", 15) == 0);
	ack(0);
	expect_data(1, 1468);
	transfers_stop_all(&W);
	drain();
	c->mtu = 0;
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
	char text[700];
	snprintf(text, sizeof(text), "%s/text4m", dir);
	FILE *tf = fopen(text, "w");
	for (int i = 0; i < (4 << 20) / 64; i++)
		fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde ", tf);
	fclose(tf);
	setup(root);
	test_timer_heap_order();
	test_plain_and_sorcerer();
	test_acks_outside_the_window_ignored();
	test_exact_multiple_ends_empty();
	test_window_go_back();
	test_pre_ack_resends_are_bounded();
	test_retries_after_ack();
	test_backoff_doubles_three_times();
	test_progress_resets_the_retry_count();
	test_timeout_option_before_and_after_ack();
	test_netascii_budget();
	test_refusals_bounded();
	test_client_table_full();
	test_full_table_keeps_busy_clients();
	test_duplicate_rrq_one_transfer();
	test_rrq_echo_after_first_ack();
	test_other_rrq_same_port_restarts();
	test_probe_then_error8();
	test_final_ack_then_port_reuse();
	test_lookup_cache(root);
	test_busy_client_not_expired();
	test_blksize_fits_path_mtu();
	test_rollover();
	return harness_finish(root, checks, failures);
}

/* tftpload: a TFTP load generator that behaves like many PXE clients at once.
 *
 * Every transfer has its own UDP socket (own source port), sends an RRQ with blksize, windowsize
 * and tsize options, receives with RFC 7440 windowing (ACK when the window is complete, ACK the
 * last in-order block once on a gap or a stale duplicate, ACK again on the retransmit timer),
 * can drop a share of the DATA it receives (seeded PRNG) and verifies every byte against a local
 * copy of the file (mmap). One epoll loop drives all transfers; the run is bounded by a hard
 * deadline. Not a test: a benchmark tool (see bench/README.md).
 *
 * It is deliberately independent of common/ (its own tiny codec), so it also checks the server
 * against a second implementation of the protocol.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OP_RRQ   1
#define OP_DATA  3
#define OP_ACK   4
#define OP_ERROR 5
#define OP_OACK  6

#define RECV_BATCH 32
#define RECV_SLOT  65536          /* largest DATA is 65464 + 4 */
#define MAX_SRC    256

/* ---------------------------------------------------------------- configuration */

struct cfg {
	struct sockaddr_storage server;
	socklen_t server_len;
	const char *file;              /* name asked for */
	const char *expect_path;       /* local copy, for verification */
	int clients;
	int repeat;                    /* transfers per client in bounded mode */
	double duration;               /* > 0: continuous mode for this many seconds */
	int ramp_ms;
	int blksize;                   /* 0: do not ask */
	int windowsize;                /* 0: do not ask */
	bool tsize;
	double loss;                   /* fraction 0..1 of received DATA dropped */
	uint64_t seed;
	int timeout_ms;
	int retries;
	double deadline;
	struct sockaddr_storage src[MAX_SRC];
	int nsrc;
	int rcvbuf;
	bool probe;                    /* UEFI-style size probe before each real RRQ */
	const char *mem_cgroup;        /* dir holding cgroup.procs to sample RSS/PSS from */
	int mem_interval_ms;
	double report;                 /* continuous mode: print a line every this many seconds */
	const char *label;
	bool quiet;
	bool each;                     /* one line per finished transfer */
};

static struct cfg C = {
	.file = NULL, .clients = 1, .repeat = 1, .blksize = 1468, .windowsize = 1, .tsize = true,
	.seed = 1, .timeout_ms = 1000, .retries = 8, .deadline = 60, .mem_interval_ms = 100,
	.report = 10, .label = "",
};

/* ---------------------------------------------------------------- small helpers */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t rng_state;
static uint64_t rng_next(void)      /* xorshift64* */
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}
static double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tftpload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res;
	char buf[16];
	snprintf(buf, sizeof(buf), "%d", port);
	if (getaddrinfo(s, buf, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- statistics */

struct samples { int64_t *v; size_t n, cap; };
static void samples_add(struct samples *s, int64_t x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("out of memory");
	}
	s->v[s->n++] = x;
}
static double pct_ms(struct samples *s, double p)
{
	if (s->n == 0)
		return NAN;
	size_t i = (size_t)ceil(p / 100.0 * (double)s->n);
	if (i > 0)
		i--;
	if (i >= s->n)
		i = s->n - 1;
	return (double)s->v[i] / 1e6;
}

#define MAX_REASONS 16
static struct { char text[96]; uint64_t n; char first[160]; } reasons[MAX_REASONS];
static int nreasons;

static struct {
	uint64_t ok, failed, bytes;
	uint64_t timeouts, rrq_timeouts, timed_out_transfers;
	uint64_t data_rx, data_dropped, dup_data, ooo_data, stray, dup_oack;
	uint64_t acks_sent, recovery_acks, rrq_sent, send_err;
	uint64_t probes;
	struct samples lat, ttfb, probe_lat;
	int64_t t_first_rrq, t_last_done;
} S;

static atomic_int inflight;

/* ---------------------------------------------------------------- expected content */

static const uint8_t *expect;
static uint64_t expect_size;
static bool have_expect;

static void make_file(const char *path, uint64_t size, uint64_t seed)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		die("%s: %s", path, strerror(errno));
	rng_state = seed ? seed * 0x9E3779B97F4A7C15ULL : 1;
	uint8_t buf[65536];
	uint64_t left = size;
	while (left) {
		size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		for (size_t i = 0; i < n; i += 8) {
			uint64_t r = rng_next();
			memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
		}
		if (fwrite(buf, 1, n, f) != n)
			die("%s: write failed", path);
		left -= n;
	}
	if (fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

/* ---------------------------------------------------------------- clients */

enum cstate { CS_IDLE, CS_RRQ, CS_DATA, CS_DONE };

struct client {
	int fd;
	enum cstate st;
	bool probing;                  /* this RRQ is a size probe */
	bool have_tid;
	struct sockaddr_storage tid;
	uint64_t expected;             /* absolute number of the next block wanted (1-based) */
	uint64_t bytes;
	int blksize, windowsize;       /* negotiated */
	int win_cnt;
	uint64_t recov_at;             /* 'expected' when the last recovery ACK went out, 0 none */
	int64_t t_start, t_rrq, t_timer, t_probe_start;
	int64_t t_begin;               /* ramp: when to start */
	int retries;
	bool timed_out;                /* this transfer saw at least one client timeout */
	int done_count;
	int src;
	uint64_t tsize;
	bool got_tsize;
	int64_t ttfb;                  /* of this transfer, -1 before the first DATA */
	int64_t probe_ns;              /* size probe: RRQ to OACK, -1 none */
};

static uint64_t each_seq;
static void print_each(const struct client *c, const struct client *base, bool ok, const char *why, int64_t now)
{
	if (!C.each)
		return;
	double dur = (double)(now - c->t_start) / 1e6;
	printf("EACH n=%" PRIu64 " client=%d ok=%d ttfb_ms=%.3f probe_ms=%.3f dur_ms=%.3f bytes=%" PRIu64
	       " mbs=%.3f timed_out=%d why=%s\n", ++each_seq, (int)(c - base), ok ? 1 : 0,
	       c->ttfb >= 0 ? (double)c->ttfb / 1e6 : NAN, c->probe_ns >= 0 ? (double)c->probe_ns / 1e6 : NAN,
	       dur, c->bytes, dur > 0 ? (double)c->bytes / 1e3 / dur : NAN, c->timed_out ? 1 : 0,
	       why ? why : "-");
	fflush(stdout);
}

static struct client *cl;
static int epfd;
static int64_t t_end_continuous;

static void reason(struct client *c, const char *text, const char *detail)
{
	int i;
	for (i = 0; i < nreasons; i++)
		if (strcmp(reasons[i].text, text) == 0)
			break;
	if (i == nreasons) {
		if (nreasons == MAX_REASONS)
			i = MAX_REASONS - 1;
		else {
			nreasons++;
			snprintf(reasons[i].text, sizeof(reasons[i].text), "%s", text);
			snprintf(reasons[i].first, sizeof(reasons[i].first), "client %d, block %" PRIu64
				 ", %" PRIu64 " bytes: %s", (int)(c - cl), c->expected, c->bytes,
				 detail ? detail : "");
		}
	}
	reasons[i].n++;
}

static int open_socket(struct client *c)
{
	int fam = C.server.ss_family;
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (C.rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &C.rcvbuf, sizeof(C.rcvbuf));
	if (C.nsrc) {
		struct sockaddr_storage *a = &C.src[c->src % C.nsrc];
		socklen_t l = a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		if (bind(fd, (struct sockaddr *)a, l) != 0)
			die("bind source: %s", strerror(errno));
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)(c - cl) };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	c->fd = fd;
	return fd;
}

static void xsend(struct client *c, const void *buf, size_t len, const struct sockaddr_storage *to)
{
	socklen_t l = to->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (sendto(c->fd, buf, len, 0, (const struct sockaddr *)to, l) < 0)
		S.send_err++;
}

static size_t put_str(uint8_t *p, size_t off, size_t cap, const char *s)
{
	size_t n = strlen(s) + 1;
	if (off + n > cap)
		die("request too long");
	memcpy(p + off, s, n);
	return off + n;
}

static void send_rrq(struct client *c)
{
	uint8_t p[1024];
	char v[24];
	size_t o = 2;
	p[0] = 0;
	p[1] = OP_RRQ;
	o = put_str(p, o, sizeof(p), C.file);
	o = put_str(p, o, sizeof(p), "octet");
	if (C.blksize) {
		o = put_str(p, o, sizeof(p), "blksize");
		snprintf(v, sizeof(v), "%d", C.blksize);
		o = put_str(p, o, sizeof(p), v);
	}
	if (C.tsize || c->probing) {
		o = put_str(p, o, sizeof(p), "tsize");
		o = put_str(p, o, sizeof(p), "0");
	}
	if (C.windowsize) {
		o = put_str(p, o, sizeof(p), "windowsize");
		snprintf(v, sizeof(v), "%d", C.windowsize);
		o = put_str(p, o, sizeof(p), v);
	}
	xsend(c, p, o, &C.server);
	S.rrq_sent++;
}

static void send_ack(struct client *c, uint64_t block)
{
	uint8_t p[4] = { 0, OP_ACK, (uint8_t)(block >> 8), (uint8_t)block };
	xsend(c, p, 4, &c->tid);
	S.acks_sent++;
}

static void send_error(struct client *c, const struct sockaddr_storage *to, int code, const char *msg)
{
	uint8_t p[128] = { 0, OP_ERROR, 0, (uint8_t)code };
	size_t n = strlen(msg) + 1;
	memcpy(p + 4, msg, n);
	xsend(c, p, 4 + n, to);
}

static void start_transfer(struct client *c, int64_t now)
{
	c->st = CS_RRQ;
	c->have_tid = false;
	c->expected = 1;
	c->bytes = 0;
	c->blksize = 512;
	c->windowsize = 1;
	c->win_cnt = 0;
	c->recov_at = 0;
	c->retries = 0;
	c->timed_out = false;
	c->got_tsize = false;
	c->probing = C.probe;
	c->ttfb = -1;
	c->probe_ns = -1;
	open_socket(c);
	c->t_start = now;
	c->t_probe_start = now;
	c->t_rrq = now;
	c->t_timer = now + (int64_t)C.timeout_ms * 1000000;
	if (!S.t_first_rrq)
		S.t_first_rrq = now;
	atomic_fetch_add(&inflight, 1);
	send_rrq(c);
}

static void close_transfer(struct client *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	atomic_fetch_sub(&inflight, 1);
	c->done_count++;
	c->st = CS_DONE;
	if (C.duration <= 0 ? c->done_count < C.repeat : now_ns() < t_end_continuous)
		c->st = CS_IDLE;   /* started again by the scan */
}

static void fail(struct client *c, const char *why, const char *detail)
{
	S.failed++;
	if (c->timed_out)
		S.timed_out_transfers++;
	reason(c, why, detail);
	print_each(c, cl, false, why, now_ns());
	close_transfer(c);
}

static void finish_ok(struct client *c, int64_t now)
{
	S.ok++;
	S.bytes += c->bytes;
	if (c->timed_out)
		S.timed_out_transfers++;
	samples_add(&S.lat, now - c->t_start);
	S.t_last_done = now;
	print_each(c, cl, true, NULL, now);
	close_transfer(c);
}

/* OACK: name\0value\0 pairs. Strict: only options asked, blksize/windowsize not above what was
 * asked, no trailing bytes. Returns NULL or a reason. */
static const char *parse_oack(struct client *c, const uint8_t *p, size_t len, char *detail, size_t dl)
{
	const uint8_t *q = p + 2, *end = p + len;
	bool seen_blk = false, seen_win = false;
	while (q < end) {
		const uint8_t *nul = memchr(q, 0, (size_t)(end - q));
		if (!nul)
			return "OACK malformed (unterminated name or trailing bytes)";
		const char *name = (const char *)q;
		q = nul + 1;
		if (q >= end)
			return "OACK malformed (option without value)";
		nul = memchr(q, 0, (size_t)(end - q));
		if (!nul)
			return "OACK malformed (unterminated value)";
		const char *val = (const char *)q;
		q = nul + 1;
		char *ep;
		errno = 0;
		unsigned long long v = strtoull(val, &ep, 10);
		if (*val == 0 || *ep || errno) {
			snprintf(detail, dl, "%s=%s", name, val);
			return "OACK option value not a number";
		}
		if (strcasecmp(name, "blksize") == 0 && C.blksize) {
			if (v < 8 || v > (unsigned long long)C.blksize) {
				snprintf(detail, dl, "blksize %llu asked %d", v, C.blksize);
				return "OACK blksize out of range";
			}
			c->blksize = (int)v;
			seen_blk = true;
		} else if (strcasecmp(name, "windowsize") == 0 && C.windowsize) {
			if (v < 1 || v > (unsigned long long)C.windowsize) {
				snprintf(detail, dl, "windowsize %llu asked %d", v, C.windowsize);
				return "OACK windowsize out of range";
			}
			c->windowsize = (int)v;
			seen_win = true;
		} else if (strcasecmp(name, "tsize") == 0 && (C.tsize || c->probing)) {
			c->tsize = v;
			c->got_tsize = true;
		} else {
			snprintf(detail, dl, "%s=%s", name, val);
			return "OACK has an option not asked for";
		}
	}
	(void)seen_blk;
	(void)seen_win;
	if (have_expect && c->got_tsize && c->tsize != expect_size) {
		snprintf(detail, dl, "tsize %" PRIu64 " expected %" PRIu64, c->tsize, expect_size);
		return "OACK tsize wrong";
	}
	return NULL;
}

static void arm_timer(struct client *c, int64_t now)
{
	c->t_timer = now + (int64_t)C.timeout_ms * 1000000;
}

static void recovery_ack(struct client *c)
{
	if (c->recov_at == c->expected)
		return;
	c->recov_at = c->expected;
	c->win_cnt = 0;
	S.recovery_acks++;
	send_ack(c, c->expected - 1);
}

static void on_data(struct client *c, const uint8_t *p, size_t len, int64_t now)
{
	uint16_t b = (uint16_t)(p[2] << 8 | p[3]);
	int16_t delta = (int16_t)(uint16_t)(b - (uint16_t)c->expected);
	if (delta < 0) {
		S.dup_data++;
		recovery_ack(c);
		return;
	}
	if (delta > 0) {
		S.ooo_data++;
		recovery_ack(c);
		return;
	}
	size_t n = len - 4;
	if (n > (size_t)c->blksize) {
		char d[64];
		snprintf(d, sizeof(d), "%zu bytes, blksize %d", n, c->blksize);
		fail(c, "DATA larger than blksize", d);
		return;
	}
	if (c->expected == 1) {
		c->ttfb = now - c->t_rrq;
		samples_add(&S.ttfb, c->ttfb);
	}
	uint64_t off = (c->expected - 1) * (uint64_t)c->blksize;
	if (have_expect) {
		if (off + n > expect_size) {
			fail(c, "DATA beyond the end of the file", NULL);
			return;
		}
		if (memcmp(expect + off, p + 4, n) != 0) {
			char d[64];
			snprintf(d, sizeof(d), "offset %" PRIu64, off);
			fail(c, "content mismatch", d);
			return;
		}
		if (n < (size_t)c->blksize && off + n != expect_size) {
			char d[64];
			snprintf(d, sizeof(d), "ended at %" PRIu64 " of %" PRIu64, off + n, expect_size);
			fail(c, "short transfer", d);
			return;
		}
	}
	c->bytes += n;
	c->expected++;
	c->win_cnt++;
	c->retries = 0;
	arm_timer(c, now);
	if (n < (size_t)c->blksize) {
		send_ack(c, c->expected - 1);
		finish_ok(c, now);
		return;
	}
	if (c->win_cnt >= c->windowsize) {
		c->win_cnt = 0;
		send_ack(c, c->expected - 1);
	}
}

static void on_packet(struct client *c, const uint8_t *p, size_t len, const struct sockaddr_storage *from,
		      bool trunc, int64_t now)
{
	if (len < 4 || trunc) {
		fail(c, trunc ? "datagram larger than 64 KiB" : "runt packet", NULL);
		return;
	}
	uint16_t op = (uint16_t)(p[0] << 8 | p[1]);
	if (op == OP_DATA) {
		S.data_rx++;
		if (C.loss > 0 && rng_unit() < C.loss) {
			S.data_dropped++;
			return;
		}
	}
	if (c->have_tid && !same_addr(from, &c->tid)) {
		S.stray++;
		send_error(c, from, 5, "Unknown transfer ID");
		return;
	}
	char detail[128] = "";
	switch (op) {
	case OP_ERROR: {
		uint16_t code = (uint16_t)(p[2] << 8 | p[3]);
		char msg[80];
		size_t ml = len - 4 < sizeof(msg) - 1 ? len - 4 : sizeof(msg) - 1;
		memcpy(msg, p + 4, ml);
		msg[ml] = 0;
		for (size_t i = 0; i < ml && msg[i]; i++)
			if (msg[i] < 32 || msg[i] > 126)
				msg[i] = '?';
		char r[96];
		snprintf(r, sizeof(r), "server ERROR %u: %.60s", code, msg);
		fail(c, r, NULL);
		return;
	}
	case OP_OACK:
		if (c->st == CS_RRQ) {
			c->tid = *from;
			c->have_tid = true;
			const char *why = parse_oack(c, p, len, detail, sizeof(detail));
			if (why) {
				send_error(c, from, 8, why);
				fail(c, why, detail);
				return;
			}
			if (c->probing) {
				/* UEFI: read the size, abort with ERROR 8, ask again from a new port */
				send_error(c, from, 8, "User aborted the transfer");
				S.probes++;
				samples_add(&S.probe_lat, now - c->t_probe_start);
				c->probe_ns = now - c->t_probe_start;
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->probing = false;
				c->have_tid = false;
				c->blksize = 512;
				c->windowsize = 1;
				open_socket(c);
				c->t_rrq = now;
				arm_timer(c, now);
				c->retries = 0;
				send_rrq(c);
				return;
			}
			c->st = CS_DATA;
			arm_timer(c, now);
			c->retries = 0;
			send_ack(c, 0);
		} else {
			S.dup_oack++;
			if (c->expected == 1 && c->recov_at != 1) {
				c->recov_at = 1;
				send_ack(c, 0);
			}
		}
		return;
	case OP_DATA:
		if (c->st == CS_RRQ) {
			if (c->probing) {
				send_error(c, from, 8, "probe");
				fail(c, "server ignored options (DATA instead of OACK) on a probe", NULL);
				return;
			}
			c->tid = *from;       /* no OACK: RFC 1350 defaults */
			c->have_tid = true;
			c->st = CS_DATA;
		}
		on_data(c, p, len, now);
		return;
	default:
		snprintf(detail, sizeof(detail), "opcode %u", op);
		fail(c, "unexpected opcode", detail);
		return;
	}
}

static void on_timer(struct client *c, int64_t now)
{
	S.timeouts++;
	c->timed_out = true;
	if (c->st == CS_RRQ)
		S.rrq_timeouts++;
	if (++c->retries > C.retries) {
		char d[64];
		snprintf(d, sizeof(d), "%d retries", C.retries);
		fail(c, c->st == CS_RRQ ? "no answer to RRQ" : "transfer timed out", d);
		return;
	}
	arm_timer(c, now);
	if (c->st == CS_RRQ) {
		send_rrq(c);           /* same port; ttfb still counts from the first RRQ */
	} else {
		c->win_cnt = 0;
		c->recov_at = 0;       /* the server's answer may have a gap again: allow one ACK */
		send_ack(c, c->expected - 1);
	}
}

/* ---------------------------------------------------------------- memory sampler */

static atomic_bool sampler_stop;
static struct { long rss_kib, pss_kib; int procs; int inflight; } mem_peak, mem_last;
static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;

static void mem_sample(long *rss, long *pss, int *procs)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/cgroup.procs", C.mem_cgroup);
	FILE *f = fopen(path, "r");
	*rss = *pss = 0;
	*procs = 0;
	if (!f)
		return;
	int pid;
	while (fscanf(f, "%d", &pid) == 1) {
		char p2[64], line[256];
		snprintf(p2, sizeof(p2), "/proc/%d/smaps_rollup", pid);
		FILE *g = fopen(p2, "r");
		if (!g)
			continue;
		long r = -1, s = -1;
		while (fgets(line, sizeof(line), g)) {
			if (strncmp(line, "Rss:", 4) == 0)
				r = atol(line + 4);
			else if (strncmp(line, "Pss:", 4) == 0)
				s = atol(line + 4);
		}
		fclose(g);
		if (r >= 0) {
			*rss += r;
			*pss += s > 0 ? s : 0;
			(*procs)++;
		}
	}
	fclose(f);
}

static void *sampler(void *arg)
{
	(void)arg;
	while (!atomic_load(&sampler_stop)) {
		long rss, pss;
		int procs;
		mem_sample(&rss, &pss, &procs);
		int inf = atomic_load(&inflight);
		pthread_mutex_lock(&mem_lock);
		mem_last.rss_kib = rss;
		mem_last.pss_kib = pss;
		mem_last.procs = procs;
		mem_last.inflight = inf;
		if (rss > mem_peak.rss_kib) {
			mem_peak.rss_kib = rss;
			mem_peak.inflight = inf;
		}
		if (pss > mem_peak.pss_kib)
			mem_peak.pss_kib = pss;
		if (procs > mem_peak.procs)
			mem_peak.procs = procs;
		pthread_mutex_unlock(&mem_lock);
		struct timespec ts = { C.mem_interval_ms / 1000, (long)(C.mem_interval_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---------------------------------------------------------------- ping-pong (stop-and-wait limit) */

static void pin_cpu(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		die("sched_setaffinity %d: %s", cpu, strerror(errno));
}

static int pingpong(int iters, int size, int cpu_a, int cpu_b)
{
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	struct sockaddr_in aa, ba;
	if (a < 0 || b < 0 || bind(a, (void *)&sa, l) || bind(b, (void *)&sa, l))
		die("pingpong socket: %s", strerror(errno));
	getsockname(a, (void *)&aa, &l);
	l = sizeof(sa);
	getsockname(b, (void *)&ba, &l);
	if (connect(a, (void *)&ba, sizeof(ba)) || connect(b, (void *)&aa, sizeof(aa)))
		die("pingpong connect: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	static uint8_t buf[65536];
	if (pid == 0) {            /* the "server": one DATA in, one 4-byte ACK out */
		pin_cpu(cpu_b);
		for (;;) {
			ssize_t n = recv(b, buf, sizeof(buf), 0);
			if (n <= 1)
				_exit(0);
			if (send(b, buf, 4, 0) < 0)
				_exit(1);
		}
	}
	pin_cpu(cpu_a);
	memset(buf, 0x5a, sizeof(buf));
	struct samples s = { 0 };
	for (int i = 0; i < iters + 1000; i++) {
		int64_t t0 = now_ns();
		if (send(a, buf, (size_t)size, 0) < 0 || recv(a, buf, sizeof(buf), 0) < 0)
			die("pingpong: %s", strerror(errno));
		if (i >= 1000)
			samples_add(&s, now_ns() - t0);
	}
	send(a, buf, 1, 0);
	waitpid(pid, NULL, 0);
	qsort(s.v, s.n, sizeof(int64_t), cmp_i64);
	double sum = 0;
	for (size_t i = 0; i < s.n; i++)
		sum += (double)s.v[i];
	double mean_us = sum / (double)s.n / 1e3, med_us = pct_ms(&s, 50) * 1e3;
	double payload = size - 4;
	printf("pingpong: %d round trips of a %d-byte datagram and a 4-byte reply over loopback, "
	       "two processes (CPUs %d and %d, -1: any)\n", iters, size, cpu_a, cpu_b);
	printf("  rtt mean %.2f us, median %.2f us, p99 %.2f us\n", mean_us, med_us, pct_ms(&s, 99) * 1e3);
	printf("  stop-and-wait limit at blksize %.0f: %.1f MB/s (mean), %.1f MB/s (median)\n",
	       payload, payload / mean_us, payload / med_us);
	printf("RESULT mode=pingpong cpus=%d,%d size=%d rtt_mean_us=%.3f rtt_median_us=%.3f limit_mbs=%.2f limit_median_mbs=%.2f\n",
	       cpu_a, cpu_b, size, mean_us, med_us, payload / mean_us, payload / med_us);
	return 0;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
"usage: tftpload [OPTIONS] -f NAME [-e LOCAL_COPY]\n"
"       tftpload --make-file PATH --size BYTES [--seed N]\n"
"       tftpload --pingpong N [--blksize B] [--cpus A,B]\n"
"           stop-and-wait limit: N round trips of a blksize+4 datagram and a 4-byte reply\n"
"           between two processes (pinned to CPUs A and B when given)\n"
"  -s, --server ADDR        server address (127.0.0.1)\n"
"  -p, --port PORT          server port (69)\n"
"  -f, --file NAME          file name to ask for\n"
"  -e, --expect PATH        local copy: every byte received is compared with it, and tsize too\n"
"  -n, --clients N          transfers at once, each its own socket and port (1)\n"
"  -r, --repeat N           transfers per client, one after the other (1)\n"
"  -D, --duration SEC       continuous mode: keep N transfers in flight for SEC seconds\n"
"      --ramp MS            spread the first RRQs over MS milliseconds (0: all at once)\n"
"  -b, --blksize N          blksize to ask for (1468; 0: do not ask)\n"
"  -w, --windowsize N       windowsize to ask for (1; 0: do not ask)\n"
"      --no-tsize           do not ask for tsize\n"
"  -l, --loss PCT           drop PCT %% of the DATA packets received (0)\n"
"      --seed N             PRNG seed for losses and --make-file (1)\n"
"  -t, --timeout MS         client retransmit timeout (1000)\n"
"      --retries N          client retransmissions before a transfer fails (8)\n"
"  -d, --deadline SEC       hard deadline for the whole run (60)\n"
"      --bind LIST          source addresses, comma-separated, A.B.C.X-Y ranges allowed;\n"
"                           client i uses entry i mod count (emulates per-client roots)\n"
"      --rcvbuf BYTES       SO_RCVBUF of each client socket (kernel default)\n"
"      --probe              UEFI-style size probe first: RRQ tsize 0, OACK, ERROR 8, new port\n"
"      --mem-cgroup DIR     sample Rss/Pss of every process in DIR/cgroup.procs\n"
"      --mem-interval MS    sampling interval (100)\n"
"      --report SEC         continuous mode: one line every SEC seconds (10)\n"
"      --label TEXT         added to the RESULT line\n"
"      --each               one 'EACH ...' line per finished transfer, in order: time to first\n"
"                           DATA, probe time, duration, MB/s (cold vs warm: use -n 1 -r N)\n"
"  -q, --quiet              only the RESULT line\n"
"Output: a summary, then one 'RESULT key=value...' line. MB = 10^6 bytes.\n"
"Exit: 0 all transfers ok, 1 some failed, 2 usage or setup error.\n");
}

static void add_sources(const char *list)
{
	char *dup = strdup(list), *save = NULL;
	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		int lo = -1, hi = -1;
		char base[64];
		if (dash && !strchr(tok, ':')) {
			*dash = 0;
			char *dot = strrchr(tok, '.');
			if (!dot)
				die("bad range %s", tok);
			lo = atoi(dot + 1);
			hi = atoi(dash + 1);
			snprintf(base, sizeof(base), "%.*s", (int)(dot - tok), tok);
		}
		if (lo < 0) {
			socklen_t l;
			if (C.nsrc >= MAX_SRC || parse_addr(tok, 0, &C.src[C.nsrc], &l))
				die("bad source address %s", tok);
			C.nsrc++;
			continue;
		}
		for (int i = lo; i <= hi; i++) {
			char a[80];
			socklen_t l;
			snprintf(a, sizeof(a), "%s.%d", base, i);
			if (C.nsrc >= MAX_SRC || parse_addr(a, 0, &C.src[C.nsrc], &l))
				die("bad source address %s", a);
			C.nsrc++;
		}
	}
	free(dup);
}

int main(int argc, char **argv)
{
	const char *server = "127.0.0.1", *make_path = NULL;
	int port = 69, ping = 0, ping_a = -1, ping_b = -1;
	uint64_t make_size = 0;
	bool size_given = false;
	enum { O_RAMP = 256, O_NOTSIZE, O_SEED, O_RETRIES, O_BIND, O_RCVBUF, O_PROBE, O_MEMCG,
	       O_MEMINT, O_REPORT, O_LABEL, O_MAKE, O_SIZE, O_PING, O_CPUS, O_EACH };
	static const struct option lo[] = {
		{ "server", 1, 0, 's' }, { "port", 1, 0, 'p' }, { "file", 1, 0, 'f' },
		{ "expect", 1, 0, 'e' }, { "clients", 1, 0, 'n' }, { "repeat", 1, 0, 'r' },
		{ "duration", 1, 0, 'D' }, { "ramp", 1, 0, O_RAMP }, { "blksize", 1, 0, 'b' },
		{ "windowsize", 1, 0, 'w' }, { "no-tsize", 0, 0, O_NOTSIZE }, { "loss", 1, 0, 'l' },
		{ "seed", 1, 0, O_SEED }, { "timeout", 1, 0, 't' }, { "retries", 1, 0, O_RETRIES },
		{ "deadline", 1, 0, 'd' }, { "bind", 1, 0, O_BIND }, { "rcvbuf", 1, 0, O_RCVBUF },
		{ "probe", 0, 0, O_PROBE }, { "mem-cgroup", 1, 0, O_MEMCG },
		{ "mem-interval", 1, 0, O_MEMINT }, { "report", 1, 0, O_REPORT },
		{ "label", 1, 0, O_LABEL }, { "each", 0, 0, O_EACH }, { "quiet", 0, 0, 'q' }, { "make-file", 1, 0, O_MAKE },
		{ "size", 1, 0, O_SIZE }, { "pingpong", 1, 0, O_PING }, { "cpus", 1, 0, O_CPUS }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "s:p:f:e:n:r:D:b:w:l:t:d:qh", lo, NULL)) != -1) {
		switch (o) {
		case 's': server = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'f': C.file = optarg; break;
		case 'e': C.expect_path = optarg; break;
		case 'n': C.clients = atoi(optarg); break;
		case 'r': C.repeat = atoi(optarg); break;
		case 'D': C.duration = atof(optarg); break;
		case O_RAMP: C.ramp_ms = atoi(optarg); break;
		case 'b': C.blksize = atoi(optarg); break;
		case 'w': C.windowsize = atoi(optarg); break;
		case O_NOTSIZE: C.tsize = false; break;
		case 'l': C.loss = atof(optarg) / 100.0; break;
		case O_SEED: C.seed = strtoull(optarg, NULL, 0); break;
		case 't': C.timeout_ms = atoi(optarg); break;
		case O_RETRIES: C.retries = atoi(optarg); break;
		case 'd': C.deadline = atof(optarg); break;
		case O_BIND: add_sources(optarg); break;
		case O_RCVBUF: C.rcvbuf = atoi(optarg); break;
		case O_PROBE: C.probe = true; break;
		case O_MEMCG: C.mem_cgroup = optarg; break;
		case O_MEMINT: C.mem_interval_ms = atoi(optarg); break;
		case O_REPORT: C.report = atof(optarg); break;
		case O_LABEL: C.label = optarg; break;
		case 'q': C.quiet = true; break;
		case O_EACH: C.each = true; break;
		case O_MAKE: make_path = optarg; break;
		case O_SIZE: make_size = strtoull(optarg, NULL, 0); size_given = true; break;
		case O_PING: ping = atoi(optarg); break;
		case O_CPUS:
			if (sscanf(optarg, "%d,%d", &ping_a, &ping_b) != 2)
				die("--cpus A,B");
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (make_path) {
		if (!size_given)
			die("--make-file needs --size");
		make_file(make_path, make_size, C.seed);
		return 0;
	}
	if (ping > 0)
		return pingpong(ping, (C.blksize ? C.blksize : 512) + 4, ping_a, ping_b);
	if (!C.file)
		die("-f NAME is required (see --help)");
	if (C.clients < 1 || C.clients > 100000 || C.repeat < 1 || C.timeout_ms < 1 || C.retries < 0 ||
	    C.deadline <= 0 || C.loss < 0 || C.loss >= 1 || C.blksize < 0 || C.blksize > 65464 ||
	    (C.blksize && C.blksize < 8) || C.windowsize < 0 || C.windowsize > 65535 ||
	    C.mem_interval_ms < 1 || C.report <= 0)
		die("an option is out of range (see --help)");
	if (parse_addr(server, port, &C.server, &C.server_len))
		die("bad server address %s", server);
	for (int i = 0; i < C.nsrc; i++)
		if (C.src[i].ss_family != C.server.ss_family)
			die("source and server address families differ");
	rng_state = C.seed ? C.seed * 0x9E3779B97F4A7C15ULL : 1;
	signal(SIGPIPE, SIG_IGN);

	if (C.expect_path) {
		int fd = open(C.expect_path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0)
			die("%s: %s", C.expect_path, strerror(errno));
		expect_size = (uint64_t)st.st_size;
		if (expect_size) {
			expect = mmap(NULL, expect_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
			if (expect == MAP_FAILED)
				die("mmap: %s", strerror(errno));
		}
		close(fd);
		have_expect = true;
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)C.clients + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)C.clients + 64 ? rl.rlim_max : (rlim_t)C.clients + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll: %s", strerror(errno));
	cl = calloc((size_t)C.clients, sizeof(*cl));
	uint8_t *bufs = malloc((size_t)RECV_BATCH * RECV_SLOT);
	if (!cl || !bufs)
		die("out of memory");

	pthread_t th;
	bool sampling = C.mem_cgroup != NULL;
	if (sampling && pthread_create(&th, NULL, sampler, NULL) != 0)
		die("pthread_create failed");

	int64_t t0 = now_ns();
	int64_t hard = t0 + (int64_t)(C.deadline * 1e9);
	t_end_continuous = C.duration > 0 ? t0 + (int64_t)(C.duration * 1e9) : 0;
	if (C.duration > 0)
		C.repeat = 1 << 30;
	for (int i = 0; i < C.clients; i++) {
		cl[i].fd = -1;
		cl[i].src = i;
		cl[i].st = CS_IDLE;
		cl[i].t_begin = t0 + (C.ramp_ms > 0 ? (int64_t)C.ramp_ms * 1000000 * i / C.clients : 0);
	}
	/* all at once: sockets first, then the RRQs back to back */
	if (C.ramp_ms <= 0) {
		int64_t now = now_ns();
		for (int i = 0; i < C.clients; i++)
			start_transfer(&cl[i], now);
	}

	struct mmsghdr mm[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_storage from[RECV_BATCH];
	struct epoll_event evs[256];
	int64_t next_scan = 0, next_report = t0 + (int64_t)(C.report * 1e9);
	uint64_t last_bytes = 0, last_ok = 0, last_to = 0;
	int64_t last_report_t = t0;
	bool deadline_hit = false;

	for (;;) {
		int64_t now = now_ns();
		if (now >= hard) {
			deadline_hit = true;
			break;
		}
		int n = epoll_wait(epfd, evs, 256, 2);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		now = now_ns();
		for (int e = 0; e < n; e++) {
			struct client *c = &cl[evs[e].data.u32];
			for (int round = 0; round < 4 && c->fd >= 0; round++) {
				for (int k = 0; k < RECV_BATCH; k++) {
					iov[k].iov_base = bufs + (size_t)k * RECV_SLOT;
					iov[k].iov_len = RECV_SLOT;
					memset(&mm[k].msg_hdr, 0, sizeof(mm[k].msg_hdr));
					mm[k].msg_hdr.msg_iov = &iov[k];
					mm[k].msg_hdr.msg_iovlen = 1;
					mm[k].msg_hdr.msg_name = &from[k];
					mm[k].msg_hdr.msg_namelen = sizeof(from[k]);
				}
				int fd = c->fd;
				int got = recvmmsg(fd, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
				if (got <= 0)
					break;
				for (int k = 0; k < got && c->fd == fd && (c->st == CS_RRQ || c->st == CS_DATA); k++)
					on_packet(c, iov[k].iov_base, mm[k].msg_len, &from[k],
						  (mm[k].msg_hdr.msg_flags & MSG_TRUNC) != 0, now);
				if (got < RECV_BATCH)
					break;
			}
		}
		if (now >= next_scan) {
			next_scan = now + 2000000;
			bool active = false;
			for (int i = 0; i < C.clients; i++) {
				struct client *c = &cl[i];
				if (c->st == CS_IDLE) {
					if (C.duration > 0 && c->done_count > 0 && now >= t_end_continuous) {
						c->st = CS_DONE;
						continue;
					}
					if (now >= c->t_begin)
						start_transfer(c, now);
					active = true;
				} else if (c->st == CS_RRQ || c->st == CS_DATA) {
					active = true;
					if (now >= c->t_timer)
						on_timer(c, now);
				}
			}
			if (!active)
				break;
		}
		if (C.duration > 0 && now >= next_report) {
			double dt = (double)(now - last_report_t) / 1e9;
			long rss = 0, pss = 0;
			int procs = 0, infl = 0;
			if (sampling) {
				pthread_mutex_lock(&mem_lock);
				rss = mem_last.rss_kib;
				pss = mem_last.pss_kib;
				procs = mem_last.procs;
				infl = mem_last.inflight;
				pthread_mutex_unlock(&mem_lock);
			}
			printf("t=%6.1fs ok=%" PRIu64 " (+%" PRIu64 ") failed=%" PRIu64 " %.1f MB/s in_flight=%d "
			       "client_timeouts=+%" PRIu64 " server_rss=%.1f MiB server_pss=%.1f MiB procs=%d "
			       "(in flight at sample: %d)\n",
			       (double)(now - t0) / 1e9, S.ok, S.ok - last_ok, S.failed,
			       (double)(S.bytes - last_bytes) / 1e6 / dt, atomic_load(&inflight),
			       S.timeouts - last_to, rss / 1024.0, pss / 1024.0, procs, infl);
			fflush(stdout);
			last_bytes = S.bytes;
			last_ok = S.ok;
			last_to = S.timeouts;
			last_report_t = now;
			next_report = now + (int64_t)(C.report * 1e9);
		}
	}
	int64_t t_stop = now_ns();
	if (deadline_hit) {
		for (int i = 0; i < C.clients; i++) {
			struct client *c = &cl[i];
			if (c->st == CS_RRQ || c->st == CS_DATA) {
				c->done_count = C.repeat;   /* no restart */
				t_end_continuous = 0;
				fail(c, "hard deadline reached", NULL);
			}
		}
	}
	if (sampling) {
		atomic_store(&sampler_stop, true);
		pthread_join(th, NULL);
	}

	qsort(S.lat.v, S.lat.n, sizeof(int64_t), cmp_i64);
	qsort(S.ttfb.v, S.ttfb.n, sizeof(int64_t), cmp_i64);
	qsort(S.probe_lat.v, S.probe_lat.n, sizeof(int64_t), cmp_i64);
	int64_t span = (S.t_last_done ? S.t_last_done : t_stop) - (S.t_first_rrq ? S.t_first_rrq : t0);
	double secs = span > 0 ? (double)span / 1e9 : NAN;
	double mbs = (double)S.bytes / 1e6 / secs;

	if (!C.quiet) {
		printf("tftpload %s: %d clients x %s, blksize %d windowsize %d loss %.2f%%%s%s\n",
		       C.label, C.clients, C.duration > 0 ? "continuous" : "bounded", C.blksize,
		       C.windowsize, C.loss * 100, have_expect ? ", every byte verified" : ", NOT verified",
		       C.probe ? ", size probe first" : "");
		printf("  transfers ok %" PRIu64 ", failed %" PRIu64 "%s\n", S.ok, S.failed,
		       deadline_hit ? " (hard deadline reached)" : "");
		printf("  %.3f MB in %.3f s: %.2f MB/s aggregate\n", (double)S.bytes / 1e6, secs, mbs);
		printf("  latency per transfer: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		       pct_ms(&S.lat, 50), pct_ms(&S.lat, 99), S.lat.n ? (double)S.lat.v[S.lat.n - 1] / 1e6 : NAN);
		printf("  time to first DATA: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", pct_ms(&S.ttfb, 50),
		       pct_ms(&S.ttfb, 99), S.ttfb.n ? (double)S.ttfb.v[S.ttfb.n - 1] / 1e6 : NAN);
		if (C.probe)
			printf("  size probes %" PRIu64 ", time to OACK p50 %.2f ms p99 %.2f ms\n", S.probes,
			       pct_ms(&S.probe_lat, 50), pct_ms(&S.probe_lat, 99));
		printf("  client timeouts %" PRIu64 " (waiting for the first answer: %" PRIu64
		       "), transfers that saw one: %" PRIu64 "\n", S.timeouts, S.rrq_timeouts, S.timed_out_transfers);
		printf("  DATA received %" PRIu64 ", dropped on purpose %" PRIu64 ", duplicate (already had) %"
		       PRIu64 ", ahead of a gap %" PRIu64 ", from a wrong port %" PRIu64 ", duplicate OACK %" PRIu64 "\n",
		       S.data_rx, S.data_dropped, S.dup_data, S.ooo_data, S.stray, S.dup_oack);
		printf("  ACKs sent %" PRIu64 " (recovery ACKs on a gap/duplicate %" PRIu64 "), RRQs sent %" PRIu64
		       ", send errors %" PRIu64 "\n", S.acks_sent, S.recovery_acks, S.rrq_sent, S.send_err);
		if (sampling)
			printf("  server memory (all processes in the cgroup): peak Rss %.2f MiB (sum), peak Pss "
			       "%.2f MiB, up to %d processes; %d transfers in flight at the Rss peak\n",
			       mem_peak.rss_kib / 1024.0, mem_peak.pss_kib / 1024.0, mem_peak.procs, mem_peak.inflight);
		for (int i = 0; i < nreasons; i++)
			printf("  FAILED x%" PRIu64 ": %s (first: %s)\n", reasons[i].n, reasons[i].text, reasons[i].first);
	}
	printf("RESULT label=%s ok=%" PRIu64 " failed=%" PRIu64 " bytes=%" PRIu64 " secs=%.4f mbs=%.3f "
	       "p50_ms=%.3f p99_ms=%.3f ttfb_p50_ms=%.3f ttfb_p99_ms=%.3f client_timeouts=%" PRIu64
	       " rrq_timeouts=%" PRIu64 " timed_out_transfers=%" PRIu64 " data_rx=%" PRIu64 " dropped=%" PRIu64
	       " dup_data=%" PRIu64 " ooo_data=%" PRIu64 " stray=%" PRIu64 " acks=%" PRIu64 " recovery_acks=%" PRIu64
	       " probe_p50_ms=%.3f mem_rss_kib=%ld mem_pss_kib=%ld mem_procs=%d deadline=%d\n",
	       C.label[0] ? C.label : "-", S.ok, S.failed, S.bytes, secs, mbs, pct_ms(&S.lat, 50),
	       pct_ms(&S.lat, 99), pct_ms(&S.ttfb, 50), pct_ms(&S.ttfb, 99), S.timeouts, S.rrq_timeouts,
	       S.timed_out_transfers, S.data_rx, S.data_dropped, S.dup_data, S.ooo_data, S.stray, S.acks_sent,
	       S.recovery_acks, pct_ms(&S.probe_lat, 50), mem_peak.rss_kib, mem_peak.pss_kib, mem_peak.procs,
	       deadline_hit ? 1 : 0);
	return S.failed || S.ok == 0 ? 1 : 0;
}

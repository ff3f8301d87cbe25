/* IPC framing (common/ipc.c) over a real SOCK_SEQPACKET socketpair: sizes, descriptors,
 * malformed framing from a hostile peer, and the exact-size getters. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "ipc.h"

static int sv[2];   /* sv[0] sends, sv[1] receives; both non-blocking */

static void new_pair(void)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		_exit(2);
	}
}

static void close_pair(void)
{
	close(sv[0]);
	close(sv[1]);
}

/* sendmsg() of raw bytes with nfds descriptors, in one SCM_RIGHTS or one each. */
static ssize_t send_raw(const void *buf, size_t len, const int *fds, int nfds, bool one_cmsg_each)
{
	union { char buf[CMSG_SPACE(8 * sizeof(int)) * 8]; struct cmsghdr align; } u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = len ? 1 : 0 };

	memset(&u, 0, sizeof(u));
	if (nfds > 0) {
		msg.msg_control = u.buf;
		msg.msg_controllen = one_cmsg_each ? CMSG_SPACE(sizeof(int)) * (size_t)nfds
						   : CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		for (int i = 0; i < nfds; i++) {
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			if (one_cmsg_each) {
				c->cmsg_len = CMSG_LEN(sizeof(int));
				memcpy(CMSG_DATA(c), &fds[i], sizeof(int));
				c = CMSG_NXTHDR(&msg, c);
			} else {
				c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
				memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
				break;
			}
		}
	}
	return sendmsg(sv[0], &msg, MSG_NOSIGNAL);
}

/* A pipe whose read end is to travel: returns the write end; *rd is the read end. */
static int new_pipe(int *rd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("pipe");
		_exit(2);
	}
	*rd = p[0];
	return p[1];
}

/* True when no read end of the pipe is open anywhere in this process any more. */
static bool reader_gone(int wr)
{
	return write(wr, "x", 1) < 0 && errno == EPIPE;
}

static size_t open_fds(void)
{
	size_t n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void test_sizes(void)
{
	struct ipc_msg m;
	uint8_t big[IPC_MAX_PAYLOAD + 1];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	new_pair();

	CHECK_EQ(ipc_send(sv[0], 7, 42, NULL, 0, -1), 0);
	memset(&m, 0xee, sizeof(m));
	CHECK_EQ(ipc_recv(sv[1], &m), 1);
	CHECK_UEQ(m.hdr.type, 7);
	CHECK_UEQ(m.hdr.flags, 0);
	CHECK_UEQ(m.hdr.len, 0);
	CHECK_UEQ(m.hdr.id, 42);
	CHECK_EQ(m.fd, -1);

	CHECK_EQ(ipc_send(sv[0], 1, 0, "Z", 1, -1), 0);
	CHECK_EQ(ipc_recv(sv[1], &m), 1);
	CHECK_UEQ(m.hdr.len, 1);
	CHECK_UEQ(m.payload[0], 'Z');

	CHECK_EQ(ipc_send(sv[0], 0xffff, 0xffffffffu, big, IPC_MAX_PAYLOAD, -1), 0);
	CHECK_EQ(ipc_recv(sv[1], &m), 1);
	CHECK_UEQ(m.hdr.type, 0xffff);
	CHECK_UEQ(m.hdr.id, 0xffffffffu);
	CHECK_MEM(m.payload, m.hdr.len, big, IPC_MAX_PAYLOAD);

	errno = 0;
	CHECK_EQ(ipc_send(sv[0], 1, 0, big, IPC_MAX_PAYLOAD + 1, -1), -1);
	CHECK_EQ(errno, EMSGSIZE);
	CHECK_EQ(ipc_recv(sv[1], &m), -1);        /* nothing was sent */
	CHECK_EQ(errno, EAGAIN);

	CHECK_EQ(ipc_send_str(sv[0], 3, 9, "10.0.0.1"), 0);
	CHECK_EQ(ipc_recv(sv[1], &m), 1);
	CHECK_UEQ(m.hdr.len, 9);
	char s[64];
	CHECK_EQ(ipc_get_string(&m, s, sizeof(s)), 0);
	CHECK_STR(s, "10.0.0.1");

	/* A peer that goes away reads as 0. */
	close(sv[0]);
	CHECK_EQ(ipc_recv(sv[1], &m), 0);
	close(sv[1]);
}

static void test_fd_pass(void)
{
	struct ipc_msg m;
	int rd, wr = new_pipe(&rd);
	char c = 0;

	new_pair();
	CHECK_EQ(ipc_send(sv[0], 5, 1, "abc", 3, rd), 0);
	close(rd);
	CHECK_EQ(ipc_recv(sv[1], &m), 1);
	CHECK(m.fd >= 0);
	CHECK_UEQ(m.hdr.len, 3);
	CHECK(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);      /* MSG_CMSG_CLOEXEC */
	CHECK_EQ(write(wr, "q", 1), 1);
	CHECK_EQ(read(m.fd, &c, 1), 1);
	CHECK_EQ(c, 'q');
	ipc_msg_drop_fd(&m);
	CHECK_EQ(m.fd, -1);
	CHECK(reader_gone(wr));
	ipc_msg_drop_fd(&m);                            /* twice is harmless */
	close(wr);

	/* A descriptor with an empty payload. */
	wr = new_pipe(&rd);
	CHECK_EQ(ipc_send(sv[0], 5, 1, NULL, 0, rd), 0);
	close(rd);
	CHECK_EQ(ipc_recv(sv[1], &m), 1);
	CHECK(m.fd >= 0);
	ipc_msg_drop_fd(&m);
	CHECK(reader_gone(wr));
	close(wr);
	close_pair();
}

/* Build the header by hand; len and flags as given. */
static void hdr_bytes(uint8_t *out, uint16_t type, uint16_t flags, uint32_t len, uint32_t id)
{
	struct ipc_hdr h = { .type = type, .flags = flags, .len = len, .id = id };
	memcpy(out, &h, sizeof(h));
}


/* Send n descriptors with one message (in one SCM_RIGHTS header, or one header each):
 * ipc_recv must refuse it with EPROTO and close every one of them. */
static void expect_fds_refused(const uint8_t *buf, size_t len, int n, bool separate)
{
	int rd[8], wr[8];
	struct ipc_msg m;
	for (int i = 0; i < n; i++)
		wr[i] = new_pipe(&rd[i]);
	CHECK_EQ(send_raw(buf, len, rd, n, separate), (ssize_t)len);
	for (int i = 0; i < n; i++)
		close(rd[i]);
	m.fd = 1234;
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	CHECK_EQ(m.fd, -1);
	for (int i = 0; i < n; i++) {
		CHECK(reader_gone(wr[i]));
		close(wr[i]);
	}
}

static void test_too_many_fds(void)
{
	uint8_t buf[sizeof(struct ipc_hdr) + 4];
	size_t before = open_fds();

	new_pair();
	hdr_bytes(buf, 1, 0, 4, 0);
	memcpy(buf + sizeof(struct ipc_hdr), "abcd", 4);

	/* Two descriptors in one SCM_RIGHTS, two headers of one each, and five (more than the
	 * receiver has room for: MSG_CTRUNC): refused, none left open. */
	expect_fds_refused(buf, sizeof(buf), 2, false);
	expect_fds_refused(buf, sizeof(buf), 2, true);
	expect_fds_refused(buf, sizeof(buf), 5, false);
	close_pair();
	CHECK_UEQ(open_fds(), before);
}

/* A descriptor that arrives when the receiver has no free descriptor slot: the message is
 * whole and reported with EMFILE (the worker goes on), the descriptor is not left behind. */
static void test_fd_lost(void)
{
	uint8_t buf[sizeof(struct ipc_hdr) + 4];
	struct rlimit old, low;
	struct ipc_msg m;
	int rd, wr;

	new_pair();
	hdr_bytes(buf, 7, 0, 4, 9);
	memcpy(buf + sizeof(struct ipc_hdr), "abcd", 4);
	wr = new_pipe(&rd);
	CHECK_EQ(send_raw(buf, sizeof(buf), &rd, 1, false), (ssize_t)sizeof(buf));
	close(rd);
	int lowest = dup(0);            /* the slot the descriptor would take */
	close(lowest);
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)lowest;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	m.fd = 1234;
	int r = ipc_recv(sv[1], &m);
	int e = errno;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	CHECK_EQ(r, -1);
	CHECK_EQ(e, EMFILE);
	CHECK_EQ(m.fd, -1);
	CHECK_EQ(m.hdr.type, 7);
	CHECK_EQ(m.hdr.id, 9);
	CHECK_EQ(memcmp(m.payload, "abcd", 4), 0);
	CHECK(reader_gone(wr));
	close(wr);
	close_pair();
}

static void test_bad_framing(void)
{
	struct ipc_msg m;
	uint8_t buf[sizeof(struct ipc_hdr) + IPC_MAX_PAYLOAD + 16];
	const size_t H = sizeof(struct ipc_hdr);
	int rd, wr;

	memset(buf, 'p', sizeof(buf));
	new_pair();

	/* Header says 10, 5 follow. */
	hdr_bytes(buf, 1, 0, 10, 0);
	CHECK_EQ(send_raw(buf, H + 5, NULL, 0, false), (ssize_t)(H + 5));
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	/* Header says 0, 5 follow. */
	hdr_bytes(buf, 1, 0, 0, 0);
	CHECK_EQ(send_raw(buf, H + 5, NULL, 0, false), (ssize_t)(H + 5));
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	/* A length mismatch that carries a descriptor: refused and the descriptor closed. */
	wr = new_pipe(&rd);
	hdr_bytes(buf, 1, 0, 6, 0);
	CHECK_EQ(send_raw(buf, H + 5, &rd, 1, false), (ssize_t)(H + 5));
	close(rd);
	m.fd = 99;
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	CHECK_EQ(m.fd, -1);
	CHECK(reader_gone(wr));
	close(wr);
	/* Shorter than a header. */
	CHECK_EQ(send_raw("abc", 3, NULL, 0, false), 3);
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	hdr_bytes(buf, 1, 0, 0, 0);
	CHECK_EQ(send_raw(buf, H - 1, NULL, 0, false), (ssize_t)(H - 1));
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	/* Flags must be 0. */
	hdr_bytes(buf, 1, 1, 2, 0);
	CHECK_EQ(send_raw(buf, H + 2, NULL, 0, false), (ssize_t)(H + 2));
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	hdr_bytes(buf, 1, 0x8000, 0, 0);
	CHECK_EQ(send_raw(buf, H, NULL, 0, false), (ssize_t)H);
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	/* One byte more than the largest payload, with an honest header: truncated, refused. */
	hdr_bytes(buf, 1, 0, IPC_MAX_PAYLOAD + 1, 0);
	CHECK_EQ(send_raw(buf, H + IPC_MAX_PAYLOAD + 1, NULL, 0, false),
		 (ssize_t)(H + IPC_MAX_PAYLOAD + 1));
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	/* One byte more than the largest payload, the header claiming the largest: what fits
	 * would match the header, but the message was cut (MSG_TRUNC): refused. */
	hdr_bytes(buf, 1, 0, IPC_MAX_PAYLOAD, 0);
	CHECK_EQ(send_raw(buf, H + IPC_MAX_PAYLOAD + 1, NULL, 0, false),
		 (ssize_t)(H + IPC_MAX_PAYLOAD + 1));
	CHECK_EQ(ipc_recv(sv[1], &m), -1);
	CHECK_EQ(errno, EPROTO);
	/* Exactly the largest, built by hand: fine. */
	hdr_bytes(buf, 2, 0, IPC_MAX_PAYLOAD, 77);
	CHECK_EQ(send_raw(buf, H + IPC_MAX_PAYLOAD, NULL, 0, false), (ssize_t)(H + IPC_MAX_PAYLOAD));
	CHECK_EQ(ipc_recv(sv[1], &m), 1);
	CHECK_UEQ(m.hdr.id, 77);
	CHECK_UEQ(m.hdr.len, IPC_MAX_PAYLOAD);
	/* A bad message does not poison the channel: the next good one reads fine. */
	CHECK_EQ(ipc_send(sv[0], 3, 0, "ok", 2, -1), 0);
	CHECK_EQ(ipc_recv(sv[1], &m), 1);
	CHECK_UEQ(m.hdr.type, 3);
	close_pair();
}

/* An empty SOCK_SEQPACKET message reads as 0 bytes, like a closed peer, yet it can carry a
 * descriptor: whatever ipc_recv answers, the descriptor must not stay open. */
static void test_empty_message_with_fd(void)
{
	struct ipc_msg m;
	int rd, wr = new_pipe(&rd);

	new_pair();
	CHECK_EQ(send_raw(NULL, 0, &rd, 1, false), 0);
	close(rd);
	m.fd = 55;
	CHECK(ipc_recv(sv[1], &m) != 1);
	CHECK_EQ(m.fd, -1);
	if (!reader_gone(wr))
		CHECK_FAIL_("ipc_recv leaked the descriptor of an empty message");
	check_count++;
	close(wr);
	close_pair();
}

/* A message with the given payload, as ipc_recv would leave it. */
static struct ipc_msg msg_of(const void *p, size_t len)
{
	struct ipc_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.len = (uint32_t)len;
	memcpy(m.payload, p, len);
	m.fd = -1;
	return m;
}

static void test_get_exact(void)
{
	struct ipc_msg m;
	uint32_t v = 0xdeadbeef;
	uint8_t raw[5] = { 1, 2, 3, 4, 5 };

	m = msg_of(raw, 4);
	CHECK_EQ(ipc_get_exact(&m, &v, sizeof(v)), 0);
	CHECK(memcmp(&v, raw, 4) == 0);
	v = 0xdeadbeef;
	m = msg_of(raw, 3);
	CHECK_EQ(ipc_get_exact(&m, &v, sizeof(v)), -1);            /* short */
	m = msg_of(raw, 5);
	CHECK_EQ(ipc_get_exact(&m, &v, sizeof(v)), -1);            /* long */
	m = msg_of(raw, 0);
	CHECK_EQ(ipc_get_exact(&m, &v, sizeof(v)), -1);
	CHECK_UEQ(v, 0xdeadbeef);                                  /* untouched */
	CHECK_EQ(ipc_get_exact(&m, raw, 0), 0);                    /* "no payload" */
	m = msg_of(raw, 1);
	CHECK_EQ(ipc_get_exact(&m, raw, 0), -1);
}

static void test_get_string(void)
{
	struct ipc_msg m;
	char out[16];

	m = msg_of("hello", 6);
	CHECK_EQ(ipc_get_string(&m, out, sizeof(out)), 0);
	CHECK_STR(out, "hello");
	m = msg_of("", 1);                                         /* the empty string */
	CHECK_EQ(ipc_get_string(&m, out, sizeof(out)), 0);
	CHECK_STR(out, "");

	strcpy(out, "untouched");
	m = msg_of("hello", 5);                                    /* no NUL */
	CHECK_EQ(ipc_get_string(&m, out, sizeof(out)), -1);
	m = msg_of("he\0lo", 6);                                   /* embedded NUL */
	CHECK_EQ(ipc_get_string(&m, out, sizeof(out)), -1);
	m = msg_of("\0\0", 2);
	CHECK_EQ(ipc_get_string(&m, out, sizeof(out)), -1);
	m = msg_of("", 0);                                         /* no payload at all */
	CHECK_EQ(ipc_get_string(&m, out, sizeof(out)), -1);
	m = msg_of("0123456789abcdef", 17);                        /* 16 chars: too long */
	CHECK_EQ(ipc_get_string(&m, out, sizeof(out)), -1);
	CHECK_STR(out, "untouched");
	m = msg_of("0123456789abcde", 16);                         /* 15 chars: just fits */
	CHECK_EQ(ipc_get_string(&m, out, sizeof(out)), 0);
	CHECK_STR(out, "0123456789abcde");
	m = msg_of("x", 2);
	CHECK_EQ(ipc_get_string(&m, out, 1), -1);                  /* cap 1 holds only "" */
	m = msg_of("", 1);
	CHECK_EQ(ipc_get_string(&m, out, 1), 0);
}

struct head {
	uint32_t kind;
	uint32_t extra;
};

static void test_get_struct_string(void)
{
	struct ipc_msg m;
	struct head h = { 0, 0 }, in = { 3, 0x01020304 };
	uint8_t raw[64];
	char out[8];

	memcpy(raw, &in, sizeof(in));
	memcpy(raw + sizeof(in), "disk\0", 5);
	m = msg_of(raw, sizeof(in) + 5);
	CHECK_EQ(ipc_get_struct_string(&m, &h, sizeof(h), out, sizeof(out)), 0);
	CHECK_UEQ(h.kind, 3);
	CHECK_UEQ(h.extra, 0x01020304);
	CHECK_STR(out, "disk");

	memset(&h, 0, sizeof(h));
	strcpy(out, "keep");
	m = msg_of(raw, sizeof(in));                               /* head only, no string */
	CHECK_EQ(ipc_get_struct_string(&m, &h, sizeof(h), out, sizeof(out)), -1);
	m = msg_of(raw, sizeof(in) - 1);                           /* shorter than the head */
	CHECK_EQ(ipc_get_struct_string(&m, &h, sizeof(h), out, sizeof(out)), -1);
	m = msg_of(raw, sizeof(in) + 4);                           /* string without its NUL */
	CHECK_EQ(ipc_get_struct_string(&m, &h, sizeof(h), out, sizeof(out)), -1);
	memcpy(raw + sizeof(in), "di\0k\0", 5);                    /* embedded NUL */
	m = msg_of(raw, sizeof(in) + 5);
	CHECK_EQ(ipc_get_struct_string(&m, &h, sizeof(h), out, sizeof(out)), -1);
	memcpy(raw + sizeof(in), "12345678\0", 9);                 /* 8 chars, cap 8 */
	m = msg_of(raw, sizeof(in) + 9);
	CHECK_EQ(ipc_get_struct_string(&m, &h, sizeof(h), out, sizeof(out)), -1);
	CHECK_UEQ(h.kind, 0);                                      /* nothing copied on failure */
	CHECK_STR(out, "keep");
	memcpy(raw + sizeof(in), "1234567\0", 8);                  /* 7 chars: fits */
	m = msg_of(raw, sizeof(in) + 8);
	CHECK_EQ(ipc_get_struct_string(&m, &h, sizeof(h), out, sizeof(out)), 0);
	CHECK_STR(out, "1234567");
	memcpy(raw + sizeof(in), "\0", 1);                         /* empty string */
	m = msg_of(raw, sizeof(in) + 1);
	CHECK_EQ(ipc_get_struct_string(&m, &h, sizeof(h), out, sizeof(out)), 0);
	CHECK_STR(out, "");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_sizes();
	test_fd_pass();
	test_too_many_fds();
	test_fd_lost();
	test_bad_framing();
	test_empty_message_with_fd();
	test_get_exact();
	test_get_string();
	test_get_struct_string();
	return check_done("test_ipc");
}

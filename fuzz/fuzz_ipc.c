/* libFuzzer target: what a compromised rtftp process could write on a channel, sent through a
 * real SOCK_SEQPACKET socketpair into ipc_recv() and the exact-size getters.
 *
 * The input is a list of records, each sent as one message and received at once:
 *   ctl (1 byte)   bits 0-2: number of descriptors to attach (0..7, each a dup of /dev/null)
 *                  bit 3:    one SCM_RIGHTS header per descriptor instead of one for all
 *                  bit 4:    send with ipc_send() (type, id from the bytes) instead of raw bytes
 *   len (2 bytes)  little-endian, taken modulo (header + IPC_MAX_PAYLOAD + 64)
 *   bytes          len of them (fewer if the input ends)
 * Checked: ipc_recv() accepts exactly the well-formed messages (one descriptor at most,
 * header length equal to what follows, flags 0, payload within the maximum), returns what
 * was sent, fails with EPROTO otherwise, and never leaves a descriptor open that the caller
 * does not get; each getter succeeds exactly when its contract says so. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "ipc.h"
#include "proto.h"


#define MAX_FDS    7
#define MAX_RECORDS 16
#define HDR        sizeof(struct ipc_hdr)


static int sv[2] = { -1, -1 };
static int devnull = -1;
static int lowest_free;     /* the descriptor number the kernel hands out next */

static int probe_lowest_free(void)
{
	int fd = dup(devnull);
	FUZZ_ASSERT(fd >= 0);
	close(fd);
	return fd;
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	FUZZ_ASSERT(devnull >= 0);
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	lowest_free = probe_lowest_free();
}

static ssize_t send_raw(const uint8_t *buf, size_t len, int nfds, bool one_cmsg_each)
{
	union { char b[CMSG_SPACE(sizeof(int)) * MAX_FDS]; struct cmsghdr align; } u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = len ? 1 : 0 };
	int fds[MAX_FDS];
	ssize_t n;

	memset(&u, 0, sizeof(u));
	for (int i = 0; i < nfds; i++) {
		fds[i] = dup(devnull);
		FUZZ_ASSERT(fds[i] >= 0);
	}
	if (nfds > 0) {
		msg.msg_control = u.b;
		msg.msg_controllen = one_cmsg_each ? CMSG_SPACE(sizeof(int)) * (size_t)nfds
						   : CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		for (int i = 0; i < (one_cmsg_each ? nfds : 1); i++) {
			size_t k = one_cmsg_each ? 1 : (size_t)nfds;
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * k);
			memcpy(CMSG_DATA(c), &fds[i], sizeof(int) * k);
			c = CMSG_NXTHDR(&msg, c);
		}
	}
	n = sendmsg(sv[0], &msg, MSG_NOSIGNAL);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);      /* the message in flight holds its own references */
	return n;
}

/* The getters against their contracts, on a message ipc_recv accepted. */
static void check_getters(const struct ipc_msg *m)
{
	const size_t len = m->hdr.len;
	uint8_t tmp[IPC_MAX_PAYLOAD + 1];

	const size_t sizes[] = { 0, 1, 4, 8, 12, len, len + 1, len ? len - 1 : 2 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i] > sizeof(tmp))
			continue;
		int r = ipc_get_exact(m, tmp, sizes[i]);
		FUZZ_ASSERT((r == 0) == (sizes[i] == len));
		if (r == 0)
			FUZZ_ASSERT(memcmp(tmp, m->payload, len) == 0);
	}

	const size_t caps[] = { 1, 2, 16, RTFTP_ADDR_MAX, RTFTP_REASON_MAX, IPC_MAX_PAYLOAD + 1 };
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		char *out = malloc(caps[i]);    /* exact size: ASan sees any overrun */
		FUZZ_ASSERT(out != NULL);
		bool want = len >= 1 && len <= caps[i] && m->payload[len - 1] == '\0' &&
			    memchr(m->payload, '\0', len - 1) == NULL;
		int r = ipc_get_string(m, out, caps[i]);
		FUZZ_ASSERT((r == 0) == want);
		if (r == 0)
			FUZZ_ASSERT(strlen(out) == len - 1 && memcmp(out, m->payload, len) == 0);

		const size_t heads[] = { 1, 4, 8, 16 };
		for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
			size_t hs = heads[h];
			uint8_t head[16];
			bool swant = len > hs && len - hs <= caps[i] &&
				     m->payload[len - 1] == '\0' &&
				     memchr(m->payload + hs, '\0', len - hs - 1) == NULL;
			r = ipc_get_struct_string(m, head, hs, out, caps[i]);
			FUZZ_ASSERT((r == 0) == swant);
			if (r == 0) {
				FUZZ_ASSERT(memcmp(head, m->payload, hs) == 0);
				FUZZ_ASSERT(strlen(out) == len - hs - 1);
			}
		}
		free(out);
	}
	FUZZ_ASSERT(pw_msg_name(m->hdr.type) && wm_msg_name(m->hdr.type) &&
		    pm_msg_name(m->hdr.type));
}

static void one_record(uint8_t ctl, const uint8_t *bytes, size_t len)
{
	int nfds = ctl & 7;
	bool each = ctl & 8, api = ctl & 16;
	bool well_formed;
	struct ipc_msg m;
	ssize_t sent;

	if (api) {
		/* ipc_send: type and id from the first bytes, the rest is the payload. */
		uint16_t type = len >= 2 ? (uint16_t)(bytes[0] | bytes[1] << 8) : 0;
		uint32_t id = len >= 6 ? (uint32_t)bytes[2] | (uint32_t)bytes[3] << 8 |
					 (uint32_t)bytes[4] << 16 | (uint32_t)bytes[5] << 24 : 0;
		const uint8_t *pl = len >= 6 ? bytes + 6 : bytes;
		size_t pllen = len >= 6 ? len - 6 : 0;
		int fd = nfds ? dup(devnull) : -1;
		int r = ipc_send(sv[0], type, id, pl, pllen, fd);
		if (fd >= 0)
			close(fd);
		if (pllen > IPC_MAX_PAYLOAD) {
			FUZZ_ASSERT(r == -1 && errno == EMSGSIZE);
			FUZZ_ASSERT(ipc_recv(sv[1], &m) == -1 && errno == EAGAIN);
			return;
		}
		FUZZ_ASSERT(r == 0);
		FUZZ_ASSERT(ipc_recv(sv[1], &m) == 1);
		FUZZ_ASSERT(m.hdr.type == type && m.hdr.id == id && m.hdr.flags == 0);
		FUZZ_ASSERT(m.hdr.len == pllen && memcmp(m.payload, pl, pllen) == 0);
		FUZZ_ASSERT((m.fd >= 0) == (fd >= 0));
		check_getters(&m);
		ipc_msg_drop_fd(&m);
		return;
	}

	sent = send_raw(bytes, len, nfds, each);
	FUZZ_ASSERT(sent == (ssize_t)len);
	struct ipc_hdr h;
	memset(&h, 0, sizeof(h));
	if (len >= HDR)
		memcpy(&h, bytes, HDR);
	well_formed = len >= HDR && h.len == len - HDR && h.flags == 0 &&
		      len - HDR <= IPC_MAX_PAYLOAD && nfds <= 1;

	m.fd = -2;
	errno = 0;
	int r = ipc_recv(sv[1], &m);
	if (len == 0) {
		/* Reads like a closed peer; must not be taken for a message. */
		FUZZ_ASSERT(r != 1);
	} else if (well_formed) {
		FUZZ_ASSERT(r == 1);
		FUZZ_ASSERT(memcmp(&m.hdr, &h, HDR) == 0);
		FUZZ_ASSERT(memcmp(m.payload, bytes + HDR, len - HDR) == 0);
		FUZZ_ASSERT((m.fd >= 0) == (nfds == 1));
		FUZZ_ASSERT(m.fd < 0 || (fcntl(m.fd, F_GETFD) & FD_CLOEXEC));
		check_getters(&m);
	} else {
		FUZZ_ASSERT(r == -1 && errno == EPROTO);
	}
	if (r != 1)
		FUZZ_ASSERT(m.fd == -1);
	ipc_msg_drop_fd(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t o = 0;

	if (devnull < 0)
		setup();
	for (int rec = 0; rec < MAX_RECORDS && o + 3 <= size; rec++) {
		uint8_t ctl = data[o];
		size_t len = (size_t)(data[o + 1] | data[o + 2] << 8) % (HDR + IPC_MAX_PAYLOAD + 64);
		o += 3;
		if (len > size - o)
			len = size - o;
		one_record(ctl, data + o, len);
		o += len;
		/* Nothing stays queued, and no descriptor stays open behind the caller's back. */
		struct ipc_msg m;
		FUZZ_ASSERT(ipc_recv(sv[1], &m) == -1 && errno == EAGAIN);
		FUZZ_ASSERT(probe_lowest_free() == lowest_free);
	}
	return 0;
}

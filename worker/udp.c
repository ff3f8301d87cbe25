/* Datagrams out: per-transfer sockets (RFC 1350 transfer IDs) or, with --single-port, the
 * listening socket with the request's local address as source (IP_PKTINFO/IPV6_PKTINFO). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "worker.h"

#define BATCH_BLOCKS 64
#define BATCH_BYTES  (4u << 20)

/* One scratch area for the blocks of a window: data is read fresh from the file on every
 * (re)send, so transfers hold no buffers of their own. */
static uint8_t batch_data[BATCH_BYTES];
static uint8_t batch_hdr[BATCH_BLOCKS][TFTP_HDR_LEN];

union pktinfo_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/* The destination as the sending socket wants it: a v6 listener needs v4 peers mapped. */
static socklen_t dest_for(int sock_family, const struct sockaddr_storage *peer,
			  struct sockaddr_storage *out)
{
	if (sock_family == AF_INET6 && peer->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)peer;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		memset(out, 0, sizeof(*out));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = s4->sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		return sizeof(*s6);
	}
	memcpy(out, peer, sizeof(*out));
	return addr_len(out);
}

/* Source address control message for a reply from a listening socket. */
static size_t pktinfo_for(const struct sockaddr_storage *local, int ifindex, union pktinfo_cmsg *u)
{
	struct msghdr m = { .msg_control = u->buf, .msg_controllen = sizeof(u->buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	memset(u, 0, sizeof(*u));
	if (local->ss_family == AF_INET) {
		struct in_pktinfo pi = { .ipi_ifindex = 0 };
		pi.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr;
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	if (local->ss_family == AF_INET6) {
		struct in6_pktinfo pi = { .ipi6_ifindex = (unsigned)ifindex };
		pi.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	return 0;
}

static void fill_msghdr(struct msghdr *m, struct sockaddr_storage *dst, socklen_t dlen,
			struct iovec *iov, int iovcnt, union pktinfo_cmsg *u, size_t ulen)
{
	memset(m, 0, sizeof(*m));
	m->msg_name = dst;
	m->msg_namelen = dlen;
	m->msg_iov = iov;
	m->msg_iovlen = (size_t)iovcnt;
	if (ulen) {
		m->msg_control = u->buf;
		m->msg_controllen = ulen;
	}
}

static int transfer_family(const struct transfer *t)
{
	return t->lsn ? t->lsn->family : t->peer.ss_family;
}

static size_t transfer_pktinfo(const struct transfer *t, union pktinfo_cmsg *u)
{
	return t->lsn ? pktinfo_for(&t->local, t->local_ifindex, u) : 0;
}

void udp_send(struct transfer *t, const uint8_t *pkt, size_t len)
{
	struct sockaddr_storage dst;
	socklen_t dlen = dest_for(transfer_family(t), &t->peer, &dst);
	struct iovec iov = { .iov_base = (void *)pkt, .iov_len = len };
	union pktinfo_cmsg u;
	struct msghdr m;
	fill_msghdr(&m, &dst, dlen, &iov, 1, &u, transfer_pktinfo(t, &u));
	if (sendmsg(t->sock, &m, MSG_DONTWAIT) < 0 && errno != EAGAIN)
		log_debug("send to client failed: %s", strerror(errno));
}

/* UDP segmentation offload: a run of full blocks crosses the IP stack as one datagram that is
 * cut into blocks at the end (by the NIC, by the kernel just before the device, or on loopback
 * at the receiving socket): one pass through the stack per window instead of one per block,
 * and what the client receives is the same. Only the last segment may be short, which is where
 * a file's last block always is. */
#define GSO_MAX_SEGS  64             /* the kernel's UDP_MAX_SEGMENTS on older kernels */
#define GSO_MAX_BYTES 65000          /* one IP datagram's worth */

static uint8_t gso_buf[GSO_MAX_BYTES];

/* Sends the first blocks of iov as one segmented datagram; returns how many it sent (lost to a
 * full socket buffer counts as sent: the timer recovers them), 0 when segmentation is not
 * possible here and the caller must send them one by one. */
static unsigned gso_send(struct transfer *t, struct sockaddr_storage *dst, socklen_t dlen,
			 struct iovec (*iov)[2], unsigned count)
{
	size_t seg = TFTP_HDR_LEN + t->neg.blksize;
	unsigned n = count < GSO_MAX_SEGS ? count : GSO_MAX_SEGS;
	if (n > GSO_MAX_BYTES / seg)
		n = (unsigned)(GSO_MAX_BYTES / seg);
	if (t->no_gso || n < 2)
		return 0;
	size_t len = 0;
	for (unsigned i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			memcpy(gso_buf + len, iov[i][k].iov_base, iov[i][k].iov_len);
			len += iov[i][k].iov_len;
		}
	union pktinfo_cmsg u;
	memset(&u, 0, sizeof(u));
	size_t ulen = transfer_pktinfo(t, &u);
	struct iovec one = { .iov_base = gso_buf, .iov_len = len };
	struct msghdr m;
	fill_msghdr(&m, dst, dlen, &one, 1, &u, ulen);
	m.msg_control = u.buf;
	m.msg_controllen = ulen + CMSG_SPACE(sizeof(uint16_t));
	struct cmsghdr *c = ulen ? CMSG_NXTHDR(&m, CMSG_FIRSTHDR(&m)) : CMSG_FIRSTHDR(&m);
	uint16_t gso_size = (uint16_t)seg;
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(gso_size));
	memcpy(CMSG_DATA(c), &gso_size, sizeof(gso_size));
	if (sendmsg(t->sock, &m, MSG_DONTWAIT) >= 0 || errno == EAGAIN || errno == ENOBUFS)
		return n;
	/* An old kernel, a device without checksum offload, a block larger than the path MTU:
	 * this transfer sends block by block from now on. */
	log_debug("client %s: no UDP segmentation (%s): block by block", t->client->text,
		  strerror(errno));
	t->no_gso = true;
	return 0;
}

/* Bytes of a file that may be read now: a remote file is final up to avail. */
static uint64_t file_readable(const struct file_ref *f)
{
	return f->avail < f->size ? f->avail : f->size;
}

/* Take the window's bytes from the read-ahead, or read them with one pread; then send the
 * blocks segmented (UDP GSO), or else every block with one sendmmsg. */
static int send_batch(struct transfer *t, uint64_t first, unsigned count)
{
	static struct mmsghdr msgs[BATCH_BLOCKS];
	static struct iovec iov[BATCH_BLOCKS][2];
	unsigned bs = t->neg.blksize;
	uint64_t size = t->ascii ? t->ascii_len : t->file->size;
	uint64_t off = (first - 1) * bs;
	uint64_t want = (uint64_t)count * bs;
	if (want > size - off)
		want = size - off;
	const uint8_t *src = batch_data;
	int ra = 1;
	if (t->ascii)
		src = t->ascii + off;
	else if (want && (ra = readahead_read(t, off, want, file_readable(t->file), &src)) < 0)
		return -1;
	else if (want && ra > 0 && pread(t->file->fd, batch_data, want, (off_t)off) != (ssize_t)want)
		return -1;           /* shorter than it said it was: changed under us */

	struct sockaddr_storage dst;
	socklen_t dlen = dest_for(transfer_family(t), &t->peer, &dst);
	union pktinfo_cmsg u;
	size_t ulen = transfer_pktinfo(t, &u);
	for (unsigned i = 0; i < count; i++) {
		uint64_t boff = (uint64_t)i * bs;
		size_t blen = boff < want ? (size_t)(want - boff < bs ? want - boff : bs) : 0;
		tftp_build_data_header(batch_hdr[i], (uint16_t)(first + i));
		iov[i][0] = (struct iovec){ .iov_base = batch_hdr[i], .iov_len = TFTP_HDR_LEN };
		iov[i][1] = (struct iovec){ .iov_base = (void *)(src + boff), .iov_len = blen };
		fill_msghdr(&msgs[i].msg_hdr, &dst, dlen, iov[i], 2, &u, ulen);
	}
	unsigned sent = 0, k;
	while (sent < count && (k = gso_send(t, &dst, dlen, iov + sent, count - sent)) > 0)
		sent += k;
	/* Blocks the kernel did not take count as lost: the retransmit timer recovers them. */
	if (sent < count && sendmmsg(t->sock, msgs + sent, count - sent, MSG_DONTWAIT) < 0 &&
	    errno != EAGAIN)
		log_debug("send to client failed: %s", strerror(errno));
	return 0;
}

int udp_send_blocks(struct transfer *t, uint64_t first, unsigned count)
{
	unsigned per_batch = BATCH_BYTES / t->neg.blksize;
	if (per_batch > BATCH_BLOCKS)
		per_batch = BATCH_BLOCKS;
	while (count) {
		unsigned n = count < per_batch ? count : per_batch;
		if (send_batch(t, first, n) < 0)
			return -1;
		first += n;
		count -= n;
	}
	return 0;
}

void udp_reply_error(struct listener *l, const struct sockaddr_storage *peer,
		     const struct sockaddr_storage *local, int ifindex, uint16_t code, const char *msg)
{
	uint8_t buf[TFTP_HDR_LEN + 256];
	size_t n = tftp_build_error(buf, sizeof(buf), code, msg);
	struct sockaddr_storage dst;
	socklen_t dlen = dest_for(l->family, peer, &dst);
	struct iovec iov = { .iov_base = buf, .iov_len = n };
	union pktinfo_cmsg u;
	struct msghdr m;
	fill_msghdr(&m, &dst, dlen, &iov, 1, &u, pktinfo_for(local, ifindex, &u));
	if (sendmsg(l->fd, &m, MSG_DONTWAIT) < 0)
		log_debug("error reply failed: %s", strerror(errno));
}

static int bind_in_range(struct worker *w, int fd, struct sockaddr_storage *a)
{
	unsigned lo = w->cfg.port_lo, hi = w->cfg.port_hi;
	if (lo == 0) {
		return bind(fd, (struct sockaddr *)a, addr_len(a));
	}
	unsigned span = hi - lo + 1, start = worker_random(w) % span;
	for (unsigned i = 0; i < span; i++) {
		uint16_t port = htons((uint16_t)(lo + (start + i) % span));
		if (a->ss_family == AF_INET)
			((struct sockaddr_in *)a)->sin_port = port;
		else
			((struct sockaddr_in6 *)a)->sin6_port = port;
		if (bind(fd, (struct sockaddr *)a, addr_len(a)) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
}

/* A socket for one transfer, bound to the address the request arrived on, so that the
 * reply leaves from it (multi-homed and anycast servers). */
int udp_transfer_socket(struct worker *w, const struct sockaddr_storage *local, int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_storage a;
	memset(&a, 0, sizeof(a));
	if (local->ss_family == family) {
		memcpy(&a, local, sizeof(a));
		if (family == AF_INET)
			((struct sockaddr_in *)&a)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&a)->sin6_port = 0;
	} else {
		a.ss_family = (sa_family_t)family;
	}
	if (bind_in_range(w, fd, &a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The listening sockets: drain them in batches (recvmmsg), learn each request's local
 * address (PKTINFO), and hand requests to transfers. Everything here is hostile input. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>

#include "addr.h"
#include "log.h"
#include "worker.h"

#define RX_BATCH 64
#define RX_SIZE  2048   /* larger datagrams are refused as malformed */

static uint8_t rx_buf[RX_BATCH][RX_SIZE];

struct rx_meta {
	struct sockaddr_storage peer;      /* unmapped */
	struct sockaddr_storage local;     /* unmapped, port 0 */
	int ifindex;
};

static void read_pktinfo(struct msghdr *m, struct rx_meta *meta)
{
	memset(&meta->local, 0, sizeof(meta->local));
	meta->ifindex = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			struct sockaddr_in *s4 = (struct sockaddr_in *)&meta->local;
			s4->sin_family = AF_INET;
			s4->sin_addr = pi.ipi_addr;
			meta->ifindex = pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&meta->local;
			s6->sin6_family = AF_INET6;
			s6->sin6_addr = pi.ipi6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				s6->sin6_scope_id = pi.ipi6_ifindex;
			meta->ifindex = (int)pi.ipi6_ifindex;
			addr_unmap(&meta->local, &meta->local);
		}
	}
}

static void refuse(struct listener *l, const struct rx_meta *meta, uint16_t code,
		   const char *msg, const char *why)
{
	if (!refusal_ok(l->w))
		return;
	record_refusal(l->w, &meta->peer, NULL, 0, why);
	udp_reply_error(l, &meta->peer, &meta->local, meta->ifindex, code, msg);
}

static void dispatch(struct listener *l, const uint8_t *pkt, size_t len, bool truncated,
		     const struct rx_meta *meta)
{
	struct worker *w = l->w;
	uint16_t op = tftp_opcode_of(pkt, len);
	if (truncated) {
		refuse(l, meta, TFTP_EBADOP, "request too large", "datagram too large");
		return;
	}
	if (op == TFTP_RRQ) {
		transfer_start(w, l, &meta->peer, &meta->local, meta->ifindex, pkt, len);
		return;
	}
	/* With --single-port, ACKs and ERRORs of running transfers arrive here too. */
	struct transfer *t = w->cfg.single_port ? transfer_find(w, &meta->peer) : NULL;
	if (t && t->lsn == l) {
		transfer_on_packet(t, pkt, len);
		return;
	}
	switch (op) {
	case TFTP_WRQ:
		refuse(l, meta, TFTP_EACCESS, "read-only server: writes are not accepted",
		       "write request");
		break;
	case TFTP_ERROR:
		break;                  /* never answer an error with an error */
	case TFTP_DATA: case TFTP_ACK: case TFTP_OACK:
		if (w->cfg.single_port) {
			refuse(l, meta, TFTP_EBADID, "unknown transfer ID", "packet for no transfer");
			break;
		}
		/* fall through */
	default:
		refuse(l, meta, TFTP_EBADOP, "illegal TFTP operation", "not a read request");
		break;
	}
}

static void listener_readable(struct ev_handler *h, uint32_t events)
{
	struct listener *l = container_of(h, struct listener, ev);
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage peers[RX_BATCH];
	union { char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64]; struct cmsghdr a; } ctl[RX_BATCH];
	(void)events;

	for (int round = 0; round < 8; round++) {     /* bounded: others get their turn */
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < RX_BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = rx_buf[i], .iov_len = RX_SIZE };
			msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &peers[i], .msg_namelen = sizeof(peers[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1,
				.msg_control = ctl[i].buf, .msg_controllen = sizeof(ctl[i].buf),
			};
		}
		int n = recvmmsg(l->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_warn("receive on listening socket");
			return;
		}
		l->w->now_ms = clock_now_ms();
		for (int i = 0; i < n; i++) {
			struct rx_meta meta;
			addr_unmap(&peers[i], &meta.peer);
			read_pktinfo(&msgs[i].msg_hdr, &meta);
			bool trunc = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
			dispatch(l, rx_buf[i], msgs[i].msg_len, trunc, &meta);
		}
		if (n < RX_BATCH)
			return;
	}
}

void listener_add(struct worker *w, int fd)
{
	struct listener *l;
	struct sockaddr_storage a;
	socklen_t alen = sizeof(a);
	int one = 1;
	if (w->nlisteners >= LISTEN_MAX)
		fatalx("too many listening sockets");
	if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		fatal("getsockname on a listening socket");
	l = &w->listeners[w->nlisteners++];
	l->fd = fd;
	l->family = a.ss_family;
	l->w = w;
	/* PKTINFO on both levels: a dual-stack socket reports IPv4 requests with IP_PKTINFO. */
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 && a.ss_family == AF_INET)
		fatal("IP_PKTINFO");
	if (a.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
		fatal("IPV6_RECVPKTINFO");
	if (evloop_add(&w->loop, &l->ev, fd, listener_readable, EPOLLIN) < 0)
		fatal("epoll add listener");
}

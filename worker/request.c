/* A read request becomes a transfer: parse, check the name and the limits, negotiate
 * options, take a socket, then start the lookup. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "worker.h"

static uint32_t request_hash(const uint8_t *pkt, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ pkt[i]) * 16777619u;
	return h;
}

/* -v: what the client asked for, options included, escaped. */
static void log_request(const struct transfer *t, const struct tftp_request *req)
{
	char opts[512], esc[TFTP_NAME_MAX * 4 + 8];
	size_t o = 0;
	opts[0] = '\0';
	for (int i = 0; i < req->nopts && o < sizeof(opts) - 1; i++) {
		char n[TFTP_OPT_NAME_MAX * 4], v[TFTP_OPT_VALUE_MAX * 4];
		log_escape(n, sizeof(n), req->opts[i].name, strlen(req->opts[i].name));
		log_escape(v, sizeof(v), req->opts[i].value, strlen(req->opts[i].value));
		int k = snprintf(opts + o, sizeof(opts) - o, "%s%s=%s", i ? "," : "", n, v);
		if (k < 0)
			break;
		o += (size_t)k;
	}
	log_escape(esc, sizeof(esc), t->name, strlen(t->name));
	log_debug("request client=%s port=%u file=\"%s\" mode=%s options=%s", t->client->text,
		  addr_port(&t->peer), esc, t->mode == TFTP_MODE_NETASCII ? "netascii" : "octet",
		  o ? opts : "-");
}

enum rx_result { RX_NONE, RX_STRANGER, RX_DELIVERED };

/* One datagram from a transfer's own socket. A stranger gets ERROR 5 and the transfer goes
 * on; after RX_DELIVERED the transfer may be gone. */
static enum rx_result transfer_recv_one(struct transfer *t)
{
	struct worker *w = t->w;
	uint8_t buf[1024];
	struct sockaddr_storage from, peer;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(t->sock, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	if (n < 0)
		return RX_NONE;
	w->now_ms = clock_now_ms();
	addr_unmap(&from, &peer);
	if (!addr_equal(&peer, &t->peer)) {
		uint8_t err[64];
		size_t len = tftp_build_error(err, sizeof(err), TFTP_EBADID, "unknown transfer ID");
		if (tftp_opcode_of(buf, (size_t)n) != TFTP_ERROR && refusal_ok(w))
			sendto(t->sock, err, len, MSG_DONTWAIT, (struct sockaddr *)&from, flen);
		return RX_STRANGER;
	}
	transfer_on_packet(t, buf, (size_t)n);
	return RX_DELIVERED;
}

static void transfer_readable(struct ev_handler *h, uint32_t events)
{
	struct transfer *t = container_of(h, struct transfer, ev);
	(void)events;
	for (int i = 0; i < 16; i++)
		if (transfer_recv_one(t) != RX_STRANGER)
			return;
}

/* Before a new RRQ from a live transfer's address and port is judged, read what that
 * transfer's socket still holds: a client that sent its final ACK and then reused the port
 * has finished the old transfer, which must end as "ok", not be restarted. */
static struct transfer *settle_old(struct worker *w, const struct sockaddr_storage *peer)
{
	struct transfer *t;
	for (int i = 0; i < 64 && (t = transfer_find(w, peer)) != NULL && !t->lsn; i++)
		if (transfer_recv_one(t) == RX_NONE)
			break;
	return transfer_find(w, peer);
}

static unsigned blksize_ceiling(struct worker *w, struct client *c)
{
	unsigned ceiling = TFTP_MAX_BLKSIZE;
	if (w->cfg.max_blksize) {
		ceiling = w->cfg.max_blksize;          /* the operator's word overrides the MTU */
	} else {
		unsigned mtu = client_path_mtu(w, c);
		unsigned overhead = (c->addr.ss_family == AF_INET ? 20 : 40) + 8 + TFTP_HDR_LEN;
		if (mtu > overhead + TFTP_MIN_BLKSIZE && mtu - overhead < ceiling)
			ceiling = mtu - overhead;
	}
	return ceiling < TFTP_MIN_BLKSIZE ? TFTP_MIN_BLKSIZE : ceiling;
}

static bool refuse_early(struct worker *w, struct listener *l, const struct sockaddr_storage *peer,
			 const struct sockaddr_storage *local, int ifindex,
			 const struct tftp_request *req, uint16_t code, const char *msg, const char *why)
{
	if (!refusal_ok(w))
		return false;
	record_refusal(w, peer, req ? req->filename : NULL, req ? req->filename_len : 0, why);
	udp_reply_error(l, peer, local, ifindex, code, msg);
	return false;
}

/* Checks that need no transfer yet. Returns false when the request was answered. */
static bool admit(struct worker *w, struct listener *l, const struct sockaddr_storage *peer,
		  const struct sockaddr_storage *local, int ifindex, const struct tftp_request *req,
		  struct client *c)
{
	bool first_refusal = false;
	if (!client_rate_ok(w, c, &first_refusal)) {
		if (first_refusal && refusal_ok(w)) {
			log_warnx("client %s: more than %u requests a second: refused until it slows down",
				  c->text, w->cfg.rrq_rate);
			udp_reply_error(l, peer, local, ifindex, TFTP_EUNDEF, "rate limit exceeded");
		}
		return false;
	}
	if (w->nxfers >= w->cfg.max_transfers)
		return refuse_early(w, l, peer, local, ifindex, req, TFTP_EUNDEF,
				    "server busy, try again", "--max-transfers reached");
	if (c->active >= w->cfg.max_per_client)
		return refuse_early(w, l, peer, local, ifindex, req, TFTP_EUNDEF,
				    "too many transfers from this client", "--max-per-client reached");
	return true;
}

static struct transfer *transfer_new(struct worker *w, struct listener *l,
				     const struct sockaddr_storage *peer,
				     const struct sockaddr_storage *local, int ifindex, struct client *c)
{
	struct transfer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->w = w;
	t->peer = *peer;
	t->local = *local;
	t->local_ifindex = ifindex;
	t->start_ms = w->now_ms;
	t->heap_idx = SIZE_MAX;
	if (w->cfg.single_port) {
		t->lsn = l;
		t->sock = l->fd;
	} else {
		t->sock = udp_transfer_socket(w, local, peer->ss_family);
		if (t->sock < 0 ||
		    evloop_add(&w->loop, &t->ev, t->sock, transfer_readable, EPOLLIN) < 0) {
			log_warn("client %s: no socket for a transfer", c->text);
			if (t->sock >= 0)
				close(t->sock);
			free(t);
			return NULL;
		}
	}
	t->client = c;
	c->active++;
	return t;
}

/* A client's RRQ retransmission can cross our first reply on the wire: it was sent before
 * the client saw the reply, yet reaches us after the client's ACK (a request that waited for a
 * remote disk is answered the moment a retransmission may be in flight). No machine reboots
 * between its first ACK and a moment later, so until then the same bytes are the same request. */
#define RRQ_ECHO_MS 1000

static bool is_repeat(const struct transfer *old, uint32_t hash, size_t len, uint64_t now_ms)
{
	if (old->rrq_hash != hash || old->rrq_len != len)
		return false;
	if (!old->got_ack)
		return true;                       /* BIOS ROMs send the RRQ twice */
	return old->answers == 1 && now_ms - old->first_answer_ms < RRQ_ECHO_MS;
}

/* A repeated RRQ is the same request: one transfer. Anything else from a live transfer's
 * port is a new boot reusing the port (GRUB): restart at once. */
static bool handle_existing(struct worker *w, const struct sockaddr_storage *peer,
			    uint32_t hash, size_t len)
{
	struct transfer *old = settle_old(w, peer);
	if (!old)
		return true;
	if (is_repeat(old, hash, len, w->now_ms)) {
		log_debug("client %s: repeated request for %s ignored", old->client->text, old->name);
		return false;
	}
	/* No ERROR to the old transfer: it would reach the very port the rebooted client now
	 * listens on, and GRUB takes the first reply from any server port as the answer. */
	transfer_end(old, "restarted", "a new request from the same port");
	return true;
}

void transfer_start(struct worker *w, struct listener *l, const struct sockaddr_storage *peer,
		    const struct sockaddr_storage *local, int ifindex,
		    const uint8_t *pkt, size_t len)
{
	struct tftp_request req;
	const char *why;
	char name[TFTP_NAME_MAX + 1];
	if (tftp_parse_request(pkt, len, &req, &why) < 0) {
		refuse_early(w, l, peer, local, ifindex, NULL, TFTP_EBADOP, "malformed request", why);
		return;
	}
	int mode = tftp_mode_parse(req.mode);
	if (mode < 0) {
		refuse_early(w, l, peer, local, ifindex, &req, TFTP_EBADOP,
			     "unsupported mode (octet and netascii only)", "unsupported mode");
		return;
	}
	if (name_prepare(&w->cfg, req.filename, req.filename_len, name, sizeof(name), &why) < 0) {
		refuse_early(w, l, peer, local, ifindex, &req, TFTP_EACCESS, why, why);
		return;
	}
	struct client *c = client_get(w, peer);
	if (!c) {
		refuse_early(w, l, peer, local, ifindex, &req, TFTP_EUNDEF, "server busy, try again",
			     "client table full, every address in its bucket busy");
		return;
	}
	uint32_t hash = request_hash(pkt, len);
	if (!handle_existing(w, peer, hash, len) || !admit(w, l, peer, local, ifindex, &req, c))
		return;
	struct transfer *t = transfer_new(w, l, peer, local, ifindex, c);
	if (!t) {
		refuse_early(w, l, peer, local, ifindex, &req, TFTP_EUNDEF, "server out of resources",
			     "no socket or memory");
		return;
	}
	memcpy(t->name, name, sizeof(t->name));
	t->rrq_hash = hash;
	t->rrq_len = len;
	t->mode = mode;
	struct tftp_limits lim = { .max_blksize = blksize_ceiling(w, c),
				   .max_windowsize = w->cfg.max_windowsize };
	tftp_negotiate(&req, &lim, &t->neg);
	if (req.opts_dropped || t->neg.ignored)
		log_debug("client %s: %u option(s) ignored in request for %s", c->text,
			  t->neg.ignored + req.opts_dropped, t->name);
	if (log_verbose())
		log_request(t, &req);
	hash_insert_transfer(w, t);
	t->lookup_step = ORIGIN_CLIENT;
	transfer_lookup_continue(t);
}

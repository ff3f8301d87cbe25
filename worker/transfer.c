/* The TFTP read transfer: one struct per transfer, one handler per state.
 *
 *   RRQ -> [XS_LOOKUP] -> XS_OACK (options asked) -> XS_SENDING -> done
 *                       `-----------------------------^ (no options)
 *
 * Block numbers are kept as 64-bit absolute counters; the wire carries the low 16 bits,
 * so a file of more than 65535 blocks rolls over to block 0 (as tftp-hpa and most
 * firmware expect). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "worker.h"

static void transfer_begin(struct transfer *t);

const char *origin_name(enum origin o)
{
	switch (o) {
	case ORIGIN_CLIENT: return "client";
	case ORIGIN_REMOTE: return "remote";
	default: return "default";
	}
}

static unsigned bucket_of(const struct worker *w, const struct sockaddr_storage *peer)
{
	return addr_hash_keyed(peer, true, w->hash_key) % XFER_BUCKETS;
}

struct transfer *transfer_find(struct worker *w, const struct sockaddr_storage *peer)
{
	for (struct transfer *t = w->xfers[bucket_of(w, peer)]; t; t = t->hnext)
		if (addr_equal(&t->peer, peer))
			return t;
	return NULL;
}

void hash_insert_transfer(struct worker *w, struct transfer *t)
{
	unsigned b = bucket_of(w, &t->peer);
	t->hnext = w->xfers[b];
	w->xfers[b] = t;
	w->nxfers++;
}

static void hash_remove(struct worker *w, struct transfer *t)
{
	for (struct transfer **pp = &w->xfers[bucket_of(w, &t->peer)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			w->nxfers--;
			return;
		}
	}
}

static unsigned base_rto_ms(const struct transfer *t)
{
	unsigned own = t->w->cfg.timeout_ms, asked = t->neg.timeout_s * 1000u;
	if (!asked)
		return own;
	/* Until the client has answered once it may be a spoofed address: its timeout option
	 * does not stretch how long the few packets sent to it hold a transfer slot. */
	return !t->got_ack && asked > own ? own : asked;
}

/* Arm the retransmit timer; jitter keeps a boot storm from resending in lockstep. */
static void arm_rto(struct transfer *t)
{
	unsigned shift = t->tries < RTO_BACKOFF_MAX ? t->tries : RTO_BACKOFF_MAX;
	unsigned rto = base_rto_ms(t) << shift;
	rto += worker_random(t->w) % (rto / 4 + 1);
	timer_set(t->w, t, t->w->now_ms + rto);
}

static uint64_t transfer_size(const struct transfer *t)
{
	return t->ascii ? t->ascii_len : t->file->size;
}

/* Bytes of the file that are final: all of a local file, a growing prefix of a remote one. */
static uint64_t transfer_avail(const struct transfer *t)
{
	return t->ascii ? t->ascii_len : t->file->avail;
}

static bool block_ready(const struct transfer *t, uint64_t block)
{
	uint64_t end = block * t->neg.blksize;
	uint64_t size = transfer_size(t);
	return transfer_avail(t) >= (end < size ? end : size);
}

/* Send what the window allows from t->next on. May end (and free) t. */
static void pump(struct transfer *t)
{
	uint64_t limit = t->base + t->neg.windowsize;
	uint64_t first = t->next;
	if (limit > t->nblocks + 1)
		limit = t->nblocks + 1;
	t->waiting_data = false;
	while (t->next < limit) {
		if (!block_ready(t, t->next)) {
			t->waiting_data = true;
			break;
		}
		t->next++;
	}
	if (t->next > first) {
		if (udp_send_blocks(t, first, (unsigned)(t->next - first)) < 0) {
			transfer_fail(t, TFTP_EUNDEF, "read error", "error");
			return;
		}
		arm_rto(t);
	} else if (t->waiting_data && t->base == t->next) {
		/* nothing in flight: wait for the disk, bounded by the progress deadline */
		t->wait_since_ms = t->wait_since_ms ? t->wait_since_ms : t->w->now_ms;
		timer_set(t->w, t, t->wait_since_ms + t->w->cfg.remote_deadline_ms);
	}
}

static void send_oack(struct transfer *t)
{
	udp_send(t, t->oack, t->oack_len);
}

static void note_answer(struct transfer *t)
{
	if (!t->got_ack)
		t->first_answer_ms = t->w->now_ms;
	t->got_ack = true;
	t->answers++;
}

static void on_ack(struct transfer *t, uint16_t block)
{
	if (t->state == XS_OACK) {
		if (block != 0)
			return;
		t->state = XS_SENDING;
		note_answer(t);
		t->tries = 0;
		t->base = t->next = 1;
		pump(t);
		return;
	}
	if (t->state != XS_SENDING)
		return;
	/* Map the 16-bit number onto the blocks sent so far; anything older than the window
	 * base is a duplicate and changes nothing (no Sorcerer's Apprentice resend). */
	uint16_t delta = (uint16_t)(block - (uint16_t)(t->base - 1));
	uint64_t abs = t->base - 1 + delta;
	if (delta == 0 || abs >= t->next)
		return;
	note_answer(t);
	t->base = abs + 1;
	t->bytes_sent = abs * t->neg.blksize;
	if (t->base > t->nblocks) {
		t->bytes_sent = transfer_size(t);
		transfer_end(t, "ok", NULL);
		return;
	}
	/* RFC 7440: an ACK inside the window means the client lost block abs+1: resend from it. */
	if (t->next > t->base) {
		t->next = t->base;
		t->retransmits++;
	}
	t->tries = 0;
	pump(t);        /* re-arms the timer: a window sent, or the disk waited for */
}

static void on_error(struct transfer *t, const uint8_t *pkt, size_t len)
{
	uint16_t code;
	const char *msg;
	size_t mlen;
	char esc[128], detail[160];
	if (tftp_parse_error(pkt, len, &code, &msg, &mlen) < 0)
		return;
	log_escape(esc, sizeof(esc), msg, mlen);
	snprintf(detail, sizeof(detail), "client error %u \"%s\"", code, esc);
	/* A client that read the OACK (tsize) and stops is probing the size (UEFI, PXE ROMs,
	 * Raspberry Pi): normal, not a failure. */
	transfer_end(t, t->got_ack ? "aborted" : "probe", detail);
}

void transfer_on_packet(struct transfer *t, const uint8_t *pkt, size_t len)
{
	uint16_t block;
	switch (tftp_opcode_of(pkt, len)) {
	case TFTP_ACK:
		if (tftp_parse_ack(pkt, len, &block) == 0)
			on_ack(t, block);
		break;
	case TFTP_ERROR:
		on_error(t, pkt, len);
		break;
	default:
		log_debug("transfer %s: ignored %s packet", t->name,
			  tftp_opcode_name(tftp_opcode_of(pkt, len)));
		break;
	}
}

static unsigned resend_limit(const struct transfer *t)
{
	unsigned limit = t->w->cfg.retries;
	/* Until the client has answered once it may be a spoofed address: send little. */
	if (!t->got_ack && limit > PRE_ACK_RESENDS)
		limit = PRE_ACK_RESENDS;
	return limit;
}

void transfer_on_timer(struct transfer *t)
{
	struct worker *w = t->w;
	if (t->state == XS_LOOKUP || (t->waiting_data && t->base == t->next)) {
		remote_stalled(w, t);       /* ends t, and every transfer waiting on that disk */
		return;
	}
	if (t->tries >= resend_limit(t)) {
		transfer_end(t, "timeout", NULL);
		return;
	}
	t->tries++;
	t->retransmits++;
	if (t->state == XS_OACK) {
		send_oack(t);
		arm_rto(t);
		return;
	}
	t->next = t->base;
	pump(t);
}

static void transfer_free(struct transfer *t)
{
	struct worker *w = t->w;
	timer_clear(w, t);
	hash_remove(w, t);
	readahead_release(t);
	if (t->sock >= 0 && t->lsn == NULL) {
		evloop_del(&w->loop, &t->ev);
		close(t->sock);
	}
	if (t->file)
		file_ref_put(t->file);
	if (t->client)
		t->client->active--;
	free(t);
}

void transfer_end(struct transfer *t, const char *outcome, const char *detail)
{
	t->state = XS_DONE;
	record_transfer(t, outcome, detail);
	transfer_free(t);
}

void transfer_fail(struct transfer *t, uint16_t code, const char *msg, const char *outcome)
{
	uint8_t buf[TFTP_HDR_LEN + 256];
	size_t n = tftp_build_error(buf, sizeof(buf), code, msg);
	udp_send(t, buf, n);
	transfer_end(t, outcome, msg);
}

void transfers_stop_all(struct worker *w)
{
	for (unsigned b = 0; b < XFER_BUCKETS; b++)
		while (w->xfers[b])
			transfer_fail(w->xfers[b], TFTP_EUNDEF, "server shutting down", "error");
}

/* Netascii needs the whole converted text to know block offsets. It is converted once per
 * file_ref (a size probe and its request, a restarted transfer, share it), and all the text
 * held at once is bounded: past NETASCII_BUDGET a request is refused as busy. */
static uint64_t ascii_held;

void netascii_release(struct file_ref *f)
{
	if (!f->ascii)
		return;
	ascii_held -= f->ascii_len;
	free(f->ascii);
	f->ascii = NULL;
}

/* false with the TFTP error's code and text when the text cannot be had. */
static bool make_netascii(struct transfer *t, uint16_t *code, const char **why)
{
	struct file_ref *f = t->file;
	if (!f->ascii) {
		if (f->size > NETASCII_MAX / 2)
			return *code = TFTP_ENOSPACE, *why = "file too large for netascii", false;
		if (ascii_held + f->size * 2 + 1 > NETASCII_BUDGET)
			return *code = TFTP_EUNDEF, *why = "server busy: too much netascii text in memory", false;
		uint8_t *raw = malloc(f->size ? f->size : 1), *text = malloc(f->size * 2 + 1);
		if (!raw || !text || pread(f->fd, raw, f->size, 0) != (ssize_t)f->size) {
			free(raw);
			free(text);
			return *code = TFTP_EUNDEF, *why = "read error", false;
		}
		size_t len = netascii_encode(raw, f->size, text);
		free(raw);
		uint8_t *fit = realloc(text, len ? len : 1);
		f->ascii = fit ? fit : text;
		f->ascii_len = len;
		ascii_held += len;
	}
	t->ascii = f->ascii;
	t->ascii_len = f->ascii_len;
	return true;
}

static void transfer_begin(struct transfer *t)
{
	/* (a remote netascii file gets here only once complete: transfer_data_available) */
	uint16_t code;
	const char *why;
	if (t->mode == TFTP_MODE_NETASCII && !t->ascii && !make_netascii(t, &code, &why)) {
		transfer_fail(t, code, why, "refused");
		return;
	}
	t->waiting_data = false;
	t->wait_since_ms = 0;
	t->nblocks = transfer_size(t) / t->neg.blksize + 1;
	if (tftp_negotiation_needs_oack(&t->neg)) {
		t->oack_len = tftp_build_oack_for(t->oack, sizeof(t->oack), &t->neg, transfer_size(t));
		t->state = XS_OACK;
		send_oack(t);
		arm_rto(t);
		return;
	}
	t->state = XS_SENDING;
	t->base = t->next = 1;
	pump(t);
}

void transfer_data_available(struct transfer *t)
{
	if (t->state == XS_LOOKUP) {
		if (t->file && (t->mode != TFTP_MODE_NETASCII || t->file->avail >= t->file->size))
			transfer_begin(t);
		else if (t->file)    /* netascii waits for the whole file: progress, keep waiting */
			timer_set(t->w, t, t->w->now_ms + t->w->cfg.remote_deadline_ms);
		return;
	}
	if (t->state == XS_SENDING && t->waiting_data) {
		t->wait_since_ms = 0;
		pump(t);
	}
}

void transfer_lookup_continue(struct transfer *t)
{
	struct worker *w = t->w;
	uint16_t code = TFTP_ENOTFOUND;
	const char *why = "file not found";
	/* A lookup result kept from a moment ago (a size probe's) answers the whole chain. */
	struct file_ref *kept = t->lookup_step == ORIGIN_CLIENT
		? cache_find(w, &t->client->addr, t->name) : NULL;
	if (kept) {
		t->file = file_ref_get(kept);
		transfer_data_available(t);
		return;
	}
	while (t->lookup_step <= ORIGIN_DEFAULT) {
		struct file_ref *f = NULL;
		enum lookup_result r = t->lookup_step == ORIGIN_REMOTE
			? remote_lookup(w, t, &f, &code, &why)
			: lookup_local(w, t, (enum origin)t->lookup_step, &f, &code, &why);
		switch (r) {
		case LK_FOUND:
			t->file = f;
			cache_put(w, &t->client->addr, t->name, f);
			transfer_data_available(t);
			return;
		case LK_PENDING:
			t->state = XS_LOOKUP;
			if (!t->wait_since_ms)
				t->wait_since_ms = w->now_ms;
			return;
		case LK_REFUSED:
			transfer_fail(t, code, why, "refused");
			return;
		case LK_NEXT:
			t->lookup_step++;
			break;
		}
	}
	transfer_fail(t, TFTP_ENOTFOUND, "file not found", "not-found");
}

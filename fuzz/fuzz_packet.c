/* libFuzzer target: one UDP payload as a client could send it, through everything the worker
 * runs on a packet before it touches a file: the request, ACK and ERROR parsers, option
 * negotiation, the OACK and ERROR builders, the number parser and log escaping.
 *
 * Besides the sanitizers, it checks invariants and a small reference model of RFC 2347/2348/
 * 2349/7440 negotiation: abort() on the first difference, so libFuzzer keeps the input. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "log.h"
#include "tftp.h"
#include "tftp_options.h"



/* Ceilings a worker may run with: the smallest legal, the default, Ethernet paths, the RFC max. */
static const struct tftp_limits limits[] = {
	{ .max_blksize = TFTP_MIN_BLKSIZE, .max_windowsize = 1 },
	{ .max_blksize = TFTP_DEF_BLKSIZE, .max_windowsize = 1 },
	{ .max_blksize = 1432, .max_windowsize = 4 },
	{ .max_blksize = 1468, .max_windowsize = 64 },
	{ .max_blksize = TFTP_MAX_BLKSIZE, .max_windowsize = 65535 },
};

/* s points inside pkt[0..len) and its NUL is inside too. */
static void check_in_packet(const uint8_t *pkt, size_t len, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	FUZZ_ASSERT(p >= pkt && p < pkt + len);
	FUZZ_ASSERT(memchr(p, '\0', (size_t)(pkt + len - p)) != NULL);
}

/* tftp_parse_uint against strtoull: digits only, 1..20 of them, no overflow. */
static bool model_uint(const char *s, uint64_t *v)
{
	size_t l = strlen(s);
	if (l < 1 || l > 20 || strspn(s, "0123456789") != l)
		return false;
	errno = 0;
	unsigned long long r = strtoull(s, NULL, 10);
	if (errno == ERANGE)
		return false;
	*v = r;
	return true;
}

static void check_uint(const char *s)
{
	uint64_t got = 0, want = 0;
	bool ok = tftp_parse_uint(s, UINT64_MAX, &got) == 0;
	FUZZ_ASSERT(ok == model_uint(s, &want));
	if (ok)
		FUZZ_ASSERT(got == want);
}

struct model {
	int idx[OPT_KIND_COUNT];        /* option index that won, -1 if none */
	uint64_t val[OPT_KIND_COUNT];
};

static bool model_accepts(int kind, const char *value, uint64_t *v)
{
	if (!model_uint(value, v))
		return false;
	switch (kind) {
	case OPT_BLKSIZE: return *v >= TFTP_MIN_BLKSIZE;
	case OPT_TIMEOUT: return *v >= 1 && *v <= 255;
	case OPT_TSIZE: return true;
	default: return *v >= 1 && *v <= 65535;
	}
}

/* The first acceptable occurrence of each known option (names compared case-insensitively). */
static void model_negotiate(const struct tftp_request *req, struct model *m)
{
	static const char *const names[OPT_KIND_COUNT] = {
		[OPT_BLKSIZE] = "blksize", [OPT_TIMEOUT] = "timeout",
		[OPT_TSIZE] = "tsize", [OPT_WINDOWSIZE] = "windowsize",
	};
	for (int k = 0; k < OPT_KIND_COUNT; k++) {
		m->idx[k] = -1;
		for (int i = 0; i < req->nopts && m->idx[k] < 0; i++)
			if (strcasecmp(req->opts[i].name, names[k]) == 0 &&
			    model_accepts(k, req->opts[i].value, &m->val[k]))
				m->idx[k] = i;
	}
}

static unsigned umin(uint64_t a, unsigned b)
{
	return a < b ? (unsigned)a : b;
}

/* Read an OACK back and compare it with the negotiation. */
static void check_oack(const uint8_t *buf, size_t n, const struct tftp_negotiation *neg,
		       uint64_t tsize)
{
	size_t o = 2;
	FUZZ_ASSERT(n >= 2 && buf[0] == 0 && buf[1] == TFTP_OACK);
	for (int i = 0; i < neg->norder; i++) {
		int k = neg->order[i];
		char want[64];
		const char *name = (const char *)buf + o;
		FUZZ_ASSERT(o < n && memchr(name, '\0', n - o) != NULL);
		FUZZ_ASSERT(strcmp(name, neg->name[k]) == 0);
		o += strlen(name) + 1;
		const char *value = (const char *)buf + o;
		FUZZ_ASSERT(o < n && memchr(value, '\0', n - o) != NULL);
		switch (k) {
		case OPT_BLKSIZE: snprintf(want, sizeof(want), "%u", neg->blksize); break;
		case OPT_TIMEOUT: snprintf(want, sizeof(want), "%s", neg->timeout_value); break;
		case OPT_TSIZE: snprintf(want, sizeof(want), "%" PRIu64, tsize); break;
		default: snprintf(want, sizeof(want), "%u", neg->windowsize); break;
		}
		FUZZ_ASSERT(strcmp(value, want) == 0);
		o += strlen(value) + 1;
	}
	FUZZ_ASSERT(o == n);
}

static void fuzz_negotiation(const struct tftp_request *req, const struct tftp_limits *lim,
			     uint64_t tsize)
{
	struct tftp_negotiation neg;
	struct model m;
	int naccepted = 0, last = -1;

	tftp_negotiate(req, lim, &neg);
	model_negotiate(req, &m);

	FUZZ_ASSERT(neg.norder >= 0 && neg.norder <= OPT_KIND_COUNT);
	for (int k = 0; k < OPT_KIND_COUNT; k++) {
		FUZZ_ASSERT(neg.accepted[k] == (m.idx[k] >= 0));
		if (m.idx[k] >= 0) {
			naccepted++;
			/* Echoed in the client's own spelling. */
			FUZZ_ASSERT(strcmp(neg.name[k], req->opts[m.idx[k]].name) == 0);
		}
	}
	FUZZ_ASSERT(neg.norder == naccepted);
	FUZZ_ASSERT(neg.ignored == (unsigned)(req->nopts - naccepted));
	FUZZ_ASSERT(tftp_negotiation_needs_oack(&neg) == (naccepted > 0));
	/* The OACK lists options in the order the client sent them. */
	for (int i = 0; i < neg.norder; i++) {
		int k = neg.order[i];
		FUZZ_ASSERT(k >= 0 && k < OPT_KIND_COUNT && neg.accepted[k]);
		FUZZ_ASSERT(m.idx[k] > last);
		last = m.idx[k];
	}

	if (neg.accepted[OPT_BLKSIZE]) {
		FUZZ_ASSERT(neg.blksize >= TFTP_MIN_BLKSIZE && neg.blksize <= lim->max_blksize);
		FUZZ_ASSERT(neg.blksize <= m.val[OPT_BLKSIZE]);          /* never more than asked */
		FUZZ_ASSERT(neg.blksize == umin(m.val[OPT_BLKSIZE], lim->max_blksize));
	} else {
		FUZZ_ASSERT(neg.blksize == TFTP_DEF_BLKSIZE);
	}
	if (neg.accepted[OPT_WINDOWSIZE]) {
		FUZZ_ASSERT(neg.windowsize >= 1 && neg.windowsize <= lim->max_windowsize);
		FUZZ_ASSERT(neg.windowsize == umin(m.val[OPT_WINDOWSIZE], lim->max_windowsize));
	} else {
		FUZZ_ASSERT(neg.windowsize == 1);
	}
	if (neg.accepted[OPT_TIMEOUT]) {
		FUZZ_ASSERT(neg.timeout_s == m.val[OPT_TIMEOUT]);
		FUZZ_ASSERT(strcmp(neg.timeout_value, req->opts[m.idx[OPT_TIMEOUT]].value) == 0);
	} else {
		FUZZ_ASSERT(neg.timeout_s == 0);
	}

	/* The OACK into a roomy buffer: four options, names <= 10 bytes, values <= 20 digits,
	 * so it always fits in 512 and reads back as what was negotiated. */
	uint8_t roomy[512];
	size_t full = tftp_build_oack_for(roomy, sizeof(roomy), &neg, tsize);
	FUZZ_ASSERT(full >= 2 && full <= 2 + OPT_KIND_COUNT * (10 + 1 + 20 + 1));
	check_oack(roomy, full, &neg, tsize);
	/* Then into buffers of every interesting size, each exactly that big on the heap so that
	 * ASan sees one byte too many: all of it when it fits, else 0 (never a partial OACK). */
	static const size_t caps[] = { 0, 1, 2, 3, 8, 16, 24, 40, 64, 100 };
	for (size_t c = 0; c <= sizeof(caps) / sizeof(caps[0]); c++) {
		size_t cap = c < sizeof(caps) / sizeof(caps[0]) ? caps[c] : full;
		uint8_t *buf = malloc(cap ? cap : 1);
		if (buf == NULL)
			abort();
		size_t n = tftp_build_oack_for(buf, cap, &neg, tsize);
		FUZZ_ASSERT(n == (cap >= full ? full : 0));
		if (n > 0)
			FUZZ_ASSERT(memcmp(buf, roomy, n) == 0);
		free(buf);
	}
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	struct tftp_request req;
	const char *why = NULL;

	if (tftp_parse_request(data, size, &req, &why) < 0) {
		FUZZ_ASSERT(why != NULL);
		return;
	}
	FUZZ_ASSERT(req.opcode == TFTP_RRQ || req.opcode == TFTP_WRQ);
	FUZZ_ASSERT(req.filename == (const char *)data + 2);
	check_in_packet(data, size, req.filename);
	FUZZ_ASSERT(strlen(req.filename) == req.filename_len);
	check_in_packet(data, size, req.mode);
	FUZZ_ASSERT(req.mode == req.filename + req.filename_len + 1);
	FUZZ_ASSERT(req.nopts >= 0 && req.nopts <= TFTP_MAX_OPTIONS);
	if (req.nopts < TFTP_MAX_OPTIONS && !req.opts_dropped) {
		/* Everything after the mode was read as whole name/value pairs. */
		const char *end = req.nopts ? req.opts[req.nopts - 1].value : req.mode;
		FUZZ_ASSERT((const uint8_t *)end + strlen(end) + 1 == data + size);
	}
	(void)tftp_mode_parse(req.mode);
	for (int i = 0; i < req.nopts; i++) {
		check_in_packet(data, size, req.opts[i].name);
		check_in_packet(data, size, req.opts[i].value);
		FUZZ_ASSERT(req.opts[i].value == req.opts[i].name + strlen(req.opts[i].name) + 1);
		if (i > 0)
			FUZZ_ASSERT(req.opts[i].name == req.opts[i - 1].value +
				    strlen(req.opts[i - 1].value) + 1);
		check_uint(req.opts[i].value);
		check_uint(req.opts[i].name);
	}

	/* The file name as the worker logs it: bounded, terminated, printable. */
	size_t cap = 1 + size % 97;
	char *esc = malloc(cap);
	if (esc == NULL)
		abort();
	log_escape(esc, cap, req.filename, req.filename_len);
	FUZZ_ASSERT(strlen(esc) < cap);
	for (const char *p = esc; *p; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p < 0x7f);
	free(esc);

	const uint64_t tsizes[] = { 0, size, UINT64_MAX };
	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
		fuzz_negotiation(&req, &limits[l], tsizes[l % 3]);
}

static void fuzz_ack_error(const uint8_t *data, size_t size)
{
	uint16_t block, code;
	const char *msg;
	size_t msglen;

	if (tftp_parse_ack(data, size, &block) == 0) {
		FUZZ_ASSERT(size >= 4 && tftp_opcode_of(data, size) == TFTP_ACK);
		FUZZ_ASSERT(block == (uint16_t)(data[2] << 8 | data[3]));
	}
	if (tftp_parse_error(data, size, &code, &msg, &msglen) < 0)
		return;
	FUZZ_ASSERT(size >= 4 && tftp_opcode_of(data, size) == TFTP_ERROR);
	FUZZ_ASSERT(msg == (const char *)data + 4 && msglen <= size - 4);
	FUZZ_ASSERT(memchr(msg, '\0', msglen) == NULL);
	FUZZ_ASSERT(msglen == size - 4 || msg[msglen] == '\0');

	/* Echo that text in an ERROR of our own, into buffers of every size up to a bit more. */
	char *text = malloc(msglen + 1);
	if (text == NULL)
		abort();
	memcpy(text, msg, msglen);
	text[msglen] = '\0';
	for (size_t cap = 0; cap <= msglen + 6 && cap <= 600; cap += 1 + cap / 8) {
		uint8_t *buf = malloc(cap ? cap : 1);
		if (buf == NULL)
			abort();
		size_t n = tftp_build_error(buf, cap, code, text);
		if (cap < 5) {
			FUZZ_ASSERT(n == 0);
		} else {
			FUZZ_ASSERT(n >= 5 && n <= cap);
			FUZZ_ASSERT(buf[n - 1] == '\0');
			FUZZ_ASSERT(n - 5 == (msglen < cap - 5 ? msglen : cap - 5));
			FUZZ_ASSERT(memcmp(buf + 4, text, n - 5) == 0);
			uint16_t c2;
			const char *m2;
			size_t l2;
			FUZZ_ASSERT(tftp_parse_error(buf, n, &c2, &m2, &l2) == 0);
			FUZZ_ASSERT(c2 == code && l2 == n - 5);
		}
		free(buf);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t op = tftp_opcode_of(data, size);
	FUZZ_ASSERT(tftp_opcode_name(op) != NULL);
	FUZZ_ASSERT(size >= 2 || op == 0);
	fuzz_request(data, size);
	fuzz_ack_error(data, size);
	return 0;
}

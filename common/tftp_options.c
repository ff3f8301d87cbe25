#include "tftp_options.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const opt_names[OPT_KIND_COUNT] = {
	[OPT_BLKSIZE] = "blksize", [OPT_TIMEOUT] = "timeout",
	[OPT_TSIZE] = "tsize", [OPT_WINDOWSIZE] = "windowsize",
};

static int opt_kind(const char *name)
{
	for (int k = 0; k < OPT_KIND_COUNT; k++)
		if (strcasecmp(name, opt_names[k]) == 0)
			return k;
	return -1;
}

/* Returns true when the option is accepted (and so echoed). */
static bool decide(int kind, const char *value, const struct tftp_limits *lim,
		   struct tftp_negotiation *neg)
{
	uint64_t v;
	if (tftp_parse_uint(value, UINT64_MAX, &v) < 0)
		return false;
	switch (kind) {
	case OPT_BLKSIZE:
		/* RFC 2348: below 8 is invalid; above the ceiling we answer smaller. */
		if (v < TFTP_MIN_BLKSIZE)
			return false;
		neg->blksize = (unsigned)(v < lim->max_blksize ? v : lim->max_blksize);
		return true;
	case OPT_TIMEOUT:
		if (v < 1 || v > 255 || strlen(value) > TFTP_OPT_VALUE_MAX)
			return false;
		neg->timeout_s = (unsigned)v;
		strcpy(neg->timeout_value, value);
		return true;
	case OPT_TSIZE:
		return true;   /* the value a reader sends is 0; we answer with the size */
	case OPT_WINDOWSIZE:
		if (v < 1 || v > 65535)
			return false;
		neg->windowsize = (unsigned)(v < lim->max_windowsize ? v : lim->max_windowsize);
		return true;
	}
	return false;
}

void tftp_negotiate(const struct tftp_request *req, const struct tftp_limits *lim,
		    struct tftp_negotiation *neg)
{
	memset(neg, 0, sizeof(*neg));
	neg->blksize = TFTP_DEF_BLKSIZE;
	neg->windowsize = 1;
	for (int i = 0; i < req->nopts; i++) {
		const struct tftp_option *o = &req->opts[i];
		int kind = opt_kind(o->name);
		if (kind < 0 || neg->accepted[kind] || !decide(kind, o->value, lim, neg)) {
			neg->ignored++;
			continue;
		}
		neg->accepted[kind] = true;
		snprintf(neg->name[kind], sizeof(neg->name[kind]), "%s", o->name);
		neg->order[neg->norder++] = kind;
	}
}

size_t tftp_build_oack_for(uint8_t *buf, size_t cap, const struct tftp_negotiation *neg,
			   uint64_t tsize)
{
	struct tftp_option opts[OPT_KIND_COUNT];
	char values[OPT_KIND_COUNT][TFTP_OPT_VALUE_MAX + 8];
	for (int i = 0; i < neg->norder; i++) {
		int k = neg->order[i];
		opts[i].name = neg->name[k];
		switch (k) {
		case OPT_BLKSIZE: snprintf(values[i], sizeof(values[i]), "%u", neg->blksize); break;
		case OPT_TIMEOUT: snprintf(values[i], sizeof(values[i]), "%s", neg->timeout_value); break;
		case OPT_TSIZE: snprintf(values[i], sizeof(values[i]), "%" PRIu64, tsize); break;
		default: snprintf(values[i], sizeof(values[i]), "%u", neg->windowsize); break;
		}
		opts[i].value = values[i];
	}
	return tftp_build_oack(buf, cap, opts, neg->norder);
}

/* Option negotiation (RFC 2347, 2348, 2349, 7440): what to answer for what a client asked. */
#ifndef RTFTP_TFTP_OPTIONS_H
#define RTFTP_TFTP_OPTIONS_H

#include "tftp.h"

struct tftp_limits {
	unsigned max_blksize;      /* ceiling, already clamped to what fits the path MTU */
	unsigned max_windowsize;
};

enum tftp_opt_kind { OPT_BLKSIZE, OPT_TIMEOUT, OPT_TSIZE, OPT_WINDOWSIZE, OPT_KIND_COUNT };

struct tftp_negotiation {
	unsigned blksize;          /* 512 unless negotiated */
	unsigned windowsize;       /* 1 unless negotiated */
	unsigned timeout_s;        /* 0 unless the client set one */
	bool accepted[OPT_KIND_COUNT];
	/* The client's own spelling of each accepted option name, echoed back in the OACK
	 * (some firmware compares names case-sensitively). */
	char name[OPT_KIND_COUNT][TFTP_OPT_NAME_MAX + 1];
	char timeout_value[TFTP_OPT_VALUE_MAX + 1];   /* echoed exactly as asked */
	int order[OPT_KIND_COUNT]; /* accepted options in the order the client sent them */
	int norder;
	unsigned ignored;          /* unknown, duplicate or invalid options */
};

/* Decide every option; never fails: what cannot be honoured is ignored (not echoed). */
void tftp_negotiate(const struct tftp_request *req, const struct tftp_limits *lim,
		    struct tftp_negotiation *neg);

static inline bool tftp_negotiation_needs_oack(const struct tftp_negotiation *neg)
{
	return neg->norder > 0;
}

/* The OACK for a negotiation; tsize is the size the transfer will send. 0 if it does not fit. */
size_t tftp_build_oack_for(uint8_t *buf, size_t cap, const struct tftp_negotiation *neg,
			   uint64_t tsize);

#endif

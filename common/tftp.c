#include "tftp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *next_string(const uint8_t *p, const uint8_t *end, const uint8_t **after)
{
	const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
	if (nul == NULL)
		return NULL;
	*after = nul + 1;
	return (const char *)p;
}

uint16_t tftp_opcode_of(const uint8_t *pkt, size_t len)
{
	if (len < 2)
		return 0;
	return (uint16_t)(pkt[0] << 8 | pkt[1]);
}

int tftp_mode_parse(const char *mode)
{
	if (strcasecmp(mode, "octet") == 0)
		return TFTP_MODE_OCTET;
	if (strcasecmp(mode, "netascii") == 0)
		return TFTP_MODE_NETASCII;
	return -1;
}

static void parse_options(const uint8_t *p, const uint8_t *end, struct tftp_request *req)
{
	while (p < end) {
		const uint8_t *after_name, *after_value;
		const char *name = next_string(p, end, &after_name);
		if (name == NULL || after_name >= end) {
			req->opts_dropped = true;       /* trailing name without a value */
			return;
		}
		const char *value = next_string(after_name, end, &after_value);
		if (value == NULL) {
			req->opts_dropped = true;
			return;
		}
		if (req->nopts < TFTP_MAX_OPTIONS) {
			req->opts[req->nopts].name = name;
			req->opts[req->nopts].value = value;
			req->nopts++;
		} else {
			req->opts_dropped = true;
		}
		p = after_value;
	}
}

int tftp_parse_request(const uint8_t *pkt, size_t len, struct tftp_request *req, const char **why)
{
	memset(req, 0, sizeof(*req));
	req->opcode = tftp_opcode_of(pkt, len);
	if (req->opcode != TFTP_RRQ && req->opcode != TFTP_WRQ) {
		*why = "not a request";
		return -1;
	}
	const uint8_t *end = pkt + len, *p = pkt + 2, *after;
	req->filename = next_string(p, end, &after);
	if (req->filename == NULL) {
		*why = "file name not terminated";
		return -1;
	}
	req->filename_len = (size_t)(after - p) - 1;
	req->mode = next_string(after, end, &p);
	if (req->mode == NULL) {
		*why = "mode not terminated";
		return -1;
	}
	parse_options(p, end, req);
	return 0;
}

int tftp_parse_ack(const uint8_t *pkt, size_t len, uint16_t *block)
{
	if (len < 4 || tftp_opcode_of(pkt, len) != TFTP_ACK)
		return -1;
	*block = (uint16_t)(pkt[2] << 8 | pkt[3]);
	return 0;
}

int tftp_parse_error(const uint8_t *pkt, size_t len, uint16_t *code, const char **msg, size_t *msglen)
{
	if (len < 4 || tftp_opcode_of(pkt, len) != TFTP_ERROR)
		return -1;
	*code = (uint16_t)(pkt[2] << 8 | pkt[3]);
	*msg = (const char *)pkt + 4;
	const uint8_t *nul = memchr(pkt + 4, '\0', len - 4);
	*msglen = nul ? (size_t)(nul - (pkt + 4)) : len - 4;
	return 0;
}

size_t tftp_build_error(uint8_t *buf, size_t cap, uint16_t code, const char *msg)
{
	size_t mlen = strlen(msg);
	if (cap < 5)
		return 0;
	if (mlen > cap - 5)
		mlen = cap - 5;
	buf[0] = 0; buf[1] = TFTP_ERROR;
	buf[2] = (uint8_t)(code >> 8); buf[3] = (uint8_t)code;
	memcpy(buf + 4, msg, mlen);
	buf[4 + mlen] = '\0';
	return 5 + mlen;
}

void tftp_build_data_header(uint8_t hdr[TFTP_HDR_LEN], uint16_t block)
{
	hdr[0] = 0; hdr[1] = TFTP_DATA;
	hdr[2] = (uint8_t)(block >> 8); hdr[3] = (uint8_t)block;
}

void tftp_build_ack(uint8_t hdr[TFTP_HDR_LEN], uint16_t block)
{
	hdr[0] = 0; hdr[1] = TFTP_ACK;
	hdr[2] = (uint8_t)(block >> 8); hdr[3] = (uint8_t)block;
}

size_t tftp_build_oack(uint8_t *buf, size_t cap, const struct tftp_option *opts, int n)
{
	size_t o = 2;
	if (cap < 2)
		return 0;
	buf[0] = 0; buf[1] = TFTP_OACK;
	for (int i = 0; i < n; i++) {
		size_t nl = strlen(opts[i].name) + 1, vl = strlen(opts[i].value) + 1;
		if (o + nl + vl > cap)
			return 0;
		memcpy(buf + o, opts[i].name, nl);
		o += nl;
		memcpy(buf + o, opts[i].value, vl);
		o += vl;
	}
	return o;
}

int tftp_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (s[0] == '\0')
		return -1;
	for (; s[i] != '\0'; i++) {
		if (i >= 20 || s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

const char *tftp_opcode_name(uint16_t op)
{
	static const char *const names[] = { "NONE", "RRQ", "WRQ", "DATA", "ACK", "ERROR", "OACK" };
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "UNKNOWN";
}

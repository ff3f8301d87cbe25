/* TFTP packet codec (RFC 1350, 2347). Parsers never trust a length or a string from the wire. */
#ifndef RTFTP_TFTP_H
#define RTFTP_TFTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tftp_opcode {
	TFTP_RRQ = 1, TFTP_WRQ = 2, TFTP_DATA = 3, TFTP_ACK = 4, TFTP_ERROR = 5, TFTP_OACK = 6,
};

enum tftp_errcode {
	TFTP_EUNDEF = 0, TFTP_ENOTFOUND = 1, TFTP_EACCESS = 2, TFTP_ENOSPACE = 3,
	TFTP_EBADOP = 4, TFTP_EBADID = 5, TFTP_EEXISTS = 6, TFTP_ENOUSER = 7, TFTP_EOPTNEG = 8,
};

#define TFTP_HDR_LEN      4
#define TFTP_DEF_BLKSIZE  512
#define TFTP_MIN_BLKSIZE  8
#define TFTP_MAX_BLKSIZE  65464
#define TFTP_NAME_MAX     511       /* longest file name accepted, in bytes */
#define TFTP_MAX_OPTIONS  16        /* options looked at in one request; the rest are ignored */
#define TFTP_OPT_NAME_MAX 32
#define TFTP_OPT_VALUE_MAX 32

enum tftp_mode { TFTP_MODE_OCTET, TFTP_MODE_NETASCII };

struct tftp_option {
	const char *name;   /* NUL-terminated, points into the packet */
	const char *value;
};

struct tftp_request {
	uint16_t opcode;
	const char *filename;     /* NUL-terminated, points into the packet */
	size_t filename_len;
	const char *mode;
	struct tftp_option opts[TFTP_MAX_OPTIONS];
	int nopts;
	bool opts_dropped;        /* options past TFTP_MAX_OPTIONS or a trailing unterminated one */
};

/* Parse an RRQ/WRQ held in pkt[0..len). The packet must stay alive while req is used.
 * Returns 0, or -1 with *why set to a static reason. */
int tftp_parse_request(const uint8_t *pkt, size_t len, struct tftp_request *req, const char **why);

/* Mode string to enum; -1 for anything but octet/netascii (case-insensitive). */
int tftp_mode_parse(const char *mode);

uint16_t tftp_opcode_of(const uint8_t *pkt, size_t len);   /* 0 when shorter than 2 bytes */
int tftp_parse_ack(const uint8_t *pkt, size_t len, uint16_t *block);
/* ERROR: *msg is a printable-or-not text of *msglen bytes (may lack its NUL on the wire). */
int tftp_parse_error(const uint8_t *pkt, size_t len, uint16_t *code, const char **msg, size_t *msglen);

size_t tftp_build_error(uint8_t *buf, size_t cap, uint16_t code, const char *msg);
void tftp_build_data_header(uint8_t hdr[TFTP_HDR_LEN], uint16_t block);
void tftp_build_ack(uint8_t hdr[TFTP_HDR_LEN], uint16_t block);
/* OACK from name/value pairs; returns 0 when it does not fit. */
size_t tftp_build_oack(uint8_t *buf, size_t cap, const struct tftp_option *opts, int n);

/* Strict decimal: digits only, no sign, no spaces, at most 20 digits, value <= max. */
int tftp_parse_uint(const char *s, uint64_t max, uint64_t *out);

const char *tftp_opcode_name(uint16_t op);

#endif

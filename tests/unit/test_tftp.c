/* The TFTP packet codec (common/tftp.c): requests, ACK, ERROR, OACK, the number parser. */
#include <stdlib.h>

#include "check.h"
#include "tftp.h"

/* A packet from a string literal, without the literal's own trailing NUL. Write "\0" "1468",
 * never "\01468": an octal escape eats the digits that follow it. */
#define PKT(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void test_rrq_basic(void)
{
	struct tftp_request r;
	const char *why = NULL;

	CHECK_EQ(tftp_parse_request(PKT("\0\1" "pxelinux.0\0" "octet\0"), &r, &why), 0);
	CHECK_EQ(r.opcode, TFTP_RRQ);
	CHECK_STR(r.filename, "pxelinux.0");
	CHECK_UEQ(r.filename_len, 10);
	CHECK_STR(r.mode, "octet");
	CHECK_EQ(r.nopts, 0);
	CHECK(!r.opts_dropped);
	CHECK_EQ(tftp_mode_parse(r.mode), TFTP_MODE_OCTET);

	CHECK_EQ(tftp_parse_request(PKT("\0\2" "up\0" "NetASCII\0"), &r, &why), 0);
	CHECK_EQ(r.opcode, TFTP_WRQ);
	CHECK_STR(r.filename, "up");
	CHECK_EQ(tftp_mode_parse(r.mode), TFTP_MODE_NETASCII);
	CHECK_EQ(tftp_mode_parse("OCTET"), TFTP_MODE_OCTET);
	CHECK_EQ(tftp_mode_parse("mail"), -1);
	CHECK_EQ(tftp_mode_parse(""), -1);
	CHECK_EQ(tftp_mode_parse("octet "), -1);

	/* An empty name parses (refusing it is the worker's business) with length 0. */
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "\0" "octet\0"), &r, &why), 0);
	CHECK_STR(r.filename, "");
	CHECK_UEQ(r.filename_len, 0);
}

static void test_rrq_options(void)
{
	struct tftp_request r;
	const char *why = NULL;

	CHECK_EQ(tftp_parse_request(PKT("\0\1" "grubx64.efi\0" "octet\0"
					"tsize\0" "0\0" "blksize\0" "1468\0" "windowsize\0" "4\0"),
				    &r, &why), 0);
	CHECK_EQ(r.nopts, 3);
	CHECK(!r.opts_dropped);
	CHECK_STR(r.opts[0].name, "tsize");
	CHECK_STR(r.opts[0].value, "0");
	CHECK_STR(r.opts[1].name, "blksize");
	CHECK_STR(r.opts[1].value, "1468");
	CHECK_STR(r.opts[2].name, "windowsize");
	CHECK_STR(r.opts[2].value, "4");

	/* Empty values and an empty name are kept as they are; negotiation judges them. */
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "f\0" "octet\0" "blksize\0" "\0" "\0" "x\0"),
				    &r, &why), 0);
	CHECK_EQ(r.nopts, 2);
	CHECK_STR(r.opts[0].name, "blksize");
	CHECK_STR(r.opts[0].value, "");
	CHECK_STR(r.opts[1].name, "");
	CHECK_STR(r.opts[1].value, "x");
	CHECK(!r.opts_dropped);

	/* A trailing name without its value, and a value without its NUL, are dropped. */
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "f\0" "octet\0" "tsize\0" "0\0" "blksize\0"),
				    &r, &why), 0);
	CHECK_EQ(r.nopts, 1);
	CHECK(r.opts_dropped);
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "f\0" "octet\0" "tsize\0" "0\0" "blksize\0" "1468"),
				    &r, &why), 0);
	CHECK_EQ(r.nopts, 1);
	CHECK(r.opts_dropped);
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "f\0" "octet\0" "tsize\0" "0\0" "blks"), &r, &why), 0);
	CHECK_EQ(r.nopts, 1);
	CHECK(r.opts_dropped);
	/* One stray NUL after the mode (some ROMs pad) is a name without a value. */
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "f\0" "octet\0" "\0"), &r, &why), 0);
	CHECK_EQ(r.nopts, 0);
	CHECK(r.opts_dropped);
}

static void test_rrq_many_options(void)
{
	/* 17 well-formed options: the first 16 are kept, the 17th is dropped and flagged. */
	uint8_t pkt[512];
	size_t o = 0;
	struct tftp_request r;
	const char *why = NULL;

	pkt[o++] = 0; pkt[o++] = 1;
	memcpy(pkt + o, "f\0octet", 8); o += 8;
	for (int i = 0; i < 17; i++) {
		o += (size_t)snprintf((char *)pkt + o, sizeof(pkt) - o, "o%d", i) + 1;
		o += (size_t)snprintf((char *)pkt + o, sizeof(pkt) - o, "%d", 100 + i) + 1;
	}
	CHECK_EQ(tftp_parse_request(pkt, o, &r, &why), 0);
	CHECK_EQ(r.nopts, TFTP_MAX_OPTIONS);
	CHECK(r.opts_dropped);
	CHECK_STR(r.opts[0].name, "o0");
	CHECK_STR(r.opts[15].name, "o15");
	CHECK_STR(r.opts[15].value, "115");

	/* Exactly 16: nothing dropped. */
	size_t o16 = o - strlen("o16") - 1 - strlen("116") - 1;
	CHECK_EQ(tftp_parse_request(pkt, o16, &r, &why), 0);
	CHECK_EQ(r.nopts, 16);
	CHECK(!r.opts_dropped);
}

static void test_rrq_malformed(void)
{
	struct tftp_request r;
	const char *why;
	static const uint8_t one = 1;

	why = NULL;
	CHECK_EQ(tftp_parse_request(&one, 0, &r, &why), -1);        /* zero-length */
	CHECK(why != NULL);
	why = NULL;
	CHECK_EQ(tftp_parse_request(&one, 1, &r, &why), -1);        /* 1 byte */
	CHECK(why != NULL);
	why = NULL;
	CHECK_EQ(tftp_parse_request(PKT("\0\1"), &r, &why), -1);   /* opcode only */
	CHECK_STR(why, "file name not terminated");
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "file"), &r, &why), -1);
	CHECK_STR(why, "file name not terminated");
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "file\0"), &r, &why), -1);
	CHECK_STR(why, "mode not terminated");
	CHECK_EQ(tftp_parse_request(PKT("\0\1" "file\0" "octet"), &r, &why), -1);
	CHECK_STR(why, "mode not terminated");
	CHECK_EQ(tftp_parse_request(PKT("\0\3" "file\0" "octet\0"), &r, &why), -1);
	CHECK_STR(why, "not a request");
	CHECK_EQ(tftp_parse_request(PKT("\1\1" "file\0" "octet\0"), &r, &why), -1);
	CHECK_STR(why, "not a request");
	CHECK_EQ(tftp_parse_request(PKT("\0\0" "file\0" "octet\0"), &r, &why), -1);
}

static void test_rrq_huge(void)
{
	/* 64 KiB + 1 of name with no NUL anywhere: refused, nothing read past the end
	 * (run under ASan to see that). Then the same with a NUL and a mode: accepted. */
	size_t len = 65537;
	uint8_t *pkt = malloc(len);
	struct tftp_request r;
	const char *why = NULL;

	if (pkt == NULL) {
		CHECK(!"malloc");
		return;
	}
	memset(pkt, 'a', len);
	pkt[0] = 0; pkt[1] = 1;
	CHECK_EQ(tftp_parse_request(pkt, len, &r, &why), -1);
	CHECK_STR(why, "file name not terminated");
	pkt[len - 7] = 0;
	memcpy(pkt + len - 6, "octet", 6);
	CHECK_EQ(tftp_parse_request(pkt, len, &r, &why), 0);
	CHECK_UEQ(r.filename_len, len - 9);
	CHECK_UEQ(strlen(r.filename), len - 9);
	CHECK_STR(r.mode, "octet");
	free(pkt);
}

static void test_opcode(void)
{
	CHECK_EQ(tftp_opcode_of(PKT("")), 0);
	CHECK_EQ(tftp_opcode_of(PKT("\0")), 0);
	CHECK_EQ(tftp_opcode_of(PKT("\0\4")), TFTP_ACK);
	CHECK_EQ(tftp_opcode_of(PKT("\1\4")), 0x104);
	CHECK_STR(tftp_opcode_name(TFTP_RRQ), "RRQ");
	CHECK_STR(tftp_opcode_name(TFTP_OACK), "OACK");
	CHECK_STR(tftp_opcode_name(0), "NONE");
	CHECK_STR(tftp_opcode_name(7), "UNKNOWN");
	CHECK_STR(tftp_opcode_name(0xffff), "UNKNOWN");
}

static void test_ack(void)
{
	uint16_t block = 0xdead;
	uint8_t hdr[TFTP_HDR_LEN];

	CHECK_EQ(tftp_parse_ack(PKT("\0\4\0\1"), &block), 0);
	CHECK_UEQ(block, 1);
	CHECK_EQ(tftp_parse_ack(PKT("\0\4\xff\xfe"), &block), 0);
	CHECK_UEQ(block, 0xfffe);
	/* Trailing bytes after an ACK are tolerated (some clients pad). */
	CHECK_EQ(tftp_parse_ack(PKT("\0\4\0\2xx"), &block), 0);
	CHECK_UEQ(block, 2);
	block = 77;
	CHECK_EQ(tftp_parse_ack(PKT("\0\4\0"), &block), -1);
	CHECK_EQ(tftp_parse_ack(PKT(""), &block), -1);
	CHECK_EQ(tftp_parse_ack(PKT("\0\3\0\1"), &block), -1);
	CHECK_EQ(tftp_parse_ack(PKT("\0\5\0\1"), &block), -1);
	CHECK_UEQ(block, 77);

	tftp_build_ack(hdr, 0x1234);
	CHECK_MEM(hdr, 4, "\0\4\x12\x34", 4);
	tftp_build_data_header(hdr, 65535);
	CHECK_MEM(hdr, 4, "\0\3\xff\xff", 4);
	tftp_build_data_header(hdr, 0);
	CHECK_MEM(hdr, 4, "\0\3\0\0", 4);
}

static void test_error_parse(void)
{
	uint16_t code = 0;
	const char *msg = NULL;
	size_t mlen = 99;

	CHECK_EQ(tftp_parse_error(PKT("\0\5\0\1" "File not found\0"), &code, &msg, &mlen), 0);
	CHECK_UEQ(code, TFTP_ENOTFOUND);
	CHECK_UEQ(mlen, 14);
	CHECK(memcmp(msg, "File not found", 14) == 0);
	/* Without its NUL: the length stops at the end of the packet. */
	CHECK_EQ(tftp_parse_error(PKT("\0\5\0\x08" "bad opt"), &code, &msg, &mlen), 0);
	CHECK_UEQ(code, TFTP_EOPTNEG);
	CHECK_UEQ(mlen, 7);
	CHECK(memcmp(msg, "bad opt", 7) == 0);
	/* Text stops at the first NUL even with bytes after it. */
	CHECK_EQ(tftp_parse_error(PKT("\0\5\0\0" "ab\0cd"), &code, &msg, &mlen), 0);
	CHECK_UEQ(mlen, 2);
	/* Header only: empty message. */
	CHECK_EQ(tftp_parse_error(PKT("\0\5\1\2"), &code, &msg, &mlen), 0);
	CHECK_UEQ(code, 0x102);
	CHECK_UEQ(mlen, 0);
	CHECK_EQ(tftp_parse_error(PKT("\0\5\0"), &code, &msg, &mlen), -1);
	CHECK_EQ(tftp_parse_error(PKT("\0\4\0\1x\0"), &code, &msg, &mlen), -1);
}

static void test_error_build(void)
{
	uint8_t buf[64];
	size_t n;

	n = tftp_build_error(buf, sizeof(buf), TFTP_ENOTFOUND, "File not found");
	CHECK_MEM(buf, n, "\0\5\0\1" "File not found\0", 19);
	n = tftp_build_error(buf, sizeof(buf), TFTP_EUNDEF, "");
	CHECK_MEM(buf, n, "\0\5\0\0\0", 5);
	/* Truncated to the buffer, still NUL-terminated. */
	memset(buf, 0xaa, sizeof(buf));
	n = tftp_build_error(buf, 10, TFTP_EACCESS, "Access violation");
	CHECK_MEM(buf, n, "\0\5\0\2" "Acces\0", 10);
	CHECK_UEQ(buf[10], 0xaa);                  /* nothing written past cap */
	n = tftp_build_error(buf, 5, TFTP_EOPTNEG, "x");
	CHECK_MEM(buf, n, "\0\5\0\x08\0", 5);
	memset(buf, 0xaa, sizeof(buf));
	CHECK_UEQ(tftp_build_error(buf, 4, TFTP_EOPTNEG, "x"), 0);
	CHECK_UEQ(tftp_build_error(buf, 0, TFTP_EOPTNEG, "x"), 0);
	CHECK_UEQ(buf[0], 0xaa);
	/* A long message into a 512-byte buffer: 511 bytes then NUL. */
	char longmsg[1000];
	uint8_t big[512];
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	n = tftp_build_error(big, sizeof(big), TFTP_EUNDEF, longmsg);
	CHECK_UEQ(n, 512);
	CHECK_UEQ(big[511], 0);
	CHECK_UEQ(strlen((char *)big + 4), 507);
	/* What we build, we parse back. */
	uint16_t code;
	const char *msg;
	size_t mlen;
	n = tftp_build_error(buf, sizeof(buf), TFTP_EBADID, "Unknown transfer ID");
	CHECK_EQ(tftp_parse_error(buf, n, &code, &msg, &mlen), 0);
	CHECK_UEQ(code, TFTP_EBADID);
	CHECK_UEQ(mlen, 19);
}

static void test_oack_build(void)
{
	const struct tftp_option opts[] = {
		{ "blksize", "1468" }, { "tsize", "1048576" },
	};
	static const uint8_t want[] = "\0\6" "blksize\0" "1468\0" "tsize\0" "1048576\0";
	uint8_t buf[64];
	size_t n;

	n = tftp_build_oack(buf, sizeof(buf), opts, 2);
	CHECK_MEM(buf, n, want, sizeof(want) - 1);
	/* Exactly the size it needs fits; one byte less does not. */
	CHECK_UEQ(tftp_build_oack(buf, sizeof(want) - 1, opts, 2), sizeof(want) - 1);
	CHECK_UEQ(tftp_build_oack(buf, sizeof(want) - 2, opts, 2), 0);
	CHECK_UEQ(tftp_build_oack(buf, 10, opts, 2), 0);
	CHECK_UEQ(tftp_build_oack(buf, 1, opts, 2), 0);
	CHECK_UEQ(tftp_build_oack(buf, 0, opts, 0), 0);
	/* No option: just the opcode. */
	n = tftp_build_oack(buf, sizeof(buf), opts, 0);
	CHECK_MEM(buf, n, "\0\6", 2);
	/* Nothing is written past cap even when the second option is the one that overflows. */
	memset(buf, 0xaa, sizeof(buf));
	CHECK_UEQ(tftp_build_oack(buf, 20, opts, 2), 0);
	CHECK_UEQ(buf[20], 0xaa);
}

static void test_parse_uint(void)
{
	uint64_t v;
	static const char *const bad[] = {
		"+5", " 5", "5 ", "0x5", "", "-1", "5a", "1.0", "1e3", "\t5",
		"000000000000000000001",            /* 21 digits, even though the value is 1 */
		"123456789012345678901",            /* 21 digits */
		"18446744073709551616",             /* 2^64: overflow */
		"99999999999999999999",             /* 20 digits, overflow */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 4242;
		if (tftp_parse_uint(bad[i], UINT64_MAX, &v) != -1)
			CHECK_FAIL_("tftp_parse_uint accepted \"%s\"", bad[i]);
		check_count++;
		CHECK_UEQ(v, 4242);                 /* *out untouched on failure */
	}
	CHECK_EQ(tftp_parse_uint("0", UINT64_MAX, &v), 0);
	CHECK_UEQ(v, 0);
	CHECK_EQ(tftp_parse_uint("65464", UINT64_MAX, &v), 0);
	CHECK_UEQ(v, 65464);
	CHECK_EQ(tftp_parse_uint("007", UINT64_MAX, &v), 0);
	CHECK_UEQ(v, 7);
	CHECK_EQ(tftp_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	CHECK_UEQ(v, UINT64_MAX);
	CHECK_EQ(tftp_parse_uint("00000000000000000001", UINT64_MAX, &v), 0);   /* 20 digits */
	CHECK_UEQ(v, 1);
	/* The bound is inclusive. */
	CHECK_EQ(tftp_parse_uint("65464", 65464, &v), 0);
	CHECK_EQ(tftp_parse_uint("65465", 65464, &v), -1);
	CHECK_EQ(tftp_parse_uint("0", 0, &v), 0);
	CHECK_EQ(tftp_parse_uint("1", 0, &v), -1);
}

int main(void)
{
	test_rrq_basic();
	test_rrq_options();
	test_rrq_many_options();
	test_rrq_malformed();
	test_rrq_huge();
	test_opcode();
	test_ack();
	test_error_parse();
	test_error_build();
	test_oack_build();
	test_parse_uint();
	return check_done("test_tftp");
}

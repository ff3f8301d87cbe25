/* Option negotiation (common/tftp_options.c): RFC 2347 OACK, 2348 blksize, 2349 timeout and
 * tsize, 7440 windowsize, and the exact OACK bytes real firmware gets. */
#include "check.h"
#include "tftp.h"
#include "tftp_options.h"

#define PKT(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static const struct tftp_limits lim_eth = { .max_blksize = 1468, .max_windowsize = 16 };

/* Parse an RRQ for "f" in octet mode followed by the given option bytes, then negotiate. */
static int negotiate_opts(const char *opts, size_t optlen, const struct tftp_limits *lim,
			  struct tftp_request *req, struct tftp_negotiation *neg)
{
	static uint8_t pkt[1024];
	const char *why = NULL;
	memcpy(pkt, "\0\1f\0octet", 10);
	memcpy(pkt + 10, opts, optlen);
	if (tftp_parse_request(pkt, 10 + optlen, req, &why) < 0)
		return -1;
	tftp_negotiate(req, lim, neg);
	return 0;
}
#define NEGOTIATE(lit, lim, neg) do {					\
	struct tftp_request req_;					\
	CHECK_EQ(negotiate_opts((lit), sizeof(lit) - 1, (lim), &req_, (neg)), 0); \
} while (0)

static void test_defaults(void)
{
	struct tftp_negotiation neg;
	uint8_t buf[64];

	NEGOTIATE("", &lim_eth, &neg);
	CHECK_UEQ(neg.blksize, 512);
	CHECK_UEQ(neg.windowsize, 1);
	CHECK_UEQ(neg.timeout_s, 0);
	CHECK_EQ(neg.norder, 0);
	CHECK_UEQ(neg.ignored, 0);
	CHECK(!tftp_negotiation_needs_oack(&neg));
	CHECK_UEQ(tftp_build_oack_for(buf, sizeof(buf), &neg, 100), 2);
}

static void test_blksize(void)
{
	struct tftp_negotiation neg;
	static const struct tftp_limits lim512 = { .max_blksize = 512, .max_windowsize = 1 };
	static const struct tftp_limits limmax = { .max_blksize = TFTP_MAX_BLKSIZE, .max_windowsize = 64 };

	NEGOTIATE("blksize\0" "1024\0", &lim_eth, &neg);             /* below the limit: as asked */
	CHECK_UEQ(neg.blksize, 1024);
	CHECK(neg.accepted[OPT_BLKSIZE]);
	CHECK(tftp_negotiation_needs_oack(&neg));
	NEGOTIATE("blksize\0" "1468\0", &lim_eth, &neg);
	CHECK_UEQ(neg.blksize, 1468);
	NEGOTIATE("blksize\0" "1469\0", &lim_eth, &neg);             /* above: clamped */
	CHECK_UEQ(neg.blksize, 1468);
	NEGOTIATE("blksize\0" "65464\0", &lim_eth, &neg);
	CHECK_UEQ(neg.blksize, 1468);
	NEGOTIATE("blksize\0" "18446744073709551615\0", &lim_eth, &neg);
	CHECK_UEQ(neg.blksize, 1468);
	CHECK(neg.accepted[OPT_BLKSIZE]);
	NEGOTIATE("blksize\0" "1468\0", &lim512, &neg);
	CHECK_UEQ(neg.blksize, 512);
	CHECK(neg.accepted[OPT_BLKSIZE]);                            /* echoed as 512 */
	NEGOTIATE("blksize\0" "65464\0", &limmax, &neg);
	CHECK_UEQ(neg.blksize, 65464);
	NEGOTIATE("blksize\0" "8\0", &lim_eth, &neg);                /* the RFC minimum */
	CHECK_UEQ(neg.blksize, 8);
	CHECK(neg.accepted[OPT_BLKSIZE]);

	static const char *const bad[] = { "7", "0", "", "abc", "+1024", " 1024", "0x400", "-1",
					   "1024 ", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char opts[64];
		size_t n = (size_t)snprintf(opts, sizeof(opts), "blksize%c%s", 0, bad[i]) + 1;
		struct tftp_request req;
		CHECK_EQ(negotiate_opts(opts, n, &lim_eth, &req, &neg), 0);
		if (neg.accepted[OPT_BLKSIZE] || neg.blksize != 512)
			CHECK_FAIL_("blksize \"%s\" accepted as %u", bad[i], neg.blksize);
		check_count++;
		CHECK_UEQ(neg.ignored, 1);
		CHECK_EQ(neg.norder, 0);
	}
}

static void test_timeout(void)
{
	struct tftp_negotiation neg;
	uint8_t buf[64];
	size_t n;

	NEGOTIATE("timeout\0" "1\0", &lim_eth, &neg);
	CHECK(neg.accepted[OPT_TIMEOUT]);
	CHECK_UEQ(neg.timeout_s, 1);
	NEGOTIATE("timeout\0" "255\0", &lim_eth, &neg);
	CHECK(neg.accepted[OPT_TIMEOUT]);
	CHECK_UEQ(neg.timeout_s, 255);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 0);
	CHECK_MEM(buf, n, "\0\6" "timeout\0" "255\0", 14);
	/* Echoed exactly as the client wrote it. */
	NEGOTIATE("timeout\0" "007\0", &lim_eth, &neg);
	CHECK_UEQ(neg.timeout_s, 7);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 0);
	CHECK_MEM(buf, n, "\0\6" "timeout\0" "007\0", 14);
	NEGOTIATE("timeout\0" "00000000000000000009\0", &lim_eth, &neg);   /* 20 digits */
	CHECK_UEQ(neg.timeout_s, 9);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 0);
	CHECK_MEM(buf, n, "\0\6" "timeout\0" "00000000000000000009\0", 31);

	NEGOTIATE("timeout\0" "0\0", &lim_eth, &neg);
	CHECK(!neg.accepted[OPT_TIMEOUT]);
	CHECK_UEQ(neg.timeout_s, 0);
	CHECK_UEQ(neg.ignored, 1);
	NEGOTIATE("timeout\0" "256\0", &lim_eth, &neg);
	CHECK(!neg.accepted[OPT_TIMEOUT]);
	CHECK_UEQ(neg.timeout_s, 0);
	NEGOTIATE("timeout\0" "\0", &lim_eth, &neg);
	CHECK(!neg.accepted[OPT_TIMEOUT]);
	NEGOTIATE("timeout\0" "1.5\0", &lim_eth, &neg);
	CHECK(!neg.accepted[OPT_TIMEOUT]);
	CHECK(!tftp_negotiation_needs_oack(&neg));
}

static void test_tsize(void)
{
	struct tftp_negotiation neg;
	uint8_t buf[64];
	size_t n;

	NEGOTIATE("tsize\0" "0\0", &lim_eth, &neg);
	CHECK(neg.accepted[OPT_TSIZE]);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 31337);
	CHECK_MEM(buf, n, "\0\6" "tsize\0" "31337\0", 14);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 0);
	CHECK_MEM(buf, n, "\0\6" "tsize\0" "0\0", 10);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, UINT64_MAX);
	CHECK_MEM(buf, n, "\0\6" "tsize\0" "18446744073709551615\0", 29);
	NEGOTIATE("tsize\0" "x\0", &lim_eth, &neg);
	CHECK(!neg.accepted[OPT_TSIZE]);
	CHECK_UEQ(neg.ignored, 1);
}

static void test_windowsize(void)
{
	struct tftp_negotiation neg;

	NEGOTIATE("windowsize\0" "4\0", &lim_eth, &neg);
	CHECK(neg.accepted[OPT_WINDOWSIZE]);
	CHECK_UEQ(neg.windowsize, 4);
	NEGOTIATE("windowsize\0" "1\0", &lim_eth, &neg);
	CHECK(neg.accepted[OPT_WINDOWSIZE]);
	CHECK_UEQ(neg.windowsize, 1);
	NEGOTIATE("windowsize\0" "64\0", &lim_eth, &neg);
	CHECK(neg.accepted[OPT_WINDOWSIZE]);
	CHECK_UEQ(neg.windowsize, 16);                                 /* clamped to the limit */
	NEGOTIATE("windowsize\0" "65535\0", &lim_eth, &neg);
	CHECK_UEQ(neg.windowsize, 16);
	NEGOTIATE("windowsize\0" "0\0", &lim_eth, &neg);
	CHECK(!neg.accepted[OPT_WINDOWSIZE]);
	CHECK_UEQ(neg.windowsize, 1);
	NEGOTIATE("windowsize\0" "65536\0", &lim_eth, &neg);
	CHECK(!neg.accepted[OPT_WINDOWSIZE]);
	CHECK_UEQ(neg.windowsize, 1);
}

static void test_unknown_case_duplicates(void)
{
	struct tftp_negotiation neg;
	uint8_t buf[128];
	size_t n;

	NEGOTIATE("multicast\0" "\0" "rollover\0" "0\0" "blksize2\0" "1024\0" "utimeout\0" "5000\0",
		  &lim_eth, &neg);
	CHECK_EQ(neg.norder, 0);
	CHECK_UEQ(neg.ignored, 4);
	CHECK_UEQ(neg.blksize, 512);
	CHECK(!tftp_negotiation_needs_oack(&neg));

	/* Names match whatever their case, and the OACK uses the client's spelling. */
	NEGOTIATE("BLKSIZE\0" "1024\0" "TSize\0" "0\0" "WindowSize\0" "2\0" "TIMEOUT\0" "3\0",
		  &lim_eth, &neg);
	CHECK_EQ(neg.norder, 4);
	CHECK_STR(neg.name[OPT_BLKSIZE], "BLKSIZE");
	CHECK_STR(neg.name[OPT_TSIZE], "TSize");
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 5);
	CHECK_MEM(buf, n, "\0\6" "BLKSIZE\0" "1024\0" "TSize\0" "5\0" "WindowSize\0" "2\0"
		  "TIMEOUT\0" "3\0", 2 + 13 + 8 + 13 + 10);

	/* A duplicate, in any case: the first wins, the second is counted as ignored. */
	NEGOTIATE("blksize\0" "1024\0" "BlkSize\0" "1400\0" "blksize\0" "8\0", &lim_eth, &neg);
	CHECK_UEQ(neg.blksize, 1024);
	CHECK_STR(neg.name[OPT_BLKSIZE], "blksize");
	CHECK_EQ(neg.norder, 1);
	CHECK_UEQ(neg.ignored, 2);
	NEGOTIATE("timeout\0" "5\0" "timeout\0" "9\0", &lim_eth, &neg);
	CHECK_UEQ(neg.timeout_s, 5);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 0);
	CHECK_MEM(buf, n, "\0\6" "timeout\0" "5\0", 12);
	/* A rejected first copy does not count: the first acceptable one wins. */
	NEGOTIATE("blksize\0" "4\0" "blksize\0" "1024\0", &lim_eth, &neg);
	CHECK_UEQ(neg.blksize, 1024);
	CHECK_UEQ(neg.ignored, 1);
}

static void test_oack_fit(void)
{
	struct tftp_negotiation neg;
	uint8_t buf[128];
	static const uint8_t want[] = "\0\6" "blksize\0" "1024\0" "tsize\0" "123456\0";

	NEGOTIATE("blksize\0" "1024\0" "tsize\0" "0\0", &lim_eth, &neg);
	CHECK_UEQ(tftp_build_oack_for(buf, sizeof(want) - 1, &neg, 123456), sizeof(want) - 1);
	CHECK_MEM(buf, sizeof(want) - 1, want, sizeof(want) - 1);
	memset(buf, 0xaa, sizeof(buf));
	CHECK_UEQ(tftp_build_oack_for(buf, sizeof(want) - 2, &neg, 123456), 0);
	CHECK_UEQ(buf[sizeof(want) - 2], 0xaa);
	CHECK_UEQ(tftp_build_oack_for(buf, 2, &neg, 123456), 0);
	CHECK_UEQ(tftp_build_oack_for(buf, 0, &neg, 123456), 0);
}

/* What real boot firmware sends, and the OACK it must get back, byte for byte. */
static void test_firmware(void)
{
	struct tftp_negotiation neg;
	uint8_t buf[512];
	size_t n;

	/* UEFI PXE (EDK II): tsize first, then blksize and windowsize. */
	NEGOTIATE("tsize\0" "0\0" "blksize\0" "1468\0" "windowsize\0" "4\0", &lim_eth, &neg);
	CHECK_UEQ(neg.ignored, 0);
	CHECK_UEQ(neg.blksize, 1468);
	CHECK_UEQ(neg.windowsize, 4);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 1048576);
	static const uint8_t uefi[] = "\0\6" "tsize\0" "1048576\0" "blksize\0" "1468\0"
		"windowsize\0" "4\0";
	CHECK_MEM(buf, n, uefi, sizeof(uefi) - 1);

	/* U-Boot. */
	NEGOTIATE("timeout\0" "5\0" "tsize\0" "0\0" "blksize\0" "1468\0" "windowsize\0" "8\0",
		  &lim_eth, &neg);
	CHECK_UEQ(neg.ignored, 0);
	CHECK_UEQ(neg.timeout_s, 5);
	CHECK_UEQ(neg.windowsize, 8);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 7340032);
	static const uint8_t uboot[] = "\0\6" "timeout\0" "5\0" "tsize\0" "7340032\0"
		"blksize\0" "1468\0" "windowsize\0" "8\0";
	CHECK_MEM(buf, n, uboot, sizeof(uboot) - 1);

	/* GRUB. */
	NEGOTIATE("blksize\0" "1024\0" "tsize\0" "0\0", &lim_eth, &neg);
	CHECK_UEQ(neg.blksize, 1024);
	CHECK_UEQ(neg.windowsize, 1);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 2162688);
	static const uint8_t grub[] = "\0\6" "blksize\0" "1024\0" "tsize\0" "2162688\0";
	CHECK_MEM(buf, n, grub, sizeof(grub) - 1);

	/* The same UEFI request on a path whose MTU only allows 1432-byte blocks. */
	static const struct tftp_limits lim_small = { .max_blksize = 1432, .max_windowsize = 2 };
	NEGOTIATE("tsize\0" "0\0" "blksize\0" "1468\0" "windowsize\0" "4\0", &lim_small, &neg);
	n = tftp_build_oack_for(buf, sizeof(buf), &neg, 1);
	static const uint8_t uefi_small[] = "\0\6" "tsize\0" "1\0" "blksize\0" "1432\0"
		"windowsize\0" "2\0";
	CHECK_MEM(buf, n, uefi_small, sizeof(uefi_small) - 1);
}

int main(void)
{
	test_defaults();
	test_blksize();
	test_timeout();
	test_tsize();
	test_windowsize();
	test_unknown_case_duplicates();
	test_oack_fit();
	test_firmware();
	return check_done("test_options");
}

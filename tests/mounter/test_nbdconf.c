/* Unit tests of the .nbd parser (common/nbdconf.c), the partition table reader and the
 * filesystem sniffer (common/nbdprobe.c): good files map to the right libguestfs/libnbd
 * fields, every bad file gives its exact reason, partitions get the numbers Linux gives. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbdconf.h"
#include "nbdprobe.h"

static int failures, warnings;
static char last_warning[256];

static void on_warn(const char *msg, void *arg)
{
	(void)arg;
	snprintf(last_warning, sizeof(last_warning), "%s", msg);
	warnings++;
}

static void bad(const char *json, const char *reason)
{
	static struct nbdconf c;
	char err[NBDCONF_ERR_MAX] = "";
	if (nbdconf_parse(json, strlen(json), &c, err, sizeof(err), on_warn, NULL) == 0) {
		printf("FAIL accepted: %s\n", json);
		failures++;
	} else if (!strstr(err, reason)) {
		printf("FAIL reason for %s\n  got \"%s\"\n  want \"%s\"\n", json, err, reason);
		failures++;
	}
}

/* The whole error text, not a part of it. */
static void bad_exact(const char *json, const char *reason)
{
	static struct nbdconf c;
	char err[NBDCONF_ERR_MAX] = "";
	if (nbdconf_parse(json, strlen(json), &c, err, sizeof(err), on_warn, NULL) == 0) {
		printf("FAIL accepted: %s (url \"%s\")\n", json, c.url);
		failures++;
	} else if (strcmp(err, reason) != 0) {
		printf("FAIL reason for %s\n  got \"%s\"\n  want \"%s\"\n", json, err, reason);
		failures++;
	}
}

static const struct nbdconf *good(const char *json)
{
	static struct nbdconf c;
	char err[NBDCONF_ERR_MAX] = "";
	if (nbdconf_parse(json, strlen(json), &c, err, sizeof(err), on_warn, NULL) < 0) {
		printf("FAIL rejected: %s: %s\n", json, err);
		failures++;
	}
	return &c;
}

static void expect_str(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		printf("FAIL %s: got \"%s\" want \"%s\"\n", what, got, want);
		failures++;
	}
}

#define M2 "\"mounts\":[{\"partition\":2,\"mountpoint\":\"/\"},{\"partition\":1,\"mountpoint\":\"/boot\"}]"

static void test_good(void)
{
	const struct nbdconf *c = good("{\"url\":\"nbd://10.10.10.10:25000/server_root\"," M2 ",\"tftp_root\":\"/boot\"}");
	expect_str("server", c->server, "tcp:10.10.10.10:25000");
	expect_str("export", c->export_name, "server_root");
	expect_str("tftp_root", c->tftp_root, "/boot");
	if (c->nmounts != 2 || c->mounts[1].partition != 1 || c->port != 25000)
		printf("FAIL mounts\n"), failures++;
	c = good("{\"url\":\"nbd+unix:///my%20disk?socket=/run/nbd%2Fa.sock\"," M2 "}");
	expect_str("unix server", c->server, "unix:/run/nbd/a.sock");
	expect_str("decoded export", c->export_name, "my disk");
	expect_str("default tftp_root", c->tftp_root, "/");
	c = good("{\"url\":\"nbd://host.example\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"//boot/./\"}],"
		 "\"tftp_root\":\"/boot/pxe/\"}");
	expect_str("default port", c->server, "tcp:host.example:10809");
	expect_str("default export", c->export_name, "");
	expect_str("normalised mountpoint", c->mounts[0].mountpoint, "/boot");
	expect_str("normalised root", c->tftp_root, "/boot/pxe");
	c = good("{\"url\":\"NBD://[fd00::1]:99/x\"," M2 "}");
	expect_str("ipv6", c->server, "tcp:[fd00::1]:99");
	int w = warnings;
	good("{\"url\":\"nbd://h/e\"," M2 ",\"comment\":\"hello\"}");
	if (warnings != w + 1)
		printf("FAIL unknown key gave no warning\n"), failures++;
}

/* Leaves non-zero bytes where the next call's stack frames go, so a buffer that the
 * parser forgets to terminate shows as garbage instead of by luck as "". */
__attribute__((noinline)) static void dirty_stack(void)
{
	volatile char junk[16384];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)0xa5;
}

/* Each unknown key gives one warning that names it, escaped; the empty key too. */
static void test_unknown_keys(void)
{
	static const char *const cases[][2] = {
		{ "\"\":1", "mounts[0]: unknown key \"\" ignored" },
		{ "\"ab\\\"c\":1", "mounts[0]: unknown key \"ab\\x22c\" ignored" },
		{ "\"\\u00e9\":1", "mounts[0]: unknown key \"\\xc3\\xa9\" ignored" },
	};
	char json[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"url\":\"nbd://h/x\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/\",%s}]}",
			 cases[i][0]);
		int w = warnings;
		last_warning[0] = '\0';
		dirty_stack();
		good(json);
		if (warnings != w + 1)
			printf("FAIL %s: %d warnings, want 1\n", json, warnings - w), failures++;
		expect_str(json, last_warning, cases[i][1]);
	}
}

static void test_bad_json(void)
{
	char *big = malloc(10u << 20);
	static struct nbdconf c;
	char err[NBDCONF_ERR_MAX];
	memset(big, ' ', 10u << 20);
	if (nbdconf_parse(big, 10u << 20, &c, err, sizeof(err), NULL, NULL) == 0 || !strstr(err, "larger than 65536"))
		printf("FAIL 10 MB: %s\n", err), failures++;
	free(big);
	bad("", "the file is empty");
	bad("  \n\t ", "the file is empty");
	bad("{\"url\":", "not JSON: syntax error at line 1");
	bad("{\n\"url\": nbd }", "not JSON: syntax error at line 2");
	bad("[]", "top level is not a JSON object");
	bad("\"nbd://x/y\"", "top level is not a JSON object");
	bad("{} {}", "trailing data");
	if (nbdconf_parse("{\0}", 3, &c, err, sizeof(err), NULL, NULL) == 0 || !strstr(err, "NUL"))
		printf("FAIL NUL byte\n"), failures++;
}

/* cJSON turns \u0000 into a NUL that ends the C string: "nbd://h/x\u0000y" would be taken
 * as nbd://h/x. Refused wherever it is, keys too; an escaped backslash before u0000 is text. */
static void test_nul_escape(void)
{
	bad_exact("{\"url\":\"nbd://h/x\\u0000y\"," M2 "}",
		  "a \\u0000 escape at line 1 column 18: no key or value may contain NUL");
	bad_exact("{\"url\\u0000x\":\"nbd://h/x\"," M2 "}",
		  "a \\u0000 escape at line 1 column 6: no key or value may contain NUL");
	bad_exact("{\"url\":\"nbd://h/x\",\n \"mounts\":[{\"partition\":1,\"mountpoint\":\"/\",\"\\u0000\":1}]}",
		  "a \\u0000 escape at line 2 column 45: no key or value may contain NUL");
	/* an escaped backslash, then a real \u0000 */
	bad_exact("{\"url\":\"nbd://h/x\"," M2 ",\"tftp_root\":\"/a\\\\\\u0000\"}",
		  "a \\u0000 escape at line 1 column 118: no key or value may contain NUL");
	const struct nbdconf *c = good("{\"url\":\"nbd://h/x\"," M2 ",\"tftp_root\":\"/a\\\\u0000\"}");
	expect_str("escaped backslash before u0000", c->tftp_root, "/a\\u0000");
	c = good("{\"url\":\"nbd://h/x\"," M2 ",\"tftp_root\":\"/\\\"\\u0041\\\\\\u00e9\"}");
	expect_str("other escapes", c->tftp_root, "/\"A\\\xc3\xa9");
}

static void test_bad_fields(void)
{
	bad("{" M2 "}", "missing \"url\"");
	bad("{\"url\":5," M2 "}", "\"url\" is not a string");
	bad("{\"url\":\"nbd://h/e\",\"url\":\"nbd://h/f\"," M2 "}", "appears twice");
	bad("{\"url\":\"nbd://h/e\"}", "missing \"mounts\"");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":{}}", "\"mounts\" is not an array");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[]}", "\"mounts\" is empty");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[5]}", "mounts[0] is not an object");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"mountpoint\":\"/\"}]}", "mounts[0]: missing \"partition\"");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":\"1\",\"mountpoint\":\"/\"}]}", "not an integer");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1.5,\"mountpoint\":\"/\"}]}", "not an integer");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":0,\"mountpoint\":\"/\"}]}", "must be 1..128");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":129,\"mountpoint\":\"/\"}]}", "must be 1..128");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1}]}", "missing \"mountpoint\"");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":true}]}", "\"mountpoint\" is not a string");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"boot\"}]}", "is not an absolute path");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/a/../b\"}]}", "contains '..'");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/a\"},{\"partition\":2,\"mountpoint\":\"/a/\"}]}",
	    "appears twice");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/a\"},{\"partition\":1,\"mountpoint\":\"/b\"}]}",
	    "partition 1 is mounted twice");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/boot\"},{\"partition\":2,\"mountpoint\":\"/\"}]}",
	    "comes before its parent");
	bad("{\"url\":\"nbd://h/e\"," M2 ",\"tftp_root\":7}", "\"tftp_root\" is not a string");
	bad("{\"url\":\"nbd://h/e\"," M2 ",\"tftp_root\":\"boot\"}", "\"tftp_root\" is not an absolute path");
	bad("{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/boot\"}],\"tftp_root\":\"/etc\"}",
	    "is not below any mount point");
}

/* A config with n mounts, /m1 ... /mN. */
static const char *with_mounts(int n)
{
	static char json[4096];
	size_t o = (size_t)snprintf(json, sizeof(json), "{\"url\":\"nbd://h/e\",\"tftp_root\":\"/m1\",\"mounts\":[");
	for (int i = 1; i <= n && o < sizeof(json); i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, "%s{\"partition\":%d,\"mountpoint\":\"/m%d\"}",
				      i > 1 ? "," : "", i, i);
	if (o < sizeof(json))
		snprintf(json + o, sizeof(json) - o, "]}");
	return json;
}

/* The limits exactly: NBDCONF_MAX_MOUNTS mounts, NBDCONF_PATH_MAX - 1 bytes of path, and
 * NBDCONF_URL_MAX - 1 bytes of URL are taken; one more is refused, never cut to fit. */
static void test_limits(void)
{
	char json[4096], path[NBDCONF_PATH_MAX + 1];
	size_t n;
	const struct nbdconf *c = good(with_mounts(NBDCONF_MAX_MOUNTS));
	if (c->nmounts != NBDCONF_MAX_MOUNTS)
		printf("FAIL %d mounts read as %d\n", NBDCONF_MAX_MOUNTS, c->nmounts), failures++;
	bad_exact(with_mounts(NBDCONF_MAX_MOUNTS + 1), "\"mounts\" has more than 16 entries");
	/* "/" and 254 more bytes: 255, fits; one more is too long */
	path[0] = '/';
	memset(path + 1, 'p', NBDCONF_PATH_MAX - 1);
	path[NBDCONF_PATH_MAX - 1] = '\0';
	snprintf(json, sizeof(json), "{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/\"},"
		 "{\"partition\":2,\"mountpoint\":\"%s\"}]}", path);
	expect_str("255-byte mount point", good(json)->mounts[1].mountpoint, path);
	path[NBDCONF_PATH_MAX - 1] = 'p';
	path[NBDCONF_PATH_MAX] = '\0';
	snprintf(json, sizeof(json), "{\"url\":\"nbd://h/e\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/\"},"
		 "{\"partition\":2,\"mountpoint\":\"%s\"}]}", path);
	bad_exact(json, "mounts[1]: \"mountpoint\" is longer than 255 bytes");
	/* a URL of 1024 bytes (1023 fit) */
	n = (size_t)snprintf(json, sizeof(json), "{\"url\":\"nbd://h/");
	memset(json + n, 'u', NBDCONF_URL_MAX - 8);
	snprintf(json + n + NBDCONF_URL_MAX - 8, sizeof(json) - n - NBDCONF_URL_MAX + 8, "\"," M2 "}");
	bad_exact(json, "\"url\" is longer than 1023 bytes");
}

static void test_bad_urls(void)
{
	static const char *const cases[][2] = {
		{ "http://h/e", "not an NBD URI" },
		{ "file:///etc/passwd", "not an NBD URI" },
		{ "nbds://h/e", "TLS" },
		{ "nbd+vsock://1/e", "not an NBD URI" },
		{ "nbd://", "needs a host" },
		{ "nbd://h:0/e", "out of range" },
		{ "nbd://h:65536/e", "out of range" },
		{ "nbd://h:/e", "bad port" },
		{ "nbd://h:1x/e", "bad port" },
		{ "nbd://u@h/e", "user information" },
		{ "nbd://h/e?tls=on", "no query" },
		{ "nbd://h/e#f", "fragments" },
		{ "nbd://h/%zz", "bad %-escape" },
		{ "nbd://h/a%00b", "control character" },
		{ "nbd://h/a%0ab", "control character" },
		{ "nbd://h/a b", "must be %-encoded" },
		{ "nbd://h/a,b", "','" },
		{ "nbd://[fd00::1/e", "without ']'" },
		{ "nbd://[]/e", "bad IPv6 address length" },
		{ "nbd://h/a\\tb", "\"url\" contains a control character" },
		{ "nbd://h!/e", "bad character" },
		{ "nbd+unix:///e", "needs ?socket=" },
		{ "nbd+unix://h/e?socket=/s", "empty host" },
		{ "nbd+unix:///e?socket=rel", "must be absolute" },
		{ "nbd+unix:///e?socket=/s&x=1", "exactly one query parameter" },
	};
	char json[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json), "{\"url\":\"%s\"," M2 "}", cases[i][0]);
		bad(json, cases[i][1]);
	}
}

static void test_sniff(void)
{
	static uint8_t b[70000];
	bool mnt;
	memset(b, 0, sizeof(b));
	if (strcmp(nbdprobe_sniff_fs(b, sizeof(b), &mnt), "") != 0 || mnt)
		printf("FAIL zeros sniffed as a fs\n"), failures++;
	b[1024 + 56] = 0x53;
	b[1024 + 57] = 0xef;
	b[1024 + 0x60] = 0x40;
	if (strcmp(nbdprobe_sniff_fs(b, sizeof(b), &mnt), "ext4") != 0 || !mnt)
		printf("FAIL ext4\n"), failures++;
	/* A short buffer must never read past its end. */
	if (strcmp(nbdprobe_sniff_fs(b, 1024 + 57, &mnt), "") != 0)
		printf("FAIL short buffer\n"), failures++;
	/* An ext magic in a buffer that ends before the feature words (a partition that ends
	 * there): unrecognised, and no read past the end (exact-size heap buffer: ASan). */
	uint8_t *tail = malloc(1100);
	memcpy(tail, b, 1100);
	if (strcmp(nbdprobe_sniff_fs(tail, 1100, &mnt), "") != 0)
		printf("FAIL ext magic in a truncated superblock\n"), failures++;
	free(tail);
	/* FAT's name field alone is not FAT: the boot sector also ends in 55aa. */
	memset(b, 0, sizeof(b));
	memcpy(b + 54, "FAT16   ", 8);
	if (strcmp(nbdprobe_sniff_fs(b, sizeof(b), &mnt), "") != 0)
		printf("FAIL FAT16 name without 55aa\n"), failures++;
	b[510] = 0x55, b[511] = 0xaa;
	if (strcmp(nbdprobe_sniff_fs(b, sizeof(b), &mnt), "vfat") != 0 || !mnt)
		printf("FAIL FAT16\n"), failures++;
	memset(b, 0, sizeof(b));
	memcpy(b + 4086, "SWAPSPACE2", 10);
	if (strcmp(nbdprobe_sniff_fs(b, sizeof(b), &mnt), "swap") != 0 || mnt)
		printf("FAIL swap\n"), failures++;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The table reader on images in memory: what the probe finds on an NBD disk. */
static void test_image(void)
{
	static uint8_t img[64 * 512];
	struct nbdprobe_result r;
	char err[256];
	memset(img, 0, sizeof(img));
	img[510] = 0x55, img[511] = 0xaa;
	uint8_t *e = img + 446;                  /* 1: sectors 8-39, an ext4 superblock */
	e[4] = 0x83, put32(e + 8, 8), put32(e + 12, 32);
	e += 16;                                 /* 2: starts past the end of the disk */
	e[4] = 0x0c, put32(e + 8, 1000), put32(e + 12, 8);
	img[8 * 512 + 1024 + 56] = 0x53, img[8 * 512 + 1024 + 57] = 0xef, img[8 * 512 + 1024 + 0x60] = 0x40;
	if (nbdprobe_parse_image(img, sizeof(img), &r, err, sizeof(err)) != 0 || strcmp(r.table, "mbr") ||
	    r.nparts != 2 || r.parts[0].start != 8 * 512 || strcmp(r.parts[0].fs, "ext4") ||
	    !r.parts[0].mountable || strcmp(r.parts[1].fs, "(past the end of the disk)") || r.parts[1].mountable)
		printf("FAIL mbr image: %s nparts=%d fs=%s\n", err, r.nparts, r.parts[0].fs), failures++;
	/* a protective MBR whose GPT entries lie past the end: refused with a reason */
	memset(img, 0, sizeof(img));
	img[510] = 0x55, img[511] = 0xaa, img[446 + 4] = 0xee;
	memcpy(img + 512, "EFI PART", 8);
	put32(img + 512 + 72, 5000), put32(img + 512 + 80, 4), put32(img + 512 + 84, 128);
	err[0] = '\0';
	if (nbdprobe_parse_image(img, sizeof(img), &r, err, sizeof(err)) == 0 || !strstr(err, "past the end"))
		printf("FAIL gpt past the end: %s\n", err), failures++;
	if (nbdprobe_parse_image(img, 100, &r, err, sizeof(err)) != 0 || strcmp(r.table, "none") || r.nparts)
		printf("FAIL image shorter than a sector\n"), failures++;
}

/* MBR images for the numbering of logical partitions, which must be the kernel's
 * (block/partitions/msdos.c: msdos_partition, parse_extended): a .nbd names /dev/sdaN.
 * How the expectations were obtained: NBDPROBE_DUMP_DIR=DIR writes every image to
 * DIR/NAME.img, and `partx -s -g -o NR,START,SECTORS DIR/NAME.img` (util-linux 2.38.1;
 * libblkid follows the kernel's rules) printed exactly the partitions listed for each.
 * `sfdisk -d` agrees on chain, empty-first-ebr, link-in-slot-1 and zero-type, but libfdisk
 * ignores data in EBR slots 3-4 and a second extended partition, which the kernel reads.
 * The disk is 4096 sectors; p1 is sectors 64-127, the extended p2 256-4095. */
enum { DISK_SECTORS = 4096 };
static uint8_t disk[DISK_SECTORS * 512];

struct want_part {
	int number;
	uint32_t start, nsect;     /* sectors */
};

static void put_entry(uint32_t table_lba, int slot, uint8_t type, uint32_t start, uint32_t nsect)
{
	uint8_t *table = disk + (size_t)table_lba * 512, *e = table + 446 + 16 * slot;
	e[4] = type;
	put32(e + 8, start);
	put32(e + 12, nsect);
	table[510] = 0x55, table[511] = 0xaa;
}

static void new_disk(uint8_t ext_type, uint32_t ext_nsect)
{
	memset(disk, 0, sizeof(disk));
	put_entry(0, 0, 0x83, 64, 64);
	put_entry(0, 1, ext_type, 256, ext_nsect);
}

static void dump_disk(const char *name)
{
	const char *dir = getenv("NBDPROBE_DUMP_DIR");
	char path[512];
	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s.img", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(disk, sizeof(disk), 1, f) != 1 || fclose(f) != 0)
		printf("FAIL cannot write %s\n", path), failures++;
}

/* The partitions found are exactly want, in any order. */
static void expect_parts(const char *name, const struct want_part *want, int n)
{
	static struct nbdprobe_result r;
	char err[256] = "";
	dump_disk(name);
	if (nbdprobe_parse_image(disk, sizeof(disk), &r, err, sizeof(err)) != 0 || strcmp(r.table, "mbr")) {
		printf("FAIL %s: %s table=%s\n", name, err, r.table), failures++;
		return;
	}
	int before = failures;
	if (r.nparts != n)
		printf("FAIL %s: %d partitions, want %d\n", name, r.nparts, n), failures++;
	for (int i = 0; i < n; i++) {
		int k = 0;
		while (k < r.nparts && r.parts[k].number != want[i].number)
			k++;
		if (k == r.nparts || r.parts[k].start != (uint64_t)want[i].start * 512 ||
		    r.parts[k].size != (uint64_t)want[i].nsect * 512)
			printf("FAIL %s: partition %d is not at %u+%u\n", name, want[i].number,
			       want[i].start, want[i].nsect), failures++;
	}
	for (int i = 0; failures > before && i < r.nparts; i++)
		printf("  %s has %d at %llu+%llu\n", name, r.parts[i].number,
		       (unsigned long long)(r.parts[i].start / 512), (unsigned long long)(r.parts[i].size / 512));
}

static void test_logical_numbering(void)
{
	/* The usual chain: data in slot 1, link in slot 2; links relative to the extended
	 * partition (256), data relative to its EBR. */
	new_disk(0x05, 3840);
	put_entry(256, 0, 0x83, 64, 64);
	put_entry(256, 1, 0x05, 512, 1024);
	put_entry(768, 0, 0x83, 64, 256);
	static const struct want_part chain[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 5, 320, 64 }, { 6, 832, 256 } };
	expect_parts("chain", chain, 4);

	/* The first EBR holds only a link: the first data partition is still 5 (was 6). */
	new_disk(0x05, 3840);
	put_entry(256, 1, 0x05, 512, 1024);
	put_entry(768, 0, 0x83, 64, 256);
	static const struct want_part empty_first[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 5, 832, 256 } };
	expect_parts("empty-first-ebr", empty_first, 3);

	/* DR-DOS order: the link in slot 1, the data in slot 2. */
	new_disk(0x0f, 3840);
	put_entry(256, 0, 0x0f, 512, 1024);
	put_entry(256, 1, 0x83, 64, 128);
	put_entry(768, 0, 0x83, 64, 256);
	static const struct want_part link_first[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 5, 320, 128 }, { 6, 832, 256 } };
	expect_parts("link-in-slot-1", link_first, 4);

	/* Slots 3 and 4 count when inside both the EBR's extent and the extended partition:
	 * EBR 256: slot 3 at 384 counts, slot 4 ends past the disk; EBR 768 (extent 1024):
	 * slot 3 ends past the extent, slot 4 at 1024 counts. */
	new_disk(0x85, 3840);
	put_entry(256, 0, 0x83, 64, 64);
	put_entry(256, 1, 0x05, 512, 1024);
	put_entry(256, 2, 0x83, 128, 64);
	put_entry(256, 3, 0x83, 4000, 200);
	put_entry(768, 0, 0x83, 64, 128);
	put_entry(768, 2, 0x83, 512, 600);
	put_entry(768, 3, 0x07, 256, 256);
	static const struct want_part four_slots[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 5, 320, 64 },
						       { 6, 384, 64 }, { 7, 832, 128 }, { 8, 1024, 256 } };
	expect_parts("slots-3-and-4", four_slots, 6);

	/* A type byte of 0 with sectors is a partition to Linux, primary (3) or logical (5). */
	new_disk(0x05, 3840);
	put_entry(0, 2, 0x00, 128, 64);
	put_entry(256, 0, 0x00, 64, 64);
	put_entry(256, 1, 0x05, 512, 1024);
	put_entry(768, 0, 0x83, 64, 256);
	static const struct want_part zero_type[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 3, 128, 64 },
						      { 5, 320, 64 }, { 6, 832, 256 } };
	expect_parts("zero-type", zero_type, 5);

	/* Two extended partitions: the second one's logicals number on from the first's. */
	new_disk(0x05, 1792);
	put_entry(0, 2, 0x0f, 2048, 2048);
	put_entry(256, 0, 0x83, 64, 128);
	put_entry(2048, 0, 0x83, 64, 256);
	static const struct want_part two_ext[] = { { 1, 64, 64 }, { 2, 256, 1792 }, { 3, 2048, 2048 },
						    { 5, 320, 128 }, { 6, 2112, 256 } };
	expect_parts("two-extended", two_ext, 5);

	/* A link backwards to an EBR not read yet is followed, as Linux follows it: fdisk
	 * chains a partition added in an earlier gap after the others (partx -s: 5 at 320,
	 * 6 at 2368, 7 at 1344). */
	new_disk(0x05, 3840);
	put_entry(256, 0, 0x83, 64, 64);
	put_entry(256, 1, 0x05, 2048, 512);
	put_entry(2304, 0, 0x83, 64, 128);
	put_entry(2304, 1, 0x05, 1024, 512);
	put_entry(1280, 0, 0x83, 64, 128);
	static const struct want_part backwards[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 5, 320, 64 },
						      { 6, 2368, 128 }, { 7, 1344, 128 } };
	expect_parts("link-backwards", backwards, 5);

	/* An EBR that links to itself ends the chain: its partition counts once. */
	new_disk(0x05, 3840);
	put_entry(256, 0, 0x83, 64, 64);
	put_entry(256, 1, 0x05, 0, 3840);
	static const struct want_part self[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 5, 320, 64 } };
	expect_parts("link-to-itself", self, 3);

	/* A link entry without sectors is no link (Linux skips it): the chain ends there. */
	new_disk(0x05, 3840);
	put_entry(256, 0, 0x83, 64, 64);
	put_entry(256, 1, 0x05, 512, 0);
	put_entry(768, 0, 0x83, 64, 256);
	expect_parts("empty-link", self, 3);

	/* Slot 3 ending exactly at its EBR's extent counts: EBR 768 (extent 1024), 1280+512.
	 * Slots 3 and 4 of an EBR whose extent runs past the extended partition count only
	 * when they end inside the extended partition: EBR 3584 (extent 1024; the extended
	 * partition ends at 4096) holds 3648+64, in slot 3 3712+128 (inside), and in slot 4
	 * 3984+200 (past 4096: not counted). partx -s agrees. */
	new_disk(0x05, 3840);
	put_entry(256, 0, 0x83, 64, 64);
	put_entry(256, 1, 0x05, 512, 1024);
	put_entry(768, 0, 0x83, 64, 128);
	put_entry(768, 1, 0x05, 3328, 1024);
	put_entry(768, 2, 0x83, 512, 512);
	put_entry(3584, 0, 0x83, 64, 64);
	put_entry(3584, 2, 0x83, 128, 128);
	put_entry(3584, 3, 0x83, 400, 200);
	static const struct want_part bounds[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 5, 320, 64 },
						   { 6, 832, 128 }, { 7, 1280, 512 }, { 8, 3648, 64 },
						   { 9, 3712, 128 } };
	expect_parts("slot-bounds", bounds, 7);

	/* A link back to the first EBR ends the chain instead of looping. */
	new_disk(0x05, 3840);
	put_entry(256, 0, 0x83, 64, 64);
	put_entry(256, 1, 0x05, 512, 1024);
	put_entry(768, 0, 0x83, 64, 256);
	put_entry(768, 1, 0x05, 0, 3840);
	expect_parts("link-back", chain, 4);
}

/* A boot indicator other than 0 or 0x80 means the sector is no partition table (a FAT boot
 * sector, say) to the kernel (msdos_partition) and libblkid: partx -s on these bytes says
 * "failed to read partition table" (libfdisk's sfdisk -d still lists them). With 0x80 it
 * is a table again: partx -s gives 1, 2, 5. */
static void test_boot_indicator(void)
{
	static struct nbdprobe_result r;
	char err[256] = "";
	new_disk(0x05, 3840);
	put_entry(256, 0, 0x83, 64, 64);
	disk[446 + 16] = 0x12;
	dump_disk("bad-boot-flag");
	if (nbdprobe_parse_image(disk, sizeof(disk), &r, err, sizeof(err)) != 0 || strcmp(r.table, "none") || r.nparts)
		printf("FAIL bad boot indicator: %s table=%s nparts=%d\n", err, r.table, r.nparts), failures++;
	disk[446 + 16] = 0x81;                    /* not 0x80 either: still no table */
	if (nbdprobe_parse_image(disk, sizeof(disk), &r, err, sizeof(err)) != 0 || strcmp(r.table, "none") || r.nparts)
		printf("FAIL boot indicator 0x81: %s table=%s nparts=%d\n", err, r.table, r.nparts), failures++;
	disk[446 + 16] = 0x80;
	static const struct want_part flagged[] = { { 1, 64, 64 }, { 2, 256, 3840 }, { 5, 320, 64 } };
	expect_parts("boot-flag-0x80", flagged, 3);
}

/* Three data entries per EBR in a long chain: numbers stop at NBDPROBE_MAX_PARTS (128, the
 * highest a .nbd can name) and never run past it. Not compared with Linux, whose limit
 * depends on the device (256 for sd). */
static void test_logical_limit(void)
{
	static struct nbdprobe_result r;
	char err[256] = "";
	new_disk(0x05, 3840);
	for (uint32_t k = 0; k < 60; k++) {
		uint32_t ebr = 256 + 16 * k;
		put_entry(ebr, 0, 0x83, 1, 1);
		put_entry(ebr, 2, 0x83, 2, 1);
		put_entry(ebr, 3, 0x83, 3, 1);
		put_entry(ebr, 1, 0x05, 16 * (k + 1), 16);
	}
	if (nbdprobe_parse_image(disk, sizeof(disk), &r, err, sizeof(err)) != 0)
		printf("FAIL long chain: %s\n", err), failures++;
	int highest = 0;
	for (int i = 0; i < r.nparts; i++)
		highest = r.parts[i].number > highest ? r.parts[i].number : highest;
	if (r.nparts != 2 + 124 || highest != NBDPROBE_MAX_PARTS)
		printf("FAIL long chain: %d partitions up to %d\n", r.nparts, highest), failures++;
}

/* nbdconf_read_fd takes a regular file only: a pipe (or FIFO) holding a valid config is
 * refused, not read. */
static void test_read_fd(void)
{
	static struct nbdconf c;
	static const char conf[] = "{\"url\":\"nbd://h/e\"," M2 "}";
	char err[NBDCONF_ERR_MAX] = "";
	int p[2];
	if (pipe(p) < 0 || write(p[1], conf, sizeof(conf) - 1) != (ssize_t)(sizeof(conf) - 1)) {
		printf("FAIL pipe\n"), failures++;
		return;
	}
	close(p[1]);
	if (nbdconf_read_fd(p[0], &c, err, sizeof(err), NULL, NULL) == 0 || strcmp(err, "not a regular file") != 0)
		printf("FAIL a pipe read as a .nbd file: \"%s\"\n", err), failures++;
	close(p[0]);
	FILE *f = tmpfile();
	if (!f || fwrite(conf, sizeof(conf) - 1, 1, f) != 1 || fflush(f) != 0 ||
	    nbdconf_read_fd(fileno(f), &c, err, sizeof(err), NULL, NULL) != 0)
		printf("FAIL a regular file: %s\n", err), failures++;
	if (f)
		fclose(f);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* A protective MBR and a GPT header at LBA 1 whose count entries of esize bytes are at
 * LBA lba; entry k (from 1) is set with gpt_entry(). */
static void new_gpt(uint64_t lba, uint32_t count, uint32_t esize)
{
	memset(disk, 0, sizeof(disk));
	disk[510] = 0x55, disk[511] = 0xaa, disk[446 + 4] = 0xee;
	put32(disk + 446 + 8, 1), put32(disk + 446 + 12, DISK_SECTORS - 1);
	memcpy(disk + 512, "EFI PART", 8);
	put64(disk + 512 + 72, lba);
	put32(disk + 512 + 80, count);
	put32(disk + 512 + 84, esize);
}

static void gpt_entry(int k, uint64_t first, uint64_t last)
{
	uint8_t *e = disk + 2 * 512 + (size_t)(k - 1) * 128;
	memset(e, 0x11, 16);                       /* any type GUID but zero: in use */
	put64(e + 32, first);
	put64(e + 40, last);
}

static void expect_gpt(const char *name, size_t len, int number, uint64_t start, uint64_t nsect)
{
	static struct nbdprobe_result r;
	char err[256] = "";
	if (nbdprobe_parse_image(disk, len, &r, err, sizeof(err)) != 0 || strcmp(r.table, "gpt") ||
	    r.nparts != 1 || r.parts[0].number != number || r.parts[0].start != start * 512 ||
	    r.parts[0].size != nsect * 512)
		printf("FAIL %s: %s table=%s nparts=%d first=%d\n", name, err, r.table, r.nparts,
		       r.nparts ? r.parts[0].number : 0), failures++;
}

static void expect_gpt_refused(const char *name, const char *reason)
{
	static struct nbdprobe_result r;
	char err[256] = "";
	if (nbdprobe_parse_image(disk, sizeof(disk), &r, err, sizeof(err)) == 0 || !strstr(err, reason))
		printf("FAIL %s: \"%s\", want \"%s\"\n", name, err, reason), failures++;
}

/* GPT: unused entries (zero type) and entries that end before they start are no
 * partitions; the entry count is read up to NBDPROBE_MAX_PARTS only (a header may claim
 * more than the disk holds); entry sizes and the entry array's place are checked. */
static void test_gpt(void)
{
	new_gpt(2, 4, 128);
	gpt_entry(3, 40, 79);
	expect_gpt("one entry of four", sizeof(disk), 3, 40, 40);
	gpt_entry(2, 100, 50);                     /* last < first */
	expect_gpt("backwards entry", sizeof(disk), 3, 40, 40);

	/* 1000 entries claimed, the disk ends after 128 of them (LBA 2-33 + 6 sectors) */
	new_gpt(2, 1000, 128);
	gpt_entry(1, 34, 39);
	expect_gpt("count above the limit", 40 * 512, 1, 34, 6);

	new_gpt(2, 4, 64);
	expect_gpt_refused("entry size 64", "GPT entry size 64 is not valid");
	/* LBA 2^55 + 2: times 512 it wraps to byte 1024, where valid entries are */
	new_gpt((1ull << 55) + 2, 4, 128);
	gpt_entry(1, 40, 79);
	expect_gpt_refused("entry LBA that wraps", "GPT entries lie past the end of the disk");
}

/* A partition that starts exactly where the disk ends is past its end, not empty. */
static void test_partition_at_the_end(void)
{
	static struct nbdprobe_result r;
	char err[256] = "";
	new_disk(0x05, 3840);
	put_entry(0, 2, 0x83, DISK_SECTORS, 8);
	if (nbdprobe_parse_image(disk, sizeof(disk), &r, err, sizeof(err)) != 0 || r.nparts != 3 ||
	    strcmp(r.parts[2].fs, "(past the end of the disk)") || r.parts[2].mountable)
		printf("FAIL partition at the end: %s nparts=%d fs=\"%s\"\n", err, r.nparts,
		       r.nparts > 2 ? r.parts[2].fs : ""), failures++;
}

/* What --check-config and the mounter refuse before a launch. */
static void test_check_mounts(void)
{
	static struct nbdconf c;
	static struct nbdprobe_result r;
	char err[256];
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.nmounts = 1;
	c.mounts[0].partition = 1;
	snprintf(r.table, sizeof(r.table), "mbr");
	r.size = 1 << 20;
	r.nparts = 1;
	r.parts[0] = (struct nbdprobe_part){ .number = 1, .start = 4096, .size = 8192, .mountable = true };
	snprintf(r.parts[0].fs, sizeof(r.parts[0].fs), "ext4");
	if (nbdprobe_check_mounts(&c, &r, err, sizeof(err)) != 0)
		printf("FAIL check_mounts: %s\n", err), failures++;
	r.parts[0].mountable = false;
	snprintf(r.parts[0].fs, sizeof(r.parts[0].fs), "swap");
	err[0] = '\0';
	if (nbdprobe_check_mounts(&c, &r, err, sizeof(err)) == 0 ||
	    strcmp(err, "partition 1 holds swap, not a mountable filesystem") != 0)
		printf("FAIL check_mounts swap: \"%s\"\n", err), failures++;
	/* start + size past 2^64: wraps to a small end, still past the end of the disk */
	r.parts[0] = (struct nbdprobe_part){ .number = 1, .start = UINT64_MAX - 511, .size = 1024,
					     .mountable = true };
	err[0] = '\0';
	if (nbdprobe_check_mounts(&c, &r, err, sizeof(err)) == 0 ||
	    strcmp(err, "partition 1 extends past the end of the disk") != 0)
		printf("FAIL check_mounts wrap: \"%s\"\n", err), failures++;
}

static void test_paths(void)
{
	if (!nbdconf_path_within("/boot/x", "/boot") || nbdconf_path_within("/bootx", "/boot") ||
	    !nbdconf_path_within("/boot", "/boot") || !nbdconf_path_within("/a", "/"))
		printf("FAIL path_within\n"), failures++;
}

int main(void)
{
	test_good();
	test_unknown_keys();
	test_bad_json();
	test_nul_escape();
	test_bad_fields();
	test_bad_urls();
	test_limits();
	test_read_fd();
	test_sniff();
	test_image();
	test_logical_numbering();
	test_logical_limit();
	test_boot_indicator();
	test_gpt();
	test_partition_at_the_end();
	test_check_mounts();
	test_paths();
	printf("%s (%d failures)\n", failures ? "FAILED" : "ALL OK", failures);
	return failures ? 1 : 0;
}

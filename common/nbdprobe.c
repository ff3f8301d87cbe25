/* NBD pre-flight: libnbd's asynchronous API driven by poll() with one deadline for the
 * whole probe, so a silent server costs the deadline and never a hang. The partition
 * table and filesystem signatures are read from disk bytes, which are hostile: every
 * offset and count is checked against the disk size before it is used. */
#include "nbdprobe.h"

#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECTOR 512u
#define GPT_MAX_ENTRY_SIZE 1024u
#define MAX_LOGICAL 64

struct probe {
	struct nbd_handle *h;
	const uint8_t *image;   /* instead of h: a disk image in memory (nbdprobe_parse_image) */
	int64_t deadline_ms;
	uint64_t size;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int nbd_fail(struct probe *p, const char *what)
{
	const char *e = nbd_get_error();
	return fail(p->err, p->errlen, "%s: %s", what, e && *e ? e : "unknown libnbd error");
}

/* One poll round on the handle's socket; -1 on timeout or a dead handle. */
static int step(struct probe *p, const char *what)
{
	int fd = nbd_aio_get_fd(p->h);
	unsigned dir = nbd_aio_get_direction(p->h);
	struct pollfd pfd = { .fd = fd, .events = 0 };
	if (fd < 0)
		return nbd_fail(p, what);
	if (dir & LIBNBD_AIO_DIRECTION_READ)
		pfd.events |= POLLIN;
	if (dir & LIBNBD_AIO_DIRECTION_WRITE)
		pfd.events |= POLLOUT;
	int64_t left = p->deadline_ms - now_ms();
	if (left <= 0)
		return fail(p->err, p->errlen, "%s: no answer from the NBD server within the deadline", what);
	int n = poll(&pfd, 1, (int)left);
	if (n < 0 && errno != EINTR)
		return fail(p->err, p->errlen, "%s: poll: %s", what, strerror(errno));
	if (n <= 0)
		return 0;
	int rc = 0;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
		rc = nbd_aio_notify_read(p->h);
	else if (pfd.revents & POLLOUT)
		rc = nbd_aio_notify_write(p->h);
	return rc < 0 ? nbd_fail(p, what) : 0;
}

static int wait_connected(struct probe *p)
{
	while (nbd_aio_is_connecting(p->h))
		if (step(p, "connect") < 0)
			return -1;
	if (!nbd_aio_is_ready(p->h))
		return nbd_fail(p, "connect");
	return 0;
}

static int read_at(struct probe *p, void *buf, size_t len, uint64_t off)
{
	if (off > p->size || len > p->size - off)
		return fail(p->err, p->errlen, "read of %zu bytes at %llu is past the end of the disk",
			    len, (unsigned long long)off);
	if (p->image) {
		memcpy(buf, p->image + off, len);
		return 0;
	}
	int64_t cookie = nbd_aio_pread(p->h, buf, len, off, NBD_NULL_COMPLETION, 0);
	if (cookie < 0)
		return nbd_fail(p, "read");
	for (;;) {
		int r = nbd_aio_command_completed(p->h, (uint64_t)cookie);
		if (r == 1)
			return 0;
		if (r < 0)
			return nbd_fail(p, "read");
		if (step(p, "read") < 0)
			return -1;
	}
}

static int connect_conf(struct probe *p, const struct nbdconf *c)
{
	char port[8];
	p->h = nbd_create();
	if (!p->h)
		return nbd_fail(p, "nbd_create");
	if (nbd_set_export_name(p->h, c->export_name) < 0)
		return nbd_fail(p, "export name");
	int rc;
	if (c->transport == NBDCONF_UNIX) {
		rc = nbd_aio_connect_unix(p->h, c->socket);
	} else {
		snprintf(port, sizeof(port), "%u", c->port);
		rc = nbd_aio_connect_tcp(p->h, c->host, port);
	}
	if (rc < 0)
		return nbd_fail(p, "connect");
	if (wait_connected(p) < 0)
		return -1;
	int64_t sz = nbd_get_size(p->h);
	if (sz < 0)
		return nbd_fail(p, "size");
	p->size = (uint64_t)sz;
	return 0;
}

static void probe_close(struct probe *p)
{
	if (p->h)
		nbd_close(p->h);
	p->h = NULL;
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const uint8_t *b)
{
	return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

static int add_part(struct nbdprobe_result *r, int number, uint64_t start_lba, uint64_t nsect)
{
	if (r->nparts >= NBDPROBE_MAX_PARTS || start_lba > UINT64_MAX / SECTOR || nsect > UINT64_MAX / SECTOR)
		return 0;
	struct nbdprobe_part *pt = &r->parts[r->nparts++];
	memset(pt, 0, sizeof(*pt));
	pt->number = number;
	pt->start = start_lba * SECTOR;
	pt->size = nsect * SECTOR;
	return 0;
}

static bool is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Where the walk of an EBR chain is. Links give their start relative to the extended
 * partition, data entries relative to the EBR that holds them. */
struct ebr_pos {
	uint64_t ext_lba, ext_nsect;    /* the primary extended partition */
	uint64_t off, nsect;            /* this EBR and the extent its link gave it */
};

/* Entries 3 and 4 of an EBR often hold garbage: like Linux, they count only when they lie
 * inside both this EBR's extent and the extended partition. */
static bool inside_ebr(const struct ebr_pos *at, uint64_t start, uint64_t nsect)
{
	return start + nsect <= at->nsect && at->off + start + nsect <= at->ext_nsect;
}

/* The data partitions of one EBR, numbered on from *number as Linux does
 * (block/partitions/msdos.c, parse_extended): every entry with sectors that is not a link,
 * whatever its type byte, in slot order. Numbers stop at NBDPROBE_MAX_PARTS, the highest a
 * .nbd file can name. */
static void add_logicals(struct nbdprobe_result *r, const uint8_t *ebr, const struct ebr_pos *at,
			 int *number)
{
	for (int i = 0; i < 4 && *number <= NBDPROBE_MAX_PARTS; i++) {
		const uint8_t *e = ebr + 446 + 16 * i;
		uint64_t start = le32(e + 8), nsect = le32(e + 12);
		if (nsect == 0 || is_extended(e[4]))
			continue;
		if (i >= 2 && !inside_ebr(at, start, nsect))
			continue;
		add_part(r, (*number)++, at->ext_lba + at->off + start, nsect);
	}
}

/* The link to the next EBR: the first extended-type entry with sectors, or NULL. */
static const uint8_t *next_link(const uint8_t *ebr)
{
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = ebr + 446 + 16 * i;
		if (is_extended(e[4]) && le32(e + 12) != 0)
			return e;
	}
	return NULL;
}

/* Logical partitions: the chain of EBRs inside one extended partition. Links may point
 * backwards, as Linux follows them (fdisk puts a partition added in an earlier gap after the
 * others in the chain); a link to an EBR already read would loop, and ends the chain. At most
 * MAX_LOGICAL links. */
static int walk_ebr(struct probe *p, struct nbdprobe_result *r, const uint8_t *ext, int *number)
{
	uint8_t s[SECTOR];
	struct ebr_pos at = { .ext_lba = le32(ext + 8), .ext_nsect = le32(ext + 12) };
	at.nsect = at.ext_nsect;
	uint64_t seen[MAX_LOGICAL];
	for (int link = 0; link < MAX_LOGICAL; link++) {
		if (read_at(p, s, sizeof(s), (at.ext_lba + at.off) * SECTOR) < 0)
			return -1;
		if (s[510] != 0x55 || s[511] != 0xaa)
			return 0;
		seen[link] = at.off;
		add_logicals(r, s, &at, number);
		const uint8_t *l = next_link(s);
		if (!l)
			return 0;
		at.off = le32(l + 8);
		at.nsect = le32(l + 12);
		for (int i = 0; i <= link; i++)
			if (seen[i] == at.off)
				return 0;
	}
	return 0;
}

static int read_gpt(struct probe *p, struct nbdprobe_result *r)
{
	uint8_t h[SECTOR];
	if (read_at(p, h, sizeof(h), SECTOR) < 0)
		return -1;
	if (memcmp(h, "EFI PART", 8) != 0)
		return fail(p->err, p->errlen, "protective MBR but no GPT header at LBA 1");
	uint64_t lba = le64(h + 72);
	uint32_t count = le32(h + 80), esize = le32(h + 84);
	if (esize < 128 || esize > GPT_MAX_ENTRY_SIZE || esize % 8)
		return fail(p->err, p->errlen, "GPT entry size %u is not valid", esize);
	if (count > NBDPROBE_MAX_PARTS)
		count = NBDPROBE_MAX_PARTS;
	if (lba > p->size / SECTOR)
		return fail(p->err, p->errlen, "GPT entries lie past the end of the disk");
	uint8_t *ents = calloc(count ? count : 1, esize);
	if (!ents)
		return fail(p->err, p->errlen, "out of memory");
	int rc = read_at(p, ents, (size_t)count * esize, lba * SECTOR);
	for (uint32_t i = 0; rc == 0 && i < count; i++) {
		const uint8_t *e = ents + (size_t)i * esize;
		static const uint8_t zero[16];
		uint64_t first = le64(e + 32), last = le64(e + 40);
		if (memcmp(e, zero, 16) != 0 && last >= first)
			add_part(r, (int)i + 1, first, last - first + 1);
	}
	free(ents);
	snprintf(r->table, sizeof(r->table), "gpt");
	return rc;
}

/* Linux (msdos_partition) and libblkid take a sector with 55aa for a partition table only
 * when every boot indicator is 0 or 0x80; otherwise it is, say, the boot sector of a FAT
 * filesystem without a table, whose code bytes would read as partitions. */
static bool boot_flags_valid(const uint8_t *mbr)
{
	for (int i = 0; i < 4; i++) {
		uint8_t flag = mbr[446 + 16 * i];
		if (flag != 0 && flag != 0x80)
			return false;
	}
	return true;
}

static int read_table(struct probe *p, struct nbdprobe_result *r)
{
	uint8_t s[SECTOR];
	snprintf(r->table, sizeof(r->table), "none");
	if (p->size < SECTOR)
		return 0;
	if (read_at(p, s, sizeof(s), 0) < 0)
		return -1;
	if (s[510] != 0x55 || s[511] != 0xaa)
		return 0;
	for (int i = 0; i < 4; i++)
		if (s[446 + 16 * i + 4] == 0xee)
			return read_gpt(p, r);
	if (!boot_flags_valid(s))
		return 0;
	snprintf(r->table, sizeof(r->table), "mbr");
	int logical = 5;        /* one count across every extended partition, as in Linux */
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = s + 446 + 16 * i;
		if (le32(e + 12) == 0)
			continue;       /* Linux skips only empty entries, whatever the type byte */
		add_part(r, i + 1, le32(e + 8), le32(e + 12));
		if (is_extended(e[4]) && walk_ebr(p, r, e, &logical) < 0)
			return -1;
	}
	return 0;
}

static bool at(const uint8_t *b, size_t len, size_t off, const void *sig, size_t n)
{
	return off + n <= len && memcmp(b + off, sig, n) == 0;
}

static const char *ext_kind(const uint8_t *sb)
{
	uint32_t compat = le32(sb + 0x5c), incompat = le32(sb + 0x60);
	if (incompat & (0x40 | 0x80 | 0x200))   /* extents, 64bit, flex_bg */
		return "ext4";
	return (compat & 0x4) ? "ext3" : "ext2";
}

const char *nbdprobe_sniff_fs(const uint8_t *b, size_t len, bool *mountable)
{
	static const uint8_t f2fs[4] = { 0x10, 0x20, 0xf5, 0xf2 }, luks[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
	*mountable = true;
	/* ext is told apart by its feature words, which end at superblock offset 0x64 */
	if (at(b, len, 1024 + 56, "\x53\xef", 2) && len >= 1024 + 0x64)
		return ext_kind(b + 1024);
	if (at(b, len, 0, "XFSB", 4))
		return "xfs";
	if (at(b, len, 3, "NTFS    ", 8))
		return "ntfs";
	if (at(b, len, 3, "EXFAT   ", 8))
		return "exfat";
	if (at(b, len, 510, "\x55\xaa", 2) &&
	    (at(b, len, 82, "FAT32   ", 8) || at(b, len, 54, "FAT16   ", 8) || at(b, len, 54, "FAT12   ", 8) ||
	     at(b, len, 54, "FAT     ", 8)))
		return "vfat";
	if (at(b, len, 0, "hsqs", 4))
		return "squashfs";
	if (at(b, len, 1024, f2fs, 4))
		return "f2fs";
	if (at(b, len, 1024, "H+", 2) || at(b, len, 1024, "HX", 2))
		return "hfsplus";
	if (at(b, len, 32769, "CD001", 5))
		return "iso9660";
	if (at(b, len, 65536 + 64, "_BHRfS_M", 8))
		return "btrfs";
	*mountable = false;
	if (at(b, len, 4086, "SWAPSPACE2", 10) || at(b, len, 4086, "SWAP-SPACE", 10))
		return "swap";
	if (at(b, len, 0, luks, 6))
		return "crypto_LUKS";
	if (at(b, len, 512, "LABELONE", 8))
		return "LVM2_member";
	return "";
}

static int sniff_parts(struct probe *p, struct nbdprobe_result *r)
{
	enum { SNIFF = 65536 + 4096 };     /* reaches the btrfs superblock */
	uint8_t *buf = malloc(SNIFF);
	if (!buf)
		return fail(p->err, p->errlen, "out of memory");
	for (int i = 0; i < r->nparts; i++) {
		struct nbdprobe_part *pt = &r->parts[i];
		if (pt->start >= p->size) {
			snprintf(pt->fs, sizeof(pt->fs), "(past the end of the disk)");
			continue;
		}
		uint64_t avail = p->size - pt->start;
		size_t n = (size_t)(pt->size < avail ? pt->size : avail);
		if (n > SNIFF)
			n = SNIFF;
		if (read_at(p, buf, n, pt->start) < 0) {
			free(buf);
			return -1;
		}
		snprintf(pt->fs, sizeof(pt->fs), "%s", nbdprobe_sniff_fs(buf, n, &pt->mountable));
	}
	free(buf);
	return 0;
}

int nbdprobe_run(const struct nbdconf *c, int timeout_ms, struct nbdprobe_result *r,
		 char *err, size_t errlen)
{
	struct probe p = { .deadline_ms = now_ms() + timeout_ms, .err = err, .errlen = errlen };
	memset(r, 0, sizeof(*r));
	int rc = connect_conf(&p, c);
	if (rc == 0) {
		r->size = p.size;
		r->read_only = nbd_is_read_only(p.h) == 1;
		rc = read_table(&p, r);
	}
	if (rc == 0)
		rc = sniff_parts(&p, r);
	probe_close(&p);
	return rc;
}

int nbdprobe_parse_image(const uint8_t *img, size_t len, struct nbdprobe_result *r,
			 char *err, size_t errlen)
{
	struct probe p = { .image = img, .size = len, .err = err, .errlen = errlen };
	memset(r, 0, sizeof(*r));
	r->size = len;
	int rc = read_table(&p, r);
	return rc == 0 ? sniff_parts(&p, r) : rc;
}

int nbdprobe_alive(const struct nbdconf *c, int timeout_ms, char *err, size_t errlen)
{
	struct probe p = { .deadline_ms = now_ms() + timeout_ms, .err = err, .errlen = errlen };
	uint8_t s[SECTOR];
	int rc = connect_conf(&p, c);
	if (rc == 0 && p.size >= SECTOR)
		rc = read_at(&p, s, sizeof(s), 0);
	probe_close(&p);
	return rc;
}

int nbdprobe_alive_beside(const struct nbdconf *c, int timeout_ms, char *err, size_t errlen)
{
	struct probe first = { .deadline_ms = now_ms() + timeout_ms, .err = err, .errlen = errlen };
	char second[256];
	int rc = connect_conf(&first, c);
	if (rc == 0 && nbdprobe_alive(c, (int)(first.deadline_ms - now_ms()), second, sizeof(second)) < 0)
		rc = fail(err, errlen, "a second connection, beside an open one: %s", second);
	probe_close(&first);
	return rc;
}

static const struct nbdprobe_part *find_part(const struct nbdprobe_result *r, int n)
{
	for (int i = 0; i < r->nparts; i++)
		if (r->parts[i].number == n)
			return &r->parts[i];
	return NULL;
}

int nbdprobe_check_mounts(const struct nbdconf *c, const struct nbdprobe_result *r,
			  char *err, size_t errlen)
{
	for (int i = 0; i < c->nmounts; i++) {
		int n = c->mounts[i].partition;
		const struct nbdprobe_part *pt = find_part(r, n);
		if (strcmp(r->table, "none") == 0)
			return fail(err, errlen, "the disk has no partition table (no partition %d)", n);
		if (!pt)
			return fail(err, errlen, "partition %d does not exist (the %s table has %d partition%s)",
				    n, r->table, r->nparts, r->nparts == 1 ? "" : "s");
		if (pt->start + pt->size > r->size || pt->start + pt->size < pt->start)
			return fail(err, errlen, "partition %d extends past the end of the disk", n);
		if (!pt->mountable)
			return fail(err, errlen, "partition %d holds %s%s", n, pt->fs[0] ? pt->fs : "no filesystem rtftp recognises",
				    pt->fs[0] ? ", not a mountable filesystem" : "");
	}
	return 0;
}

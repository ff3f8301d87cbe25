/* libFuzzer target: the partition table and filesystem sniffing of common/nbdprobe.c, on
 * arbitrary bytes taken as a disk image (what a hostile NBD server can hand the mounter).
 * It may not crash or read out of bounds, and what it reports must stay inside the disk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbdprobe.h"

static void check(const struct nbdprobe_result *r, size_t len)
{
	if (r->nparts < 0 || r->nparts > NBDPROBE_MAX_PARTS || !memchr(r->table, '\0', sizeof(r->table)))
		abort();
	for (int i = 0; i < r->nparts; i++) {
		const struct nbdprobe_part *pt = &r->parts[i];
		if (!memchr(pt->fs, '\0', sizeof(pt->fs)) || pt->number < 1 || pt->number > 5 + 64 + 128)
			abort();
		/* a partition past the end is reported as such, never sniffed */
		if (pt->start >= len && pt->mountable)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nbdprobe_result r;
	char err[256];
	bool mountable;
	/* the sniffer on exactly the bytes given: any read past them is caught by ASan */
	const char *fs = nbdprobe_sniff_fs(data, size, &mountable);
	if (!fs || strlen(fs) >= sizeof(r.parts[0].fs))
		abort();
	err[0] = '\0';
	if (nbdprobe_parse_image(data, size, &r, err, sizeof(err)) == 0)
		check(&r, size);
	else if (!err[0] || !memchr(err, '\0', sizeof(err)))
		abort();
	return 0;
}

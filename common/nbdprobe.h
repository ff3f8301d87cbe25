/* Millisecond pre-flight of an NBD disk with libnbd's asynchronous API and a deadline:
 * the synchronous connect (and libguestfs's add_drive) hang forever on a server that
 * accepts and never answers. Finds the size, the partition table (MBR with logical
 * partitions, or GPT) and what each partition holds, from the first bytes of each. */
#ifndef RTFTP_NBDPROBE_H
#define RTFTP_NBDPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nbdconf.h"

#define NBDPROBE_MAX_PARTS 128
#define NBDPROBE_SNIFF_BYTES 4096   /* bytes read from the start of each partition */

struct nbdprobe_part {
	int number;          /* as Linux numbers it: /dev/sdaN */
	uint64_t start;      /* bytes */
	uint64_t size;       /* bytes */
	char fs[32];         /* "vfat", "ext4", ... "" = nothing recognised */
	bool mountable;      /* fs is one the appliance can mount */
};

struct nbdprobe_result {
	uint64_t size;
	bool read_only;
	char table[8];       /* "mbr", "gpt" or "none" */
	int nparts;
	struct nbdprobe_part parts[NBDPROBE_MAX_PARTS];
};

/* Connect, read the table and sniff every partition. 0 or -1 with the reason in err. */
int nbdprobe_run(const struct nbdconf *c, int timeout_ms, struct nbdprobe_result *r,
		 char *err, size_t errlen);

/* The configured partitions exist and hold a mountable filesystem. 0 or -1 + reason. */
int nbdprobe_check_mounts(const struct nbdconf *c, const struct nbdprobe_result *r,
			  char *err, size_t errlen);

/* Is the server there and answering (connect + read one sector)? 0 or -1 + reason. */
int nbdprobe_alive(const struct nbdconf *c, int timeout_ms, char *err, size_t errlen);

/* nbdprobe_alive on a second connection while a first one is held open: what the liveness
 * check meets once the appliance holds its own connection. 0 or -1 + reason. */
int nbdprobe_alive_beside(const struct nbdconf *c, int timeout_ms, char *err, size_t errlen);

/* Pure parsers (fuzz/fuzz_nbdprobe.c, unit tests): disk bytes, every size checked. */
const char *nbdprobe_sniff_fs(const uint8_t *buf, size_t len, bool *mountable);

/* What nbdprobe_run finds, read from a disk image in memory instead of an NBD server. */
int nbdprobe_parse_image(const uint8_t *img, size_t len, struct nbdprobe_result *r,
			 char *err, size_t errlen);

#endif

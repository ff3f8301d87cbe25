/* The stand-in disk of test_serving.c (fake_disk.c says what it replaces). */
#ifndef RTFTP_FAKE_DISK_H
#define RTFTP_FAKE_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mounter.h"

struct fake_file {
	const char *path;       /* absolute guest path */
	size_t size;
	int64_t ino;
	bool is_dir;
	bool changes;           /* every stat reports a newer mtime */
	int read_ms;            /* each guestfs_pread of it takes this long (a slow disk) */
	bool read_fails;        /* guestfs_pread of it fails with EIO (a bad sector) */
};

struct fake_link {
	const char *from, *to;  /* what realpath makes of a path */
};

struct fake_disk {
	struct fake_file files[8];
	int nfiles;
	struct fake_link links[4];
	int nlinks;
	int ready;              /* guestfs_is_ready: 0 = the appliance died */
	bool alive;             /* nbdprobe_alive: false = the NBD server stopped answering */
	int64_t stat_calls;
};

extern struct fake_disk fake;

/* The file at this exact guest path, or NULL. */
const struct fake_file *fake_find(const char *path);

/* The content of every file: a pattern of its inode and the offset. */
char fake_byte(const struct fake_file *f, size_t off);

#endif

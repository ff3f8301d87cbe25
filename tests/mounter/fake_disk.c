/* A stand-in for the libguestfs calls that mounter/files.c makes, and for the liveness probe
 * and the remount: a guest filesystem of a few files held in memory, and switches that
 * give the faults a real appliance cannot be asked for (a file that changes between its
 * stat and the end of its read, an NBD server that stops answering). Linked by
 * test_serving.c in place of libguestfs; the real calls are tested by the appliance tests. */
#include "fake_disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct fake_disk fake;                  /* set by each case before it starts the mounter */

volatile sig_atomic_t mounter_term;

static int last_errno;

const struct fake_file *fake_find(const char *path)
{
	for (int i = 0; i < fake.nfiles; i++)
		if (strcmp(fake.files[i].path, path) == 0)
			return &fake.files[i];
	return NULL;
}

/* Paths the test spells exactly: the table's own, and links given as (from, to). */
char *guestfs_realpath(guestfs_h *g, const char *path)
{
	(void)g;
	for (int i = 0; i < fake.nlinks; i++)
		if (strcmp(fake.links[i].from, path) == 0)
			return strdup(fake.links[i].to);
	if (fake_find(path))
		return strdup(path);
	last_errno = ENOENT;
	return NULL;
}

struct guestfs_statns *guestfs_statns(guestfs_h *g, const char *path)
{
	(void)g;
	const struct fake_file *f = fake_find(path);
	if (!f) {
		last_errno = ENOENT;
		return NULL;
	}
	struct guestfs_statns *st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	st->st_mode = f->is_dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_size = (int64_t)f->size;
	st->st_ino = f->ino;
	st->st_mtime_sec = 1700000000;
	/* A file rewritten on the disk: each stat sees a newer time. */
	st->st_mtime_nsec = f->changes ? fake.stat_calls : 0;
	fake.stat_calls++;
	return st;
}

void guestfs_free_statns(struct guestfs_statns *st)
{
	free(st);
}

char *guestfs_pread(guestfs_h *g, const char *path, int count, int64_t offset, size_t *size_r)
{
	(void)g;
	const struct fake_file *f = fake_find(path);
	if (!f || f->read_fails) {
		last_errno = f ? EIO : ENOENT;
		return NULL;
	}
	struct timespec slow = { .tv_sec = f->read_ms / 1000, .tv_nsec = (f->read_ms % 1000) * 1000000L };
	nanosleep(&slow, NULL);
	size_t off = (size_t)offset, n = (size_t)count;
	if (off > f->size)
		off = f->size;
	if (n > f->size - off)
		n = f->size - off;
	char *buf = malloc(n ? n : 1);
	if (!buf)
		abort();
	for (size_t i = 0; i < n; i++)
		buf[i] = fake_byte(f, off + i);
	*size_r = n;
	return buf;
}

int guestfs_last_errno(guestfs_h *g)
{
	(void)g;
	return last_errno;
}

int guestfs_is_ready(guestfs_h *g)
{
	(void)g;
	return fake.ready;
}

int nbdprobe_alive(const struct nbdconf *c, int timeout_ms, char *err, size_t errlen)
{
	(void)c;
	(void)timeout_ms;
	if (fake.alive)
		return 0;
	snprintf(err, errlen, "connection refused (stand-in)");
	return -1;
}

int disk_remount(struct disk *d, const struct nbdconf *c, char *err, size_t errlen)
{
	(void)d;
	(void)c;
	(void)err;
	(void)errlen;
	return 0;
}

void disk_stop(struct disk *d)
{
	(void)d;
}

char fake_byte(const struct fake_file *f, size_t off)
{
	return (char)((off * 131 + (size_t)f->ino * 7) & 0xff);
}

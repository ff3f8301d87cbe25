/* Read-ahead for the few transfers that run alone. A client that boots alone runs in
 * stop-and-wait (windowsize 1, as most firmware does), where a pread per block is a quarter
 * of the system calls on the path; reading 64 KiB ahead serves the next forty-odd blocks from
 * memory. The slots are few and fixed, so memory stays bounded however many transfers run:
 * past RA_SLOTS, transfers read block by block as before (with hundreds at once, the kernel's
 * per-packet cost dominates anyway). */
#include <string.h>
#include <unistd.h>

#include "worker.h"

#define RA_SLOTS 4
#define RA_BYTES (64u << 10)

struct ra_slot {
	const struct transfer *owner;      /* NULL: free */
	const struct file_ref *file;       /* what the bytes are of */
	uint64_t off, len;                 /* bytes [off, off + len) of the owner's file */
	uint8_t buf[RA_BYTES];
};

static struct ra_slot slots[RA_SLOTS];

static struct ra_slot *slot_of(const struct transfer *t, bool take)
{
	struct ra_slot *free_slot = NULL;
	for (int i = 0; i < RA_SLOTS; i++) {
		if (slots[i].owner == t)
			return &slots[i];
		if (!slots[i].owner && !free_slot)
			free_slot = &slots[i];
	}
	if (take && free_slot) {
		free_slot->owner = t;
		free_slot->len = 0;
	}
	return take ? free_slot : NULL;
}

int readahead_read(const struct transfer *t, uint64_t off, uint64_t want, uint64_t readable,
		   const uint8_t **out)
{
	if (want > RA_BYTES || off + want > readable)
		return 1;
	struct ra_slot *s = slot_of(t, true);
	if (!s)
		return 1;
	if (s->file != t->file || off < s->off || off + want > s->off + s->len) {
		/* Only bytes known final are read: a remote file grows while it is sent. */
		uint64_t len = readable - off < RA_BYTES ? readable - off : RA_BYTES;
		s->len = 0;
		if (pread(t->file->fd, s->buf, len, (off_t)off) != (ssize_t)len)
			return -1;
		s->file = t->file;
		s->off = off;
		s->len = len;
	}
	*out = s->buf + (off - s->off);
	return 0;
}

void readahead_release(const struct transfer *t)
{
	struct ra_slot *s = slot_of(t, false);
	if (s)
		s->owner = NULL;
}

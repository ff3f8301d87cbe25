/* Local lookups below ROOT/<client>/ and ROOT/default/, and the short-lived cache of
 * lookup results that makes a size probe's second request cost no second lookup. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "worker.h"

static int openat2_beneath(int dirfd, const char *name, uint64_t flags)
{
	struct open_how how = {
		/* openat2 is strict: O_PATH takes no O_NOCTTY */
		.flags = flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
}

struct file_ref *file_ref_get(struct file_ref *f)
{
	f->refs++;
	return f;
}

void file_ref_put(struct file_ref *f)
{
	if (--f->refs > 0)
		return;
	if (f->mnt)
		remote_close_file(f);
	if (f->fd >= 0)
		close(f->fd);
	netascii_release(f);
	free(f);
}

static struct file_ref *file_ref_new(int fd, uint64_t size, enum origin o, const char *name)
{
	struct file_ref *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->refs = 1;
	f->fd = fd;
	f->size = f->avail = size;
	f->origin = o;
	f->opened = true;
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

/* Open a regular file below dir without ever opening anything else for reading: a fifo or
 * a device is looked at through O_PATH first, and the real open is checked to be the same
 * inode. Returns an fd, or -1 with code and why (0 code: not there, try the next root). */
static int open_regular(int dirfd, const char *name, struct stat *st, uint16_t *code,
			const char **why)
{
	int pfd = openat2_beneath(dirfd, name, O_PATH);
	if (pfd < 0) {
		*code = (errno == EXDEV || errno == ELOOP || errno == EACCES) ? TFTP_EACCESS : 0;
		*why = *code ? "access violation: name leads outside the root" : NULL;
		return -1;
	}
	struct stat pst;
	if (fstat(pfd, &pst) < 0 || !S_ISREG(pst.st_mode)) {
		close(pfd);
		*code = TFTP_EACCESS;
		*why = "not a regular file";
		return -1;
	}
	close(pfd);
	int fd = openat2_beneath(dirfd, name, O_RDONLY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, st) < 0 || st->st_ino != pst.st_ino || st->st_dev != pst.st_dev) {
		if (fd >= 0)
			close(fd);
		*code = TFTP_EACCESS;
		*why = "file changed while being opened";
		return -1;
	}
	return fd;
}

enum lookup_result lookup_local(struct worker *w, struct transfer *t, enum origin where,
				struct file_ref **out, uint16_t *errcode, const char **why)
{
	const char *dir = where == ORIGIN_CLIENT ? t->client->text : "default";
	int dirfd = openat2_beneath(w->rootfd, dir, O_PATH | O_DIRECTORY);
	if (dirfd < 0)
		return LK_NEXT;
	struct stat st;
	uint16_t code = 0;
	int fd = open_regular(dirfd, t->name, &st, &code, why);
	close(dirfd);
	if (fd < 0) {
		if (code == 0)
			return LK_NEXT;
		*errcode = code;
		return LK_REFUSED;
	}
	*out = file_ref_new(fd, (uint64_t)st.st_size, where, t->name);
	if (!*out) {
		close(fd);
		*errcode = TFTP_EUNDEF;
		*why = "out of memory";
		return LK_REFUSED;
	}
	return LK_FOUND;
}

struct file_ref *cache_find(struct worker *w, const struct sockaddr_storage *client, const char *name)
{
	for (unsigned i = 0; i < w->ncache; i++) {
		struct cache_entry *e = &w->cache[i];
		if (e->expires_ms > w->now_ms && !e->file->failed &&
		    addr_host_equal(&e->client, client) && strcmp(e->name, name) == 0)
			return e->file;
	}
	return NULL;
}

static void cache_drop(struct worker *w, unsigned i)
{
	file_ref_put(w->cache[i].file);
	w->cache[i] = w->cache[--w->ncache];
}

void cache_put(struct worker *w, const struct sockaddr_storage *client, const char *name,
	       struct file_ref *f)
{
	if (w->cfg.probe_cache_ms == 0 || cache_find(w, client, name) == f)
		return;
	if (w->ncache == CACHE_MAX) {
		unsigned oldest = 0;
		for (unsigned i = 1; i < w->ncache; i++)
			if (w->cache[i].expires_ms < w->cache[oldest].expires_ms)
				oldest = i;
		cache_drop(w, oldest);
	}
	struct cache_entry *e = &w->cache[w->ncache++];
	e->client = *client;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->file = file_ref_get(f);
	e->expires_ms = w->now_ms + w->cfg.probe_cache_ms;
}

void cache_expire(struct worker *w, bool all)
{
	for (unsigned i = 0; i < w->ncache;) {
		if (all || w->cache[i].expires_ms <= w->now_ms || w->cache[i].file->failed)
			cache_drop(w, i);
		else
			i++;
	}
}

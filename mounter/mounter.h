/* rtftp-mounter: one process per client disk (docs/remote-disks.md). Shared state of the
 * files of this folder; each file owns one concern:
 *   main.c         setup, HELLO, CONFIG, pre-flight, start, READY/FAILED
 *   sandbox.c      its confinement (limits, signals, stray descriptors)
 *   guestfs_disk.c the libguestfs handle: add_drive, launch under a watchdog, mounts
 *   resolve.c      the NBD host resolved once, under a deadline, for the libnbd probes
 *   files.c        open/resolve/confine, memfd fill in 1 MiB chunks, the bounded cache
 *   loop.c         serving the worker and parent channels, busy/idle, idle exit */
#ifndef RTFTP_MOUNTER_H
#define RTFTP_MOUNTER_H

#include <guestfs.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "nbdconf.h"
#include "nbdprobe.h"
#include "proto.h"

#define MOUNTER_PROBE_MS     3000    /* pre-flight deadline for the whole libnbd probe */
#define MOUNTER_ALIVE_MS     2000    /* liveness probe before answering "not found" */
#define MOUNTER_CHUNK        (1u << 20)
#define MOUNTER_FIRST_CHUNK  (64u << 10)
#define MOUNTER_MAX_OPEN     256     /* open ids at once */
#define MOUNTER_NAME_MAX     1024    /* a name from the worker, with NUL */

struct disk {
	guestfs_h *g;
	bool mountpoints_made;
	char root_real[PATH_MAX];    /* tftp_root resolved inside the guest */
};

struct entry;
struct open_file;

struct files {
	struct entry *entries;       /* memfds being filled or kept for reuse */
	struct open_file *opens;     /* ids the worker holds */
	struct entry *next_fill;     /* round-robin position */
	uint64_t bytes;              /* sum of the sizes of all entries */
	uint64_t max_bytes;
	int nopen;
};

struct mounter {
	int parent;                  /* RTFTP_FD_PARENT */
	int worker;                  /* RTFTP_FD_WORKER */
	char addr[RTFTP_ADDR_MAX];
	struct mounter_config cfg;
	struct nbdconf conf;
	struct disk disk;
	struct files files;
	int64_t last_activity_ms;    /* last request or last close: for the idle timeout */
	int64_t last_open_ms;        /* last open: a new boot after a quiet spell remounts */
	bool busy;                   /* last state reported to the parent */
};

/* sandbox.c */
extern volatile sig_atomic_t mounter_term;   /* SIGTERM/SIGINT seen */
void sandbox_early(void);

/* guestfs_disk.c: 0 or -1 with the reason in err */
int disk_start(struct disk *d, const struct nbdconf *c, const struct mounter_config *cfg,
	       char *err, size_t errlen);
int disk_remount(struct disk *d, const struct nbdconf *c, char *err, size_t errlen);
void disk_stop(struct disk *d);

/* resolve.c: nbdprobe_run within timeout_ms, a TCP host resolved once and its addresses
 * tried in order; the one that answered replaces c->host. 0, or -1 with the reason in err
 * (and c->host unchanged). */
int resolve_and_probe(struct nbdconf *c, int timeout_ms, struct nbdprobe_result *r,
		      char *err, size_t errlen);

/* files.c: -1 only for a protocol error from the worker (the channel ends) */
void files_init(struct files *f, uint64_t max_bytes);
int files_open(struct mounter *mt, uint32_t id, const char *name);
int files_close(struct mounter *mt, uint32_t id);
bool files_need_fill(const struct files *f);
void files_fill_step(struct mounter *mt);
void files_drop_all(struct files *f);

/* loop.c */
int64_t mono_ms(void);
int loop_run(struct mounter *mt);
void mounter_status(struct mounter *mt, uint32_t state, const char *detail);
int mounter_send_worker(struct mounter *mt, uint16_t type, uint32_t id, const void *p, size_t len, int fd);
void mounter_exit(struct mounter *mt, int code) __attribute__((noreturn));

#endif

/* Internals of parent/mounters.c: the lifecycle of each mounter, and its proactive part
 * (inotify on ROOT's *.nbd files). Not for other files. */
#ifndef RTFTP_MOUNTERS_PRIV_H
#define RTFTP_MOUNTERS_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "evloop.h"
#include "mounters.h"
#include "nbdconf.h"
#include "options.h"
#include "proto.h"

#define MOUNTERS_TICK_MS       250
#define MOUNTERS_TERM_GRACE_MS 3000     /* SIGTERM, then SIGKILL this much later */
#define DEBOUNCE_QUIET_MS      1000     /* act this long after the last change ... */
#define DEBOUNCE_MAX_MS        5000     /* ... but no later than this after the first */
#define MOUNTERS_START_INTERVAL_MS 1000 /* starts: a burst of --max-mounters, then one a second */

enum mstate { M_STARTING, M_READY, M_FAILED, M_STOPPING };

struct mrec {
	struct mrec *next;
	struct mounters *m;
	char addr[RTFTP_ADDR_MAX];
	pid_t pid;                  /* until reaped */
	int chan;                   /* parent <-> mounter; -1 once closed */
	struct ev_handler ev;
	int wend;                   /* worker end not handed over yet; -1 once sent */
	uint32_t worker_gen;        /* the worker generation that got it */
	uint32_t serial;            /* of its hand-over (struct pw_mounter); 0 before */
	char tmpdir[PATH_MAX];
	enum mstate state;
	bool busy;
	bool got_hello;
	int64_t started_ms, last_used_ms, kill_at_ms;
	char *conf;                 /* the .nbd bytes it was started with */
	size_t conflen;
	char detail[RTFTP_REASON_MAX];   /* last status detail, for the exit log */
};

struct pending {
	struct pending *next;
	char addr[RTFTP_ADDR_MAX];
	int64_t first_ms, due_ms;
};

/* A start that has to wait for room (mounters_admit.c); evict: it came from the worker. */
struct waiting {
	struct waiting *next;
	char addr[RTFTP_ADDR_MAX];
	bool evict;
};

struct mounters {
	struct evloop *loop;
	const struct rtftp_options *opt;
	const struct helper *exe;   /* rtftp-mounter */
	int rootfd;
	int worker;
	uint32_t worker_gen;
	uint32_t serial;            /* the last hand-over's */
	struct mrec *list;
	int tfd;                    /* periodic tick: backstops, kills, debounce */
	struct ev_handler tev;
	bool tick_on;
	int ino_fd;
	struct ev_handler ino_ev;
	struct pending *pending;
	struct waiting *waiting;    /* starts waiting for room, oldest first */
	int64_t start_tat_ms;       /* the start rate limit's clock */
};

bool mounters_addr_ok(const char *addr);
/* Read ROOT/A.nbd (regular file below ROOT, at most NBDCONF_MAX_BYTES + 1 bytes).
 * Returns an O_RDONLY fd or -1; *buf gets a malloc'd copy when buf is not NULL. */
int mounters_open_nbd(struct mounters *m, const char *addr, char **buf, size_t *len);
struct mrec *mounters_find_live(struct mounters *m, const char *addr);
/* Start a mounter for addr: now, or later when there is room (SPAWN_WAITING), or not at all
 * (no .nbd file, --max-mounters reached with none idle, fork failed). evict: the worker asked,
 * so the least recently used idle mounter may make room. */
enum spawn { SPAWN_STARTED, SPAWN_WAITING, SPAWN_REFUSED };
enum spawn mounters_spawn(struct mounters *m, const char *addr, bool evict);
void mounters_stop(struct mrec *r, const char *why);
void mounters_tick_arm(struct mounters *m);

/* mounters_admit.c: --max-mounters (stopping ones count), one per address, the start rate */
enum admit { ADMIT_NOW, ADMIT_WAIT, ADMIT_NO };
enum admit mounters_admit(struct mounters *m, const char *addr, bool evict, const char **why);
void mounters_admitted(struct mounters *m);       /* a start went ahead: charge the rate */
bool waiting_add(struct mounters *m, const char *addr, bool evict);   /* true if new */
bool waiting_any(const struct mounters *m);
struct waiting *waiting_find(struct mounters *m, const char *addr);
struct waiting *waiting_take_all(struct mounters *m);

/* mounters_watch.c: proactive starts (inotify) */
int inotify_setup(struct mounters *m);
void inotify_scan(struct mounters *m);
void pending_run_due(struct mounters *m);
bool pending_any(const struct mounters *m);
void pending_touch(struct mounters *m, const char *addr, int64_t delay_ms);

#endif

/* The parent's supervision of rtftp-mounter processes (docs/remote-disks.md): started
 * lazily when the worker asks, or proactively when ROOT/A.nbd appears (inotify); restarted
 * when the file changes, stopped when it goes; evicted (least recently used idle one) past
 * --max-mounters; killed when a launch overruns; private tmp dirs removed when they exit.
 * Never blocks the parent: channels and inotify run in the parent's event loop. */
#ifndef RTFTP_MOUNTERS_H
#define RTFTP_MOUNTERS_H

#include <stdbool.h>
#include <sys/types.h>

#include "evloop.h"
#include "helpers.h"
#include "options.h"

struct mounters;

/* After privilege drop; sets up inotify on opt->root if opt->proactive. */
struct mounters *mounters_new(struct evloop *loop, const struct rtftp_options *opt, int rootfd,
			      const struct helper *exe);
/* New worker channel (first start or restart); -1 while there is none. */
void mounters_set_worker(struct mounters *m, int worker_sock);
/* The worker sent PW_MOUNTER_WANT; have: the serial of the last channel it got for addr. */
void mounters_want(struct mounters *m, const char *addr, uint32_t have);
/* The worker sent PW_MOUNTER_STALLED: SIGKILL it, forget it. */
void mounters_stalled(struct mounters *m, const char *addr);
/* From the parent's SIGCHLD reaping; true if pid was a mounter (cause logged, tmp dir removed). */
bool mounters_child_exited(struct mounters *m, pid_t pid, int status);
/* Shutdown, under the parent's one deadline for all its children (main.c): start nothing
 * more and SIGTERM every mounter; later SIGKILL those left; reaping goes through
 * mounters_child_exited; at last forget every record (temporary folders removed). */
void mounters_shutdown_begin(struct mounters *m);
void mounters_kill_all(struct mounters *m);
bool mounters_any_running(const struct mounters *m);
void mounters_forget_all(struct mounters *m);

#endif

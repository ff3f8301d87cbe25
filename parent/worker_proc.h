#ifndef RTFTP_WORKER_PROC_H
#define RTFTP_WORKER_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "evloop.h"
#include "helpers.h"
#include "options.h"

struct mounters;

/* The worker as the parent sees it: started, fed its setup, supervised, restarted. */
struct worker_proc {
	struct ev_handler ev;
	struct evloop *loop;
	const struct rtftp_options *opt;
	struct mounters *mounters;
	const struct helper *exe;   /* rtftp-worker */
	int rootfd;
	const int *listen_fds;
	int nlisten;
	pid_t pid;
	int sock;
	int restarts;               /* quick deaths in a row, for the backoff */
	long long started_ms;
	long long restart_at_ms;    /* 0: no restart pending */
	bool ready_notified;
	bool failed;                /* it died before it ever served: rtftp stops, exit 1 */
};

void worker_proc_start(struct worker_proc *wp);
/* A child died: returns true if it was the worker (then a restart is scheduled). */
bool worker_proc_exited(struct worker_proc *wp, pid_t pid, int status, bool stopping);
/* Milliseconds until a pending restart, or -1. Starts it when due. */
int  worker_proc_tick(struct worker_proc *wp);
void worker_proc_stop(struct worker_proc *wp);

#endif

/* The worker's restart backoff (parent/worker_proc.c), on a clock the test sets: after each
 * quick death the delay doubles from 100 ms up to a 10 s ceiling; a worker that served for
 * more than 30 s starts the sequence again. A crash loop neither spins nor leaves a host
 * unserved for long. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "worker_proc.h"

static int failures, checks;
#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

/* The parent's clock, replacing parent/clock.c (which the static library then leaves out). */
static int64_t now_ms = 1000000;

int64_t monotonic_ms(void)
{
	return now_ms;
}

/* The worker (pid 4242, no channel open) dies after serving for lived_ms: the delay until
 * its replacement starts. */
static long long death_after(struct worker_proc *wp, long long lived_ms)
{
	wp->pid = 4242;
	wp->ready_notified = true;
	wp->started_ms = now_ms - lived_ms;
	CHECK(worker_proc_exited(wp, 4242, W_EXITCODE(0, SIGKILL), false));
	CHECK(worker_proc_tick(wp) == (int)(wp->restart_at_ms - now_ms));
	return wp->restart_at_ms - now_ms;
}

int main(void)
{
	struct worker_proc wp = { .pid = -1, .sock = -1 };
	const long long quick[] = { 100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000 };
	for (size_t i = 0; i < sizeof(quick) / sizeof(quick[0]); i++)
		CHECK(death_after(&wp, 500) == quick[i]);
	CHECK(death_after(&wp, 29000) == 10000);     /* 29 s is still a quick death */
	CHECK(death_after(&wp, 31000) == 100);       /* it had served: start again */
	CHECK(death_after(&wp, 500) == 200);
	CHECK(!worker_proc_exited(&wp, 4243, W_EXITCODE(0, SIGKILL), false));   /* not the worker */
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}

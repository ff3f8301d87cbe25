/* Time and cheap randomness for the event loop. */
#include <time.h>

#include "worker.h"

uint64_t clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* xorshift32: jitter and port choice need spread, not secrecy */
uint32_t worker_random(struct worker *w)
{
	uint32_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return w->rng = x;
}

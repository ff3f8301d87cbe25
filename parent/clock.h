#ifndef RTFTP_PARENT_CLOCK_H
#define RTFTP_PARENT_CLOCK_H

#include <stdint.h>

/* The parent's one clock (CLOCK_MONOTONIC, in ms) for every delay it keeps: worker restarts,
 * mounter starts, stops, launch backstops, .nbd debounces. It lives alone in clock.c so that
 * tests linking rtftp_parent_core (a static library) can supply their own and move time on
 * without waiting for it. */
int64_t monotonic_ms(void);

#endif

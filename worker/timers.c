/* Retransmit and deadline timers: a binary min-heap of transfers keyed by deadline,
 * read by the event loop to size its wait. */
#include <stdlib.h>

#include "log.h"
#include "worker.h"

static void swap(struct timer_heap *h, size_t a, size_t b)
{
	struct transfer *t = h->v[a];
	h->v[a] = h->v[b];
	h->v[b] = t;
	h->v[a]->heap_idx = a;
	h->v[b]->heap_idx = b;
}

static void sift_up(struct timer_heap *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (h->v[p]->deadline_ms <= h->v[i]->deadline_ms)
			break;
		swap(h, p, i);
		i = p;
	}
}

static void sift_down(struct timer_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->v[l]->deadline_ms < h->v[m]->deadline_ms)
			m = l;
		if (r < h->n && h->v[r]->deadline_ms < h->v[m]->deadline_ms)
			m = r;
		if (m == i)
			return;
		swap(h, i, m);
		i = m;
	}
}

void timer_clear(struct worker *w, struct transfer *t)
{
	struct timer_heap *h = &w->timers;
	size_t i = t->heap_idx;
	if (i == SIZE_MAX)
		return;
	h->n--;
	if (i != h->n) {
		h->v[i] = h->v[h->n];
		h->v[i]->heap_idx = i;
		sift_down(h, i);
		sift_up(h, i);
	}
	t->heap_idx = SIZE_MAX;
	t->deadline_ms = 0;
}

void timer_set(struct worker *w, struct transfer *t, uint64_t deadline_ms)
{
	struct timer_heap *h = &w->timers;
	timer_clear(w, t);
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 256;
		struct transfer **v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			fatal("timer heap");
		h->v = v;
		h->cap = cap;
	}
	t->deadline_ms = deadline_ms;
	t->heap_idx = h->n;
	h->v[h->n++] = t;
	sift_up(h, t->heap_idx);
}

struct transfer *timer_expired(struct worker *w, uint64_t now_ms)
{
	struct timer_heap *h = &w->timers;
	if (h->n == 0 || h->v[0]->deadline_ms > now_ms)
		return NULL;
	struct transfer *t = h->v[0];
	timer_clear(w, t);
	return t;
}

int timer_next_wait_ms(struct worker *w, uint64_t now_ms)
{
	struct timer_heap *h = &w->timers;
	uint64_t until = w->next_housekeeping_ms;
	if (h->n && h->v[0]->deadline_ms < until)
		until = h->v[0]->deadline_ms;
	return until <= now_ms ? 0 : (int)(until - now_ms);
}

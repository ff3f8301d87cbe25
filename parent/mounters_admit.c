/* Which mounter starts may go ahead now. --max-mounters counts every mounter process the
 * parent has not reaped yet, the ones being stopped included: SIGTERM gives a mounter up to
 * MOUNTERS_TERM_GRACE_MS, and a worker that asks for replacement after replacement must not
 * be able to stack up processes in that grace. So a start that has no room, or whose
 * address still has a mounter on its way out, waits in a queue (at most one entry per
 * address with a .nbd file) and is retried when a mounter is reaped and on every tick; and
 * starts overall are rate limited (a burst of --max-mounters, then one a second), which
 * bounds how fast anyone, a compromised worker included, can make the parent launch
 * appliances. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mounters_priv.h"

static int count_running(const struct mounters *m)
{
	int n = 0;
	for (const struct mrec *r = m->list; r; r = r->next)
		n += r->pid > 0;
	return n;
}

static bool any_stopping(const struct mounters *m, const char *addr)
{
	for (const struct mrec *r = m->list; r; r = r->next)
		if (r->state == M_STOPPING && r->pid > 0 && (!addr || strcmp(r->addr, addr) == 0))
			return true;
	return false;
}

static struct mrec *evict_candidate(struct mounters *m)
{
	struct mrec *lru = NULL;
	for (struct mrec *r = m->list; r; r = r->next)
		if (r->state == M_READY && !r->busy && (!lru || r->last_used_ms < lru->last_used_ms))
			lru = r;
	return lru;
}

static int64_t burst_ms(const struct mounters *m)
{
	uint32_t n = m->opt->max_mounters ? m->opt->max_mounters : 1;
	return (int64_t)n * MOUNTERS_START_INTERVAL_MS;
}

/* A generic cell rate: start_tat_ms runs ahead of the clock by one interval per start. */
static bool rate_allows(const struct mounters *m)
{
	return m->start_tat_ms - monotonic_ms() <= burst_ms(m) - MOUNTERS_START_INTERVAL_MS;
}

void mounters_admitted(struct mounters *m)
{
	int64_t now = monotonic_ms();
	if (m->start_tat_ms < now)
		m->start_tat_ms = now;
	m->start_tat_ms += MOUNTERS_START_INTERVAL_MS;
}

enum admit mounters_admit(struct mounters *m, const char *addr, bool evict, const char **why)
{
	if (any_stopping(m, addr)) {
		*why = "its previous mounter is still stopping";
		return ADMIT_WAIT;
	}
	if ((uint32_t)count_running(m) >= m->opt->max_mounters) {
		if (any_stopping(m, NULL)) {
			*why = "--max-mounters reached: waiting for a stopping mounter to exit";
			return ADMIT_WAIT;
		}
		struct mrec *v = evict ? evict_candidate(m) : NULL;
		if (!v) {
			log_warnx("mounter %s: --max-mounters %u reached and none idle", addr,
				  m->opt->max_mounters);
			return ADMIT_NO;
		}
		char reason[RTFTP_ADDR_MAX + 32];
		snprintf(reason, sizeof(reason), "evicted for %s", addr);
		mounters_stop(v, reason);
		*why = "--max-mounters reached: waiting for the evicted mounter to exit";
		return ADMIT_WAIT;
	}
	if (!rate_allows(m)) {
		*why = "mounter start rate reached";
		return ADMIT_WAIT;
	}
	return ADMIT_NOW;
}

bool waiting_any(const struct mounters *m)
{
	return m->waiting != NULL;
}

struct waiting *waiting_find(struct mounters *m, const char *addr)
{
	for (struct waiting *w = m->waiting; w; w = w->next)
		if (strcmp(w->addr, addr) == 0)
			return w;
	return NULL;
}

/* First come, first started: a new address goes to the end of the queue. */
bool waiting_add(struct mounters *m, const char *addr, bool evict)
{
	struct waiting *known = waiting_find(m, addr), **pp = &m->waiting;
	if (known) {
		known->evict |= evict;
		return false;
	}
	while (*pp)
		pp = &(*pp)->next;
	struct waiting *w = calloc(1, sizeof(*w));
	if (!w)
		fatal("calloc");
	snprintf(w->addr, sizeof(w->addr), "%s", addr);
	w->evict = evict;
	*pp = w;
	mounters_tick_arm(m);
	return true;
}

struct waiting *waiting_take_all(struct mounters *m)
{
	struct waiting *all = m->waiting;
	m->waiting = NULL;
	return all;
}

/* Per-client-address state: transfers in flight, the request rate limit, path MTU.
 * Bounded: idle entries expire, and a full table makes room by forgetting an idle address
 * (keyed buckets: a flood of addresses cannot pile into one chain or crowd out a client). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "worker.h"

#define CLIENTS_MAX      65536
#define CLIENT_IDLE_MS   60000
#define MTU_REFRESH_MS   60000
#define REFUSALS_PER_S   100

static void host_only(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	addr_unmap(in, out);
	if (out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_port = 0;
	else
		((struct sockaddr_in6 *)out)->sin6_port = 0;
}

/* The table is full: make room in this bucket by forgetting its longest-idle address that
 * has nothing in flight (it only loses its rate-limit state). false when all are busy. */
static bool evict_idle(struct worker *w, unsigned b)
{
	struct client **victim = NULL;
	for (struct client **pp = &w->clients[b]; *pp; pp = &(*pp)->next)
		if ((*pp)->active == 0 && (!victim || (*pp)->last_seen_ms < (*victim)->last_seen_ms))
			victim = pp;
	if (!victim)
		return false;
	struct client *c = *victim;
	*victim = c->next;
	free(c);
	w->nclients--;
	return true;
}

struct client *client_get(struct worker *w, const struct sockaddr_storage *peer)
{
	struct sockaddr_storage host;
	host_only(peer, &host);
	unsigned b = addr_hash_keyed(&host, false, w->hash_key) % CLIENT_BUCKETS;
	for (struct client *c = w->clients[b]; c; c = c->next) {
		if (addr_host_equal(&c->addr, &host)) {
			c->last_seen_ms = w->now_ms;
			return c;
		}
	}
	if (w->nclients >= CLIENTS_MAX && !evict_idle(w, b))
		return NULL;
	struct client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->addr = host;
	if (addr_to_text(&host, c->text, sizeof(c->text)) < 0) {
		free(c);
		return NULL;
	}
	c->last_seen_ms = w->now_ms;
	c->next = w->clients[b];
	w->clients[b] = c;
	w->nclients++;
	return c;
}

/* Takes one token, or returns false when over the rate. A take that finds the bucket calm
 * again ends the episode of refusals: *ended gets its count (0 when there was none). */
static bool bucket_take(struct token_bucket *b, unsigned rate, uint64_t now_ms, uint64_t *ended)
{
	double cap = 2.0 * rate;
	b->tokens = b->refill_ms ? b->tokens + (double)(now_ms - b->refill_ms) * rate / 1000.0 : cap;
	b->refill_ms = now_ms;
	if (b->tokens > cap)
		b->tokens = cap;
	*ended = 0;
	if (b->tokens < 1.0) {
		b->refused++;
		return false;
	}
	b->tokens -= 1.0;
	if (b->refused && b->tokens >= cap / 2) {
		*ended = b->refused;
		b->refused = 0;
	}
	return true;
}

/* --rrq-rate per client. The first refusal of an episode is reported (one error, one log
 * line); the rest are dropped silently, so a flood of spoofed requests is not answered with
 * a flood. */
bool client_rate_ok(struct worker *w, struct client *c, bool *first_refusal)
{
	uint64_t ended;
	if (bucket_take(&c->rrqs, w->cfg.rrq_rate, w->now_ms, &ended))
		return true;
	*first_refusal = c->rrqs.refused == 1;
	return false;
}

/* Replies to what starts no transfer (malformed packets, writes, strangers, refusals) and
 * their log lines: at most REFUSALS_PER_S a second for the whole server, bursts of twice
 * that, so a flood of spoofed garbage is neither reflected nor logged at line rate. */
bool refusal_ok(struct worker *w)
{
	uint64_t ended;
	if (bucket_take(&w->refusals, REFUSALS_PER_S, w->now_ms, &ended)) {
		if (ended)
			log_warnx("%llu refusals were neither answered nor logged (more than %u a second)",
				  (unsigned long long)ended, REFUSALS_PER_S);
		return true;
	}
	if (w->refusals.refused == 1)
		log_warnx("more than %u refusals a second: the rest are neither answered nor logged "
			  "until it calms down", REFUSALS_PER_S);
	return false;
}

void clients_expire(struct worker *w)
{
	for (unsigned b = 0; b < CLIENT_BUCKETS; b++) {
		struct client **pp = &w->clients[b];
		while (*pp) {
			struct client *c = *pp;
			if (c->active == 0 && w->now_ms - c->last_seen_ms > CLIENT_IDLE_MS) {
				*pp = c->next;
				free(c);
				w->nclients--;
			} else {
				pp = &c->next;
			}
		}
	}
}

/* The route's MTU towards the client, from a connected scratch socket (IP_MTU needs one). */
unsigned client_path_mtu(struct worker *w, struct client *c)
{
	if (c->mtu && w->now_ms - c->mtu_ms < MTU_REFRESH_MS)
		return c->mtu;
	int fd = socket(c->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int mtu = 0;
	socklen_t len = sizeof(mtu);
	struct sockaddr_storage dst = c->addr;
	if (dst.ss_family == AF_INET)
		((struct sockaddr_in *)&dst)->sin_port = htons(9);
	else
		((struct sockaddr_in6 *)&dst)->sin6_port = htons(9);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&dst, addr_len(&dst)) == 0) {
		if (c->addr.ss_family == AF_INET)
			getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len);
		else
			getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len);
	}
	if (fd >= 0)
		close(fd);
	c->mtu = mtu > 0 ? (unsigned)mtu : 1500;
	c->mtu_ms = w->now_ms;
	return c->mtu;
}

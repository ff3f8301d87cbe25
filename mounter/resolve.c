/* nbd_aio_connect_tcp resolves its host with a synchronous getaddrinfo, outside any
 * deadline: with a resolver that does not answer, a pre-flight with a 3 s deadline took
 * 10 s, and every liveness check would pay it again. So the host is resolved once, here,
 * with getaddrinfo_a under the caller's deadline; its addresses are then probed in the
 * resolver's order, as libnbd and qemu try them (a name with ::1 and 127.0.0.1, served on
 * IPv4 only, must still work), and the first that answers replaces the name: the later
 * probes' own getaddrinfo parses a number and asks no one. The appliance still resolves
 * the name itself (qemu), as before. */
#include "mounter.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* The lookup thread may outlive a timeout (a running lookup cannot be cancelled) and
 * writes into its request: so the request lives on the heap and is left to it then. */
struct lookup {
	struct gaicb cb;
	struct addrinfo hints;
	char name[NBDCONF_HOST_MAX];
};

/* The lookup's own result, or EAI_INPROGRESS when the deadline came first. */
static int wait_lookup(struct lookup *l, int64_t deadline_ms)
{
	const struct gaicb *list[1] = { &l->cb };
	int r;
	while ((r = gai_error(&l->cb)) == EAI_INPROGRESS) {
		int64_t left = deadline_ms - mono_ms();
		if (left <= 0)
			break;
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L };
		gai_suspend(list, 1, &ts);      /* done, timed out or interrupted: ask again */
	}
	return r;
}

#define RESOLVE_MAX_ADDRS 8

struct addresses {
	int n;
	char num[RESOLVE_MAX_ADDRS][NBDCONF_HOST_MAX];
};

static int collect_addresses(const struct addrinfo *ai, struct addresses *out)
{
	out->n = 0;
	for (; ai && out->n < RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, out->num[out->n], NBDCONF_HOST_MAX, NULL, 0,
				NI_NUMERICHOST) == 0)
			out->n++;
	}
	return out->n ? 0 : EAI_NONAME;
}

/* Every address of host (at most RESOLVE_MAX_ADDRS, numeric, in the resolver's order). */
static int resolve_all(const char *host, int timeout_ms, struct addresses *out, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + timeout_ms;
	struct lookup *l = calloc(1, sizeof(*l));
	struct gaicb *list[1];
	if (!l) {
		snprintf(err, errlen, "resolving %s: out of memory", host);
		return -1;
	}
	snprintf(l->name, sizeof(l->name), "%s", host);
	l->hints.ai_socktype = SOCK_STREAM;
	l->cb.ar_name = l->name;
	l->cb.ar_request = &l->hints;
	list[0] = &l->cb;
	int r = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (r == 0)
		r = wait_lookup(l, deadline);
	if (r == EAI_INPROGRESS) {
		snprintf(err, errlen, "resolving %s: no answer within the deadline", host);
		if (gai_cancel(&l->cb) == EAI_CANCELED)
			free(l);        /* otherwise the lookup thread still writes into it: left to it */
		return -1;
	}
	if (r == 0)
		r = collect_addresses(l->cb.ar_result, out);
	if (r != 0)
		snprintf(err, errlen, "resolving %s: %s", l->name, gai_strerror(r));
	freeaddrinfo(l->cb.ar_result);
	free(l);
	return r == 0 ? 0 : -1;
}

static void set_host(struct nbdconf *c, const char host[NBDCONF_HOST_MAX])
{
	memcpy(c->host, host, sizeof(c->host));
	c->host[sizeof(c->host) - 1] = '\0';
}

int resolve_and_probe(struct nbdconf *c, int timeout_ms, struct nbdprobe_result *r,
		      char *err, size_t errlen)
{
	if (c->transport != NBDCONF_TCP)
		return nbdprobe_run(c, timeout_ms, r, err, errlen);
	int64_t deadline = mono_ms() + timeout_ms;
	static struct addresses as;
	char name[NBDCONF_HOST_MAX], last[NBDCONF_ERR_MAX] = "";
	if (resolve_all(c->host, timeout_ms, &as, err, errlen) < 0)
		return -1;
	memcpy(name, c->host, sizeof(name));
	for (int i = 0; i < as.n; i++) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			break;
		set_host(c, as.num[i]);
		if (nbdprobe_run(c, (int)left, r, last, sizeof(last)) == 0)
			return 0;
	}
	set_host(c, name);
	snprintf(err, errlen, "%.100s (%d address%s): %.300s", name, as.n, as.n == 1 ? "" : "es",
		 last[0] ? last : "no time left to connect");
	return -1;
}

/* nbd_aio_connect_tcp resolves its host with a synchronous getaddrinfo, outside any
 * deadline: with a resolver that does not answer, a pre-flight with a 3 s deadline took
 * 10 s, and every liveness check would pay it again. So the host is resolved once, here,
 * with getaddrinfo_a under the caller's deadline, and replaced by its numeric address:
 * the probes' own getaddrinfo then parses a number and asks no one. The appliance still
 * resolves the name itself (qemu), as before. */
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

static int first_address(const struct addrinfo *ai, char *host, size_t hostlen)
{
	char num[NI_MAXHOST];
	if (!ai)
		return EAI_NONAME;
	int r = getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num), NULL, 0, NI_NUMERICHOST);
	if (r == 0 && strlen(num) >= hostlen)
		r = EAI_OVERFLOW;
	if (r == 0)
		snprintf(host, hostlen, "%s", num);
	return r;
}

int resolve_numeric(char *host, size_t hostlen, int timeout_ms, char *err, size_t errlen)
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
		r = first_address(l->cb.ar_result, host, hostlen);
	if (r != 0)
		snprintf(err, errlen, "resolving %s: %s", l->name, gai_strerror(r));
	freeaddrinfo(l->cb.ar_result);
	free(l);
	return r == 0 ? 0 : -1;
}

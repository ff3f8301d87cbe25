#include "harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void harness_init(struct worker *w, const char *root, const struct worker_config *cfg,
		  struct sockaddr_storage *server_local)
{
	memset(w, 0, sizeof(*w));
	w->cfg = *cfg;
	w->rng = 12345;
	w->now_ms = 1000000;
	w->next_housekeeping_ms = UINT64_MAX;
	w->ctl = -1;
	evloop_init(&w->loop);
	w->rootfd = open(root, O_PATH | O_DIRECTORY);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	listener_add(w, lfd);
	memset(server_local, 0, sizeof(*server_local));
	memcpy(server_local, &a, sizeof(a));
}

void harness_client(struct wclient *c, uint32_t ipv4)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(ipv4) };
	socklen_t len = sizeof(c->addr);
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	bind(c->fd, (struct sockaddr *)&a, sizeof(a));
	memset(&c->addr, 0, sizeof(c->addr));
	getsockname(c->fd, (struct sockaddr *)&c->addr, &len);
}

void harness_advance(struct worker *w, uint64_t ms)
{
	w->now_ms += ms;
	struct transfer *t;
	while ((t = timer_expired(w, w->now_ms)) != NULL)
		transfer_on_timer(t);
}

int harness_finish(const char *root, int checks, int failures)
{
	char cmd[700];
	printf("%d passed, %d failed\n", checks - failures, failures);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		return 1;
	return failures ? 1 : 0;
}

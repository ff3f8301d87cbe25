#include "evloop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EV_BATCH 64

/* Handlers deleted during one dispatch round; their remaining events are skipped. */
#define EV_DELETED_MAX 256
static struct ev_handler *deleted[EV_DELETED_MAX];
static int ndeleted;
static int deleted_overflow;

int evloop_init(struct evloop *l)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -1 : 0;
}

void evloop_close(struct evloop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int evloop_add(struct evloop *l, struct ev_handler *h, int fd, ev_fn fn, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };
	h->fd = fd;
	h->fn = fn;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int evloop_mod(struct evloop *l, struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, h->fd, &ev);
}

void evloop_del(struct evloop *l, struct ev_handler *h)
{
	if (h->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	if (ndeleted < EV_DELETED_MAX)
		deleted[ndeleted++] = h;
	else
		deleted_overflow = 1;
	h->fn = NULL;
}

static int was_deleted(struct ev_handler *h)
{
	for (int i = 0; i < ndeleted; i++)
		if (deleted[i] == h)
			return 1;
	return 0;
}

int evloop_run_once(struct evloop *l, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n = epoll_wait(l->epfd, evs, EV_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	ndeleted = 0;
	deleted_overflow = 0;
	for (int i = 0; i < n && !deleted_overflow; i++) {
		struct ev_handler *h = evs[i].data.ptr;
		/* A handler freed and reused within this round would be skipped once: harmless,
		 * epoll reports it again on the next round (level-triggered). After too many
		 * deletions the round ends early for the same reason. */
		if (was_deleted(h) || h->fn == NULL)
			continue;
		h->fn(h, evs[i].events);
	}
	ndeleted = 0;
	return n;
}

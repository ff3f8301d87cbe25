/* A thin epoll dispatcher shared by the parent and the worker. A handler is embedded in
 * the owner's struct; the callback finds its owner with container_of. */
#ifndef RTFTP_EVLOOP_H
#define RTFTP_EVLOOP_H

#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct ev_handler;
typedef void (*ev_fn)(struct ev_handler *h, uint32_t events);

struct ev_handler {
	int fd;
	ev_fn fn;
};

struct evloop {
	int epfd;
};

int  evloop_init(struct evloop *l);
void evloop_close(struct evloop *l);
int  evloop_add(struct evloop *l, struct ev_handler *h, int fd, ev_fn fn, uint32_t events);
int  evloop_mod(struct evloop *l, struct ev_handler *h, uint32_t events);
void evloop_del(struct evloop *l, struct ev_handler *h);
/* Wait at most timeout_ms (-1: forever) and run the callbacks of ready handlers.
 * A callback may delete any handler, itself included: dispatch skips deleted ones. */
int  evloop_run_once(struct evloop *l, int timeout_ms);

#endif

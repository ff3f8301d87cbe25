#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "mounters_priv.h"

/* Proactive mounters: inotify on ROOT for *.nbd. Every event only marks the address as
 * pending; a debounce (act 1 s after the last change, at most 5 s after the first) then
 * reconciles it with what runs: start when the file is there and nothing runs, restart
 * when its bytes differ from what the mounter was started with, stop when it is gone.
 * So an editor's write-rename dance, or a file rewritten every 100 ms, gives at most one
 * (re)start per 5 s, and a rewrite with the same bytes gives none. */

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR)

/* "A.nbd" -> "A" when A is a canonical client address. */
static bool addr_of(const char *name, char *addr)
{
	size_t n = strlen(name);
	if (n <= 4 || n - 4 >= RTFTP_ADDR_MAX || strcmp(name + n - 4, ".nbd") != 0)
		return false;
	memcpy(addr, name, n - 4);
	addr[n - 4] = '\0';
	return mounters_addr_ok(addr);
}

bool pending_any(const struct mounters *m)
{
	return m->pending != NULL;
}

void pending_touch(struct mounters *m, const char *addr, int64_t delay_ms)
{
	int64_t now = monotonic_ms();
	struct pending *p;
	for (p = m->pending; p; p = p->next)
		if (strcmp(p->addr, addr) == 0)
			break;
	if (!p) {
		if (!(p = calloc(1, sizeof(*p))))
			fatal("calloc");
		snprintf(p->addr, sizeof(p->addr), "%s", addr);
		p->first_ms = now;
		p->next = m->pending;
		m->pending = p;
	}
	p->due_ms = now + delay_ms;
	if (p->due_ms > p->first_ms + DEBOUNCE_MAX_MS)
		p->due_ms = p->first_ms + DEBOUNCE_MAX_MS;
	mounters_tick_arm(m);
}

static void reconcile(struct mounters *m, const char *addr)
{
	char *conf = NULL;
	size_t len = 0;
	struct mrec *r = mounters_find_live(m, addr);
	int fd = mounters_open_nbd(m, addr, &conf, &len);
	if (fd >= 0)
		close(fd);
	if (fd < 0) {
		if (r)
			mounters_stop(r, "its .nbd file is gone");
	} else if (r && r->conflen == len && memcmp(r->conf, conf, len) == 0) {
		log_debug("%s.nbd rewritten with the same bytes: mounter kept", addr);
	} else {
		if (r)
			mounters_stop(r, "its .nbd file changed");
		/* Proactive starts never evict a mounter that a client may be about to use. */
		mounters_spawn(m, addr, false);
	}
	free(conf);
}

void pending_run_due(struct mounters *m)
{
	int64_t now = monotonic_ms();
	struct pending **pp = &m->pending;
	while (*pp) {
		struct pending *p = *pp;
		if (p->due_ms > now) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		reconcile(m, p->addr);
		free(p);
	}
}

void inotify_scan(struct mounters *m)
{
	int fd = openat(m->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char addr[RTFTP_ADDR_MAX];
	if (!d) {
		log_warn("scanning ROOT for .nbd files");
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (addr_of(de->d_name, addr))
			pending_touch(m, addr, 0);
	closedir(d);
}

/* The queue overflowed: events were lost, deletions among them. Reconcile every .nbd file
 * there is and every address that has a mounter, so a mounter whose file went while
 * nobody was listening is stopped too. */
static void rescan_after_overflow(struct mounters *m)
{
	log_warnx("inotify queue overflow on ROOT: checking every .nbd file and every mounter");
	inotify_scan(m);
	for (struct mrec *r = m->list; r; r = r->next)
		if (r->state != M_STOPPING)
			pending_touch(m, r->addr, 0);
}

static void on_inotify(struct ev_handler *h, uint32_t events)
{
	struct mounters *m = container_of(h, struct mounters, ino_ev);
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	char addr[RTFTP_ADDR_MAX];
	(void)events;
	for (;;) {
		ssize_t n = read(m->ino_fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				rescan_after_overflow(m);
			else if (ev->len && addr_of(ev->name, addr))
				pending_touch(m, addr, DEBOUNCE_QUIET_MS);
		}
	}
}

int inotify_setup(struct mounters *m)
{
	char path[64];
	m->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->ino_fd < 0) {
		log_warn("inotify_init1: proactive mounters off");
		return -1;
	}
	/* Watch the very directory we hold open, not whatever the path names now. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m->rootfd);
	if (inotify_add_watch(m->ino_fd, path, WATCH_MASK) < 0 &&
	    inotify_add_watch(m->ino_fd, m->opt->root, WATCH_MASK) < 0) {
		log_warn("inotify on %s: proactive mounters off", m->opt->root);
		close(m->ino_fd);
		m->ino_fd = -1;
		return -1;
	}
	if (evloop_add(m->loop, &m->ino_ev, m->ino_fd, on_inotify, EPOLLIN) < 0)
		fatal("evloop_add inotify");
	return 0;
}

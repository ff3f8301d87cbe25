/* The channel to the parent, after start-up: mounter channel ends arrive here, mounter
 * requests and (with --syslog) log lines leave here. A malformed message is fatal: the
 * parent is trusted to be exact, and restarts a worker that stops. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "worker.h"

static void control_dispatch(struct worker *w, struct ipc_msg *m)
{
	char addr[RTFTP_ADDR_MAX];
	struct pw_refusal r;
	struct pw_mounter pm;
	switch (m->hdr.type) {
	case PW_MOUNTER:
		if (m->fd < 0 || ipc_get_struct_string(m, &pm, sizeof(pm), addr, sizeof(addr)) < 0)
			fatalx("malformed %s from parent", pw_msg_name(m->hdr.type));
		remote_on_mounter_fd(w, addr, pm.serial, m->fd);
		m->fd = -1;
		break;
	case PW_MOUNTER_NONE:
		if (m->fd >= 0 || ipc_get_struct_string(m, &r, sizeof(r), addr, sizeof(addr)) < 0)
			fatalx("malformed %s from parent", pw_msg_name(m->hdr.type));
		remote_on_mounter_none(w, addr);
		break;
	default:
		fatalx("unexpected %s from parent", pw_msg_name(m->hdr.type));
	}
}

/* A mounter's channel that could not be received (the descriptor table is full): its
 * waiting requests go on as if the parent had started none, the worker goes on serving. */
static void mounter_lost(struct worker *w, struct ipc_msg *m)
{
	char addr[RTFTP_ADDR_MAX];
	struct pw_mounter pm;
	if (ipc_get_struct_string(m, &pm, sizeof(pm), addr, sizeof(addr)) < 0)
		fatalx("malformed %s from parent", pw_msg_name(m->hdr.type));
	log_warnx("client %s: mounter channel lost: out of file descriptors (RLIMIT_NOFILE)", addr);
	remote_on_mounter_lost(w, addr, pm.serial);
}

static void control_readable(struct ev_handler *h, uint32_t events)
{
	struct worker *w = container_of(h, struct worker, ctl_ev);
	struct ipc_msg m;
	(void)events;
	for (;;) {
		int r = ipc_recv(w->ctl, &m);
		if (r == 0) {
			/* The parent is gone: nobody supervises us any more. */
			w->stopping = true;
			evloop_del(&w->loop, &w->ctl_ev);
			return;
		}
		if (r < 0 && errno == EMFILE && m.hdr.type == PW_MOUNTER) {
			mounter_lost(w, &m);
			continue;
		}
		if (r < 0) {
			if (errno == EAGAIN)
				return;
			fatal("channel to parent");
		}
		w->now_ms = clock_now_ms();
		control_dispatch(w, &m);
	}
}

static void forward_log(enum log_level lvl, const char *line, void *arg)
{
	struct worker *w = arg;
	struct {
		struct pw_log head;
		char line[IPC_MAX_PAYLOAD - sizeof(struct pw_log)];
	} msg;
	size_t n = strlen(line);
	if (n >= sizeof(msg.line))
		n = sizeof(msg.line) - 1;
	msg.head.level = (uint32_t)lvl;
	memcpy(msg.line, line, n);
	msg.line[n] = '\0';
	ipc_send(w->ctl, PW_LOG, 0, &msg, sizeof(msg.head) + n + 1, -1);
}

void control_init(struct worker *w, int fd)
{
	int size = 1 << 20;
	w->ctl = fd;
	/* Once sandboxed, every line goes to the parent, which owns stderr/syslog: the worker
	 * cannot grow a file (RLIMIT_FSIZE 0) even when stderr is one. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	log_set_sink(forward_log, w);
	if (evloop_add(&w->loop, &w->ctl_ev, fd, control_readable, EPOLLIN) < 0)
		fatal("epoll add parent channel");
}

void control_send_want(struct worker *w, const char *addr, uint32_t have)
{
	struct pw_mounter pm = { .serial = have };
	if (ipc_send_struct_string(w->ctl, PW_MOUNTER_WANT, 0, &pm, sizeof(pm), addr, -1) < 0)
		log_warn("asking the parent for a mounter");
}

void control_send_stalled(struct worker *w, const char *addr)
{
	if (ipc_send_str(w->ctl, PW_MOUNTER_STALLED, 0, addr) < 0)
		log_warn("telling the parent of a stalled mounter");
}

/* rtftp-worker: started by the parent with its channel at fd 3. Receives configuration,
 * ROOT and the listening sockets, sandboxes itself, then serves until told to stop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "worker.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void expect_fd(const struct ipc_msg *m, bool want)
{
	if ((m->fd >= 0) != want)
		fatalx("%s from parent %s a descriptor", pw_msg_name(m->hdr.type),
		       want ? "lacks" : "carries");
}

/* Start-up handshake: HELLO, CONFIG, ROOT, LISTEN..., START. Blocking: nothing else to do. */
static void receive_setup(struct worker *w)
{
	struct ipc_msg m;
	struct proto_hello hello = { .version = RTFTP_PROTO_VERSION };
	bool have_cfg = false;
	if (ipc_send(RTFTP_FD_PARENT, PW_HELLO, 0, &hello, sizeof(hello), -1) < 0)
		fatal("hello to parent");
	for (;;) {
		int r = ipc_recv(RTFTP_FD_PARENT, &m);
		if (r <= 0)
			fatalx("parent channel closed during start-up");
		switch (m.hdr.type) {
		case PW_HELLO:
			expect_fd(&m, false);
			if (ipc_get_exact(&m, &hello, sizeof(hello)) < 0 ||
			    hello.version != RTFTP_PROTO_VERSION)
				fatalx("parent speaks another protocol version");
			break;
		case PW_CONFIG:
			expect_fd(&m, false);
			if (ipc_get_exact(&m, &w->cfg, sizeof(w->cfg)) < 0)
				fatalx("malformed configuration from parent");
			w->cfg.allow_ext[sizeof(w->cfg.allow_ext) - 1] = '\0';
			have_cfg = true;
			break;
		case PW_ROOT:
			expect_fd(&m, true);
			w->rootfd = m.fd;
			break;
		case PW_LISTEN:
			expect_fd(&m, true);
			listener_add(w, m.fd);
			break;
		case PW_START:
			expect_fd(&m, false);
			if (!have_cfg || w->rootfd < 0 || w->nlisteners == 0)
				fatalx("incomplete start-up from parent");
			return;
		default:
			fatalx("unexpected %s during start-up", pw_msg_name(m.hdr.type));
		}
	}
}

static void housekeeping(struct worker *w)
{
	cache_expire(w, false);
	clients_expire(w);
	w->next_housekeeping_ms = w->now_ms + 1000;
}

static void run(struct worker *w)
{
	while (!w->stopping && !stop_requested) {
		w->now_ms = clock_now_ms();
		int wait = timer_next_wait_ms(w, w->now_ms);
		if (evloop_run_once(&w->loop, wait) < 0)
			fatal("epoll_wait");
		w->now_ms = clock_now_ms();
		struct transfer *t;
		while ((t = timer_expired(w, w->now_ms)) != NULL)
			transfer_on_timer(t);
		if (w->now_ms >= w->next_housekeeping_ms)
			housekeeping(w);
	}
}

int main(int argc, char **argv)
{
	static struct worker w;
	if (argc == 2 && strcmp(argv[1], "--print-filter") == 0)
		return sandbox_print_filter(STDOUT_FILENO);
	log_init("worker", 0);
	w.rootfd = -1;
	w.ctl = -1;
	if (getrandom(&w.rng, sizeof(w.rng), 0) != sizeof(w.rng) || w.rng == 0)
		w.rng = (uint32_t)getpid() | 1u;
	if (getrandom(&w.hash_key, sizeof(w.hash_key), 0) != sizeof(w.hash_key))
		w.hash_key = w.rng * 2654435761u;
	if (evloop_init(&w.loop) < 0)
		fatal("epoll_create");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_stop_signal);
	signal(SIGINT, on_stop_signal);
	receive_setup(&w);
	log_init("worker", w.cfg.verbose);
	if (fcntl(RTFTP_FD_PARENT, F_SETFL, O_NONBLOCK) < 0)
		fatal("parent channel non-blocking");
	control_init(&w, RTFTP_FD_PARENT);
	sandbox_apply(&w);
	if (ipc_send(w.ctl, PW_READY, 0, NULL, 0, -1) < 0)
		fatal("ready to parent");
	w.now_ms = clock_now_ms();
	w.next_housekeeping_ms = w.now_ms + 1000;
	run(&w);
	transfers_stop_all(&w);
	remote_stop_all(&w);
	cache_expire(&w, true);
	return 0;
}

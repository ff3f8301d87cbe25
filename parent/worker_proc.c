/* Starting and supervising the worker: fork + exec (fresh address space, no inherited
 * heap), a SOCK_SEQPACKET channel at fd 3, the setup messages, then the channel's
 * messages until the worker dies; a dead worker is logged with its cause and restarted
 * with backoff. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "clock.h"
#include "ipc.h"
#include "log.h"
#include "mounters.h"
#include "proto.h"
#include "worker_proc.h"

#define BACKOFF_MAX_MS 10000
#define STABLE_MS      30000     /* a worker that lived this long resets the backoff */

static int send_logged(int sock, uint16_t type, const void *p, size_t len, int fd)
{
	if (ipc_send(sock, type, 0, p, len, fd) == 0)
		return 0;
	log_warn("sending %s to the worker", pw_msg_name(type));
	return -1;
}

static int send_setup(struct worker_proc *wp)
{
	struct proto_hello hello = { .version = RTFTP_PROTO_VERSION };
	if (send_logged(wp->sock, PW_HELLO, &hello, sizeof(hello), -1) < 0 ||
	    send_logged(wp->sock, PW_CONFIG, &wp->opt->worker, sizeof(wp->opt->worker), -1) < 0 ||
	    send_logged(wp->sock, PW_ROOT, NULL, 0, wp->rootfd) < 0)
		return -1;
	for (int i = 0; i < wp->nlisten; i++)
		if (send_logged(wp->sock, PW_LISTEN, NULL, 0, wp->listen_fds[i]) < 0)
			return -1;
	return send_logged(wp->sock, PW_START, NULL, 0, -1);
}

static void close_channel(struct worker_proc *wp)
{
	if (wp->sock < 0)
		return;
	evloop_del(wp->loop, &wp->ev);
	close(wp->sock);
	wp->sock = -1;
	mounters_set_worker(wp->mounters, -1);
}

/* Anything wrong from the worker ends it, and nothing more it sent is read: SIGKILL, and
 * supervision starts a clean one as after a crash. */
static void worker_misbehaved(struct worker_proc *wp, const char *what, const char *msg_name)
{
	log_warnx("%s%s from the worker: stopping it", what, msg_name);
	if (wp->pid > 0)
		kill(wp->pid, SIGKILL);
	close_channel(wp);
}

/* false: the message was wrong, the worker is being killed, stop reading. */
static bool on_worker_msg(struct worker_proc *wp, struct ipc_msg *m)
{
	char addr[RTFTP_ADDR_MAX], line[IPC_MAX_PAYLOAD];
	struct pw_log lg;
	struct pw_mounter pm;
	struct proto_hello hello;
	if (m->fd >= 0) {
		ipc_msg_drop_fd(m);
		worker_misbehaved(wp, "a descriptor attached to ", pw_msg_name(m->hdr.type));
		return false;
	}
	switch (m->hdr.type) {
	case PW_HELLO:
		if (ipc_get_exact(m, &hello, sizeof(hello)) < 0 || hello.version != RTFTP_PROTO_VERSION)
			goto malformed;
		break;
	case PW_READY:
		if (!wp->ready_notified) {
			sd_notify(0, "READY=1\nSTATUS=serving");
			wp->ready_notified = true;
		}
		log_info("worker %d sandboxed and serving", (int)wp->pid);
		break;
	case PW_LOG:
		if (ipc_get_struct_string(m, &lg, sizeof(lg), line, sizeof(line)) < 0 ||
		    lg.level > LOG_LVL_DEBUG)
			goto malformed;
		log_line((enum log_level)lg.level, line);
		break;
	case PW_MOUNTER_WANT:
		if (ipc_get_struct_string(m, &pm, sizeof(pm), addr, sizeof(addr)) < 0)
			goto malformed;
		mounters_want(wp->mounters, addr, pm.serial);
		break;
	case PW_MOUNTER_STALLED:
		if (ipc_get_string(m, addr, sizeof(addr)) < 0)
			goto malformed;
		mounters_stalled(wp->mounters, addr);
		break;
	default:
		goto malformed;
	}
	return true;
malformed:
	worker_misbehaved(wp, "malformed ", pw_msg_name(m->hdr.type));
	return false;
}

static void worker_readable(struct ev_handler *h, uint32_t events)
{
	struct worker_proc *wp = container_of(h, struct worker_proc, ev);
	struct ipc_msg m;
	(void)events;
	for (int i = 0; i < 64 && wp->sock >= 0; i++) {
		int r = ipc_recv(wp->sock, &m);
		if (r < 0 && errno == EAGAIN)
			return;
		/* End of file, or a reset (it exited with our messages unread): the worker is
		 * gone, and SIGCHLD tells why. */
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			close_channel(wp);
			return;
		}
		if (r < 0) {        /* EPROTO: bad framing; EMFILE: a descriptor we could not take */
			worker_misbehaved(wp, errno == EMFILE ? "a message with a descriptor" :
					  "a badly framed message", "");
			return;
		}
		if (!on_worker_msg(wp, &m))
			return;
	}
}

/* In the child: only async-signal-safe calls until exec. The worker gets stdin, stdout,
 * stderr and its channel at fd 3, nothing else: whatever rtftp inherited or holds (a
 * descriptor its starter left open, the mounters' channels) is closed here; everything the
 * worker needs later comes over the channel. */
static void __attribute__((noreturn)) exec_worker(const struct helper *exe, int chan)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int c = fcntl(chan, F_DUPFD, 10);      /* off fd 3 first, so dup2 clears close-on-exec */
	if (c < 0 || dup2(c, RTFTP_FD_PARENT) < 0)
		_exit(127);
	if (close_range(RTFTP_FD_PARENT + 1, (unsigned)exe->fd - 1, 0) < 0 ||
	    close_range((unsigned)exe->fd + 1, ~0U, 0) < 0)
		_exit(127);
	char *argv[] = { "rtftp-worker", NULL };
	helper_exec(exe, argv);
	_exit(127);
}

/* -1 when no worker could be forked (logged). A worker that was forked but could not be
 * given its setup is killed: its death is then handled as any other. */
static int start_worker(struct worker_proc *wp)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair for the worker");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork for the worker");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		exec_worker(wp->exe, sv[1]);
	close(sv[1]);
	wp->pid = pid;
	wp->sock = sv[0];
	wp->started_ms = monotonic_ms();
	if (send_setup(wp) < 0 || fcntl(wp->sock, F_SETFL, O_NONBLOCK) < 0 ||
	    evloop_add(wp->loop, &wp->ev, wp->sock, worker_readable, EPOLLIN) < 0) {
		kill(pid, SIGKILL);
		close(wp->sock);
		wp->sock = -1;
		return 0;
	}
	mounters_set_worker(wp->mounters, wp->sock);
	return 0;
}

/* The next attempt, after a delay that doubles while workers keep dying (or cannot be
 * started) quickly. */
static void schedule_restart(struct worker_proc *wp)
{
	long long now = monotonic_ms();
	long long delay = 100LL << (wp->restarts < 7 ? wp->restarts : 7);
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	wp->restarts++;
	wp->restart_at_ms = now + delay;
	log_info("starting a new worker in %lld ms", delay);
}

void worker_proc_start(struct worker_proc *wp)
{
	wp->restart_at_ms = 0;
	if (start_worker(wp) < 0)
		fatalx("cannot start the worker (see above): not serving");
}

static void log_death(pid_t pid, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		log_warnx("worker %d killed by its seccomp filter (SIGSYS): it made a system call "
			  "outside its allow-list", (int)pid);
	else if (WIFSIGNALED(status))
		log_warnx("worker %d killed by signal %d (%s)", (int)pid, WTERMSIG(status),
			  strsignal(WTERMSIG(status)));
	else
		log_warnx("worker %d exited with status %d", (int)pid, WEXITSTATUS(status));
}

bool worker_proc_exited(struct worker_proc *wp, pid_t pid, int status, bool stopping)
{
	if (pid != wp->pid)
		return false;
	wp->pid = -1;
	close_channel(wp);
	if (stopping)
		return true;
	log_death(pid, status);
	/* A worker that never got to serving could not sandbox itself (or start at all): fail
	 * closed and say so, rather than restart it for ever. main() stops the mounters (a
	 * proactive one may be running already) and exits 1. */
	if (!wp->ready_notified) {
		wp->failed = true;
		return true;
	}
	if (monotonic_ms() - wp->started_ms > STABLE_MS)
		wp->restarts = 0;
	schedule_restart(wp);
	return true;
}

int worker_proc_tick(struct worker_proc *wp)
{
	if (wp->restart_at_ms == 0)
		return -1;
	long long left = wp->restart_at_ms - monotonic_ms();
	if (left > 0)
		return (int)left;
	/* A restart that cannot fork (out of processes or memory, for a while) is tried again
	 * with the backoff; the server goes on without a worker meanwhile, never exits. */
	wp->restart_at_ms = 0;
	if (start_worker(wp) < 0) {
		schedule_restart(wp);
		return (int)(wp->restart_at_ms - monotonic_ms());
	}
	return -1;
}

void worker_proc_stop(struct worker_proc *wp)
{
	if (wp->pid > 0)
		kill(wp->pid, SIGTERM);
	wp->restart_at_ms = 0;
}

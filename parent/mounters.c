/* Lifecycle of the mounters: spawn (fork + exec with fd 3 = our channel, fd 4 = the
 * worker's), PM_HELLO + PM_CONFIG, the worker end handed over with PW_MOUNTER, status
 * tracking for --max-mounters eviction, backstop and stop kills, and cleanup when a
 * mounter exits. Nothing here waits on a child. */
#include "mounters_priv.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

/* Canonical client text only (what the worker derives): dotted quad or RFC 5952 IPv6. */
bool mounters_addr_ok(const char *addr)
{
	unsigned char bin[16];
	char back[INET6_ADDRSTRLEN];
	if (strnlen(addr, RTFTP_ADDR_MAX) >= RTFTP_ADDR_MAX)
		return false;
	if (inet_pton(AF_INET, addr, bin) == 1)
		return inet_ntop(AF_INET, bin, back, sizeof(back)) && strcmp(back, addr) == 0;
	if (inet_pton(AF_INET6, addr, bin) != 1 || !inet_ntop(AF_INET6, bin, back, sizeof(back)))
		return false;
	return strcmp(back, addr) == 0 && strncmp(addr, "::ffff:", 7) != 0;
}

/* No symlinks at all, not even ones that stay in ROOT: the worker takes only a regular file
 * A.nbd as the sign of a remote disk (fstatat without following), and the two must agree,
 * or the parent would start a mounter that the worker never uses. */
static int open_beneath(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
	};
	return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
}

static char *read_small(int fd, size_t *len)
{
	char *buf = malloc(NBDCONF_MAX_BYTES + 1);
	size_t got = 0;
	while (buf && got < NBDCONF_MAX_BYTES + 1) {
		ssize_t n = pread(fd, buf + got, NBDCONF_MAX_BYTES + 1 - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return buf;
}

int mounters_open_nbd(struct mounters *m, const char *addr, char **buf, size_t *len)
{
	char name[RTFTP_ADDR_MAX + 8];
	struct stat st;
	snprintf(name, sizeof(name), "%s.nbd", addr);
	/* O_NONBLOCK: a FIFO named A.nbd must not hang the parent; it is refused below. */
	int fd = open_beneath(m->rootfd, name);
	if (fd < 0 && errno == ELOOP)
		log_warnx("%s is a symbolic link: ignored (a .nbd file must be a regular file)", name);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warnx("%s is not a regular file: ignored", name);
		close(fd);
		return -1;
	}
	if (buf && !(*buf = read_small(fd, len))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct mrec *mounters_find_live(struct mounters *m, const char *addr)
{
	for (struct mrec *r = m->list; r; r = r->next)
		if (r->state != M_STOPPING && strcmp(r->addr, addr) == 0)
			return r;
	return NULL;
}

static void close_chan(struct mrec *r)
{
	if (r->chan >= 0) {
		evloop_del(r->m->loop, &r->ev);
		close(r->chan);
		r->chan = -1;
	}
	if (r->wend >= 0) {
		close(r->wend);
		r->wend = -1;
	}
}

void mounters_stop(struct mrec *r, const char *why)
{
	if (r->state == M_STOPPING)
		return;
	log_info("mounter %s (pid %d): stopping: %s", r->addr, (int)r->pid, why);
	r->state = M_STOPPING;
	if (r->pid > 0)
		kill(r->pid, SIGTERM);
	r->kill_at_ms = monotonic_ms() + MOUNTERS_TERM_GRACE_MS;
	close_chan(r);
	mounters_tick_arm(r->m);
}

static void kill_now(struct mrec *r, const char *why)
{
	/* pid 0: it has been reaped already (its channel is being drained); the pid may be
	 * another process's by now. */
	if (r->pid > 0) {
		log_warnx("mounter %s (pid %d): SIGKILL: %s", r->addr, (int)r->pid, why);
		kill(r->pid, SIGKILL);
	} else {
		log_warnx("mounter %s: %s", r->addr, why);
	}
	r->state = M_STOPPING;
	r->kill_at_ms = INT64_MAX;
	close_chan(r);
}

/* Hand the worker end to the current worker; the mounter learns of a lost one by EOF. */
static void hand_over(struct mrec *r)
{
	struct mounters *m = r->m;
	struct pw_mounter pm = { .serial = m->serial + 1 ? m->serial + 1 : 1 };
	if (r->wend < 0 || m->worker < 0)
		return;
	if (ipc_send_struct_string(m->worker, PW_MOUNTER, 0, &pm, sizeof(pm), r->addr, r->wend) < 0) {
		log_warn("PW_MOUNTER %s to the worker", r->addr);
		mounters_stop(r, "cannot hand it to the worker");
		return;
	}
	close(r->wend);
	r->wend = -1;
	r->worker_gen = m->worker_gen;
	r->serial = m->serial = pm.serial;
}

static void send_none(struct mounters *m, const char *addr)
{
	struct pw_refusal ref = { 0 };
	if (m->worker < 0)
		return;
	if (ipc_send_struct_string(m->worker, PW_MOUNTER_NONE, 0, &ref, sizeof(ref), addr, -1) < 0)
		log_warn("PW_MOUNTER_NONE to the worker");
}

static void on_status(struct mrec *r, const struct ipc_msg *msg)
{
	struct pm_status st;
	char detail[RTFTP_REASON_MAX], esc[RTFTP_REASON_MAX];
	if (ipc_get_struct_string(msg, &st, sizeof(st), detail, sizeof(detail)) < 0) {
		kill_now(r, "malformed PM_STATUS");
		return;
	}
	log_escape(esc, sizeof(esc), detail, strlen(detail));
	switch (st.state) {
	case PM_ST_READY:
		r->state = M_READY;
		r->last_used_ms = monotonic_ms();
		log_info("mounter %s ready: %s", r->addr, esc);
		break;
	case PM_ST_FAILED:
		r->state = M_FAILED;
		log_warnx("mounter %s failed: %s", r->addr, esc);
		snprintf(r->detail, sizeof(r->detail), "%s", esc);
		break;
	case PM_ST_IDLE_EXIT:
		log_info("mounter %s idle: exiting", r->addr);
		break;
	case PM_ST_BUSY:
	case PM_ST_IDLE:
		r->busy = st.state == PM_ST_BUSY;
		r->last_used_ms = monotonic_ms();
		log_debug("mounter %s %s (%s)", r->addr, r->busy ? "busy" : "idle", esc);
		break;
	default:
		kill_now(r, "unknown PM_STATUS state");
	}
}

static void on_chan(struct ev_handler *h, uint32_t events)
{
	struct mrec *r = container_of(h, struct mrec, ev);
	struct ipc_msg msg;
	struct proto_hello hello;
	(void)events;
	int rc = ipc_recv(r->chan, &msg);
	if (rc < 0 && errno == EAGAIN)
		return;
	if (rc <= 0) {
		/* EOF, or a reset (it exited with our messages unread): it is exiting; SIGCHLD
		 * does the rest. Garbage: it is not trusted. */
		if (rc < 0 && errno != ECONNRESET)
			kill_now(r, "malformed message");
		else
			close_chan(r);
		return;
	}
	if (msg.fd >= 0) {
		ipc_msg_drop_fd(&msg);
		kill_now(r, "unexpected descriptor");
	} else if (msg.hdr.type == PM_HELLO && !r->got_hello && ipc_get_exact(&msg, &hello, sizeof(hello)) == 0 &&
		   hello.version == RTFTP_PROTO_VERSION) {
		r->got_hello = true;
	} else if (msg.hdr.type == PM_STATUS && r->got_hello) {
		on_status(r, &msg);
	} else {
		kill_now(r, "unexpected message");
	}
}

static void fill_config(const struct rtftp_options *o, const char *tmpdir, struct mounter_config *c)
{
	memset(c, 0, sizeof(*c));
	c->launch_timeout_s = o->launch_timeout_s;
	c->idle_timeout_s = o->idle_timeout_s;
	c->remount_quiet_s = o->remount_quiet_s;
	c->verbose = (uint32_t)o->verbose;
	c->cache_max_bytes = o->mounter_cache_bytes;
	snprintf(c->backend_settings, sizeof(c->backend_settings), "%s", o->backend_settings ? o->backend_settings : "");
	snprintf(c->cache_dir, sizeof(c->cache_dir), "%s", o->cache_dir ? o->cache_dir : "");
	snprintf(c->tmp_dir, sizeof(c->tmp_dir), "%.255s", tmpdir);
}

static int send_config(struct mrec *r, int nbdfd)
{
	struct mounter_config cfg;
	struct proto_hello h = { .version = RTFTP_PROTO_VERSION };
	fill_config(r->m->opt, r->tmpdir, &cfg);
	/* A fresh socketpair has room for both: these never block. */
	if (ipc_send(r->chan, PM_HELLO, 0, &h, sizeof(h), -1) < 0 ||
	    ipc_send_struct_string(r->chan, PM_CONFIG, 0, &cfg, sizeof(cfg), r->addr, nbdfd) < 0)
		return -1;
	return 0;
}

/* In the child: only async-signal-safe calls until exec. */
static void __attribute__((noreturn)) exec_child(const struct helper *exe, int pch, int wch)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	int a = fcntl(pch, F_DUPFD, 10), b = fcntl(wch, F_DUPFD, 10);
	if (a < 0 || b < 0 || dup2(a, RTFTP_FD_PARENT) < 0 || dup2(b, RTFTP_FD_WORKER) < 0)
		_exit(126);
	close_range(RTFTP_FD_WORKER + 1, (unsigned)exe->fd - 1, 0);
	close_range((unsigned)exe->fd + 1, ~0U, 0);
	char *argv[] = { "rtftp-mounter", NULL };
	helper_exec(exe, argv);
	_exit(127);
}

static int fork_exec(struct mrec *r, int pch, int wch)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		exec_child(r->m->exe, pch, wch);
	r->pid = pid;
	return 0;
}

static int make_tmpdir(struct mrec *r)
{
	/* options_parse holds --state-dir to RTFTP_STATE_DIR_MAX (libguestfs's sockets below it
	 * must fit a socket address) and defaults it to /tmp. */
	snprintf(r->tmpdir, sizeof(r->tmpdir), "%s/rtftp-mounter-XXXXXX", r->m->opt->state_dir);
	if (!mkdtemp(r->tmpdir)) {
		log_warn("mkdtemp %s", r->tmpdir);
		r->tmpdir[0] = '\0';
		return -1;
	}
	return 0;
}

static void rm_tree_at(int at, const char *name, int depth)
{
	if (unlinkat(at, name, 0) == 0 || errno == ENOENT || depth > 16)
		return;
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_tree_at(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR) < 0)
		log_warn("cannot remove %s", name);
}

static void rec_free(struct mounters *m, struct mrec *r)
{
	for (struct mrec **pp = &m->list; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	close_chan(r);
	if (r->tmpdir[0])
		rm_tree_at(AT_FDCWD, r->tmpdir, 0);
	free(r->conf);
	free(r);
}

static int start_rec(struct mrec *r, int nbdfd)
{
	int p[2] = { -1, -1 }, w[2] = { -1, -1 }, rc = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, w) < 0) {
		log_warn("socketpair");
	} else if (make_tmpdir(r) == 0 && fork_exec(r, p[1], w[1]) == 0) {
		r->chan = p[0];
		r->wend = w[0];
		p[0] = w[0] = -1;
		fcntl(r->chan, F_SETFL, O_NONBLOCK);
		rc = send_config(r, nbdfd);
		if (rc == 0)
			rc = evloop_add(r->m->loop, &r->ev, r->chan, on_chan, EPOLLIN);
	}
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		if (w[i] >= 0)
			close(w[i]);
	}
	return rc;
}

/* SPAWN_WAITING: *why says what it waits for; the caller queues it. */
static enum spawn spawn_now(struct mounters *m, const char *addr, bool evict, const char **why)
{
	char *conf = NULL;
	size_t conflen = 0;
	int nbdfd = mounters_open_nbd(m, addr, &conf, &conflen);
	if (nbdfd < 0)
		return SPAWN_REFUSED;
	enum spawn res = SPAWN_REFUSED;
	enum admit a = mounters_admit(m, addr, evict, why);
	struct mrec *r = NULL;
	if (a == ADMIT_WAIT)
		res = SPAWN_WAITING;
	else if (a == ADMIT_NOW && (r = calloc(1, sizeof(*r)))) {
		snprintf(r->addr, sizeof(r->addr), "%s", addr);
		r->m = m;
		r->chan = r->wend = -1;
		r->conf = conf;
		r->conflen = conflen;
		r->started_ms = r->last_used_ms = monotonic_ms();
		r->next = m->list;
		m->list = r;
		conf = NULL;
		if (start_rec(r, nbdfd) < 0) {
			log_warn("mounter %s: cannot start", addr);
			if (r->pid > 0)
				kill_now(r, "start failed");
			else
				rec_free(m, r);
		} else {
			log_info("mounter %s started (pid %d)", addr, (int)r->pid);
			mounters_admitted(m);
			hand_over(r);
			mounters_tick_arm(m);
			res = SPAWN_STARTED;
		}
	}
	free(conf);
	close(nbdfd);
	return res;
}

enum spawn mounters_spawn(struct mounters *m, const char *addr, bool evict)
{
	const char *why = "";
	struct waiting *queued = waiting_find(m, addr);
	if (queued) {
		queued->evict |= evict;
		return SPAWN_WAITING;      /* its turn comes: no second start, no new log */
	}
	enum spawn res = spawn_now(m, addr, evict, &why);
	if (res == SPAWN_WAITING && waiting_add(m, addr, evict))
		log_info("mounter %s: start waits: %s", addr, why);
	return res;
}

/* Retry the starts that wait for room, oldest first; a start the worker asked for and that
 * cannot happen after all is answered with PW_MOUNTER_NONE. */
static void run_waiting(struct mounters *m)
{
	struct waiting *w = waiting_take_all(m), *next;
	const char *why = "";
	for (; w; w = next) {
		next = w->next;
		enum spawn res = mounters_find_live(m, w->addr) ? SPAWN_STARTED :
				 spawn_now(m, w->addr, w->evict, &why);
		if (res == SPAWN_WAITING)
			waiting_add(m, w->addr, w->evict);
		else if (res == SPAWN_REFUSED && w->evict)
			send_none(m, w->addr);
		free(w);
	}
}

static void on_tick(struct ev_handler *h, uint32_t events)
{
	struct mounters *m = container_of(h, struct mounters, tev);
	uint64_t n;
	int64_t now = monotonic_ms();
	(void)events;
	if (read(m->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("timerfd");
	int64_t backstop = ((int64_t)m->opt->launch_timeout_s + LAUNCH_BACKSTOP_S) * 1000;
	for (struct mrec *r = m->list; r; r = r->next) {
		if (r->state == M_STARTING && now - r->started_ms > backstop)
			kill_now(r, "no READY or FAILED within --launch-timeout + 15 s");
		else if (r->state == M_STOPPING && now >= r->kill_at_ms)
			kill_now(r, "still running after SIGTERM");
	}
	pending_run_due(m);
	run_waiting(m);
	mounters_tick_arm(m);
}

/* The tick runs only while something waits on time: starts, stops, debounces. */
void mounters_tick_arm(struct mounters *m)
{
	bool need = pending_any(m) || waiting_any(m);
	for (struct mrec *r = m->list; r && !need; r = r->next)
		need = r->state == M_STARTING || (r->state == M_STOPPING && r->kill_at_ms != INT64_MAX);
	if (need == m->tick_on)
		return;
	struct itimerspec its = { 0 };
	if (need) {
		its.it_value.tv_nsec = MOUNTERS_TICK_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(m->tfd, 0, &its, NULL) < 0)
		log_warn("timerfd_settime");
	m->tick_on = need;
}

struct mounters *mounters_new(struct evloop *loop, const struct rtftp_options *opt, int rootfd,
			      const struct helper *exe)
{
	struct mounters *m = calloc(1, sizeof(*m));
	if (!m)
		fatal("calloc");
	m->loop = loop;
	m->opt = opt;
	m->exe = exe;
	m->rootfd = rootfd;
	m->worker = -1;
	m->ino_fd = -1;
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->tfd < 0 || evloop_add(loop, &m->tev, m->tfd, on_tick, EPOLLIN) < 0)
		fatal("mounters timer");
	/* --max-mounters 0 turns remote disks off: nothing to watch for (and no warning per
	 * .nbd file that no mounter may start). */
	if (opt->proactive && opt->max_mounters > 0 && inotify_setup(m) == 0)
		inotify_scan(m);
	return m;
}

void mounters_set_worker(struct mounters *m, int worker_sock)
{
	m->worker = worker_sock;
	if (worker_sock < 0)
		return;
	m->worker_gen++;
	for (struct mrec *r = m->list; r; r = r->next) {
		if (r->state == M_STOPPING)
			continue;
		if (r->wend >= 0) {
			hand_over(r);
		} else if (r->worker_gen != m->worker_gen) {
			/* Its worker end died with the old worker: replace it. */
			mounters_stop(r, "the worker restarted");
			if (m->opt->proactive)
				pending_touch(m, r->addr, 0);
		}
	}
}

void mounters_want(struct mounters *m, const char *addr, uint32_t have)
{
	if (!mounters_addr_ok(addr)) {
		log_warnx("PW_MOUNTER_WANT for a bad address");
		return;
	}
	struct mrec *r = mounters_find_live(m, addr);
	if (r && r->wend >= 0) {
		hand_over(r);
		return;
	}
	if (r && r->worker_gen == m->worker_gen && have != r->serial) {
		/* Sent before the worker read the hand-over now on its way: that answers it. */
		log_debug("mounter %s: request crossed its hand-over; nothing to do", addr);
		return;
	}
	/* The worker has this mounter's channel and still asks: the old one is of no use to it.
	 * Its replacement waits until it has exited (mounters_admit.c). */
	if (r)
		mounters_stop(r, "the worker asked for a new one");
	if (mounters_spawn(m, addr, true) == SPAWN_REFUSED)
		send_none(m, addr);
}

void mounters_stalled(struct mounters *m, const char *addr)
{
	struct mrec *r = mounters_addr_ok(addr) ? mounters_find_live(m, addr) : NULL;
	if (r)
		kill_now(r, "stalled (reported by the worker)");
}

static void log_exit(const struct mrec *r, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("mounter %s (pid %d) killed by signal %d%s%s", r->addr, (int)pid, WTERMSIG(status),
			  r->detail[0] ? ": " : "", r->detail);
	else if (WEXITSTATUS(status) != 0)
		log_warnx("mounter %s (pid %d) exited with %d%s%s", r->addr, (int)pid, WEXITSTATUS(status),
			  r->detail[0] ? ": " : "", r->detail);
	else
		log_info("mounter %s (pid %d) exited", r->addr, (int)pid);
}

/* SIGCHLD can be read before the last messages of the mounter (its PM_STATUS FAILED with the
 * reason): read what its channel still holds first. */
static void drain_chan(struct mrec *r)
{
	for (int i = 0; i < 16 && r->chan >= 0; i++) {
		struct pollfd p = { .fd = r->chan, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0)
			return;
		on_chan(&r->ev, EPOLLIN);
	}
}

bool mounters_child_exited(struct mounters *m, pid_t pid, int status)
{
	for (struct mrec *r = m->list; r; r = r->next)
		if (r->pid == pid) {
			r->pid = 0;                /* reaped: nothing may signal that pid any more */
			drain_chan(r);
			log_exit(r, pid, status);
			rec_free(m, r);
			run_waiting(m);            /* the room it held may be what a start waits for */
			mounters_tick_arm(m);
			return true;
		}
	return false;
}

bool mounters_any_running(const struct mounters *m)
{
	for (const struct mrec *r = m->list; r; r = r->next)
		if (r->pid > 0)
			return true;
	return false;
}

static void signal_all(struct mounters *m, int sig)
{
	for (struct mrec *r = m->list; r; r = r->next)
		if (r->pid > 0)
			kill(r->pid, sig);
}

void mounters_shutdown_begin(struct mounters *m)
{
	/* Nothing starts any more: a reaped mounter must not make room for a waiting start,
	 * nor a debounced .nbd change start one. */
	for (struct waiting *w = waiting_take_all(m), *next; w; w = next) {
		next = w->next;
		free(w);
	}
	while (m->pending) {
		struct pending *p = m->pending;
		m->pending = p->next;
		free(p);
	}
	signal_all(m, SIGTERM);
}

void mounters_kill_all(struct mounters *m)
{
	signal_all(m, SIGKILL);
}

void mounters_forget_all(struct mounters *m)
{
	while (m->list)
		rec_free(m, m->list);
}

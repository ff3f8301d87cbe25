/* rtftp: the parent. Binds, opens ROOT, drops privilege, then only supervises: the
 * worker (all TFTP) and the mounters (remote disks). It never reads a TFTP packet. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "clock.h"
#include "helpers.h"
#include "listen.h"
#include "log.h"
#include "mounters.h"
#include "options.h"
#include "privdrop.h"
#include "worker_proc.h"

#define STOP_GRACE_MS     1500  /* SIGTERM to SIGKILL, for every child alike */
#define STOP_KILL_WAIT_MS  250   /* then reaping: exit within the 2 s promise */

struct parent {
	struct rtftp_options opt;
	struct evloop loop;
	struct ev_handler sig_ev;
	struct worker_proc wp;
	struct mounters *mounters;
	bool stopping;
	struct helper worker_exe;
	struct helper mounter_exe;
};

static int open_root(const char *root)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		fatal("ROOT %s", root);
	if (fstatat(fd, "default", &st, 0) < 0 || !S_ISDIR(st.st_mode))
		log_warnx("ROOT %s has no default/ folder: clients without a folder of their own "
			  "get \"file not found\"", root);
	return fd;
}

/* --check-config runs in the mounter's executable: only it links libnbd and cJSON, which
 * keeps the long-lived parent small. It talks to a remote NBD server and parses the disk's
 * partition tables, so it runs as the service user, like the mounters, never as root. */
static int check_config(struct parent *p)
{
	log_init("rtftp", p->opt.verbose);
	helpers_open(&p->opt.libexec_dir, &p->worker_exe, &p->mounter_exe);
	if ((getuid() == 0 || geteuid() == 0) && !p->opt.user)
		fatalx("--check-config as root: --user USER is required (the check talks to the NBD "
		       "server as that user, as the mounters do, never as root)");
	privdrop(p->opt.user);
	char *argv[] = { "rtftp-mounter", "--check-config", (char *)p->opt.check_config, NULL };
	helper_exec(&p->mounter_exe, argv);
	return 2;
}

/* Descriptors inherited from whoever started rtftp (a shell's 9</etc/shadow, a leaky
 * supervisor's) are no business of rtftp's: closed, all but systemd's sockets, before
 * anything else runs, so that neither the parent (which lives on as the service user) nor
 * a helper holds one. The helpers' children also close what they are not handed
 * (worker_proc.c, mounters.c). */
static void close_inherited(void)
{
	int n = sd_listen_fds(0);
	unsigned first = SD_LISTEN_FDS_START + (unsigned)(n > 0 ? n : 0);
	if (close_range(first, ~0U, 0) < 0)
		fatal("close_range");
}

static void reap(struct parent *p)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (!worker_proc_exited(&p->wp, pid, status, p->stopping))
			mounters_child_exited(p->mounters, pid, status);
	}
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct parent *p = container_of(h, struct parent, sig_ev);
	struct signalfd_siginfo si;
	(void)events;
	while (read(h->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(p);
			break;
		case SIGTERM: case SIGINT:
			if (!p->stopping)
				log_info("signal %u: stopping", si.ssi_signo);
			p->stopping = true;
			break;
		default:
			break;
		}
	}
}

static void setup_signals(struct parent *p)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		fatal("sigprocmask");
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0 || evloop_add(&p->loop, &p->sig_ev, fd, on_signal, EPOLLIN) < 0)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);
}

static bool children_left(const struct parent *p)
{
	return p->wp.pid > 0 || mounters_any_running(p->mounters);
}

static void reap_until(struct parent *p, long long until)
{
	while (children_left(p) && monotonic_ms() < until) {
		reap(p);
		if (children_left(p))
			usleep(10000);
	}
}

/* One deadline for every child: SIGTERM to the worker and the mounters at once, SIGKILL to
 * whatever is left STOP_GRACE_MS later, then a short wait to reap them. */
static void shutdown_children(struct parent *p)
{
	long long t0 = monotonic_ms();
	sd_notify(0, "STOPPING=1");
	worker_proc_stop(&p->wp);
	mounters_shutdown_begin(p->mounters);
	reap_until(p, t0 + STOP_GRACE_MS);
	if (children_left(p)) {
		log_warnx("children still running %d ms after SIGTERM: killing them", STOP_GRACE_MS);
		if (p->wp.pid > 0)
			kill(p->wp.pid, SIGKILL);
		mounters_kill_all(p->mounters);
		reap_until(p, monotonic_ms() + STOP_KILL_WAIT_MS);
	}
	mounters_forget_all(p->mounters);
}

int main(int argc, char **argv)
{
	static struct parent p;
	int listen_fds[RTFTP_MAX_LISTEN];
	close_inherited();
	options_parse(argc, argv, &p.opt);
	if (p.opt.check_config)
		return check_config(&p);
	log_init("rtftp", p.opt.verbose);
	if (p.opt.syslog)
		log_use_syslog();
	if (p.opt.insecure_no_sandbox)
		log_warnx("INSECURE: --insecure-no-sandbox given: the worker serves even when its "
			  "seccomp filter cannot be loaded");
	helpers_open(&p.opt.libexec_dir, &p.worker_exe, &p.mounter_exe);
	int rootfd = open_root(p.opt.root);
	int nlisten = listen_open(&p.opt, listen_fds, RTFTP_MAX_LISTEN);
	privdrop(p.opt.user);
	if (evloop_init(&p.loop) < 0)
		fatal("epoll_create");
	setup_signals(&p);
	p.mounters = mounters_new(&p.loop, &p.opt, rootfd, &p.mounter_exe);
	p.wp = (struct worker_proc){ .loop = &p.loop, .opt = &p.opt, .mounters = p.mounters,
				     .exe = &p.worker_exe, .rootfd = rootfd,
				     .listen_fds = listen_fds, .nlisten = nlisten, .pid = -1, .sock = -1 };
	worker_proc_start(&p.wp);
	while (!p.stopping && !p.wp.failed) {
		int wait = worker_proc_tick(&p.wp);
		if (evloop_run_once(&p.loop, wait < 0 ? 1000 : wait) < 0)
			fatal("epoll_wait");
	}
	shutdown_children(&p);
	if (p.wp.failed) {
		log_warnx("the worker failed before serving (see above): not serving");
		return 1;
	}
	log_info("stopped");
	return 0;
}

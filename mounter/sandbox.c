/* The mounter's confinement. It is looser than the worker's by nature: libguestfs forks
 * qemu-img, qemu and its recovery process, which need exec, threads and the network-less
 * KVM/TCG machinery, so no seccomp filter or Landlock here (docs/remote-disks.md). What it
 * does get: no new privileges for anything it starts, no core dumps (they would hold disk
 * bytes), a private umask, no inherited descriptors beyond stdio and its two channels, and
 * death with the parent. */
#include "mounter.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

volatile sig_atomic_t mounter_term;

static void on_term(int sig)
{
	(void)sig;
	mounter_term = 1;
}

static void close_stray_fds(void)
{
	/* Only stdio and the two channels are ours; anything else leaked through exec. */
	if (close_range(RTFTP_FD_WORKER + 1, ~0U, 0) < 0)
		fatal("close_range");
}

static void set_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* A worker that closes its end mid-send must give EPIPE, not kill us. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		fatal("sigaction SIGPIPE");
	/* No SA_RESTART: poll() returns EINTR so the loop sees the flag. */
	sa.sa_handler = on_term;
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		fatal("sigaction SIGTERM");
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

void sandbox_early(void)
{
	struct rlimit core = { 0, 0 };
	close_stray_fds();
	set_signals();
	umask(077);
	if (setrlimit(RLIMIT_CORE, &core) < 0)
		fatal("setrlimit RLIMIT_CORE");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS");
	/* The parent going away must stop the appliance too; SIGTERM gives a clean shutdown. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		fatal("PR_SET_PDEATHSIG");
}

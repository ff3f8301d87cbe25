/* The worker's real seccomp filter, loaded in a child: what it must allow, and what must
 * kill the process with SIGSYS (execve, opening for writing, other socket kinds, W+X). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker.h"

static int failures;

static void attempt(const char *what, int expect_sigsys, void (*act)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sandbox_seccomp_load() < 0)
			_exit(100);
		act();
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	int got_sigsys = WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
	int ok = expect_sigsys ? got_sigsys : (WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("%s %s: %s\n", ok ? "ok  " : "FAIL", what,
	       WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");
	failures += !ok;
}

static void do_execve(void) { char *argv[] = { "true", NULL }; execve("/bin/true", argv, NULL); }
static void do_open_write(void) { openat(AT_FDCWD, "/tmp/rtftp-sandbox-test", O_WRONLY | O_CREAT, 0600); }
static void do_open_rdwr(void) { openat(AT_FDCWD, "/etc/hostname", O_RDWR); }
static void do_open_read(void) { int fd = openat(AT_FDCWD, "/etc/hostname", O_RDONLY); if (fd < 0) _exit(3); }
static void do_unix_socket(void) { socket(AF_UNIX, SOCK_STREAM, 0); }
static void do_tcp_socket(void) { socket(AF_INET, SOCK_STREAM, 0); }
static void do_udp_socket(void) { if (socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0) < 0) _exit(3); }
static void do_exec_mmap(void) { mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }
static void do_fork(void) { fork(); }
static void do_ptrace_like(void) { kill(getppid(), 0); }

int main(void)
{
	attempt("execve is killed", 1, do_execve);
	attempt("openat(O_WRONLY|O_CREAT) is killed", 1, do_open_write);
	attempt("openat(O_RDWR) is killed", 1, do_open_rdwr);
	attempt("socket(AF_UNIX) is killed", 1, do_unix_socket);
	attempt("socket(AF_INET, SOCK_STREAM) is killed", 1, do_tcp_socket);
	attempt("mmap(PROT_EXEC) is killed", 1, do_exec_mmap);
	attempt("fork is killed", 1, do_fork);
	attempt("kill is killed", 1, do_ptrace_like);
	attempt("openat(O_RDONLY) is allowed", 0, do_open_read);
	attempt("UDP socket is allowed", 0, do_udp_socket);
	printf("%d passed, %d failed\n", 10 - failures, failures);
	return failures ? 1 : 0;
}

/* What the worker may ask of the kernel once sandboxed, and why. Anything not listed kills
 * the process (the parent logs the SIGSYS and starts a new worker). */
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "sandbox_syscalls.h"

#define ARG(i, op, ...) SCMP_CMP(i, op, __VA_ARGS__)
#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE)

static const struct sandbox_rule worker_rules[] = {
	/* files: lookups below ROOT (openat2's flags sit in memory seccomp cannot read; the
	 * one call site passes O_RDONLY or O_PATH and Landlock makes ROOT read-only) */
	{ .name = "openat2" },
	{ .name = "openat", .nargs = 1, .args = { ARG(2, SCMP_CMP_MASKED_EQ, WRITE_FLAGS, 0) } },   /* read-only only */
	{ .name = "pread64" },          /* file data, at the block's offset */
	{ .name = "fstat" },            /* regular file? size for tsize */
	{ .name = "newfstatat" },       /* glibc's fstat */
	{ .name = "close" },
	/* channels received from the parent are made non-blocking: never wait on a mounter */
	{ .name = "fcntl", .nargs = 1, .args = { ARG(1, SCMP_CMP_EQ, F_GETFL) } },
	{ .name = "fcntl", .nargs = 1, .args = { ARG(1, SCMP_CMP_EQ, F_SETFL) } },
	/* a mounter's file must be a sealed memfd: nothing else is read from a mounter */
	{ .name = "fcntl", .nargs = 1, .args = { ARG(1, SCMP_CMP_EQ, F_GET_SEALS) } },
	/* the event loop */
	{ .name = "epoll_wait" },
	{ .name = "epoll_pwait" },
	{ .name = "epoll_ctl" },
	/* UDP sockets of transfers, and the path-MTU probe; nothing but UDP/IP */
	{ .name = "socket", .nargs = 2, .args = { ARG(0, SCMP_CMP_EQ, AF_INET), ARG(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM) } },
	{ .name = "socket", .nargs = 2, .args = { ARG(0, SCMP_CMP_EQ, AF_INET6), ARG(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM) } },
	{ .name = "bind" },
	{ .name = "connect" },          /* the MTU probe socket */
	{ .name = "getsockname" },
	{ .name = "getsockopt" },       /* IP_MTU */
	{ .name = "setsockopt" },
	{ .name = "recvfrom" },
	{ .name = "recvmsg" },          /* parent and mounter channels, descriptors */
	{ .name = "recvmmsg" },         /* listening sockets, in batches */
	{ .name = "sendto" },
	{ .name = "sendmsg" },           /* replies, and log lines and requests to the parent */
	{ .name = "sendmmsg" },         /* a window of DATA in one call */
	/* time and randomness (vDSO fallbacks) */
	{ .name = "clock_gettime" },
	{ .name = "gettimeofday" },
	{ .name = "getrandom" },
	/* memory: never executable */
	{ .name = "brk" },
	{ .name = "mmap", .nargs = 1, .args = { ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) } },
	{ .name = "mprotect", .nargs = 1, .args = { ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) } },
	{ .name = "munmap" },
	{ .name = "mremap" },
	{ .name = "madvise" },
	/* signals (SIGTERM handler) and leaving */
	{ .name = "rt_sigreturn" },
	{ .name = "rt_sigprocmask" },
	{ .name = "exit" },
	{ .name = "exit_group" },
	{ .name = "futex" },            /* glibc locks on the abort path */
};

const struct sandbox_rule *sandbox_worker_rules(size_t *n)
{
	*n = sizeof(worker_rules) / sizeof(worker_rules[0]);
	return worker_rules;
}

#ifdef RTFTP_SANITIZE
/* ASan/UBSan report through these; a sanitizer build is for tests, never shipped. */
static const struct sandbox_rule sanitizer_rules[] = {
	{ .name = "getpid" }, { .name = "gettid" }, { .name = "tgkill" },
	{ .name = "sigaltstack" }, { .name = "rt_sigaction" },
	{ .name = "prctl" }, { .name = "readlink" }, { .name = "readlinkat" },
	{ .name = "sched_yield" }, { .name = "read" }, { .name = "lseek" },
	{ .name = "open", .nargs = 1, .args = { ARG(1, SCMP_CMP_MASKED_EQ, WRITE_FLAGS, 0) } },
	{ .name = "write" }, { .name = "getrlimit" }, { .name = "prlimit64" },
	{ .name = "nanosleep" }, { .name = "clock_nanosleep" },
};

/* LeakSanitizer needs ptrace at exit, which the filter rightly forbids. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

const struct sandbox_rule *sandbox_extra_rules(size_t *n)
{
	*n = sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]);
	return sanitizer_rules;
}
#else
const struct sandbox_rule *sandbox_extra_rules(size_t *n)
{
	*n = 0;
	return NULL;
}
#endif

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
	{ "openat2", 0, { { 0 } } },
	{ "openat", 1, { ARG(2, SCMP_CMP_MASKED_EQ, WRITE_FLAGS, 0) } },   /* read-only only */
	{ "pread64", 0, { { 0 } } },          /* file data, at the block's offset */
	{ "fstat", 0, { { 0 } } },            /* regular file? size for tsize */
	{ "newfstatat", 0, { { 0 } } },       /* glibc's fstat */
	{ "close", 0, { { 0 } } },
	/* the event loop */
	{ "epoll_wait", 0, { { 0 } } },
	{ "epoll_pwait", 0, { { 0 } } },
	{ "epoll_ctl", 0, { { 0 } } },
	/* UDP sockets of transfers, and the path-MTU probe; nothing but UDP/IP */
	{ "socket", 2, { ARG(0, SCMP_CMP_EQ, AF_INET), ARG(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM) } },
	{ "socket", 2, { ARG(0, SCMP_CMP_EQ, AF_INET6), ARG(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM) } },
	{ "bind", 0, { { 0 } } },
	{ "connect", 0, { { 0 } } },          /* the MTU probe socket */
	{ "getsockname", 0, { { 0 } } },
	{ "getsockopt", 0, { { 0 } } },       /* IP_MTU */
	{ "setsockopt", 0, { { 0 } } },
	{ "recvfrom", 0, { { 0 } } },
	{ "recvmsg", 0, { { 0 } } },          /* parent and mounter channels, descriptors */
	{ "recvmmsg", 0, { { 0 } } },         /* listening sockets, in batches */
	{ "sendto", 0, { { 0 } } },
	{ "sendmsg", 0, { { 0 } } },           /* replies, and log lines and requests to the parent */
	{ "sendmmsg", 0, { { 0 } } },         /* a window of DATA in one call */
	/* time and randomness (vDSO fallbacks) */
	{ "clock_gettime", 0, { { 0 } } },
	{ "gettimeofday", 0, { { 0 } } },
	{ "getrandom", 0, { { 0 } } },
	/* memory: never executable */
	{ "brk", 0, { { 0 } } },
	{ "mmap", 1, { ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) } },
	{ "mprotect", 1, { ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) } },
	{ "munmap", 0, { { 0 } } },
	{ "mremap", 0, { { 0 } } },
	{ "madvise", 0, { { 0 } } },
	/* signals (SIGTERM handler) and leaving */
	{ "rt_sigreturn", 0, { { 0 } } },
	{ "rt_sigprocmask", 0, { { 0 } } },
	{ "exit", 0, { { 0 } } },
	{ "exit_group", 0, { { 0 } } },
	{ "futex", 0, { { 0 } } },            /* glibc locks on the abort path */
};

const struct sandbox_rule *sandbox_worker_rules(size_t *n)
{
	*n = sizeof(worker_rules) / sizeof(worker_rules[0]);
	return worker_rules;
}

#ifdef RTFTP_SANITIZE
/* ASan/UBSan report through these; a sanitizer build is for tests, never shipped. */
static const struct sandbox_rule sanitizer_rules[] = {
	{ "getpid", 0, { { 0 } } }, { "gettid", 0, { { 0 } } }, { "tgkill", 0, { { 0 } } },
	{ "sigaltstack", 0, { { 0 } } }, { "rt_sigaction", 0, { { 0 } } },
	{ "prctl", 0, { { 0 } } }, { "readlink", 0, { { 0 } } }, { "readlinkat", 0, { { 0 } } },
	{ "sched_yield", 0, { { 0 } } }, { "read", 0, { { 0 } } }, { "lseek", 0, { { 0 } } },
	{ "open", 1, { ARG(1, SCMP_CMP_MASKED_EQ, WRITE_FLAGS, 0) } },
	{ "write", 0, { { 0 } } }, { "getrlimit", 0, { { 0 } } }, { "prlimit64", 0, { { 0 } } },
	{ "nanosleep", 0, { { 0 } } }, { "clock_nanosleep", 0, { { 0 } } },
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

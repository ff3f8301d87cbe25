/* The worker's seccomp allow-list, as data: one entry per allowed call (or argument form). */
#ifndef RTFTP_SANDBOX_SYSCALLS_H
#define RTFTP_SANDBOX_SYSCALLS_H

#include <seccomp.h>
#include <stddef.h>

struct sandbox_rule {
	const char *name;
	unsigned nargs;
	struct scmp_arg_cmp args[3];
};

const struct sandbox_rule *sandbox_worker_rules(size_t *n);
const struct sandbox_rule *sandbox_extra_rules(size_t *n);   /* sanitizer runtime, if built in */

#endif

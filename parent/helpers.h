/* The helper executables (rtftp-worker, rtftp-mounter), opened while the parent still has
 * its start-up privileges and executed later through that descriptor. */
#ifndef RTFTP_HELPERS_H
#define RTFTP_HELPERS_H

#include <limits.h>

struct helper {
	int fd;                     /* O_PATH, close-on-exec, 16 or above */
	char path[PATH_MAX];        /* for log lines only */
};

/* Find the helpers beside rtftp (a build tree) or in *libexec_dir (default RTFTP_LIBEXECDIR)
 * and open both; sets *libexec_dir to where they were found. Exits on failure. */
void helpers_open(const char **libexec_dir, struct helper *worker, struct helper *mounter);
/* In a forked child: exec the helper with argv and the current environment. Returns only
 * on failure, after one line on stderr; the caller then _exits. Async-signal-safe. */
void helper_exec(const struct helper *h, char *const argv[]);

#endif

/* The helpers are opened before the privilege drop and executed by descriptor (fexecve), so
 * the service user needs execute permission on the files only, not search permission on
 * every folder above them: rtftp runs the same from /usr/libexec, from a build tree in a
 * private home, or from a folder that the operator has since renamed. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "log.h"

extern char **environ;

#define HELPER_FD_MIN 16      /* above fds 3 and 4, below any sane RLIMIT_NOFILE */

static int open_exe(const char *dir, const char *name, struct helper *h)
{
	struct stat st;
	snprintf(h->path, sizeof(h->path), "%s/%s", dir, name);
	int fd = open(h->path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Out of the way of the low descriptors that a child gets its channels on. */
	h->fd = fcntl(fd, F_DUPFD_CLOEXEC, HELPER_FD_MIN);
	close(fd);
	if (h->fd < 0)
		return -1;
	if (fstat(h->fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
		close(h->fd);
		h->fd = -1;
		errno = EACCES;
		return -1;
	}
	return 0;
}

/* The directory of /proc/self/exe, or NULL. */
static char *own_dir(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return strdup(self);
}

void helpers_open(const char **libexec_dir, struct helper *worker, struct helper *mounter)
{
	const char *dir = *libexec_dir;
	bool have_worker = false;
	if (!dir) {          /* a build tree has the helpers beside rtftp; else the installed ones */
		char *mine = own_dir();
		have_worker = mine && open_exe(mine, "rtftp-worker", worker) == 0;
		if (have_worker) {
			dir = mine;
		} else {
			free(mine);
			dir = RTFTP_LIBEXECDIR;
		}
	}
	if (!have_worker && open_exe(dir, "rtftp-worker", worker) < 0)
		fatal("worker executable %s", worker->path);
	if (open_exe(dir, "rtftp-mounter", mounter) < 0)
		fatal("mounter executable %s", mounter->path);
	*libexec_dir = dir;
}

static size_t append(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

void helper_exec(const struct helper *h, char *const argv[])
{
	fexecve(h->fd, argv, environ);
	/* Only async-signal-safe calls here: build the line by hand. */
	char line[PATH_MAX + 96], num[12];
	int e = errno, k = (int)sizeof(num) - 1;
	num[k] = '\0';
	do {
		num[--k] = (char)('0' + e % 10);
		e /= 10;
	} while (e && k > 0);
	size_t n = append(line, 0, sizeof(line), "rtftp: cannot execute ");
	n = append(line, n, sizeof(line), h->path);
	n = append(line, n, sizeof(line), " as the service user (errno ");
	n = append(line, n, sizeof(line), num + k);
	n = append(line, n, sizeof(line), ")\n");
	(void)!write(STDERR_FILENO, line, n);
}

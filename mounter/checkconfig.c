/* --check-config: the same parser and the same libnbd pre-flight as the mounter, so what
 * it accepts here the mounter accepts at boot time (short of the filesystem mounting). */
#include "checkconfig.h"
#include "mounter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nbdconf.h"
#include "nbdprobe.h"

#define CHECK_PROBE_MS 5000

static void warn_cb(const char *msg, void *arg)
{
	printf("%s: warning: %s\n", (const char *)arg, msg);
}

static void print_config(const char *path, const struct nbdconf *c)
{
	printf("%s: valid\n", path);
	printf("  url:       %s\n", c->url);
	if (c->transport == NBDCONF_UNIX)
		printf("  server:    unix socket %s\n", c->socket);
	else
		printf("  server:    tcp %s port %u\n", c->host, c->port);
	printf("  export:    \"%s\"\n", c->export_name);
	for (int i = 0; i < c->nmounts; i++)
		printf("  mount:     partition %d on %s\n", c->mounts[i].partition, c->mounts[i].mountpoint);
	printf("  tftp_root: %s\n", c->tftp_root);
}

static void print_probe(const struct nbdprobe_result *r, long ms)
{
	printf("NBD server answered in %ld ms\n", ms);
	printf("  size:      %llu bytes%s\n", (unsigned long long)r->size, r->read_only ? " (read-only export)" : "");
	printf("  table:     %s, %d partition%s\n", r->table, r->nparts, r->nparts == 1 ? "" : "s");
	for (int i = 0; i < r->nparts; i++) {
		const struct nbdprobe_part *p = &r->parts[i];
		printf("  partition %d: start %llu, %llu bytes, %s\n", p->number, (unsigned long long)p->start,
		       (unsigned long long)p->size, p->fs[0] ? p->fs : "no filesystem recognised");
	}
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int checkconfig_run(const char *path)
{
	static struct nbdconf c;
	static struct nbdprobe_result r;
	char err[NBDCONF_ERR_MAX];
	struct timespec t0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		printf("%s: %s\n", path, strerror(errno));
		return 1;
	}
	int rc = nbdconf_read_fd(fd, &c, err, sizeof(err), warn_cb, (void *)path);
	close(fd);
	if (rc < 0) {
		printf("%s: invalid: %s\n", path, err);
		return 1;
	}
	print_config(path, &c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (resolve_and_probe(&c, CHECK_PROBE_MS, &r, err, sizeof(err)) < 0) {
		printf("NBD server %s: %s\n", c.url, err);
		return 1;
	}
	print_probe(&r, elapsed_ms(&t0));
	if (nbdprobe_check_mounts(&c, &r, err, sizeof(err)) < 0) {
		printf("FAIL: %s\n", err);
		return 1;
	}
	if (nbdprobe_alive_beside(&c, CHECK_PROBE_MS, err, sizeof(err)) < 0) {
		printf("FAIL: %s (the server must take two connections at once: qemu-nbd needs --shared=0)\n", err);
		return 1;
	}
	printf("OK: every configured partition is there and holds a filesystem\n");
	return 0;
}

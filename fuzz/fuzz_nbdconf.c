/* libFuzzer target: the .nbd config parser (common/nbdconf.c) on arbitrary bytes. It may
 * not crash, read out of bounds, or accept a config whose fields break the invariants the
 * mounter relies on (checked below). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbdconf.h"

static void check(const struct nbdconf *c)
{
	if (c->nmounts < 1 || c->nmounts > NBDCONF_MAX_MOUNTS || c->tftp_root[0] != '/')
		abort();
	for (int i = 0; i < c->nmounts; i++)
		if (c->mounts[i].partition < 1 || c->mounts[i].partition > 128 || c->mounts[i].mountpoint[0] != '/' ||
		    strstr(c->mounts[i].mountpoint, "/../") || strstr(c->mounts[i].mountpoint, "//"))
			abort();
	if (c->transport != NBDCONF_TCP && c->transport != NBDCONF_UNIX)
		abort();
	if (c->transport == NBDCONF_UNIX && c->socket[0] != '/')
		abort();
	for (const char *p = c->export_name; *p; p++)
		if ((unsigned char)*p < 0x20)
			abort();
}

/* Warnings (unknown keys) are built from hostile key bytes: each must be one terminated,
 * printable line. */
static void check_warning(const char *msg, void *arg)
{
	(void)arg;
	for (const char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nbdconf c;
	char err[NBDCONF_ERR_MAX];
	if (nbdconf_parse((const char *)data, size, &c, err, sizeof(err), check_warning, NULL) == 0)
		check(&c);
	else if (!memchr(err, '\0', sizeof(err)) || !err[0])
		abort();
	return 0;
}

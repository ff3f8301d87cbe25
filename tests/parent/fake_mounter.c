/* Stands in for rtftp-mounter in tests of the parent. By default it holds its channels open
 * and does nothing until the parent closes its end or stops it. The environment (which the
 * parent passes on to its helpers) chooses other behaviours:
 *   FAKE_MOUNTER_IGNORE_TERM=1  ignore SIGTERM (a slow appliance shutdown): only SIGKILL ends it
 *   FAKE_MOUNTER_READY=1        send PM_HELLO and PM_STATUS READY first (an idle, mounted disk)
 *   FAKE_MOUNTER_EXIT=1         exit at once without reading what the parent sent
 * and "rtftp-mounter --check-config FILE" prints the lines of its /proc/self/status that say
 * what privilege it runs with, then exits 0. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "proto.h"

static bool env_on(const char *name)
{
	const char *v = getenv(name);
	return v && strcmp(v, "1") == 0;
}

static int print_privilege(void)
{
	static const char *const keys[] = { "Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:",
					    "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:" };
	char line[512];
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0)
				fputs(line, stdout);
	fclose(f);
	return 0;
}

static void report_ready(void)
{
	struct proto_hello hello = { .version = RTFTP_PROTO_VERSION };
	struct pm_status st = { .state = PM_ST_READY };
	ipc_send(RTFTP_FD_PARENT, PM_HELLO, 0, &hello, sizeof(hello), -1);
	ipc_send_struct_string(RTFTP_FD_PARENT, PM_STATUS, 0, &st, sizeof(st), "fake disk", -1);
}

int main(int argc, char **argv)
{
	char buf[4096];
	if (argc == 3 && strcmp(argv[1], "--check-config") == 0)
		return print_privilege();
	if (env_on("FAKE_MOUNTER_EXIT"))
		return 0;
	if (env_on("FAKE_MOUNTER_IGNORE_TERM"))
		signal(SIGTERM, SIG_IGN);
	if (env_on("FAKE_MOUNTER_READY"))
		report_ready();
	while (read(RTFTP_FD_PARENT, buf, sizeof(buf)) > 0)
		;
	if (env_on("FAKE_MOUNTER_IGNORE_TERM"))
		for (;;)
			pause();
	return 0;
}

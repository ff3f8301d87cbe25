/* Stands in for rtftp-mounter in tests of the parent. By default it holds its channels open
 * and does nothing until the parent closes its end or stops it. The environment (which the
 * parent passes on to its helpers) chooses other behaviours:
 *   FAKE_MOUNTER_IGNORE_TERM=1  ignore SIGTERM (a slow appliance shutdown): only SIGKILL ends it
 *   FAKE_MOUNTER_READY=1        send PM_HELLO and PM_STATUS READY first (an idle, mounted disk)
 *   FAKE_MOUNTER_EXIT=1         exit at once without reading what the parent sent
 *   FAKE_MOUNTER_BUSY=1         after READY, PM_STATUS BUSY (a file is open: not to be evicted)
 *   FAKE_MOUNTER_SEND_FD=1      PM_HELLO, then a PM_STATUS with a descriptor attached
 *   FAKE_MOUNTER_NO_HELLO=1     PM_STATUS READY without PM_HELLO first
 * and "rtftp-mounter --check-config FILE" prints the lines of its /proc/self/status that say
 * what privilege it runs with, then exits 0. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

static void send_status(uint32_t state, int fd)
{
	struct pm_status st = { .state = state };
	ipc_send_struct_string(RTFTP_FD_PARENT, PM_STATUS, 0, &st, sizeof(st), "fake disk", fd);
}

static void report_ready(bool hello_first, int fd)
{
	struct proto_hello hello = { .version = RTFTP_PROTO_VERSION };
	if (hello_first)
		ipc_send(RTFTP_FD_PARENT, PM_HELLO, 0, &hello, sizeof(hello), -1);
	send_status(PM_ST_READY, fd);
}

int main(int argc, char **argv)
{
	char buf[4096];
	if (argc == 3 && strcmp(argv[1], "--check-config") == 0)
		return print_privilege();
	if (env_on("FAKE_MOUNTER_EXIT"))
		return 0;
	/* A test killed mid-run must not leave a stand-in behind that ignores SIGTERM. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (env_on("FAKE_MOUNTER_IGNORE_TERM"))
		signal(SIGTERM, SIG_IGN);
	if (env_on("FAKE_MOUNTER_READY"))
		report_ready(true, -1);
	if (env_on("FAKE_MOUNTER_BUSY"))
		send_status(PM_ST_BUSY, -1);
	if (env_on("FAKE_MOUNTER_SEND_FD"))
		report_ready(true, STDIN_FILENO);
	if (env_on("FAKE_MOUNTER_NO_HELLO"))
		report_ready(false, -1);
	while (read(RTFTP_FD_PARENT, buf, sizeof(buf)) > 0)
		;
	if (env_on("FAKE_MOUNTER_IGNORE_TERM"))
		for (;;)
			pause();
	return 0;
}

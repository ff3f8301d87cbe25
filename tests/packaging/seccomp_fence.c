/* seccomp_fence LIST -- PROGRAM [ARGS...]
 * Loads a seccomp filter that allows exactly the system calls named in LIST
 * (one per line) and fails every other one with EPERM, as systemd does for
 * SystemCallFilter= with SystemCallErrorNumber=EPERM, then execs PROGRAM.
 * Used by packaging.syscallfilter to run the libguestfs appliance inside the
 * fence of rtftp.service. Names libseccomp does not know are skipped, as
 * systemd skips them. Needs no_new_privs (set here) or CAP_SYS_ADMIN. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: seccomp_fence LIST -- PROGRAM [ARGS...]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return 2;
	char line[128];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		int nr = seccomp_syscall_resolve_name(line);
		if (line[0] == '\0' || nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0)
			n++;
	}
	fclose(f);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0) {
		perror("seccomp");
		return 2;
	}
	fprintf(stderr, "seccomp_fence: %d system calls allowed, the rest fail with EPERM\n", n);
	execvp(argv[3], argv + 3);
	perror(argv[3]);
	return 127;
}

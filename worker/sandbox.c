/* The worker's sandbox, applied once, before the first packet:
 *   1. resource limits: no new processes, no file writes, no core dumps;
 *   2. Landlock: the file system is read-only below ROOT and closed everywhere else;
 *   3. seccomp: the allow-list below; any other system call kills the process.
 * Every step that fails stops the start (fail closed), except a kernel without Landlock
 * (one warning) and, only when the operator asked with --insecure-no-sandbox, seccomp. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox_syscalls.h"
#include "worker.h"

static void limits_apply(void)
{
	static const struct { int res; const char *name; } zero[] = {
		{ RLIMIT_NPROC, "RLIMIT_NPROC" },     /* no fork: the worker never starts anything */
		{ RLIMIT_FSIZE, "RLIMIT_FSIZE" },     /* no file grows by the worker's hand */
		{ RLIMIT_CORE, "RLIMIT_CORE" },       /* no core file with client data in it */
	};
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		struct rlimit rl = { 0, 0 };
		if (setrlimit(zero[i].res, &rl) < 0)
			fatal("setrlimit %s", zero[i].name);
	}
}

/* Every transfer holds up to two descriptors (its socket, its file); mounter channels, the
 * listeners and their memfds need a few hundred more. Raise the soft limit toward that (the
 * hard limit is the operator's: LimitNOFILE= in the unit); below it, say so once at start:
 * requests past it are refused, and a mounter channel that cannot be received is logged. */
static void descriptors_fit(const struct worker *w)
{
	rlim_t need = (rlim_t)w->cfg.max_transfers * 2 + 256;
	struct rlimit rl, want;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	want = rl;
	want.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		rl = want;
	if (rl.rlim_cur < need)
		log_warnx("RLIMIT_NOFILE is %llu, --max-transfers %u needs %llu: requests beyond it "
			  "will be refused (raise LimitNOFILE=)", (unsigned long long)rl.rlim_cur,
			  w->cfg.max_transfers, (unsigned long long)need);
}

static uint64_t landlock_fs_rights(int abi)
{
	uint64_t all = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
		LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
		LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		all |= 1ULL << 13;   /* LANDLOCK_ACCESS_FS_REFER */
	if (abi >= 3)
		all |= 1ULL << 14;   /* LANDLOCK_ACCESS_FS_TRUNCATE */
	if (abi >= 5)
		all |= 1ULL << 15;   /* LANDLOCK_ACCESS_FS_IOCTL_DEV */
	return all;
}

/* Returns 0 when enforced, 1 when the kernel has no Landlock. */
static int landlock_apply(int rootfd)
{
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		if (errno == ENOSYS || errno == EOPNOTSUPP)
			return 1;
		fatal("landlock version");
	}
	struct landlock_ruleset_attr attr = { .handled_access_fs = landlock_fs_rights(abi) };
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0)
		fatal("landlock_create_ruleset");
	struct landlock_path_beneath_attr below_root = {
		.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
		.parent_fd = rootfd,
	};
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &below_root, 0) < 0)
		fatal("landlock_add_rule for ROOT");
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		fatal("landlock_restrict_self");
	close(rs);
	return 0;
}

static void add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	if (nr == __NR_SCMP_ERROR)
		return;          /* not a system call on this architecture */
	int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, r->nargs, r->args);
	if (rc < 0)
		fatalx("seccomp rule for %s: %s", r->name, strerror(-rc));
}

static scmp_filter_ctx filter_build(void)
{
	size_t n;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		fatalx("seccomp_init failed");
	const struct sandbox_rule *rules = sandbox_worker_rules(&n);
	for (size_t i = 0; i < n; i++)
		add_rule(ctx, &rules[i]);
	rules = sandbox_extra_rules(&n);
	for (size_t i = 0; i < n; i++)
		add_rule(ctx, &rules[i]);
	return ctx;
}

int sandbox_print_filter(int fd)
{
	scmp_filter_ctx ctx = filter_build();
	int rc = seccomp_export_pfc(ctx, fd);
	seccomp_release(ctx);
	return rc < 0 ? 1 : 0;
}

int sandbox_seccomp_load(void)
{
	scmp_filter_ctx ctx = filter_build();
	int rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

void sandbox_apply(struct worker *w)
{
	descriptors_fit(w);
	limits_apply();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS");
	if (landlock_apply(w->rootfd) == 1)
		log_warnx("this kernel has no Landlock: file access is confined by permissions "
			  "and openat2(RESOLVE_BENEATH) only");
	int rc = sandbox_seccomp_load();
	if (rc < 0) {
		if (!w->cfg.insecure_no_sandbox)
			fatalx("cannot load the seccomp filter (%s): not serving; "
			       "--insecure-no-sandbox overrides", strerror(-rc));
		log_warnx("INSECURE: seccomp filter not loaded (%s); serving WITHOUT a sandbox "
			  "because --insecure-no-sandbox was given", strerror(-rc));
	}
}

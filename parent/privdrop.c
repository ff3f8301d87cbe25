/* Dropping privilege, in this order, each step fatal when it fails:
 *   1. resolve the user (while /etc/passwd is still readable); neither uid 0 nor gid 0;
 *   2. supplementary groups: none (kvm alone where the mounters can use it);
 *   3. libcap-ng: clear every capability, change uid/gid, clear the bounding set;
 *   4. prove it: setuid(0) must now fail;
 *   5. PR_SET_NO_NEW_PRIVS, so no exec can gain privilege again. */
#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <string.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

static bool user_in_group(const char *name, const struct group *gr)
{
	for (char **m = gr->gr_mem; m && *m; m++)
		if (strcmp(*m, name) == 0)
			return true;
	return false;
}

/* No supplementary groups, with one exception: kvm, when the host has /dev/kvm and the
 * service user is a member, so that mounters launch their appliance with KVM instead of
 * TCG. The worker inherits the group but Landlock keeps it away from /dev/kvm. */
static void set_groups(const struct passwd *pw)
{
	gid_t keep[1];
	int n = 0;
	struct group *kvm = getgrnam("kvm");
	if (kvm && access("/dev/kvm", F_OK) == 0 && user_in_group(pw->pw_name, kvm)) {
		keep[n++] = kvm->gr_gid;
		log_info("keeping group kvm (%u) for the mounters' /dev/kvm", (unsigned)kvm->gr_gid);
	}
	if (setgroups((size_t)n, keep) < 0)
		fatal("setgroups");
}

/* The primary group counts as much as the uid: group 0 opens what root's group may read
 * or write (log files, configuration, on some systems /etc/shadow). */
static const char *privdrop_refusal(const struct passwd *pw)
{
	if (pw->pw_uid == 0)
		return "is root";
	if (pw->pw_gid == 0)
		return "has group 0 (root) as its primary group";
	return NULL;
}

static void drop_as_root(const char *user)
{
	if (!user)
		fatalx("started as root: --user USER is required (rtftp never serves as root)");
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw)
		fatalx("unknown user \"%s\"", user);
	const char *why = privdrop_refusal(pw);
	if (why)
		fatalx("--user %s %s: choose an unprivileged user", user, why);
	set_groups(pw);
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_change_id((int)pw->pw_uid, (int)pw->pw_gid, CAPNG_CLEAR_BOUNDING) != 0)
		fatal("cannot become user %s", user);
	log_info("running as %s (uid %u, gid %u), no capabilities", user,
		 (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
}

static void drop_unprivileged(const char *user)
{
	if (user) {
		struct passwd *pw = getpwnam(user);
		if (!pw)
			fatalx("unknown user \"%s\"", user);
		if (pw->pw_uid != getuid())
			fatalx("--user %s: only root can change user", user);
	}
	/* Capabilities a non-root start may still carry (file caps, ambient): clear them. */
	capng_clear(CAPNG_SELECT_CAPS);
	if (capng_apply(CAPNG_SELECT_CAPS) != 0)
		fatal("cannot clear capabilities");
}

void privdrop(const char *user)
{
	if (getuid() == 0 || geteuid() == 0)
		drop_as_root(user);
	else
		drop_unprivileged(user);
	if (setuid(0) == 0 || geteuid() == 0)
		fatalx("privilege drop failed: setuid(0) still succeeds");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS");
}

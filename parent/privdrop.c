/* Dropping privilege, in this order, each step fatal when it fails:
 *   1. resolve the user (while /etc/passwd is still readable);
 *   2. libcap-ng: clear every capability, change uid/gid, drop supplementary groups,
 *      clear the bounding set;
 *   3. prove it: setuid(0) must now fail;
 *   4. PR_SET_NO_NEW_PRIVS, so no exec can gain privilege again. */
#include <cap-ng.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

static void drop_as_root(const char *user)
{
	if (!user)
		fatalx("started as root: --user USER is required (rtftp never serves as root)");
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw)
		fatalx("unknown user \"%s\"", user);
	if (pw->pw_uid == 0)
		fatalx("--user %s is root: choose an unprivileged user", user);
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_change_id((int)pw->pw_uid, (int)pw->pw_gid,
			    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) != 0)
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

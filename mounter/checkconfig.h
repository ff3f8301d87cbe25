/* rtftp --check-config FILE (the parent execs rtftp-mounter --check-config FILE, so that
 * only the mounter links libnbd): validate a .nbd file, probe its NBD server, print what was
 * found. Returns the exit code: 0 the disk can be served as configured, 1 it cannot. */
#ifndef RTFTP_CHECKCONFIG_H
#define RTFTP_CHECKCONFIG_H

int checkconfig_run(const char *path);

#endif

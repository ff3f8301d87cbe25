/* Command line of rtftp (the parent). Parsed once, before any privilege is dropped. */
#ifndef RTFTP_OPTIONS_H
#define RTFTP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proto.h"

#define RTFTP_MAX_LISTEN 16
/* --state-dir: each mounter's private folder and libguestfs's sockets below it must fit a
 * unix socket address (108 bytes) and mounter_config.tmp_dir. */
#define RTFTP_STATE_DIR_MAX 64
#define RTFTP_DEFAULT_PORT 69
/* A mounter that reports neither READY nor FAILED this long past --launch-timeout is
 * killed; the worker's requests wait for their mounter that long plus MOUNTER_WAIT_SLACK_S. */
#define LAUNCH_BACKSTOP_S  15
#define MOUNTER_WAIT_SLACK_S 15

struct rtftp_options {
	const char *root;                 /* ROOT folder */
	const char *user;                 /* --user: required when started as root */
	struct sockaddr_storage listen[RTFTP_MAX_LISTEN];
	int nlisten;                      /* 0: [::]:69 dual stack (or systemd sockets) */
	bool syslog;
	int verbose;
	bool insecure_no_sandbox;
	const char *check_config;         /* --check-config FILE: validate and exit */

	/* handed to the worker */
	struct worker_config worker;

	/* remote disks (mounters) */
	bool proactive;                   /* inotify on ROOT (--no-proactive turns it off) */
	uint32_t idle_timeout_s;          /* --idle-timeout */
	uint32_t max_mounters;            /* --max-mounters */
	uint32_t launch_timeout_s;        /* --launch-timeout */
	uint32_t remount_quiet_s;         /* --remount-after */
	uint64_t mounter_cache_bytes;     /* --mounter-cache-mb */
	const char *backend_settings;     /* --guestfs-backend-settings */
	const char *cache_dir;            /* --cache-dir (libguestfs appliance cache) */
	const char *state_dir;            /* --state-dir: private tmp dirs of the mounters */
	const char *libexec_dir;          /* where rtftp-worker / rtftp-mounter are */
};

/* Fills opt from argv; prints --help/--version itself and exits 0 for those;
 * exits 2 with a clear message for any bad option. */
void options_parse(int argc, char **argv, struct rtftp_options *opt);

#endif

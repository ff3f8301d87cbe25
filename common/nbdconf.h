/* The .nbd file of a client with a remote disk (docs/remote-disks.md):
 *
 *   { "url": "nbd://10.10.10.10:25000/server_root",
 *     "mounts": [ { "partition": 2, "mountpoint": "/" },
 *                 { "partition": 1, "mountpoint": "/boot" } ],
 *     "tftp_root": "/boot" }
 *
 * The parser is a pure function on a buffer (it is fuzzed): every field is checked, a
 * broken file gives one exact reason, unknown keys give warnings. */
#ifndef RTFTP_NBDCONF_H
#define RTFTP_NBDCONF_H

#include <stddef.h>

#define NBDCONF_MAX_BYTES   65536   /* a bigger .nbd file is refused unread */
#define NBDCONF_MAX_MOUNTS  16
#define NBDCONF_PATH_MAX    256     /* mount points and tftp_root, with NUL */
#define NBDCONF_HOST_MAX    256
#define NBDCONF_EXPORT_MAX  256
#define NBDCONF_SOCKET_MAX  108     /* sun_path */
#define NBDCONF_URL_MAX     1024
#define NBDCONF_ERR_MAX     256
#define NBDCONF_DEFAULT_PORT 10809

enum nbdconf_transport { NBDCONF_TCP = 1, NBDCONF_UNIX = 2 };

struct nbdconf_mount {
	int partition;                      /* 1..128 */
	char mountpoint[NBDCONF_PATH_MAX];  /* normalised absolute path */
};

struct nbdconf {
	char url[NBDCONF_URL_MAX];
	enum nbdconf_transport transport;
	char host[NBDCONF_HOST_MAX];        /* TCP: host name or address, without [] */
	unsigned port;                      /* TCP: 1..65535 */
	char socket[NBDCONF_SOCKET_MAX];    /* UNIX: absolute socket path */
	char export_name[NBDCONF_EXPORT_MAX]; /* %-decoded; "" = the default export */
	char server[NBDCONF_SOCKET_MAX + NBDCONF_HOST_MAX + 16]; /* libguestfs: tcp:H:P / unix:/path */
	int nmounts;
	struct nbdconf_mount mounts[NBDCONF_MAX_MOUNTS];
	char tftp_root[NBDCONF_PATH_MAX];   /* normalised absolute path, default "/" */
};

/* Called once per non-fatal remark (unknown key); msg is plain ASCII. */
typedef void (*nbdconf_warn_fn)(const char *msg, void *arg);

/* Parse len bytes (not NUL-terminated). 0 on success; -1 with the reason in err. */
int nbdconf_parse(const char *buf, size_t len, struct nbdconf *out,
		  char *err, size_t errlen, nbdconf_warn_fn warn, void *warn_arg);

/* Read a whole .nbd file from fd (a regular file of at most NBDCONF_MAX_BYTES) and parse
 * it. The descriptor is left open. 0 or -1 with the reason in err. */
int nbdconf_read_fd(int fd, struct nbdconf *out, char *err, size_t errlen,
		    nbdconf_warn_fn warn, void *warn_arg);

/* Split an NBD URI; exposed for the tests. 0 or -1 with the reason in err. */
int nbdconf_parse_url(const char *url, struct nbdconf *out, char *err, size_t errlen);

/* Normalise an absolute path: collapse "//", drop "." and trailing "/", refuse "..",
 * control characters and overlong results. 0 or -1 with the reason in err. */
int nbdconf_norm_path(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/* Is path equal to or below dir (both normalised)? */
int nbdconf_path_within(const char *path, const char *dir);

#endif

/* The messages of the three channels between rtftp processes. One enum per channel;
 * each starts at *_NONE = 0 and has a *_name() for logs. Every channel opens with a
 * HELLO carrying RTFTP_PROTO_VERSION in both directions.
 *
 *   parent <-> worker    PW_*   (fds: ROOT dir, listening sockets, mounter channel ends)
 *   worker <-> mounter   WM_*   (fds: one memfd per opened file, mounter -> worker only)
 *   parent <-> mounter   PM_*   (fds: the .nbd config file, parent -> mounter only)
 */
#ifndef RTFTP_PROTO_H
#define RTFTP_PROTO_H

#include <stdint.h>

#define RTFTP_PROTO_VERSION 2
#define RTFTP_ADDR_MAX      64     /* canonical client address text, with NUL */
#define RTFTP_REASON_MAX    512    /* a failure reason sent between processes, with NUL */

/* Descriptor numbers a child finds at exec. */
#define RTFTP_FD_PARENT     3      /* worker and mounter: channel to the parent */
#define RTFTP_FD_WORKER     4      /* mounter only: channel to the worker */

struct proto_hello {
	uint32_t version;
};

/* ---- parent <-> worker ------------------------------------------------------------ */
enum pw_msg {
	PW_NONE = 0,
	PW_HELLO,               /* both ways: struct proto_hello */
	PW_CONFIG,              /* parent -> worker: struct worker_config */
	PW_ROOT,                /* parent -> worker: fd = ROOT directory (O_PATH) */
	PW_LISTEN,              /* parent -> worker: fd = a bound listening UDP socket */
	PW_START,               /* parent -> worker: nothing more follows; sandbox and serve */
	PW_READY,               /* worker -> parent: sandboxed, serving */
	PW_LOG,                 /* worker -> parent: struct pw_log + line: every line once serving */
	PW_MOUNTER_WANT,        /* worker -> parent: struct pw_mounter + address: start its mounter */
	PW_MOUNTER,             /* parent -> worker: struct pw_mounter + address; fd = channel */
	PW_MOUNTER_NONE,        /* parent -> worker: struct pw_refusal + address string */
	PW_MOUNTER_STALLED,     /* worker -> parent: address string: its mounter stopped answering */
	PW_MSG_COUNT
};

struct worker_config {
	uint32_t timeout_ms;        /* first retransmit timeout when the client sets none */
	uint32_t retries;           /* retransmissions before a transfer is given up */
	uint32_t max_blksize;       /* 0: what fits the path MTU */
	uint32_t max_windowsize;
	uint32_t max_transfers;
	uint32_t max_per_client;
	uint32_t rrq_rate;          /* requests per second per client (burst: 2x) */
	uint32_t probe_cache_ms;    /* how long a lookup result is kept per (client, name) */
	uint32_t remote_deadline_ms;/* longest wait for a mounter's progress */
	uint32_t mounter_wait_ms;   /* longest wait for a client's mounter to become ready */
	uint16_t port_lo, port_hi;  /* 0,0: any ephemeral port */
	uint8_t single_port;
	uint8_t map_backslash;
	uint8_t verbose;
	uint8_t log_json;
	uint8_t insecure_no_sandbox;
	uint8_t remote_disks;       /* 0: never look for ROOT/A.nbd */
	uint8_t pad[2];
	char allow_ext[256];        /* ",.efi,.img," form; "" allows every name */
};

struct pw_log {
	uint32_t level;             /* enum log_level */
};

struct pw_refusal {
	uint32_t reserved;
};

/* Each channel the parent hands over gets a new serial; a WANT names the last one the worker
 * received for that address (0: none). A WANT that names an older one crossed a hand-over on
 * the way and is not a reason to replace the mounter just handed over. */
struct pw_mounter {
	uint32_t serial;
};

/* ---- worker <-> mounter ------------------------------------------------------------ */
enum wm_msg {
	WM_NONE = 0,
	WM_HELLO,               /* both ways: struct proto_hello */
	WM_READY,               /* mounter -> worker: disk mounted, opens may follow; no payload */
	WM_FAILED,              /* mounter -> worker: reason string; the mounter then exits */
	WM_OPEN,                /* worker -> mounter: id; name string relative to tftp_root */
	WM_OPENED,              /* mounter -> worker: id; struct wm_opened; fd = memfd being filled */
	WM_PROGRESS,            /* mounter -> worker: id; struct wm_progress */
	WM_ERROR,               /* mounter -> worker: id; struct wm_error + message string */
	WM_CLOSE,               /* worker -> mounter: id; no payload: the worker is done with it */
	WM_MSG_COUNT
};

struct wm_opened {
	uint64_t size;              /* the file's full size */
};

struct wm_progress {
	uint64_t available;         /* bytes [0, available) of the memfd are final */
};

enum wm_error_kind {
	WM_ERR_NOTFOUND = 1,        /* no such regular file below tftp_root: fall through */
	WM_ERR_DENIED = 2,          /* exists but refused (outside tftp_root, not a regular file) */
	WM_ERR_UNAVAILABLE = 3,     /* the disk cannot answer now (NBD server gone, stall, EIO) */
	WM_ERR_TOOBIG = 4,          /* over the mounter's cache bound */
};

struct wm_error {
	uint32_t kind;              /* enum wm_error_kind */
};

/* ---- parent <-> mounter ------------------------------------------------------------ */
enum pm_msg {
	PM_NONE = 0,
	PM_HELLO,               /* both ways: struct proto_hello */
	PM_CONFIG,              /* parent -> mounter: struct mounter_config + client address; fd = .nbd */
	PM_STATUS,              /* mounter -> parent: struct pm_status + detail string */
	PM_MSG_COUNT
};

struct mounter_config {
	uint32_t launch_timeout_s;
	uint32_t idle_timeout_s;
	uint32_t remount_quiet_s;   /* a new boot after this much quiet remounts (freshness) */
	uint32_t verbose;
	uint64_t cache_max_bytes;   /* bound on the memfd cache of opened files */
	char backend_settings[256]; /* LIBGUESTFS_BACKEND_SETTINGS, "" = leave as is */
	char cache_dir[256];        /* libguestfs cachedir (appliance) */
	char tmp_dir[256];          /* private libguestfs tmpdir; the parent removes it */
};

enum pm_state {
	PM_ST_READY = 1,            /* mounted */
	PM_ST_FAILED = 2,           /* could not start; detail says why; exits next */
	PM_ST_IDLE_EXIT = 3,        /* idle timeout reached; exits next */
	PM_ST_BUSY = 4,             /* a file is open (not a candidate for --max-mounters eviction) */
	PM_ST_IDLE = 5,             /* no file open */
};

struct pm_status {
	uint32_t state;             /* enum pm_state */
};

const char *pw_msg_name(uint16_t t);
const char *wm_msg_name(uint16_t t);
const char *pm_msg_name(uint16_t t);

#endif

/* State of the worker process: one event loop, every transfer, the per-client table,
 * the lookup cache and the mounter channels. Owned by worker/main.c; no other globals. */
#ifndef RTFTP_WORKER_H
#define RTFTP_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "evloop.h"
#include "proto.h"
#include "tftp.h"
#include "tftp_options.h"

#define LISTEN_MAX      16
#define CLIENT_BUCKETS  4096
#define XFER_BUCKETS    4096
#define CACHE_MAX       1024
#define PRE_ACK_RESENDS 2        /* retransmissions before a client's first ACK (anti-reflection) */
#define RTO_BACKOFF_MAX 3        /* the timeout doubles at most this many times */
#define NETASCII_MAX    (8u << 20)   /* a netascii transfer is converted in memory: bounded */
#define NETASCII_BUDGET (64u << 20)  /* and all converted text held at once, too */

struct worker;
struct transfer;
struct mounter;

struct listener {
	struct ev_handler ev;
	int fd;
	int family;
	struct worker *w;
};

/* Where a file came from, for logs and the lookup order. */
enum origin { ORIGIN_CLIENT, ORIGIN_REMOTE, ORIGIN_DEFAULT };
const char *origin_name(enum origin o);

/* An opened file shared by the transfers that read it and the lookup cache.
 * Local files are complete at once; a remote file grows as its mounter fills the memfd. */
struct file_ref {
	int refs;
	int fd;
	uint64_t size;
	uint64_t avail;           /* bytes [0, avail) are final */
	enum origin origin;
	struct mounter *mnt;      /* remote only; NULL once the mounter is gone */
	uint32_t id;              /* remote request id */
	bool opened;              /* remote: WM_OPENED seen */
	bool failed;              /* remote: the mounter went away or reported an error */
	struct file_ref *mnext;   /* the mounter's list of its files */
	uint8_t *ascii;           /* netascii text, converted once for every transfer of it */
	uint64_t ascii_len;
	char name[TFTP_NAME_MAX + 1];
};

/* A rate limit: rate a second, bursts of twice that (clients.c). refused counts what it has
 * turned away since it was last calm (at least half full again). */
struct token_bucket {
	double tokens;
	uint64_t refill_ms;                /* 0: never used, full */
	uint64_t refused;
};

struct client {
	struct sockaddr_storage addr;      /* host only (port 0), unmapped */
	char text[RTFTP_ADDR_MAX];
	unsigned active;
	struct token_bucket rrqs;          /* --rrq-rate */
	uint64_t last_seen_ms;
	unsigned mtu;                      /* path MTU towards it, 0 = unknown */
	uint64_t mtu_ms;
	struct client *next;
};

enum xfer_state {
	XS_LOOKUP,          /* waiting for a remote disk to answer */
	XS_OACK,            /* OACK sent, waiting for ACK 0 */
	XS_SENDING,         /* DATA in flight */
	XS_DONE,
};

struct transfer {
	struct ev_handler ev;              /* its own socket (not with --single-port) */
	struct worker *w;
	int sock;                          /* own socket, or the listener's with --single-port */
	struct listener *lsn;
	struct sockaddr_storage peer;      /* as received (may be v4-mapped on a v6 listener) */
	struct sockaddr_storage local;     /* the address the request was sent to */
	int local_ifindex;
	struct client *client;
	enum xfer_state state;
	char name[TFTP_NAME_MAX + 1];
	uint32_t rrq_hash;                 /* recognises a retransmitted RRQ */
	size_t rrq_len;
	int mode;                          /* enum tftp_mode */
	struct tftp_negotiation neg;
	uint8_t oack[160];
	size_t oack_len;
	int lookup_step;                   /* next enum origin to try */
	struct file_ref *file;
	const uint8_t *ascii;              /* netascii: the file_ref's converted text */
	uint64_t ascii_len;
	uint64_t nblocks;                  /* blocks in the file: size / blksize + 1 */
	uint64_t base;                     /* first unacknowledged block (absolute) */
	uint64_t next;                     /* next block to send (absolute) */
	bool waiting_data;                 /* remote: stopped until more bytes are final */
	bool got_ack;
	unsigned answers;                  /* ACKs that moved the transfer on */
	uint64_t first_answer_ms;          /* when the first of them was read */
	unsigned tries;
	uint64_t deadline_ms;              /* timer; 0 = none */
	size_t heap_idx;
	uint64_t start_ms;
	uint64_t wait_since_ms;            /* remote lookup or data wait started */
	uint64_t retransmits;
	uint64_t bytes_sent;               /* highest offset acknowledged */
	struct transfer *hnext;            /* hash chain by peer address and port */
	struct mounter *mnt_wait;          /* waiting for this client's mounter to be ready */
	bool remote_requeued;              /* its open was moved to a new mounter once */
	bool no_gso;                       /* the kernel refused UDP segmentation for it */
};

struct timer_heap {
	struct transfer **v;
	size_t n, cap;
};

struct cache_entry {
	struct sockaddr_storage client;
	char name[TFTP_NAME_MAX + 1];
	struct file_ref *file;
	uint64_t expires_ms;
};

struct worker {
	struct worker_config cfg;
	struct evloop loop;
	struct ev_handler ctl_ev;
	int ctl;                           /* channel to the parent */
	int rootfd;
	struct listener listeners[LISTEN_MAX];
	int nlisteners;
	struct transfer *xfers[XFER_BUCKETS];
	unsigned nxfers;
	struct client *clients[CLIENT_BUCKETS];
	unsigned nclients;
	struct timer_heap timers;
	struct cache_entry cache[CACHE_MAX];
	unsigned ncache;
	struct mounter *mounters;
	uint64_t now_ms;
	uint64_t next_housekeeping_ms;
	uint32_t rng;
	uint32_t hash_key;                 /* keys the client and transfer tables (random) */
	struct token_bucket refusals;      /* replies to what starts no transfer: clients.c */
	bool stopping;
};

/* clock.c */
uint64_t clock_now_ms(void);

/* timers.c */
void timer_set(struct worker *w, struct transfer *t, uint64_t deadline_ms);
void timer_clear(struct worker *w, struct transfer *t);
struct transfer *timer_expired(struct worker *w, uint64_t now_ms);
int  timer_next_wait_ms(struct worker *w, uint64_t now_ms);

/* clients.c */
struct client *client_get(struct worker *w, const struct sockaddr_storage *peer);
bool client_rate_ok(struct worker *w, struct client *c, bool *first_refusal);
bool refusal_ok(struct worker *w);
void clients_expire(struct worker *w);
unsigned client_path_mtu(struct worker *w, struct client *c);

/* names.c */
int name_prepare(const struct worker_config *cfg, const char *raw, size_t rawlen,
		 char *out, size_t outlen, const char **why);

/* netascii.c */
size_t netascii_encode(const uint8_t *in, size_t len, uint8_t *out);

/* lookup.c */
enum lookup_result { LK_FOUND, LK_NEXT, LK_REFUSED, LK_PENDING };
enum lookup_result lookup_local(struct worker *w, struct transfer *t, enum origin where,
				struct file_ref **out, uint16_t *errcode, const char **why);
struct file_ref *cache_find(struct worker *w, const struct sockaddr_storage *client, const char *name);
void cache_put(struct worker *w, const struct sockaddr_storage *client, const char *name,
	       struct file_ref *f);
void cache_expire(struct worker *w, bool all);
void file_ref_put(struct file_ref *f);
void netascii_release(struct file_ref *f);     /* transfer.c */
struct file_ref *file_ref_get(struct file_ref *f);

/* remote.c */
enum lookup_result remote_lookup(struct worker *w, struct transfer *t, struct file_ref **out,
				 uint16_t *errcode, const char **why);
void remote_on_mounter_fd(struct worker *w, const char *addr, uint32_t serial, int fd);
void remote_on_mounter_none(struct worker *w, const char *addr);
void remote_on_mounter_lost(struct worker *w, const char *addr, uint32_t serial);
void remote_close_file(struct file_ref *f);
void remote_stop_all(struct worker *w);
void remote_stalled(struct worker *w, struct transfer *t);   /* always ends t */

/* transfer.c */
void transfer_start(struct worker *w, struct listener *l, const struct sockaddr_storage *peer,
		    const struct sockaddr_storage *local, int ifindex,
		    const uint8_t *pkt, size_t len);
void transfer_on_packet(struct transfer *t, const uint8_t *pkt, size_t len);
void transfer_on_timer(struct transfer *t);
void transfer_lookup_continue(struct transfer *t);   /* a remote answer arrived */
void transfer_data_available(struct transfer *t);    /* a remote file grew */
void transfer_fail(struct transfer *t, uint16_t code, const char *msg, const char *outcome);
void transfer_end(struct transfer *t, const char *outcome, const char *detail);  /* quietly */
struct transfer *transfer_find(struct worker *w, const struct sockaddr_storage *peer);
void hash_insert_transfer(struct worker *w, struct transfer *t);
void transfers_stop_all(struct worker *w);

/* udp.c */
int  udp_transfer_socket(struct worker *w, const struct sockaddr_storage *local, int family);
void udp_send(struct transfer *t, const uint8_t *pkt, size_t len);
int  udp_send_blocks(struct transfer *t, uint64_t first, unsigned count); /* -1: file unreadable */
/* readahead.c: 0 and *out set, 1 not used for this read (pread it), -1 read error */
int  readahead_read(const struct transfer *t, uint64_t off, uint64_t want, uint64_t readable,
		    const uint8_t **out);
void readahead_release(const struct transfer *t);
void udp_reply_error(struct listener *l, const struct sockaddr_storage *peer,
		     const struct sockaddr_storage *local, int ifindex, uint16_t code, const char *msg);

/* listener.c */
void listener_add(struct worker *w, int fd);

/* record.c: the one log line a finished transfer leaves */
void record_transfer(struct transfer *t, const char *outcome, const char *detail);
void record_refusal(struct worker *w, const struct sockaddr_storage *peer, const char *name,
		    size_t namelen, const char *why);

/* control.c */
void control_init(struct worker *w, int fd);
void control_send_want(struct worker *w, const char *addr, uint32_t have);
void control_send_stalled(struct worker *w, const char *addr);

/* sandbox.c */
void sandbox_apply(struct worker *w);
int  sandbox_print_filter(int fd);
int  sandbox_seccomp_load(void);     /* the filter alone: 0 or -errno */

uint32_t worker_random(struct worker *w);

#endif

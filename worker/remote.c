/* The worker's side of remote disks: one channel per client mounter (handed over by the
 * parent), opens, streaming progress, and every way a mounter can fail. A mounter is as
 * untrusted as a packet: every message is checked, and a wrong one ends that mounter. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "worker.h"

#define RETRY_AFTER_FAIL_MS 10000      /* a disk that failed is not asked for again sooner */
#define WANT_ANSWER_MS      5000       /* then ask again: the parent may be waiting for room */
#define REMOTE_SIZE_MAX     (1ULL << 40)

enum mnt_state { M_WANTED, M_HELLO, M_READY, M_DEAD };

struct mounter {
	struct ev_handler ev;
	struct worker *w;
	int sock;
	char addr[RTFTP_ADDR_MAX];
	enum mnt_state state;
	bool got_hello;
	uint64_t retry_after_ms;
	uint64_t want_sent_ms;
	uint32_t serial;             /* of the last channel the parent handed over, 0 = none */
	uint32_t next_id;
	struct file_ref *files;
	struct mounter *next;
};

static struct mounter *mounter_find(struct worker *w, const char *addr)
{
	for (struct mounter *m = w->mounters; m; m = m->next)
		if (strcmp(m->addr, addr) == 0)
			return m;
	return NULL;
}

static struct mounter *mounter_new(struct worker *w, const char *addr)
{
	struct mounter *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->w = w;
	m->sock = -1;
	m->state = M_DEAD;
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	m->next = w->mounters;
	w->mounters = m;
	return m;
}

/* Transfers matching a predicate, collected first: handling one never frees another. */
static size_t collect(struct worker *w, bool (*match)(struct transfer *, void *), void *arg,
		      struct transfer ***out)
{
	size_t n = 0, cap = 0;
	struct transfer **v = NULL;
	for (unsigned b = 0; b < XFER_BUCKETS; b++) {
		for (struct transfer *t = w->xfers[b]; t; t = t->hnext) {
			if (!match(t, arg))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				struct transfer **nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					fatal("out of memory");
				v = nv;
			}
			v[n++] = t;
		}
	}
	*out = v;
	return n;
}

static bool waits_for_mounter(struct transfer *t, void *m) { return t->mnt_wait == m; }
static bool reads_file(struct transfer *t, void *f) { return t->file == f; }
static bool reads_from(struct transfer *t, void *m) { return t->file && t->file->mnt == m; }

static void fall_through(struct transfer *t)
{
	t->mnt_wait = NULL;
	t->lookup_step = ORIGIN_DEFAULT;
	transfer_lookup_continue(t);
}

/* Why a mounter channel ends decides what its waiting transfers get. */
enum kill_cause {
	K_START_FAILED,   /* never became ready: fall through to default/, back off a while */
	K_EXITED,         /* a ready mounter went away (idle exit, crash, qemu died): opens not
			   * yet answered wait for a new one, once */
	K_REPLACED,       /* the parent handed over a new channel for this client */
	K_BROKEN,         /* stalled or spoke wrongly: everything in flight fails */
};

static void send_want(struct mounter *m)
{
	m->state = M_WANTED;
	m->want_sent_ms = m->w->now_ms;
	control_send_want(m->w, m->addr, m->serial);
}

/* A request waits for its client's mounter: for the parent's answer at most WANT_ANSWER_MS
 * at a time (a request lost on the way is sent again), for the disk at most mounter_wait_ms
 * in all (the parent's launch bound, and then some): never forever. */
static void arm_mounter_wait(struct transfer *t, struct mounter *m)
{
	struct worker *w = t->w;
	if (!t->wait_since_ms)
		t->wait_since_ms = w->now_ms;
	uint64_t until = t->wait_since_ms + w->cfg.mounter_wait_ms;
	if (m->state == M_WANTED && w->now_ms + WANT_ANSWER_MS < until)
		until = w->now_ms + WANT_ANSWER_MS;
	timer_set(w, t, until);
}

static bool requeue_open(struct transfer *t, struct mounter *m)
{
	if (t->file->opened || t->remote_requeued)
		return false;
	file_ref_put(t->file);
	t->file = NULL;
	t->remote_requeued = true;
	t->mnt_wait = m;
	t->wait_since_ms = 0;
	arm_mounter_wait(t, m);
	return true;
}

static void settle_transfers(struct mounter *m, enum kill_cause cause)
{
	struct worker *w = m->w;
	struct transfer **v;
	bool requeued = false;
	size_t n = collect(w, waits_for_mounter, m, &v);
	for (size_t i = 0; i < n; i++) {
		if (cause == K_START_FAILED)
			fall_through(v[i]);
		else if (cause == K_BROKEN)
			transfer_fail(v[i], TFTP_EUNDEF, "remote disk unavailable", "error");
	}
	free(v);
	n = collect(w, reads_from, m, &v);
	for (size_t i = 0; i < n; i++) {
		struct file_ref *f = v[i]->file;
		if ((cause == K_EXITED || cause == K_REPLACED) && requeue_open(v[i], m))
			requeued = true;
		else if (f->avail < f->size || !f->opened)
			transfer_fail(v[i], TFTP_EUNDEF, "remote disk unavailable", "error");
	}
	free(v);
	if (requeued && cause == K_EXITED)
		send_want(m);
}

/* End a mounter channel. Transfers whose file is complete go on from their memfd. */
static void mounter_kill(struct mounter *m, const char *why, enum kill_cause cause)
{
	struct worker *w = m->w;
	if (m->sock >= 0) {
		evloop_del(&w->loop, &m->ev);
		close(m->sock);
		m->sock = -1;
	}
	m->state = M_DEAD;
	m->retry_after_ms = cause == K_START_FAILED ? w->now_ms + RETRY_AFTER_FAIL_MS : 0;
	settle_transfers(m, cause);
	for (struct file_ref *f = m->files; f; f = f->mnext) {
		f->mnt = NULL;
		f->failed = f->failed || f->avail < f->size || !f->opened;
	}
	m->files = NULL;
	log_warnx("client %s: remote disk %s", m->addr, why);
}

/* A protocol error: before ready it is a failed start, after it a broken mounter. */
static enum kill_cause bad(const struct mounter *m)
{
	return m->state == M_READY ? K_BROKEN : K_START_FAILED;
}

static struct file_ref *file_by_id(struct mounter *m, uint32_t id)
{
	for (struct file_ref *f = m->files; f; f = f->mnext)
		if (f->id == id)
			return f;
	return NULL;    /* closed by us while the answer was on its way: not an error */
}

static void on_opened(struct mounter *m, struct ipc_msg *msg)
{
	struct wm_opened o;
	struct stat st;
	struct file_ref *f = file_by_id(m, msg->hdr.id);
	/* Only a memfd sealed against shrinking and growing: its reads never wait on anyone (a
	 * FUSE or network file from a compromised mounter could block the whole worker), and
	 * no byte the worker was told exists can vanish under a transfer. */
	int seals = msg->fd >= 0 ? fcntl(msg->fd, F_GET_SEALS) : -1;
	if (msg->fd < 0 || ipc_get_exact(msg, &o, sizeof(o)) < 0 || o.size > REMOTE_SIZE_MAX ||
	    seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW) ||
	    fstat(msg->fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < o.size) {
		ipc_msg_drop_fd(msg);
		mounter_kill(m, "sent a malformed WM_OPENED", K_BROKEN);
		return;
	}
	if (!f || f->opened) {
		ipc_msg_drop_fd(msg);
		return;
	}
	f->fd = msg->fd;
	msg->fd = -1;
	f->size = o.size;
	f->avail = 0;
	f->opened = true;
	struct transfer **v;
	size_t n = collect(m->w, reads_file, f, &v);
	for (size_t i = 0; i < n; i++) {
		timer_clear(m->w, v[i]);
		cache_put(m->w, &v[i]->client->addr, v[i]->name, f);
		transfer_data_available(v[i]);
	}
	free(v);
}

static void on_progress(struct mounter *m, struct ipc_msg *msg)
{
	struct wm_progress p;
	struct file_ref *f = file_by_id(m, msg->hdr.id);
	if (ipc_get_exact(msg, &p, sizeof(p)) < 0 || (f && (!f->opened || p.available > f->size ||
							     p.available < f->avail))) {
		mounter_kill(m, "sent a malformed WM_PROGRESS", K_BROKEN);
		return;
	}
	if (!f)
		return;
	f->avail = p.available;
	struct transfer **v;
	size_t n = collect(m->w, reads_file, f, &v);
	for (size_t i = 0; i < n; i++)
		transfer_data_available(v[i]);
	free(v);
}

static void on_error(struct mounter *m, struct ipc_msg *msg)
{
	struct wm_error e;
	char text[RTFTP_REASON_MAX], esc[RTFTP_REASON_MAX * 2];
	struct file_ref *f = file_by_id(m, msg->hdr.id);
	if (ipc_get_struct_string(msg, &e, sizeof(e), text, sizeof(text)) < 0) {
		mounter_kill(m, "sent a malformed WM_ERROR", K_BROKEN);
		return;
	}
	if (!f)
		return;
	log_escape(esc, sizeof(esc), text, strlen(text));
	/* The mounter forgets an id it answered with an error: no WM_CLOSE for it. */
	for (struct file_ref **pp = &m->files; *pp; pp = &(*pp)->mnext) {
		if (*pp == f) {
			*pp = f->mnext;
			break;
		}
	}
	f->mnt = NULL;
	f->failed = true;
	struct transfer **v;
	size_t n = collect(m->w, reads_file, f, &v);
	for (size_t i = 0; i < n; i++) {
		struct transfer *t = v[i];
		if (e.kind == WM_ERR_NOTFOUND && !f->opened) {
			file_ref_put(t->file);
			t->file = NULL;
			timer_clear(m->w, t);
			t->lookup_step = ORIGIN_DEFAULT;
			transfer_lookup_continue(t);
		} else if (e.kind == WM_ERR_DENIED) {
			transfer_fail(t, TFTP_EACCESS, "access violation", "refused");
		} else if (e.kind == WM_ERR_TOOBIG) {
			transfer_fail(t, TFTP_ENOSPACE, "file too large for the remote disk cache", "error");
		} else {
			log_warnx("client %s: remote disk error on %s: %s", m->addr, t->name, esc);
			transfer_fail(t, TFTP_EUNDEF, "remote disk unavailable", "error");
		}
	}
	free(v);
}

static void on_ready(struct mounter *m)
{
	struct transfer **v;
	m->state = M_READY;
	log_info("client %s: remote disk ready", m->addr);
	size_t n = collect(m->w, waits_for_mounter, m, &v);
	for (size_t i = 0; i < n; i++) {
		v[i]->mnt_wait = NULL;
		transfer_lookup_continue(v[i]);
	}
	free(v);
}

static void mounter_dispatch(struct mounter *m, struct ipc_msg *msg)
{
	struct proto_hello hello;
	char reason[RTFTP_REASON_MAX], esc[RTFTP_REASON_MAX * 2], why[RTFTP_REASON_MAX * 4 + 64];
	bool fd_ok = msg->hdr.type == WM_OPENED;
	if (msg->fd >= 0 && !fd_ok) {
		ipc_msg_drop_fd(msg);
		mounter_kill(m, "sent an unexpected descriptor", bad(m));
		return;
	}
	if (msg->hdr.type != WM_HELLO && !m->got_hello) {
		ipc_msg_drop_fd(msg);
		mounter_kill(m, "did not start with HELLO", K_START_FAILED);
		return;
	}
	switch (msg->hdr.type) {
	case WM_HELLO:
		if (m->got_hello || ipc_get_exact(msg, &hello, sizeof(hello)) < 0 ||
		    hello.version != RTFTP_PROTO_VERSION) {
			mounter_kill(m, "speaks another protocol", K_START_FAILED);
			return;
		}
		m->got_hello = true;
		break;
	case WM_READY:
		if (m->state != M_HELLO || msg->hdr.len != 0) {
			mounter_kill(m, "sent an unexpected WM_READY", bad(m));
			return;
		}
		on_ready(m);
		break;
	case WM_FAILED:
		if (ipc_get_string(msg, reason, sizeof(reason)) < 0)
			snprintf(reason, sizeof(reason), "(malformed reason)");
		log_escape(esc, sizeof(esc), reason, strlen(reason));
		snprintf(why, sizeof(why), "unavailable: %s; serving from default/", esc);
		mounter_kill(m, why, K_START_FAILED);
		break;
	case WM_OPENED: on_opened(m, msg); break;
	case WM_PROGRESS: on_progress(m, msg); break;
	case WM_ERROR: on_error(m, msg); break;
	default:
		mounter_kill(m, "sent an unknown message", bad(m));
	}
}

static void mounter_readable(struct ev_handler *h, uint32_t events)
{
	struct mounter *m = container_of(h, struct mounter, ev);
	struct ipc_msg msg;
	(void)events;
	for (int i = 0; i < 64 && m->sock >= 0; i++) {
		int r = ipc_recv(m->sock, &msg);
		if (r < 0 && errno == EAGAIN)
			return;
		m->w->now_ms = clock_now_ms();
		if (r <= 0) {
			mounter_kill(m, r == 0 ? "mounter exited" : "channel error",
				     m->state == M_READY ? K_EXITED : K_START_FAILED);
			return;
		}
		mounter_dispatch(m, &msg);
	}
}

void remote_on_mounter_fd(struct worker *w, const char *addr, uint32_t serial, int fd)
{
	struct mounter *m = mounter_find(w, addr);
	struct proto_hello hello = { .version = RTFTP_PROTO_VERSION };
	if (!m && !(m = mounter_new(w, addr))) {
		close(fd);
		return;
	}
	if (m->sock >= 0)
		mounter_kill(m, "replaced by a new mounter", K_REPLACED);
	m->serial = serial;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		log_warn("client %s: mounter channel", addr);
		close(fd);
		return;
	}
	m->sock = fd;
	m->state = M_HELLO;
	m->got_hello = false;
	if (evloop_add(&w->loop, &m->ev, fd, mounter_readable, EPOLLIN) < 0 ||
	    ipc_send(fd, WM_HELLO, 0, &hello, sizeof(hello), -1) < 0)
		mounter_kill(m, "channel unusable", K_START_FAILED);
}

/* The parent handed over a channel that could not be received (no descriptor free): it is
 * ours all the same, so a later request for a mounter asks the parent to replace it. */
void remote_on_mounter_lost(struct worker *w, const char *addr, uint32_t serial)
{
	struct mounter *m = mounter_find(w, addr);
	if (!m && !(m = mounter_new(w, addr)))
		return;
	m->serial = serial;
	remote_on_mounter_none(w, addr);
}

void remote_on_mounter_none(struct worker *w, const char *addr)
{
	struct mounter *m = mounter_find(w, addr);
	if (m && m->state != M_READY)
		mounter_kill(m, "not started (no .nbd file, or --max-mounters reached); "
			     "serving from default/", K_START_FAILED);
}

static bool has_nbd_file(struct worker *w, const char *addr)
{
	char name[RTFTP_ADDR_MAX + 8];
	struct stat st;
	snprintf(name, sizeof(name), "%s.nbd", addr);
	return fstatat(w->rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static struct file_ref *open_remote(struct mounter *m, const char *name)
{
	for (struct file_ref *f = m->files; f; f = f->mnext)
		if (!f->failed && strcmp(f->name, name) == 0)
			return file_ref_get(f);
	struct file_ref *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->refs = 1;
	f->fd = -1;
	f->origin = ORIGIN_REMOTE;
	f->mnt = m;
	f->id = ++m->next_id;
	snprintf(f->name, sizeof(f->name), "%s", name);
	if (ipc_send_str(m->sock, WM_OPEN, f->id, name) < 0) {
		free(f);
		return NULL;
	}
	f->mnext = m->files;
	m->files = f;
	return f;
}

enum lookup_result remote_lookup(struct worker *w, struct transfer *t, struct file_ref **out,
				 uint16_t *errcode, const char **why)
{
	if (!w->cfg.remote_disks || !has_nbd_file(w, t->client->text))
		return LK_NEXT;
	struct mounter *m = mounter_find(w, t->client->text);
	if (m && m->state == M_DEAD && w->now_ms < m->retry_after_ms)
		return LK_NEXT;
	if (!m && !(m = mounter_new(w, t->client->text)))
		return LK_NEXT;
	if (m->state == M_DEAD)
		send_want(m);
	if (m->state != M_READY) {
		t->mnt_wait = m;     /* answered late rather than refused: the disk is starting */
		arm_mounter_wait(t, m);
		return LK_PENDING;
	}
	struct file_ref *f = open_remote(m, t->name);
	if (!f) {
		*errcode = TFTP_EUNDEF;
		*why = "remote disk unavailable";
		return LK_REFUSED;
	}
	if (f->opened) {
		*out = f;
		return LK_FOUND;
	}
	t->file = f;
	timer_set(w, t, w->now_ms + w->cfg.remote_deadline_ms);
	return LK_PENDING;
}

void remote_close_file(struct file_ref *f)
{
	struct mounter *m = f->mnt;
	for (struct file_ref **pp = &m->files; *pp; pp = &(*pp)->mnext) {
		if (*pp == f) {
			*pp = f->mnext;
			break;
		}
	}
	if (m->sock >= 0 && m->state == M_READY)
		ipc_send(m->sock, WM_CLOSE, f->id, NULL, 0, -1);
}

/* A request's wait for its mounter ran out (arm_mounter_wait). */
static void mounter_wait_expired(struct transfer *t)
{
	struct worker *w = t->w;
	struct mounter *m = t->mnt_wait;
	if (w->now_ms >= t->wait_since_ms + w->cfg.mounter_wait_ms) {
		if (m->state == M_HELLO) {   /* the parent's own bound should have ended it */
			mounter_kill(m, "not ready in time; serving from default/", K_START_FAILED);
			return;
		}
		log_warnx("client %s: no mounter within %u s; serving from default/", m->addr,
			  w->cfg.mounter_wait_ms / 1000);
		if (m->state == M_WANTED)
			m->state = M_DEAD;   /* the next request asks again */
		fall_through(t);
		return;
	}
	if (m->state == M_WANTED && w->now_ms >= m->want_sent_ms + WANT_ANSWER_MS) {
		log_info("client %s: no mounter yet after %d s: asking again", m->addr, WANT_ANSWER_MS / 1000);
		send_want(m);
	}
	arm_mounter_wait(t, m);
}

void remote_stalled(struct worker *w, struct transfer *t)
{
	if (t->mnt_wait) {
		mounter_wait_expired(t);
		return;
	}
	struct mounter *m = t->file && t->file->mnt ? t->file->mnt : t->mnt_wait;
	if (!m || m->state != M_READY) {
		transfer_fail(t, TFTP_EUNDEF, "remote disk not responding", "error");
		return;
	}
	control_send_stalled(w, m->addr);
	mounter_kill(m, "not responding: replaced on the next request", K_BROKEN);
	/* mounter_kill failed every transfer still reading from it, t among them */
}

void remote_stop_all(struct worker *w)
{
	while (w->mounters) {
		struct mounter *m = w->mounters;
		w->mounters = m->next;
		if (m->sock >= 0)
			close(m->sock);
		for (struct file_ref *f = m->files; f; f = f->mnext)
			f->mnt = NULL;
		free(m);
	}
}

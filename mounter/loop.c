/* Serving: the worker's requests and the parent's channel in one poll loop. While files
 * are being filled the loop polls without waiting and reads one chunk per turn, so a new
 * OPEN or a CLOSE is seen between chunks. Reports BUSY/IDLE to the parent on each change
 * (idle mounters are the ones --max-mounters may evict) and exits after idle_timeout_s
 * with nothing open. */
#include "mounter.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mounter_status(struct mounter *mt, uint32_t state, const char *detail)
{
	uint8_t buf[sizeof(struct pm_status) + RTFTP_REASON_MAX];
	struct pm_status st = { .state = state };
	size_t n = strnlen(detail, RTFTP_REASON_MAX - 1);
	memcpy(buf, &st, sizeof(st));
	memcpy(buf + sizeof(st), detail, n);
	buf[sizeof(st) + n] = '\0';
	if (ipc_send(mt->parent, PM_STATUS, 0, buf, sizeof(st) + n + 1, -1) < 0 && errno != EPIPE)
		log_warn("PM_STATUS to the parent");
}

int mounter_send_worker(struct mounter *mt, uint16_t type, uint32_t id, const void *p, size_t len, int fd)
{
	if (ipc_send(mt->worker, type, id, p, len, fd) == 0)
		return 0;
	/* The worker is gone or stopped reading (send timeout): nothing left to serve. */
	log_warn("%s to the worker", wm_msg_name(type));
	mounter_exit(mt, errno == EPIPE ? 0 : 1);
}

void mounter_exit(struct mounter *mt, int code)
{
	disk_stop(&mt->disk);
	exit(code);
}

static void report_busy(struct mounter *mt)
{
	bool busy = mt->files.nopen > 0;
	char detail[64];
	if (busy == mt->busy)
		return;
	mt->busy = busy;
	snprintf(detail, sizeof(detail), "%d file%s open", mt->files.nopen, mt->files.nopen == 1 ? "" : "s");
	mounter_status(mt, busy ? PM_ST_BUSY : PM_ST_IDLE, detail);
}

/* One message from the worker; -1 ends the channel (and the mounter). */
static int worker_msg(struct mounter *mt)
{
	struct ipc_msg m;
	char name[MOUNTER_NAME_MAX];
	int r = ipc_recv(mt->worker, &m);
	if (r == 0 || (r < 0 && errno == EAGAIN))
		return r == 0 ? -1 : 0;
	if (r < 0 || m.fd >= 0) {
		ipc_msg_drop_fd(&m);
		log_warnx("malformed message from the worker");
		return -1;
	}
	/* The activity stamp moves after the request: an OPEN must see how quiet it was. */
	switch (m.hdr.type) {
	case WM_OPEN:
		if (ipc_get_string(&m, name, sizeof(name)) < 0) {
			log_warnx("WM_OPEN with a bad name");
			return -1;
		}
		r = files_open(mt, m.hdr.id, name);
		mt->last_activity_ms = mt->last_open_ms = mono_ms();
		return r;
	case WM_CLOSE:
		if (m.hdr.len != 0) {
			log_warnx("WM_CLOSE with a payload");
			return -1;
		}
		r = files_close(mt, m.hdr.id);
		mt->last_activity_ms = mono_ms();
		return r;
	default:
		log_warnx("unexpected %s from the worker", wm_msg_name(m.hdr.type));
		return -1;
	}
}

/* The parent sends nothing after PM_CONFIG: any message is a protocol error, EOF a stop. */
static int parent_msg(struct mounter *mt)
{
	struct ipc_msg m;
	int r = ipc_recv(mt->parent, &m);
	if (r < 0 && errno == EAGAIN)
		return 0;
	if (r > 0) {
		ipc_msg_drop_fd(&m);
		log_warnx("unexpected %s from the parent", pm_msg_name(m.hdr.type));
	}
	return -1;
}

static int poll_timeout(struct mounter *mt)
{
	if (files_need_fill(&mt->files))
		return 0;
	if (mt->files.nopen > 0)
		return -1;
	int64_t left = mt->last_activity_ms + (int64_t)mt->cfg.idle_timeout_s * 1000 - mono_ms();
	return left <= 0 ? 0 : (int)(left > 60000 ? 60000 : left);
}

static bool idle_expired(struct mounter *mt)
{
	return mt->files.nopen == 0 &&
	       mono_ms() - mt->last_activity_ms >= (int64_t)mt->cfg.idle_timeout_s * 1000;
}

int loop_run(struct mounter *mt)
{
	struct pollfd pfd[2] = { { .fd = mt->parent, .events = POLLIN }, { .fd = mt->worker, .events = POLLIN } };
	/* The view is fresh as mounted: the quiet spell that calls for a remount starts now. */
	mt->last_activity_ms = mt->last_open_ms = mono_ms();
	mt->busy = false;
	while (!mounter_term) {
		int n = poll(pfd, 2, poll_timeout(mt));
		if (n < 0 && errno != EINTR)
			fatal("poll");
		if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && parent_msg(mt) < 0)
			break;
		if (n > 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && worker_msg(mt) < 0)
			break;
		files_fill_step(mt);
		report_busy(mt);
		if (idle_expired(mt)) {
			log_info("idle for %u s: exiting", mt->cfg.idle_timeout_s);
			mounter_status(mt, PM_ST_IDLE_EXIT, "idle timeout");
			return 0;
		}
	}
	log_info("%s: shutting down", mounter_term ? "SIGTERM" : "channel closed");
	return 0;
}

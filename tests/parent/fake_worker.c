/* Stands in for rtftp-worker in tests of the parent: says HELLO, takes its setup, reports
 * READY, then reads the channel (closing every descriptor it is handed) until the parent
 * closes it. FAKE_WORKER chooses a misbehaviour, once READY has been sent:
 *   fd         a PW_LOG line with a descriptor attached (no worker message carries one)
 *   badframe   a header whose flags are not 0 (framing the parent must refuse)
 *   badlevel   a PW_LOG line whose level is above LOG_LVL_DEBUG
 *   badhello   a second PW_HELLO, of another protocol version
 *   unknown    a message of a type the protocol does not have
 *   stubborn   ignore SIGTERM: only SIGKILL ends it
 *   early_exit exit with status 1 before READY (a worker that cannot sandbox itself)
 * FAKE_WORKER_DELAY_MS waits that long after READY before misbehaving (default 300). */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "proto.h"

static void take_setup(void)
{
	struct ipc_msg m;
	struct proto_hello hello = { .version = RTFTP_PROTO_VERSION };
	ipc_send(RTFTP_FD_PARENT, PW_HELLO, 0, &hello, sizeof(hello), -1);
	for (;;) {
		if (ipc_recv(RTFTP_FD_PARENT, &m) <= 0)
			_exit(1);
		ipc_msg_drop_fd(&m);
		if (m.hdr.type == PW_START)
			break;
	}
}

static void misbehave(const char *how)
{
	if (strcmp(how, "fd") == 0) {
		struct pw_log lg = { .level = LOG_LVL_INFO };
		ipc_send_struct_string(RTFTP_FD_PARENT, PW_LOG, 0, &lg, sizeof(lg),
				       "worker: a line with a descriptor", STDIN_FILENO);
	} else if (strcmp(how, "badframe") == 0) {
		struct ipc_hdr bad = { .type = PW_LOG, .flags = 1, .len = 0 };
		(void)!send(RTFTP_FD_PARENT, &bad, sizeof(bad), 0);
	} else if (strcmp(how, "badlevel") == 0) {
		struct pw_log lg = { .level = LOG_LVL_DEBUG + 1 };
		ipc_send_struct_string(RTFTP_FD_PARENT, PW_LOG, 0, &lg, sizeof(lg),
				       "worker: a line of no level", -1);
	} else if (strcmp(how, "badhello") == 0) {
		struct proto_hello hello = { .version = RTFTP_PROTO_VERSION + 1 };
		ipc_send(RTFTP_FD_PARENT, PW_HELLO, 0, &hello, sizeof(hello), -1);
	} else if (strcmp(how, "unknown") == 0) {
		ipc_send(RTFTP_FD_PARENT, PW_MSG_COUNT + 7, 0, NULL, 0, -1);
	}
}

int main(void)
{
	const char *how = getenv("FAKE_WORKER") ? getenv("FAKE_WORKER") : "";
	const char *delay = getenv("FAKE_WORKER_DELAY_MS");
	struct ipc_msg m;
	if (strcmp(how, "stubborn") == 0)
		signal(SIGTERM, SIG_IGN);
	take_setup();
	if (strcmp(how, "early_exit") == 0) {
		usleep((useconds_t)(delay ? atoi(delay) : 300) * 1000);
		return 1;
	}
	ipc_send(RTFTP_FD_PARENT, PW_READY, 0, NULL, 0, -1);
	usleep((useconds_t)(delay ? atoi(delay) : 300) * 1000);
	misbehave(how);
	for (;;) {
		struct pollfd p = { .fd = RTFTP_FD_PARENT, .events = POLLIN };
		if (poll(&p, 1, -1) < 0)
			continue;
		int r = ipc_recv(RTFTP_FD_PARENT, &m);
		if (r == 0 || (r < 0 && (p.revents & (POLLHUP | POLLERR))))
			break;
		if (r > 0)
			ipc_msg_drop_fd(&m);
	}
	if (strcmp(how, "stubborn") == 0)
		for (;;)
			pause();
	return 0;
}

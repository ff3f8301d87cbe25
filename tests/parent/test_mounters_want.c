/* The parent's answer to the worker's request for a mounter (parent/mounters.c): a request
 * that names the channel the worker already has replaces the mounter; one that crossed a
 * newer hand-over on the way (it names an older channel, or none) is not a reason to stop the
 * mounter just handed over and launch another. The mounter is a stand-in that only holds its
 * channels open; the worker is a socketpair end. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "mounters_priv.h"

static int failures, checks;
#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)

#define ADDR "127.0.0.9"

/* The serial of the PW_MOUNTER the worker end holds, 0 when none came. */
static uint32_t handed_over(int worker_end)
{
	struct ipc_msg m;
	struct pw_mounter pm;
	char addr[RTFTP_ADDR_MAX];
	if (ipc_recv(worker_end, &m) != 1)
		return 0;
	bool ok = m.hdr.type == PW_MOUNTER && m.fd >= 0 &&
		  ipc_get_struct_string(&m, &pm, sizeof(pm), addr, sizeof(addr)) == 0 &&
		  strcmp(addr, ADDR) == 0;
	ipc_msg_drop_fd(&m);
	return ok ? pm.serial : 0;
}

/* Held for the test's whole life, as the parent holds it for its own. */
static struct mounters *m;

static pid_t live_pid(void)
{
	struct mrec *r = mounters_find_live(m, ADDR);
	return r ? r->pid : -1;
}

int main(int argc, char **argv)
{
	char root[] = "/tmp/rtftp-mwant-XXXXXX", path[600];
	if (argc != 2 || !mkdtemp(root))
		return 2;
	snprintf(path, sizeof(path), "%s/" ADDR ".nbd", root);
	FILE *f = fopen(path, "w");
	fputs("{\"url\":\"nbd+unix:///?socket=/nonexistent\",\"mounts\":[{\"partition\":1,\"mountpoint\":\"/\"}]}\n", f);
	fclose(f);
	char *args[] = { "rtftp", "--no-proactive", "--max-mounters", "4", "--state-dir", root, root, NULL };
	struct rtftp_options opt;
	options_parse(7, args, &opt);
	struct helper exe = { .fd = open(argv[1], O_PATH | O_CLOEXEC) };
	snprintf(exe.path, sizeof(exe.path), "%s", argv[1]);
	struct evloop loop;
	int ws[2];
	evloop_init(&loop);
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ws);
	m = mounters_new(&loop, &opt, open(root, O_PATH | O_DIRECTORY), &exe);
	mounters_set_worker(m, ws[0]);

	mounters_want(m, ADDR, 0);                 /* the worker has none: start one */
	uint32_t first = handed_over(ws[1]);
	pid_t pid = live_pid();
	CHECK(first != 0 && pid > 0);
	mounters_want(m, ADDR, 0);                 /* sent before it read that hand-over */
	CHECK(handed_over(ws[1]) == 0);
	CHECK(live_pid() == pid && kill(pid, 0) == 0);
	mounters_want(m, ADDR, first);             /* it has that channel and still asks */
	uint32_t second = handed_over(ws[1]);
	CHECK(second != 0 && second != first);
	CHECK(live_pid() > 0 && live_pid() != pid);
	mounters_want(m, ADDR, first);             /* crossed the second hand-over */
	CHECK(handed_over(ws[1]) == 0);

	mounters_stop_all(m);
	for (int i = 0; i < 300 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
		usleep(10000);                     /* reap the stand-ins (bounded: 3 s) */
	printf("%d passed, %d failed\n", checks - failures, failures);
	snprintf(path, sizeof(path), "rm -rf %s", root);
	if (system(path) != 0)
		return 1;
	return failures ? 1 : 0;
}

/* What the worker's state-machine tests share: a real worker struct with one loopback
 * listener and a clock that moves only when the test says so, and clients with sockets of
 * their own. */
#ifndef RTFTP_TEST_WORKER_HARNESS_H
#define RTFTP_TEST_WORKER_HARNESS_H

#include <stdint.h>
#include <sys/socket.h>

#include "worker.h"

struct wclient {
	int fd;
	struct sockaddr_storage addr;     /* where the server's replies reach fd */
};

/* w zeroed and set up with cfg; *server_local gets the listener's address. */
void harness_init(struct worker *w, const char *root, const struct worker_config *cfg,
		  struct sockaddr_storage *server_local);
/* A non-blocking UDP socket bound to the IPv4 address (host order), any port. */
void harness_client(struct wclient *c, uint32_t ipv4);
/* Move the clock and run every timer that is due. */
void harness_advance(struct worker *w, uint64_t ms);
/* Print the tally, remove the test's ROOT; the exit status for main. */
int harness_finish(const char *root, int checks, int failures);

#endif

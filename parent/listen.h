#ifndef RTFTP_LISTEN_H
#define RTFTP_LISTEN_H
#include "options.h"
/* Fill fds with the listening sockets; returns how many. Fatal on any failure. */
int listen_open(const struct rtftp_options *opt, int *fds, int max);
#endif

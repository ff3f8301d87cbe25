/* The listening sockets: taken from systemd (socket activation) or bound here, before
 * privilege is dropped. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "addr.h"
#include "listen.h"
#include "log.h"

#define LISTEN_RCVBUF (8 << 20)   /* a boot storm's RRQs must not overflow the queue */

static void size_buffers(int fd)
{
	int size = LISTEN_RCVBUF;
	/* FORCE passes net.core.rmem_max while still privileged; otherwise take what we get. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static int bind_one(const struct sockaddr_storage *asked)
{
	char text[RTFTP_ADDR_MAX + 8];
	int one = 1, zero = 0;
	struct sockaddr_storage unmapped;
	/* [::ffff:a.b.c.d] is the IPv4 address a.b.c.d: bound as such (a v6-only socket cannot). */
	addr_unmap(asked, &unmapped);
	const struct sockaddr_storage *a = &unmapped;
	int fd = socket(a->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	addr_to_text_port(a, text, sizeof(text));
	if (fd < 0)
		fatal("socket for %s", text);
	if (a->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr))
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));  /* dual stack */
	else if (a->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	size_buffers(fd);
	if (bind(fd, (const struct sockaddr *)a, addr_len(a)) < 0)
		fatal("cannot bind %s", text);
	log_info("listening on %s", text);
	return fd;
}

int listen_open(const struct rtftp_options *opt, int *fds, int max)
{
	int n = sd_listen_fds(1);
	if (n < 0)
		fatalx("sd_listen_fds: %s", strerror(-n));
	if (n > 0) {
		if (n > max)
			fatalx("systemd passed %d sockets; at most %d are supported", n, max);
		for (int i = 0; i < n; i++) {
			int fd = SD_LISTEN_FDS_START + i;
			if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) <= 0)
				fatalx("descriptor %d from systemd is not a datagram socket", fd);
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			size_buffers(fd);
			fds[i] = fd;
		}
		log_info("using %d socket(s) from systemd", n);
		return n;
	}
	if (opt->nlisten == 0) {
		struct sockaddr_storage any;
		addr_parse_listen("::", RTFTP_DEFAULT_PORT, &any);
		fds[0] = bind_one(&any);
		return 1;
	}
	for (int i = 0; i < opt->nlisten && i < max; i++)
		fds[i] = bind_one(&opt->listen[i]);
	return opt->nlisten;
}

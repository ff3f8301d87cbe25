#include "ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int ipc_send(int sock, uint16_t type, uint32_t id, const void *payload, size_t len, int fd)
{
	struct ipc_hdr hdr = { .type = type, .flags = 0, .len = (uint32_t)len, .id = id };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	if (len > IPC_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int ipc_send_str(int sock, uint16_t type, uint32_t id, const char *s)
{
	return ipc_send(sock, type, id, s, strlen(s) + 1, -1);
}

int ipc_send_struct_string(int sock, uint16_t type, uint32_t id, const void *head,
			   size_t headsize, const char *s, int fd)
{
	uint8_t buf[IPC_MAX_PAYLOAD];
	size_t n = strlen(s) + 1;
	if (headsize + n > sizeof(buf)) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(buf, head, headsize);
	memcpy(buf + headsize, s, n);
	return ipc_send(sock, type, id, buf, headsize + n, fd);
}

static void close_all_fds(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

/* Accept exactly one SCM_RIGHTS descriptor, or none. */
static int take_fd(struct msghdr *msg, int *fd)
{
	int count = 0;
	*fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			return -1;
		if (c->cmsg_len != CMSG_LEN(sizeof(int)))
			return -1;
		memcpy(fd, CMSG_DATA(c), sizeof(int));
		count++;
	}
	return count <= 1 ? 0 : -1;
}

int ipc_recv(int sock, struct ipc_msg *m)
{
	struct iovec iov[2] = {
		{ .iov_base = &m->hdr, .iov_len = sizeof(m->hdr) },
		{ .iov_base = m->payload, .iov_len = sizeof(m->payload) },
	};
	/* Room for more than one descriptor so that extra ones are seen (and closed), not lost. */
	union { char buf[CMSG_SPACE(4 * sizeof(int))]; struct cmsghdr align; } u;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	m->fd = -1;
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0) {
		/* An empty SOCK_SEQPACKET message reads like EOF but may carry descriptors. */
		close_all_fds(&msg);
		return 0;
	}
	if ((msg.msg_flags & MSG_TRUNC) || (size_t)n < sizeof(m->hdr) ||
	    m->hdr.len != (size_t)n - sizeof(m->hdr) || m->hdr.flags != 0 ||
	    take_fd(&msg, &m->fd) < 0) {
		close_all_fds(&msg);
		m->fd = -1;
		errno = EPROTO;
		return -1;
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		/* The kernel could not install a descriptor (no free slot, or more than four
		 * sent): the message is whole, its descriptor is gone. */
		close_all_fds(&msg);
		m->fd = -1;
		errno = EMFILE;
		return -1;
	}
	return 1;
}

int ipc_get_exact(const struct ipc_msg *m, void *out, size_t size)
{
	if (m->hdr.len != size)
		return -1;
	memcpy(out, m->payload, size);
	return 0;
}

static int check_string(const uint8_t *s, size_t len, size_t cap)
{
	if (len < 1 || len > cap || s[len - 1] != '\0')
		return -1;
	return memchr(s, '\0', len - 1) == NULL ? 0 : -1;
}

int ipc_get_string(const struct ipc_msg *m, char *out, size_t cap)
{
	if (check_string(m->payload, m->hdr.len, cap) < 0)
		return -1;
	memcpy(out, m->payload, m->hdr.len);
	return 0;
}

int ipc_get_struct_string(const struct ipc_msg *m, void *head, size_t headsize, char *out, size_t cap)
{
	if (m->hdr.len <= headsize)
		return -1;
	if (check_string(m->payload + headsize, m->hdr.len - headsize, cap) < 0)
		return -1;
	memcpy(head, m->payload, headsize);
	memcpy(out, m->payload + headsize, m->hdr.len - headsize);
	return 0;
}

void ipc_msg_drop_fd(struct ipc_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

/* tftpfloor: a yardstick, not a server. The least a TFTP server can do for a read: one UDP
 * socket, up to 64 datagrams received per recvmmsg and every reply sent with one sendmmsg,
 * file bytes already in memory, no per-transfer sockets, no timers, no retransmission, no
 * sandbox. What it costs per MB under bench/run.sh's load is the kernel's own per-packet cost
 * on this machine: the floor under any real server's figure.
 *
 *   tftpfloor [-e] -p PORT -r ROOT      (IPv4 loopback; any RRQ name is read from ROOT once)
 *
 * -e waits in epoll_wait before each recvmmsg, as a server whose one event loop serves many
 * sockets and timers must: the same floor, plus only what an event loop costs per wake-up.
 *
 * Windowsize is answered as 1 and block numbers do not roll over (files up to 65535 blocks).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 64
#define PEERS 16384                 /* open addressing; far above the load's 500 */
#define FILES 16
#define MAXBLK 65464

struct file { char name[256]; const uint8_t *data; size_t size; };
struct peer { uint64_t key; const struct file *f; unsigned blksize; };

static struct file files[FILES];
static struct peer peers[PEERS];
static int rootfd;

static uint64_t key_of(const struct sockaddr_in *a)
{
	return (uint64_t)a->sin_addr.s_addr << 16 | a->sin_port | (uint64_t)1 << 48;
}

static struct peer *peer_slot(uint64_t key, int create)
{
	for (unsigned i = 0, h = (unsigned)(key * 0x9E3779B97F4A7C15ull >> 50) % PEERS; i < PEERS;
	     i++, h = (h + 1) % PEERS) {
		if (peers[h].key == key)
			return &peers[h];
		if (peers[h].key == 0)
			return create ? &peers[h] : NULL;
	}
	return NULL;
}

static void peer_drop(struct peer *p)
{
	/* Backward-shift deletion keeps every probe chain intact. */
	unsigned i = (unsigned)(p - peers);
	peers[i].key = 0;
	for (unsigned j = (i + 1) % PEERS; peers[j].key; j = (j + 1) % PEERS) {
		unsigned h = (unsigned)(peers[j].key * 0x9E3779B97F4A7C15ull >> 50) % PEERS;
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			peers[i] = peers[j];
			peers[j].key = 0;
			i = j;
		}
	}
}

static const struct file *file_get(const char *name)
{
	for (int i = 0; i < FILES && files[i].data; i++)
		if (strcmp(files[i].name, name) == 0)
			return &files[i];
	for (int i = 0; i < FILES; i++) {
		if (files[i].data)
			continue;
		int fd = openat(rootfd, name, O_RDONLY);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			return NULL;
		snprintf(files[i].name, sizeof(files[i].name), "%s", name);
		files[i].data = m;
		files[i].size = (size_t)st.st_size;
		return &files[i];
	}
	return NULL;
}

/* RRQ: name, mode, then option pairs; answers blksize, tsize and windowsize 1 when asked. */
static size_t on_rrq(const uint8_t *pkt, size_t len, const struct sockaddr_in *from, uint8_t *out)
{
	const char *s = (const char *)pkt + 2, *end = (const char *)pkt + len;
	const char *name = s;
	if (!memchr(s, 0, (size_t)(end - s)))
		return 0;
	const struct file *f = file_get(name[0] == '/' ? name + 1 : name);
	struct peer *p = f ? peer_slot(key_of(from), 1) : NULL;
	if (!p)
		return 0;
	*p = (struct peer){ .key = key_of(from), .f = f, .blksize = 512 };
	s += strlen(s) + 1;                               /* name */
	if (s >= end || !memchr(s, 0, (size_t)(end - s)))
		return 0;
	s += strlen(s) + 1;                               /* mode */
	size_t n = 2;
	out[0] = 0; out[1] = 6;                           /* OACK */
	while (s < end && memchr(s, 0, (size_t)(end - s))) {
		const char *opt = s, *val = s + strlen(s) + 1;
		if (val >= end || !memchr(val, 0, (size_t)(end - val)))
			break;
		s = val + strlen(val) + 1;
		char v[32] = "";
		if (strcasecmp(opt, "blksize") == 0) {
			long b = atol(val);
			p->blksize = b < 8 ? 8 : b > MAXBLK ? MAXBLK : (unsigned)b;
			snprintf(v, sizeof(v), "%u", p->blksize);
		} else if (strcasecmp(opt, "tsize") == 0) {
			snprintf(v, sizeof(v), "%zu", f->size);
		} else if (strcasecmp(opt, "windowsize") == 0) {
			snprintf(v, sizeof(v), "1");
		} else {
			continue;
		}
		n += (size_t)sprintf((char *)out + n, "%s", opt) + 1;
		n += (size_t)sprintf((char *)out + n, "%s", v) + 1;
	}
	return n;
}

/* ACK n: DATA n+1 pointed at in place (two iovecs), or forget the peer after the last one. */
static int on_ack(const uint8_t *pkt, const struct sockaddr_in *from, uint8_t *hdr, struct iovec *iov)
{
	struct peer *p = peer_slot(key_of(from), 0);
	if (!p)
		return 0;
	uint64_t next = (uint64_t)(pkt[2] << 8 | pkt[3]) + 1;
	uint64_t off = (next - 1) * p->blksize;
	if (off > p->f->size) {
		peer_drop(p);
		return 0;
	}
	size_t len = p->f->size - off < p->blksize ? p->f->size - off : p->blksize;
	hdr[0] = 0; hdr[1] = 3; hdr[2] = (uint8_t)(next >> 8); hdr[3] = (uint8_t)next;
	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = 4 };
	iov[1] = (struct iovec){ .iov_base = (void *)(p->f->data + off), .iov_len = len };
	return 2;
}

int main(int argc, char **argv)
{
	int port = 0, opt, use_epoll = 0;
	const char *root = NULL;
	while ((opt = getopt(argc, argv, "ep:r:")) != -1) {
		if (opt == 'e')
			use_epoll = 1;
		else if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'r')
			root = optarg;
		else
			return 2;
	}
	if (!port || !root || (rootfd = open(root, O_PATH | O_DIRECTORY)) < 0) {
		fprintf(stderr, "usage: tftpfloor [-e] -p PORT -r ROOT\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int buf = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("bind");
		return 1;
	}
	static uint8_t in[BATCH][1024], out[BATCH][1024];
	static struct sockaddr_in from[BATCH];
	static struct iovec iin[BATCH], iout[BATCH][2];
	static struct mmsghdr rx[BATCH], tx[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iin[i] = (struct iovec){ .iov_base = in[i], .iov_len = sizeof(in[i]) };
		rx[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_iov = &iin[i], .msg_iovlen = 1 };
	}
	int ep = use_epoll ? epoll_create1(0) : -1;
	if (use_epoll && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){ .events = EPOLLIN }) < 0) {
		perror("epoll");
		return 1;
	}
	for (;;) {
		for (int i = 0; i < BATCH; i++)
			rx[i].msg_hdr.msg_namelen = sizeof(from[i]);
		struct epoll_event ready;
		if (use_epoll && epoll_wait(ep, &ready, 1, -1) < 1)
			continue;
		int n = recvmmsg(fd, rx, BATCH, use_epoll ? MSG_DONTWAIT : MSG_WAITFORONE, NULL);
		unsigned m = 0;
		for (int i = 0; i < n; i++) {
			size_t len = rx[i].msg_len;
			int iovs = 0;
			if (len >= 4 && in[i][1] == 1) {
				static const uint8_t ack0[4] = { 0, 4, 0, 0 };
				size_t olen = on_rrq(in[i], len, &from[i], out[m]);
				if (olen > 2) {
					iout[m][0] = (struct iovec){ .iov_base = out[m], .iov_len = olen };
					iovs = 1;
				} else if (olen == 2) {       /* no options: DATA 1 at once */
					iovs = on_ack(ack0, &from[i], out[m], iout[m]);
				}
			} else if (len >= 4 && in[i][1] == 4) {
				iovs = on_ack(in[i], &from[i], out[m], iout[m]);
			}
			if (!iovs)
				continue;
			tx[m].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
							 .msg_iov = iout[m], .msg_iovlen = (size_t)iovs };
			m++;
		}
		if (m)
			sendmmsg(fd, tx, m, 0);
	}
}

/* Framing for the SOCK_SEQPACKET channels between rtftp processes.
 * A message is a fixed header then exactly hdr.len payload bytes, with at most one
 * descriptor (SCM_RIGHTS). Every receiver checks sizes exactly; a malformed message
 * from another rtftp process ends that channel. */
#ifndef RTFTP_IPC_H
#define RTFTP_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_MAX_PAYLOAD 2048

struct ipc_hdr {
	uint16_t type;
	uint16_t flags;     /* 0; reserved */
	uint32_t len;       /* payload bytes that follow the header */
	uint32_t id;        /* request id (worker-mounter), else 0 */
};

struct ipc_msg {
	struct ipc_hdr hdr;
	uint8_t payload[IPC_MAX_PAYLOAD];
	int fd;             /* -1 unless the message carried one */
};

/* 0 on success, -1 with errno (EAGAIN on a full non-blocking socket). */
int ipc_send(int sock, uint16_t type, uint32_t id, const void *payload, size_t len, int fd);
int ipc_send_str(int sock, uint16_t type, uint32_t id, const char *s);
/* A fixed struct followed by a NUL-terminated string: what ipc_get_struct_string reads. */
int ipc_send_struct_string(int sock, uint16_t type, uint32_t id, const void *head,
			   size_t headsize, const char *s, int fd);

/* 1 = a message, 0 = peer closed, -1 = error (errno EAGAIN: nothing to read;
 * EPROTO: malformed framing: truncated, wrong length, more than one descriptor;
 * EMFILE: the message (m->hdr, payload) is whole but the descriptor sent with it could not
 * be received, m->fd is -1). */
int ipc_recv(int sock, struct ipc_msg *m);

/* Exact-size getters: -1 unless the payload is exactly what is asked for. */
int ipc_get_exact(const struct ipc_msg *m, void *out, size_t size);
/* The payload must be 1..cap bytes (at most cap-1 characters), its NUL the last byte and the only one. */
int ipc_get_string(const struct ipc_msg *m, char *out, size_t cap);
/* A fixed struct followed by a NUL-terminated string (as above). */
int ipc_get_struct_string(const struct ipc_msg *m, void *head, size_t headsize, char *out, size_t cap);

/* Close a received descriptor the receiver did not expect. */
void ipc_msg_drop_fd(struct ipc_msg *m);

#endif

/* Socket addresses: canonical client text, --listen parsing, comparison and hashing. */
#ifndef RTFTP_ADDR_H
#define RTFTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sockaddr_storage;

/* An IPv4-mapped IPv6 address becomes plain IPv4; everything else is copied. */
void addr_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out);
socklen_t addr_len(const struct sockaddr_storage *a);

/* Canonical text of the host part: dotted quad, or RFC 5952 IPv6 (no zone).
 * This text names the client's folder and .nbd file. Returns 0 or -1. */
int addr_to_text(const struct sockaddr_storage *a, char *buf, size_t len);
/* "host" or "[v6]:port" or "v4:port", for logs. */
int addr_to_text_port(const struct sockaddr_storage *a, char *buf, size_t len);
uint16_t addr_port(const struct sockaddr_storage *a);

/* --listen ADDR[:PORT]: "0.0.0.0", "127.0.0.1:6969", "[::1]:69", "::", "[::]".
 * defport is used when no port is given. Returns 0 or -1. */
int addr_parse_listen(const char *s, uint16_t defport, struct sockaddr_storage *out);

bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b); /* host+port */
bool addr_host_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* FNV-1a over the host bytes (and port) from a secret starting state, finished with an
 * avalanche: which addresses share a bucket depends on the key, so a sender who does not
 * know it cannot pile its addresses into one chain. */
uint32_t addr_hash_keyed(const struct sockaddr_storage *a, bool with_port, uint32_t key);

#endif

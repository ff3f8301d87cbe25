#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void addr_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)in;
	if (in->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = s6->sin6_port };
		memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		memset(out, 0, sizeof(*out));
		memcpy(out, &s4, sizeof(s4));
		return;
	}
	if (out != in)
		memcpy(out, in, sizeof(*out));
}

socklen_t addr_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

int addr_to_text(const struct sockaddr_storage *a, char *buf, size_t len)
{
	struct sockaddr_storage u;
	addr_unmap(a, &u);
	const void *src = u.ss_family == AF_INET
		? (const void *)&((const struct sockaddr_in *)&u)->sin_addr
		: (const void *)&((const struct sockaddr_in6 *)&u)->sin6_addr;
	if (u.ss_family != AF_INET && u.ss_family != AF_INET6)
		return -1;
	/* glibc's inet_ntop writes RFC 5952 text: lower case, longest zero run (>= 2) compressed. */
	return inet_ntop(u.ss_family, src, buf, (socklen_t)len) ? 0 : -1;
}

uint16_t addr_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
}

int addr_to_text_port(const struct sockaddr_storage *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage u;
	addr_unmap(a, &u);
	if (addr_to_text(&u, host, sizeof(host)) < 0)
		return -1;
	int n = u.ss_family == AF_INET6 ? snprintf(buf, len, "[%s]:%u", host, addr_port(&u))
					: snprintf(buf, len, "%s:%u", host, addr_port(&u));
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	if (*s < '0' || *s > '9' || strlen(s) > 5)
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int addr_parse_listen(const char *s, uint16_t defport, struct sockaddr_storage *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	uint16_t port = defport;
	const char *colon = strrchr(s, ':');

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || (size_t)(close - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (close[1] == ':' ? parse_port(close + 2, &port) < 0 : close[1] != '\0')
			return -1;
	} else if (colon && strchr(s, ':') == colon && strchr(s, '.')) {
		if ((size_t)(colon - s) >= sizeof(host) || parse_port(colon + 1, &port) < 0)
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	} else {
		if (strlen(s) >= sizeof(host))
			return -1;
		strcpy(host, s);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return 0;
	}
	return -1;
}

bool addr_host_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return addr_host_equal(a, b) && addr_port(a) == addr_port(b);
}

static uint32_t fnv_bytes(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* FNV-1a over the host bytes (and port), from state h. */
static uint32_t fnv_addr(uint32_t h, const struct sockaddr_storage *a, bool with_port)
{
	if (a->ss_family == AF_INET)
		h = fnv_bytes(h, (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr, 4);
	else
		h = fnv_bytes(h, (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	if (with_port) {
		uint16_t port = addr_port(a);
		uint8_t pb[2] = { (uint8_t)(port & 0xff), (uint8_t)(port >> 8) };
		h = fnv_bytes(h, pb, 2);
	}
	return h;
}

uint32_t addr_hash_keyed(const struct sockaddr_storage *a, bool with_port, uint32_t key)
{
	uint32_t h = fnv_addr(key, a, with_port);   /* the key is FNV's starting state */
	/* murmur3's finaliser: the low bits (the bucket) depend on every bit of the state */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

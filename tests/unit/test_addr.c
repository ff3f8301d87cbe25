/* Socket addresses (common/addr.c): the canonical client text that names a client's folder
 * and .nbd file, --listen parsing, equality and hashing. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "check.h"

static struct sockaddr_storage v4(const char *host, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		CHECK_FAIL_("bad test address %s", host);
	return ss;
}

static struct sockaddr_storage v6(const char *host, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
		CHECK_FAIL_("bad test address %s", host);
	return ss;
}

static const char *text(struct sockaddr_storage ss)
{
	static char buf[128];
	if (addr_to_text(&ss, buf, sizeof(buf)) < 0)
		return "(error)";
	return buf;
}

static const char *text_port(struct sockaddr_storage ss)
{
	static char buf[128];
	if (addr_to_text_port(&ss, buf, sizeof(buf)) < 0)
		return "(error)";
	return buf;
}

static void test_text(void)
{
	char small[8];
	struct sockaddr_storage ss;

	CHECK_STR(text(v4("192.168.1.20", 0)), "192.168.1.20");
	CHECK_STR(text(v4("10.0.0.1", 68)), "10.0.0.1");
	CHECK_STR(text(v4("0.0.0.0", 0)), "0.0.0.0");
	/* An IPv4-mapped source counts as IPv4. */
	CHECK_STR(text(v6("::ffff:192.168.1.20", 1234)), "192.168.1.20");
	CHECK_STR(text(v6("::FFFF:C0A8:0114", 1234)), "192.168.1.20");
	/* RFC 5952: lower case, no leading zeros, longest run of >= 2 zero fields compressed
	 * (the first of equal runs), a lone zero field never compressed. */
	CHECK_STR(text(v6("2001:0DB8:0000:0000:0000:0000:0000:0001", 0)), "2001:db8::1");
	CHECK_STR(text(v6("::1", 0)), "::1");
	CHECK_STR(text(v6("::", 0)), "::");
	CHECK_STR(text(v6("2001:db8:0:1:1:1:1:1", 0)), "2001:db8:0:1:1:1:1:1");
	CHECK_STR(text(v6("2001:db8:0:0:1:0:0:1", 0)), "2001:db8::1:0:0:1");
	CHECK_STR(text(v6("2001:0:0:1:0:0:0:1", 0)), "2001:0:0:1::1");
	CHECK_STR(text(v6("FE80::ABCD:0:0:1", 0)), "fe80::abcd:0:0:1");
	CHECK_STR(text(v6("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 0)),
		  "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
	/* NAT64 (64:ff9b::/96) stays in hexadecimal; only the mapped form becomes a dotted quad. */
	CHECK_STR(text(v6("64:ff9b::192.0.2.1", 0)), "64:ff9b::c000:201");
	/* glibc writes the deprecated IPv4-compatible ::/96 in mixed notation (RFC 4291 prefix);
	 * pinned here because this text names a client's folder. */
	CHECK_STR(text(v6("::2:3", 0)), "::0.2.0.3");
	/* The scope id is not part of the name. */
	ss = v6("fe80::1", 69);
	((struct sockaddr_in6 *)&ss)->sin6_scope_id = 2;
	CHECK_STR(text(ss), "fe80::1");

	/* Too small a buffer: refused, not truncated. */
	ss = v4("192.168.100.200", 0);
	CHECK_EQ(addr_to_text(&ss, small, sizeof(small)), -1);
	ss = v6("2001:db8::1", 0);
	CHECK_EQ(addr_to_text(&ss, small, sizeof(small)), -1);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	CHECK_EQ(addr_to_text(&ss, small, sizeof(small)), -1);

	CHECK_STR(text_port(v4("10.1.2.3", 1069)), "10.1.2.3:1069");
	CHECK_STR(text_port(v6("2001:db8::1", 69)), "[2001:db8::1]:69");
	CHECK_STR(text_port(v6("::ffff:10.1.2.3", 40000)), "10.1.2.3:40000");
	ss = v4("10.1.2.3", 1069);
	CHECK_EQ(addr_to_text_port(&ss, small, sizeof(small)), -1);
}

static void test_unmap(void)
{
	struct sockaddr_storage in = v6("::ffff:1.2.3.4", 4321), out;
	addr_unmap(&in, &out);
	CHECK_EQ(out.ss_family, AF_INET);
	CHECK_UEQ(addr_port(&out), 4321);
	CHECK_UEQ(ntohl(((struct sockaddr_in *)&out)->sin_addr.s_addr), 0x01020304);
	CHECK_UEQ(addr_len(&out), sizeof(struct sockaddr_in));
	struct sockaddr_storage want = v4("1.2.3.4", 4321);
	CHECK(addr_equal(&out, &want));
	/* In place, and non-mapped addresses are copied unchanged. */
	addr_unmap(&in, &in);
	CHECK_EQ(in.ss_family, AF_INET);
	in = v6("2001:db8::1", 7);
	addr_unmap(&in, &out);
	CHECK(memcmp(&in, &out, sizeof(in)) == 0);
	CHECK_UEQ(addr_len(&out), sizeof(struct sockaddr_in6));
}

struct listen_case {
	const char *in;
	int family;
	const char *host;
	uint16_t port;
};

static void test_parse_listen(void)
{
	static const struct listen_case good[] = {
		{ "0.0.0.0", AF_INET, "0.0.0.0", 69 },
		{ "127.0.0.1:6969", AF_INET, "127.0.0.1", 6969 },
		{ "10.0.0.1:1", AF_INET, "10.0.0.1", 1 },
		{ "10.0.0.1:65535", AF_INET, "10.0.0.1", 65535 },
		{ "[::1]:69", AF_INET6, "::1", 69 },
		{ "[::1]:6969", AF_INET6, "::1", 6969 },
		{ "::", AF_INET6, "::", 69 },
		{ "[::]", AF_INET6, "::", 69 },
		{ "::1", AF_INET6, "::1", 69 },
		{ "2001:db8::1", AF_INET6, "2001:db8::1", 69 },
		{ "[2001:db8::1]:1069", AF_INET6, "2001:db8::1", 1069 },
		/* A bare mapped address is IPv6 text with dots: the last colon is not a port. */
		{ "::ffff:1.2.3.4", AF_INET6, "1.2.3.4", 69 },
	};
	static const char *const bad[] = {
		"1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:99999", "1.2.3.4:", "1.2.3.4:+69",
		"1.2.3.4:0x45", "1.2.3.4: 69", "1.2.3.4:69 ", "[::1", "[::1]:", "[::1]69",
		"[::1]:0", "[::1]:65536", "::1:69:", "host:x", "localhost", "host", "",
		"1.2.3", "1.2.3.4.5", "256.1.1.1", "[]", "[]:69", "fe80::1%eth0", ":::",
		"[0123456789012345678901234567890123456789012345678901234567890123456789]",
		"1.2.3.4:1:2", "1.2.3.4:000069", "[::1]:065535",
	};
	struct sockaddr_storage ss;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct listen_case *c = &good[i];
		check_count++;
		if (addr_parse_listen(c->in, 69, &ss) < 0) {
			CHECK_FAIL_("addr_parse_listen(\"%s\") refused", c->in);
			continue;
		}
		if (ss.ss_family != c->family || strcmp(text(ss), c->host) != 0 ||
		    addr_port(&ss) != c->port)
			CHECK_FAIL_("addr_parse_listen(\"%s\") = family %d %s port %u", c->in,
				    ss.ss_family, text(ss), addr_port(&ss));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_count++;
		if (addr_parse_listen(bad[i], 69, &ss) == 0)
			CHECK_FAIL_("addr_parse_listen(\"%s\") accepted as %s", bad[i], text_port(ss));
	}
	/* The default port is used only when none is given. */
	CHECK_EQ(addr_parse_listen("192.0.2.1", 1069, &ss), 0);
	CHECK_UEQ(addr_port(&ss), 1069);
	CHECK_EQ(addr_parse_listen("[::]", 4011, &ss), 0);
	CHECK_UEQ(addr_port(&ss), 4011);
	CHECK_UEQ(addr_len(&ss), sizeof(struct sockaddr_in6));
}

static void test_equal_hash(void)
{
	struct sockaddr_storage a = v4("10.0.0.1", 1000), b = v4("10.0.0.1", 1000);
	struct sockaddr_storage c = v4("10.0.0.1", 1001), d = v4("10.0.0.2", 1000);
	struct sockaddr_storage e = v6("2001:db8::1", 1000), f = v6("2001:db8::1", 1000);
	struct sockaddr_storage g = v6("2001:db8::2", 1000), h = v6("::ffff:10.0.0.1", 1000);

	/* Garbage in the unused bytes of the storage must not matter. */
	memset((char *)&b + sizeof(struct sockaddr_in), 0x5a, sizeof(b) - sizeof(struct sockaddr_in));
	((struct sockaddr_in *)&b)->sin_zero[3] = 9;

	CHECK(addr_equal(&a, &b));
	CHECK(addr_host_equal(&a, &b));
	CHECK(!addr_equal(&a, &c));
	CHECK(addr_host_equal(&a, &c));
	CHECK(!addr_host_equal(&a, &d));
	CHECK(addr_equal(&e, &f));
	CHECK(!addr_host_equal(&e, &g));
	CHECK(!addr_host_equal(&a, &e));
	CHECK(!addr_host_equal(&a, &h));   /* callers unmap first */
	addr_unmap(&h, &h);
	CHECK(addr_equal(&a, &h));

#define H(x, port) addr_hash_keyed(&(x), (port), 2166136261u)
	CHECK_UEQ(H(a, true), H(b, true));
	CHECK_UEQ(H(a, false), H(b, false));
	CHECK_UEQ(H(a, false), H(c, false));
	CHECK(H(a, true) != H(c, true));
	CHECK(H(a, false) != H(d, false));
	CHECK_UEQ(H(e, true), H(f, true));
	CHECK(H(e, false) != H(g, false));
	CHECK_UEQ(H(a, true), H(h, true));
	/* FNV-1a from FNV's own basis, then murmur3's finaliser, pinned: a change would reshuffle
	 * every table silently. */
	CHECK_UEQ(H(a, false), 0xfcdfbb6fu);
	/* another key, other buckets */
	CHECK(addr_hash_keyed(&a, false, 1) % 4096 != H(a, false) % 4096 ||
	      addr_hash_keyed(&d, false, 1) % 4096 != H(d, false) % 4096);
#undef H
}

int main(void)
{
	test_text();
	test_unmap();
	test_parse_listen();
	test_equal_hash();
	return check_done("test_addr");
}

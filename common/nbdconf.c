/* The .nbd config parser. cJSON does the JSON; this file checks every field and turns the
 * NBD URI into what libguestfs (server string + export as the drive's filename) and libnbd
 * (transport, host/port or socket, export name) want, from one parse so both agree. */
#include "nbdconf.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %-decode n bytes of src into out; refuses bad escapes, NUL and control characters. */
static int pct_decode(const char *src, size_t n, char *out, size_t cap, const char *what,
		      char *err, size_t errlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval(src[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(src[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return fail(err, errlen, "%s has a bad %%-escape", what);
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c <= 0x20 || c >= 0x7f) {
			return fail(err, errlen, "%s contains a raw byte that must be %%-encoded", what);
		}
		if (c == 0 || is_ctl(c))
			return fail(err, errlen, "%s contains a control character", what);
		if (o + 1 >= cap)
			return fail(err, errlen, "%s is longer than %zu bytes", what, cap - 1);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Host of an nbd:// URI: "[v6]" or a name/IPv4 of unreserved characters. */
static int parse_host(const char *s, size_t n, struct nbdconf *c, size_t *used, char *err, size_t errlen)
{
	size_t i = 0;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return fail(err, errlen, "url: '[' without ']' in the host");
		i = (size_t)(close - s) + 1;
		for (size_t k = 1; k + 1 < i; k++)
			if (!isxdigit((unsigned char)s[k]) && s[k] != ':' && s[k] != '.')
				return fail(err, errlen, "url: bad character in the IPv6 address");
		if (i - 2 == 0 || i - 2 >= sizeof(c->host))
			return fail(err, errlen, "url: bad IPv6 address length");
		memcpy(c->host, s + 1, i - 2);
		c->host[i - 2] = '\0';
	} else {
		while (i < n && s[i] != ':') {
			unsigned char ch = (unsigned char)s[i];
			if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_')
				return fail(err, errlen, "url: bad character 0x%02x in the host", ch);
			i++;
		}
		if (i == 0)
			return fail(err, errlen, "url: nbd:// needs a host");
		if (i >= sizeof(c->host))
			return fail(err, errlen, "url: host is too long");
		memcpy(c->host, s, i);
		c->host[i] = '\0';
	}
	*used = i;
	return 0;
}

static int parse_port(const char *s, size_t n, unsigned *port, char *err, size_t errlen)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return fail(err, errlen, "url: bad port");
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(err, errlen, "url: bad port");
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return fail(err, errlen, "url: port %u is out of range", v);
	*port = v;
	return 0;
}

static int parse_authority_tcp(const char *s, size_t n, struct nbdconf *c, char *err, size_t errlen)
{
	size_t used = 0;
	if (memchr(s, '@', n))
		return fail(err, errlen, "url: user information is not supported");
	if (parse_host(s, n, c, &used, err, errlen) < 0)
		return -1;
	c->port = NBDCONF_DEFAULT_PORT;
	if (used == n)
		return 0;
	if (s[used] != ':')
		return fail(err, errlen, "url: garbage after the host");
	return parse_port(s + used + 1, n - used - 1, &c->port, err, errlen);
}

/* nbd+unix query: exactly "socket=PATH". */
static int parse_query_unix(const char *q, struct nbdconf *c, char *err, size_t errlen)
{
	if (strncmp(q, "socket=", 7) != 0 || strchr(q, '&'))
		return fail(err, errlen, "url: nbd+unix:// takes exactly one query parameter, socket=PATH");
	if (pct_decode(q + 7, strlen(q + 7), c->socket, sizeof(c->socket), "url: socket path", err, errlen) < 0)
		return -1;
	if (c->socket[0] != '/')
		return fail(err, errlen, "url: socket path must be absolute");
	return 0;
}

static int scheme_of(const char *url, size_t *skip, char *err, size_t errlen)
{
	static const struct { const char *p; int t; } ok[] = {
		{ "nbd://", NBDCONF_TCP }, { "nbd+tcp://", NBDCONF_TCP }, { "nbd+unix://", NBDCONF_UNIX },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t l = strlen(ok[i].p);
		if (strncasecmp(url, ok[i].p, l) == 0) {
			*skip = l;
			return ok[i].t;
		}
	}
	if (strncasecmp(url, "nbds", 4) == 0)
		return fail(err, errlen, "url: TLS (nbds://) is not supported by libguestfs drives");
	return fail(err, errlen, "url: not an NBD URI (nbd://host[:port]/export or nbd+unix:///export?socket=PATH)");
}

static void make_server(struct nbdconf *c)
{
	if (c->transport == NBDCONF_UNIX)
		snprintf(c->server, sizeof(c->server), "unix:%s", c->socket);
	else if (strchr(c->host, ':'))
		snprintf(c->server, sizeof(c->server), "tcp:[%s]:%u", c->host, c->port);
	else
		snprintf(c->server, sizeof(c->server), "tcp:%s:%u", c->host, c->port);
}

int nbdconf_parse_url(const char *url, struct nbdconf *c, char *err, size_t errlen)
{
	size_t skip = 0;
	int t = scheme_of(url, &skip, err, errlen);
	if (t < 0)
		return -1;
	c->transport = (enum nbdconf_transport)t;
	const char *a = url + skip;
	if (strchr(a, '#'))
		return fail(err, errlen, "url: fragments are not allowed");
	size_t alen = strcspn(a, "/?");
	const char *path = a + alen;
	const char *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);
	if (t == NBDCONF_TCP) {
		if (parse_authority_tcp(a, alen, c, err, errlen) < 0)
			return -1;
		if (q)
			return fail(err, errlen, "url: nbd:// takes no query parameters");
	} else {
		if (alen)
			return fail(err, errlen, "url: nbd+unix:// must have an empty host (nbd+unix:///export?socket=PATH)");
		if (!q)
			return fail(err, errlen, "url: nbd+unix:// needs ?socket=PATH");
		if (parse_query_unix(q + 1, c, err, errlen) < 0)
			return -1;
	}
	/* The export name is the path without its leading '/'. */
	if (plen && pct_decode(path + 1, plen - 1, c->export_name, sizeof(c->export_name),
			       "url: export name", err, errlen) < 0)
		return -1;
	if (!plen)
		c->export_name[0] = '\0';
	if (strchr(c->export_name, ','))
		return fail(err, errlen, "url: export name contains ',' which qemu cannot take here");
	make_server(c);
	return 0;
}

int nbdconf_norm_path(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t o = 0;
	if (in[0] != '/')
		return fail(err, errlen, "is not an absolute path");
	for (const char *p = in; *p; p++)
		if (is_ctl((unsigned char)*p))
			return fail(err, errlen, "contains a control character");
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return fail(err, errlen, "contains '..'");
		if (o + 1 + n + 1 > outlen)
			return fail(err, errlen, "is longer than %zu bytes", outlen - 1);
		out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

int nbdconf_path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A key as printable ASCII for the log: '"' and anything unprintable as \xNN, cut to fit.
 * out is always terminated, also for the empty key. */
static void escape_key(const char *key, char *out, size_t cap)
{
	size_t k = 0;
	out[0] = '\0';
	for (const char *s = key; *s && k + 5 < cap; s++)
		k += (size_t)snprintf(out + k, cap - k,
				      isprint((unsigned char)*s) && *s != '"' ? "%c" : "\\x%02x",
				      (unsigned char)*s);
}

/* cJSON keeps duplicate keys; a config with two "url" is ambiguous, so refuse it. */
static int check_keys(const cJSON *obj, const char *const *known, const char *where,
		      char *err, size_t errlen, nbdconf_warn_fn warn, void *arg)
{
	for (const cJSON *a = obj->child; a; a = a->next) {
		for (const cJSON *b = a->next; b; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				return fail(err, errlen, "%s: key \"%.64s\" appears twice", where, a->string);
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			ok = ok || strcmp(a->string, known[i]) == 0;
		if (!ok && warn) {
			char msg[160], esc[80];
			escape_key(a->string, esc, sizeof(esc));
			snprintf(msg, sizeof(msg), "%s: unknown key \"%s\" ignored", where, esc);
			warn(msg, arg);
		}
	}
	return 0;
}

static int get_path(const cJSON *v, const char *what, char *out, size_t outlen, char *err, size_t errlen)
{
	char why[128];
	if (!cJSON_IsString(v))
		return fail(err, errlen, "%s is not a string", what);
	if (nbdconf_norm_path(v->valuestring, out, outlen, why, sizeof(why)) < 0)
		return fail(err, errlen, "%s %s", what, why);
	return 0;
}

static int parse_mount(const cJSON *m, int idx, struct nbdconf_mount *out, char *err, size_t errlen,
		       nbdconf_warn_fn warn, void *arg)
{
	static const char *const known[] = { "partition", "mountpoint", NULL };
	char where[48];
	snprintf(where, sizeof(where), "mounts[%d]", idx);
	if (!cJSON_IsObject(m))
		return fail(err, errlen, "%s is not an object", where);
	if (check_keys(m, known, where, err, errlen, warn, arg) < 0)
		return -1;
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "partition");
	const cJSON *mp = cJSON_GetObjectItemCaseSensitive(m, "mountpoint");
	if (!p)
		return fail(err, errlen, "%s: missing \"partition\"", where);
	if (!cJSON_IsNumber(p) || !isfinite(p->valuedouble) || floor(p->valuedouble) != p->valuedouble)
		return fail(err, errlen, "%s: \"partition\" is not an integer", where);
	if (p->valuedouble < 1 || p->valuedouble > 128)
		return fail(err, errlen, "%s: \"partition\" must be 1..128", where);
	out->partition = (int)p->valuedouble;
	if (!mp)
		return fail(err, errlen, "%s: missing \"mountpoint\"", where);
	char what[64];
	snprintf(what, sizeof(what), "%s: \"mountpoint\"", where);
	return get_path(mp, what, out->mountpoint, sizeof(out->mountpoint), err, errlen);
}

/* Unique mount points and partitions; a parent is mounted before its children. */
static int check_mount_order(const struct nbdconf *c, char *err, size_t errlen)
{
	for (int i = 0; i < c->nmounts; i++)
		for (int j = i + 1; j < c->nmounts; j++) {
			const struct nbdconf_mount *a = &c->mounts[i], *b = &c->mounts[j];
			if (strcmp(a->mountpoint, b->mountpoint) == 0)
				return fail(err, errlen, "mount point %.200s appears twice", a->mountpoint);
			if (a->partition == b->partition)
				return fail(err, errlen, "partition %d is mounted twice", a->partition);
			if (nbdconf_path_within(a->mountpoint, b->mountpoint))
				return fail(err, errlen, "mounts[%d] (%.100s) comes before its parent mounts[%d] (%.100s)",
					    i, a->mountpoint, j, b->mountpoint);
		}
	return 0;
}

static int parse_mounts(const cJSON *arr, struct nbdconf *c, char *err, size_t errlen,
			nbdconf_warn_fn warn, void *arg)
{
	if (!arr)
		return fail(err, errlen, "missing \"mounts\"");
	if (!cJSON_IsArray(arr))
		return fail(err, errlen, "\"mounts\" is not an array");
	int n = cJSON_GetArraySize(arr);
	if (n < 1)
		return fail(err, errlen, "\"mounts\" is empty");
	if (n > NBDCONF_MAX_MOUNTS)
		return fail(err, errlen, "\"mounts\" has more than %d entries", NBDCONF_MAX_MOUNTS);
	int i = 0;
	for (const cJSON *m = arr->child; m; m = m->next, i++)
		if (parse_mount(m, i, &c->mounts[i], err, errlen, warn, arg) < 0)
			return -1;
	c->nmounts = n;
	return check_mount_order(c, err, errlen);
}

static int parse_url_field(const cJSON *u, struct nbdconf *c, char *err, size_t errlen)
{
	if (!u)
		return fail(err, errlen, "missing \"url\"");
	if (!cJSON_IsString(u))
		return fail(err, errlen, "\"url\" is not a string");
	if (strlen(u->valuestring) >= sizeof(c->url))
		return fail(err, errlen, "\"url\" is longer than %zu bytes", sizeof(c->url) - 1);
	for (const char *p = u->valuestring; *p; p++)
		if (is_ctl((unsigned char)*p))
			return fail(err, errlen, "\"url\" contains a control character");
	snprintf(c->url, sizeof(c->url), "%s", u->valuestring);
	return nbdconf_parse_url(c->url, c, err, errlen);
}

static int parse_tftp_root(const cJSON *t, struct nbdconf *c, char *err, size_t errlen)
{
	if (!t)
		snprintf(c->tftp_root, sizeof(c->tftp_root), "/");
	else if (get_path(t, "\"tftp_root\"", c->tftp_root, sizeof(c->tftp_root), err, errlen) < 0)
		return -1;
	/* Outside every mount point, tftp_root would be the appliance's own root fs. */
	for (int i = 0; i < c->nmounts; i++)
		if (nbdconf_path_within(c->tftp_root, c->mounts[i].mountpoint))
			return 0;
	return fail(err, errlen, "\"tftp_root\" %.200s is not below any mount point", c->tftp_root);
}

static int parse_object(const cJSON *root, struct nbdconf *c, char *err, size_t errlen,
			nbdconf_warn_fn warn, void *arg)
{
	static const char *const known[] = { "url", "mounts", "tftp_root", NULL };
	if (!cJSON_IsObject(root))
		return fail(err, errlen, "the top level is not a JSON object");
	if (check_keys(root, known, "config", err, errlen, warn, arg) < 0)
		return -1;
	if (parse_url_field(cJSON_GetObjectItemCaseSensitive(root, "url"), c, err, errlen) < 0)
		return -1;
	if (parse_mounts(cJSON_GetObjectItemCaseSensitive(root, "mounts"), c, err, errlen, warn, arg) < 0)
		return -1;
	return parse_tftp_root(cJSON_GetObjectItemCaseSensitive(root, "tftp_root"), c, err, errlen);
}

static void where_in(const char *buf, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Offset of the first \u0000 escape inside a string (key or value), or len if none.
 * cJSON decodes it to a NUL that silently ends the C string ("nbd://h/x\u0000y" would be
 * read as nbd://h/x), so such a file is refused before it is parsed. Escapes are skipped
 * whole: in "\\u0000" the backslash is escaped and u0000 is plain text. */
static size_t find_nul_escape(const char *buf, size_t len)
{
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '"') {
			in_string = !in_string;
		} else if (in_string && buf[i] == '\\' && i + 1 < len) {
			if (len - i >= 6 && memcmp(buf + i + 1, "u0000", 5) == 0)
				return i;
			i++;    /* the escaped character: never a closing quote or a new escape */
		}
	}
	return len;
}

int nbdconf_parse(const char *buf, size_t len, struct nbdconf *out,
		  char *err, size_t errlen, nbdconf_warn_fn warn, void *warn_arg)
{
	const char *end = NULL;
	size_t i;
	memset(out, 0, sizeof(*out));
	if (len > NBDCONF_MAX_BYTES)
		return fail(err, errlen, "the file is larger than %d bytes", NBDCONF_MAX_BYTES);
	for (i = 0; i < len && isspace((unsigned char)buf[i]); i++)
		;
	if (i == len)
		return fail(err, errlen, "the file is empty");
	if (memchr(buf, '\0', len))
		return fail(err, errlen, "not JSON: the file contains a NUL byte");
	size_t nul = find_nul_escape(buf, len);
	if (nul < len) {
		int line, col;
		where_in(buf, nul, &line, &col);
		return fail(err, errlen, "a \\u0000 escape at line %d column %d: no key or value may contain NUL",
			    line, col);
	}
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!root) {
		int line, col;
		size_t off = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
		where_in(buf, off, &line, &col);
		return fail(err, errlen, "not JSON: syntax error at line %d column %d", line, col);
	}
	for (i = end ? (size_t)(end - buf) : len; i < len && isspace((unsigned char)buf[i]); i++)
		;
	int rc = i < len ? fail(err, errlen, "not JSON: trailing data after the object")
			 : parse_object(root, out, err, errlen, warn, warn_arg);
	cJSON_Delete(root);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int nbdconf_read_fd(int fd, struct nbdconf *out, char *err, size_t errlen,
		    nbdconf_warn_fn warn, void *warn_arg)
{
	static char buf[NBDCONF_MAX_BYTES + 1];
	struct stat st;
	size_t got = 0;
	if (fstat(fd, &st) < 0)
		return fail(err, errlen, "cannot stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, "not a regular file");
	if (st.st_size > NBDCONF_MAX_BYTES)
		return fail(err, errlen, "the file is larger than %d bytes", NBDCONF_MAX_BYTES);
	/* Read one byte past the bound: the file may grow between fstat and read. */
	while (got < sizeof(buf)) {
		ssize_t n = pread(fd, buf + got, sizeof(buf) - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(err, errlen, "cannot read: %s", strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return nbdconf_parse(buf, got, out, err, errlen, warn, warn_arg);
}

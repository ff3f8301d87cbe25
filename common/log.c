#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static const char *log_role = "rtftp";
static int log_verbosity;
static log_sink_fn log_sink;
static void *log_sink_arg;
static int log_to_syslog;

void log_init(const char *role, int verbose)
{
	log_role = role;
	log_verbosity = verbose;
}

void log_set_sink(log_sink_fn sink, void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

void log_use_syslog(void)
{
	openlog("rtftp", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_to_syslog = 1;
}

int log_verbose(void)
{
	return log_verbosity;
}

static int syslog_priority(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR: return LOG_ERR;
	case LOG_LVL_WARN: return LOG_WARNING;
	case LOG_LVL_INFO: return LOG_INFO;
	default: return LOG_DEBUG;
	}
}

/* A log entry is one line. A control byte that got this far (a name from a disk image, a
 * line from a compromised child) would split it or forge the next: it is written as '?'.
 * What a client or a disk controls is escaped at the call site, readably; this is the
 * backstop. */
static const char *one_line(char *dst, size_t cap, const char *line)
{
	size_t i = 0;
	for (; line[i] && i < cap - 1; i++) {
		unsigned char c = (unsigned char)line[i];
		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
	return dst;
}

void log_line(enum log_level lvl, const char *raw)
{
	char clean[2048];
	if (lvl == LOG_LVL_DEBUG && !log_verbosity)
		return;
	const char *line = one_line(clean, sizeof(clean), raw);
	if (log_sink) {
		log_sink(lvl, line, log_sink_arg);
		return;
	}
	if (log_to_syslog) {
		syslog(syslog_priority(lvl), "%s", line);
		return;
	}
	/* One write per line keeps lines from different processes whole on a shared stderr. */
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	ssize_t r = write(STDERR_FILENO, buf, (size_t)n);
	(void)r;
}

static void log_vemit(enum log_level lvl, int with_errno, int saved_errno,
		      const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void log_vemit(enum log_level lvl, int with_errno, int saved_errno,
		      const char *fmt, va_list ap)
{
	char msg[1536], line[1800];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno)
		snprintf(line, sizeof(line), "%s: %s: %s", log_role, msg, strerror(saved_errno));
	else
		snprintf(line, sizeof(line), "%s: %s", log_role, msg);
	log_line(lvl, line);
}

#define LOG_BODY(lvl, with_errno) do {		\
	int saved_errno_ = errno;		\
	va_list ap;				\
	va_start(ap, fmt);			\
	log_vemit(lvl, with_errno, saved_errno_, fmt, ap); \
	va_end(ap);				\
	errno = saved_errno_;			\
} while (0)

void log_warn(const char *fmt, ...) { LOG_BODY(LOG_LVL_WARN, 1); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LVL_WARN, 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LVL_INFO, 0); }

void log_debug(const char *fmt, ...)
{
	if (!log_verbosity)
		return;
	LOG_BODY(LOG_LVL_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERR, 1);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERR, 0);
	exit(1);
}

static size_t escape_one(unsigned char c, char tmp[4])
{
	static const char hex[] = "0123456789abcdef";
	if (c == '\\' || c == '"') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		tmp[0] = (char)c;
		return 1;
	}
	tmp[0] = '\\'; tmp[1] = 'x'; tmp[2] = hex[c >> 4]; tmp[3] = hex[c & 15];
	return 4;
}

char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	char tmp[4];
	size_t need = 0, room, o = 0;
	if (dstlen == 0)
		return dst;
	for (size_t i = 0; i < srclen && need < dstlen; i++)
		need += escape_one((unsigned char)src[i], tmp);
	/* Keep room for "..." only when the text does not fit. */
	bool fits = need < dstlen;
	room = fits ? dstlen - 1 : (dstlen >= 4 ? dstlen - 4 : 0);
	for (size_t i = 0; i < srclen; i++) {
		size_t n = escape_one((unsigned char)src[i], tmp);
		if (o + n > room)
			break;
		memcpy(dst + o, tmp, n);
		o += n;
	}
	if (!fits && dstlen >= 4) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

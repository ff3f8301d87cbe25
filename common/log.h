/* Logging shared by every rtftp process: one line per event, prefixed with the role. */
#ifndef RTFTP_LOG_H
#define RTFTP_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* A sink receives one finished line (no newline); the default writes it to stderr. */
typedef void (*log_sink_fn)(enum log_level lvl, const char *line, void *arg);

void log_init(const char *role, int verbose);
void log_set_sink(log_sink_fn sink, void *arg);
void log_use_syslog(void);       /* send lines to syslog(3) instead of stderr */
int  log_verbose(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Write a line as is (already formatted) at a level; used for transfer records and forwarded lines. */
void log_line(enum log_level lvl, const char *line);

/* Copy untrusted bytes into dst as printable ASCII: \\, \", and \xNN for the rest. Always NUL-terminates;
 * an overlong input ends in "...". Returns dst. */
char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif

/* log_escape (common/log.c): what a client controls is logged as printable ASCII only. */
#include <unistd.h>

#include "check.h"
#include "log.h"

static const char *esc(size_t cap, const char *src, size_t len)
{
	static char buf[256];
	memset(buf, 0x7e, sizeof(buf));
	return log_escape(buf, cap, src, len);
}
#define ESC(cap, lit) esc((cap), (lit), sizeof(lit) - 1)

static void test_escapes(void)
{
	CHECK_STR(ESC(64, "pxelinux.0"), "pxelinux.0");
	CHECK_STR(ESC(64, ""), "");
	CHECK_STR(ESC(64, "a\\b"), "a\\\\b");
	CHECK_STR(ESC(64, "say \"hi\""), "say \\\"hi\\\"");
	CHECK_STR(ESC(64, "line\nnext"), "line\\x0anext");
	CHECK_STR(ESC(64, "\r\t\x1b[31m"), "\\x0d\\x09\\x1b[31m");
	CHECK_STR(ESC(64, "nul\0byte"), "nul\\x00byte");
	CHECK_STR(ESC(64, "\x7f\x80\xff"), "\\x7f\\x80\\xff");
	CHECK_STR(ESC(64, "caf\xc3\xa9"), "caf\\xc3\\xa9");
	CHECK_STR(ESC(64, " ~"), " ~");
	/* srclen is what counts, not a NUL. */
	CHECK_STR(esc(64, "abcdef", 3), "abc");
}

static void test_truncation(void)
{
	char buf[16];
	const char *r;

	/* Returns dst. */
	r = log_escape(buf, sizeof(buf), "x", 1);
	CHECK(r == buf);
	/* 20 printable bytes into 16: 12 of them, then "...". */
	CHECK_STR(ESC(16, "abcdefghijklmnopqrst"), "abcdefghijkl...");
	/* Truncation never splits an escape sequence. */
	CHECK_STR(ESC(12, "abcde\x01zzzzzzzz"), "abcde...");
	CHECK_STR(ESC(12, "abcdef\"zzzzzzz"), "abcdef\\\"...");
	/* Output that fits exactly is not marked as truncated. */
	CHECK_STR(ESC(5, "abcd"), "abcd");
	CHECK_STR(ESC(9, "abc\x01"), "abc\\x01");
	CHECK_STR(ESC(8, "abc\x01"), "abc\\x01");             /* 7 chars + NUL = 8 */
	CHECK_STR(ESC(7, "abc\x01"), "abc...");
	/* A long name, bounded by the buffer, NUL-terminated, ending in "...". */
	char name[300];
	memset(name, '\n', sizeof(name));
	r = esc(64, name, sizeof(name));
	CHECK_UEQ(strlen(r), 63);
	CHECK(strcmp(r + 60, "...") == 0);
	CHECK(strncmp(r, "\\x0a\\x0a", 8) == 0);
}

static void test_tiny(void)
{
	char buf[8];

	/* 0 bytes: nothing written at all. */
	memset(buf, 'Q', sizeof(buf));
	log_escape(buf, 0, "abc", 3);
	CHECK_EQ(buf[0], 'Q');
	/* 1..4 bytes: always NUL-terminated within the buffer, never written past it. */
	for (size_t cap = 1; cap <= 4; cap++) {
		static const char *const inputs[] = { "", "a", "ab", "abc", "abcdefgh", "\x01\x02" };
		for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
			memset(buf, 'Q', sizeof(buf));
			log_escape(buf, cap, inputs[i], strlen(inputs[i]));
			check_count++;
			if (memchr(buf, '\0', cap) == NULL || buf[cap] != 'Q')
				CHECK_FAIL_("log_escape cap %zu \"%s\": not terminated in bounds",
					    cap, inputs[i]);
			/* Whatever it wrote is a prefix of the escape or "..."-marked. */
			check_count++;
			if (strlen(buf) >= cap)
				CHECK_FAIL_("log_escape cap %zu: %zu chars", cap, strlen(buf));
		}
	}
	CHECK_STR(ESC(1, "abc"), "");
	CHECK_STR(ESC(4, "abc"), "abc");
	CHECK_STR(ESC(4, "abcd"), "...");
	CHECK_STR(ESC(2, "a"), "a");
	CHECK_STR(ESC(3, "ab"), "ab");
}

static char sunk[4096];

static void sink(enum log_level lvl, const char *line, void *arg)
{
	(void)lvl; (void)arg;
	snprintf(sunk, sizeof(sunk), "%s", line);
}

/* Whatever reaches the log is one line: a newline or escape sequence in a formatted argument
 * (a file name from a disk image, a compromised child's line) cannot start a forged entry. */
static void test_one_line(void)
{
	log_set_sink(sink, NULL);
	log_line(LOG_LVL_WARN, "worker: x\nrtftp: transfer client=10.0.0.9 outcome=ok");
	CHECK_STR(sunk, "worker: x?rtftp: transfer client=10.0.0.9 outcome=ok");
	log_warnx("read of %s failed", "/boot/a\r\nb\x1b[2J\x7f");
	CHECK(strstr(sunk, "read of /boot/a??b?[2J? failed") != NULL);
	log_line(LOG_LVL_INFO, "a\x01" "b\x1f" "c\x20" "d\x7e" "e");     /* 0x01..0x1f: all of them */
	CHECK_STR(sunk, "a?b?c d~e");
	log_info("plain caf\xc3\xa9 \"q\"");
	CHECK(strstr(sunk, "plain caf\xc3\xa9 \"q\"") != NULL);   /* only control bytes change */
	log_set_sink(NULL, NULL);
}

/* A line too long for one write is cut, and still ends in a newline: the next entry starts
 * a line of its own. */
static void test_long_line_ends_in_newline(void)
{
	char line[3000], got[4096];
	int p[2], saved = dup(STDERR_FILENO);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	if (saved < 0 || pipe(p) < 0 || dup2(p[1], STDERR_FILENO) < 0) {
		CHECK_FAIL_("cannot capture stderr");
		return;
	}
	log_line(LOG_LVL_WARN, line);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	ssize_t n = read(p[0], got, sizeof(got));
	close(p[0]);
	CHECK_EQ(n, 2047);
	CHECK(n > 0 && got[n - 1] == '\n');
	CHECK(n > 0 && memchr(got, '\n', (size_t)n - 1) == NULL);
}

int main(void)
{
	test_escapes();
	test_truncation();
	test_tiny();
	test_one_line();
	test_long_line_ends_in_newline();
	return check_done("test_log");
}

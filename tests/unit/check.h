/* A tiny assertion kit for the unit tests: each CHECK counts, a failure prints where and
 * what, and check_done() is the exit status (non-zero when anything failed). Tests go on
 * after a failure so one run reports every broken case. */
#ifndef RTFTP_CHECK_H
#define RTFTP_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK_FAIL_(...) do {						\
	check_failures++;						\
	fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
} while (0)

#define CHECK(cond) do {						\
	check_count++;							\
	if (!(cond))							\
		CHECK_FAIL_("%s", #cond);				\
} while (0)

/* Integers of any width are compared as intmax_t / uintmax_t. */
#define CHECK_EQ(a, b) do {						\
	intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);		\
	check_count++;							\
	if (a_ != b_)							\
		CHECK_FAIL_("%s == %s (%jd != %jd)", #a, #b, a_, b_);	\
} while (0)

#define CHECK_UEQ(a, b) do {						\
	uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);		\
	check_count++;							\
	if (a_ != b_)							\
		CHECK_FAIL_("%s == %s (%ju != %ju)", #a, #b, a_, b_);	\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	check_count++;							\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)		\
		CHECK_FAIL_("%s == %s (\"%s\" != \"%s\")", #a, #b,	\
			    a_ ? a_ : "(null)", b_ ? b_ : "(null)");	\
} while (0)

/* Byte-exact comparison; on a mismatch both sides are dumped in hex. */
#define CHECK_MEM(a, alen, b, blen) do {				\
	const uint8_t *a_ = (const uint8_t *)(a), *b_ = (const uint8_t *)(b); \
	size_t al_ = (alen), bl_ = (blen);				\
	check_count++;							\
	if (al_ != bl_ || memcmp(a_, b_, al_) != 0) {			\
		CHECK_FAIL_("%s (%zu bytes) == %s (%zu bytes)", #a, al_, #b, bl_); \
		check_hexdump_("got     ", a_, al_);			\
		check_hexdump_("expected", b_, bl_);			\
	}								\
} while (0)

static inline void check_hexdump_(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "    %s:", what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, (p[i] >= 0x21 && p[i] < 0x7f) ? " %c" : " %02x", p[i]);
	fputc('\n', stderr);
}

static inline int check_done(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif

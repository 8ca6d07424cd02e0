/* check.h - the few assertion macros the unit tests share; a failure prints file:line and exits 1. */
#ifndef NM_TEST_CHECK_H
#define NM_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long __a = (long long)(a), __b = (long long)(b);                              \
		if (__a != __b) {                                                                  \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__,  \
				#a, __a, __b);                                                     \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *__a = (a), *__b = (b);                                                 \
		if (!__a || !__b || strcmp(__a, __b)) {                                            \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, #a, __a ? __a : "(null)", __b ? __b : "(null)");         \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

/* Exit status for the automake harness: 0 pass, 1 fail. */
#define CHECK_DONE()                                                                               \
	do {                                                                                       \
		if (check_failures)                                                                \
			fprintf(stderr, "%d checks failed\n", check_failures);                     \
		return check_failures ? 1 : 0;                                                     \
	} while (0)

#endif

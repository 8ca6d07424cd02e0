/* test_params.c - the control API's query parameters: numbers, RFC 3339 times, types, misuse. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "src/control/params.h"
#include "src/program.h"

#define NS 1000000000LL

static void check_u64(const char *s, uint64_t min, uint64_t max, int want_rc, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int rc = nm_parse_u64(s, min, max, &v);

	if (rc != want_rc)
		fprintf(stderr, "  nm_parse_u64(\"%s\", %llu, %llu)\n", s, (unsigned long long)min,
			(unsigned long long)max);
	CHECK_EQ_INT(rc, want_rc);
	if (!want_rc)
		CHECK(v == want);
	else
		CHECK(v == 0xdeadbeef); /* untouched on failure */
}

static void test_u64(void)
{
	check_u64("0", 0, 10, 0, 0);
	check_u64("10", 0, 10, 0, 10);
	check_u64("007", 0, 10, 0, 7);
	check_u64("11", 0, 10, -ERANGE, 0);
	check_u64("0", 1, 10, -ERANGE, 0);
	check_u64("4294967295", 0, UINT32_MAX, 0, UINT32_MAX);
	check_u64("4294967296", 0, UINT32_MAX, -ERANGE, 0);
	/* the whole u64 range, and one past it */
	check_u64("18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX);
	check_u64("18446744073709551616", 0, UINT64_MAX, -ERANGE, 0);
	check_u64("18446744073709551620", 0, UINT64_MAX, -ERANGE, 0);
	check_u64("99999999999999999999999", 0, UINT64_MAX, -ERANGE, 0);
	check_u64("00000000000000000000000000000001", 0, 10, 0, 1);
	/* only digits: no sign, no space, no hex, no empty string */
	check_u64("", 0, 10, -EINVAL, 0);
	check_u64("-1", 0, 10, -EINVAL, 0);
	check_u64("+1", 0, 10, -EINVAL, 0);
	check_u64(" 1", 0, 10, -EINVAL, 0);
	check_u64("1 ", 0, 10, -EINVAL, 0);
	check_u64("1x", 0, 10, -EINVAL, 0);
	check_u64("0x1", 0, 10, -EINVAL, 0);
	check_u64("1.0", 0, 10, -EINVAL, 0);
	check_u64("abc", 0, 10, -EINVAL, 0);
}

static void check_time(const char *s, int want_rc, int64_t want)
{
	int64_t v = -12345;
	int rc = nm_parse_rfc3339(s, &v);

	if (rc != want_rc || (!rc && v != want))
		fprintf(stderr, "  nm_parse_rfc3339(\"%s\") = %d, %lld\n", s, rc, (long long)v);
	CHECK_EQ_INT(rc, want_rc);
	if (!want_rc)
		CHECK_EQ_INT(v, want);
	else
		CHECK_EQ_INT(v, -12345);
}

static void test_rfc3339_valid(void)
{
	const int64_t noon = 1714564800LL * NS; /* 2024-05-01T12:00:00Z */

	check_time("2024-05-01T12:00:00Z", 0, noon);
	check_time("2024-05-01t12:00:00z", 0, noon);
	check_time("2024-05-01 12:00:00Z", 0, noon);
	check_time("1970-01-01T00:00:00Z", 0, 0);
	/* the last second whose nanoseconds fit in int64 */
	check_time("2262-04-11T23:47:15.999999999Z", 0, 9223372035LL * NS + 999999999);
	/* fractions: to nanoseconds, any number of digits, more than 9 truncated */
	check_time("2024-05-01T12:00:00.25Z", 0, noon + 250000000);
	check_time("2024-05-01T12:00:00.000000001Z", 0, noon + 1);
	check_time("2024-05-01T12:00:00.123456789Z", 0, noon + 123456789);
	check_time("2024-05-01T12:00:00.1234567899999Z", 0, noon + 123456789);
	check_time("2024-05-01T12:00:00.0Z", 0, noon);
	/* offsets: the same instant; a space stands for '+' (a query string's decoded '+') */
	check_time("2024-05-01T14:00:00+02:00", 0, noon);
	check_time("2024-05-01T14:00:00.25+02:00", 0, noon + 250000000);
	check_time("2024-05-01T14:00:00 02:00", 0, noon);
	check_time("2024-05-01T06:30:00-05:30", 0, noon);
	check_time("2024-05-01T12:00:00+00:00", 0, noon);
	check_time("2024-05-01T12:00:00-00:00", 0, noon);
	check_time("2024-05-02T11:59:00+23:59", 0, noon);
	/* leap day in a leap year (2000: divisible by 400), leap second held at :59 */
	check_time("2000-02-29T00:00:00Z", 0, 951782400LL * NS);
	check_time("2024-02-29T00:00:00Z", 0, 1709164800LL * NS);
	check_time("2016-12-31T23:59:60Z", 0, 1483228799LL * NS);
	check_time("2016-12-31T23:59:60.5Z", 0, 1483228799LL * NS + 500000000);
}

static void test_rfc3339_invalid(void)
{
	/* not the shape */
	check_time("", -EINVAL, 0);
	check_time("yesterday", -EINVAL, 0);
	check_time("2024-01-01", -EINVAL, 0);
	check_time("2024-01-01T00:00:00", -EINVAL, 0); /* no offset */
	check_time("2024-01-01T00:00Z", -EINVAL, 0);   /* no seconds */
	check_time("2024-1-01T00:00:00Z", -EINVAL, 0);
	check_time("24-01-01T00:00:00Z", -EINVAL, 0);
	check_time("2024/01/01T00:00:00Z", -EINVAL, 0);
	check_time("2024-01-01X00:00:00Z", -EINVAL, 0);
	check_time("2024-01-01T00:00:00.Z", -EINVAL, 0); /* a dot needs a digit */
	check_time("2024-01-01T00:00:00,5Z", -EINVAL, 0);
	check_time("2024-01-01T00:00:00ZZ", -EINVAL, 0);
	check_time("2024-01-01T00:00:00Z ", -EINVAL, 0);
	check_time("2024-01-01T00:00:00+0200", -EINVAL, 0);
	check_time("2024-01-01T00:00:00+02", -EINVAL, 0);
	check_time("2024-01-01T00:00:00+2:00", -EINVAL, 0);
	check_time("2024-01-01T00:00:00+02:00:00", -EINVAL, 0);
	check_time("2024-01-01T00:00:00UTC", -EINVAL, 0);
	check_time("2024-01-01T00:00:00-", -EINVAL, 0);
	check_time("+024-01-01T00:00:00Z", -EINVAL, 0);
	check_time("2024-01-01T0a:00:00Z", -EINVAL, 0);
	/* the shape, a field out of range */
	check_time("2024-00-01T00:00:00Z", -ERANGE, 0);
	check_time("2024-13-01T00:00:00Z", -ERANGE, 0);
	check_time("2024-01-00T00:00:00Z", -ERANGE, 0);
	check_time("2024-01-32T00:00:00Z", -ERANGE, 0);
	check_time("2024-04-31T00:00:00Z", -ERANGE, 0);
	check_time("2024-02-30T00:00:00Z", -ERANGE, 0);
	check_time("2023-02-29T00:00:00Z", -ERANGE, 0);
	check_time("2100-02-29T00:00:00Z", -ERANGE, 0); /* divisible by 100, not by 400 */
	check_time("2024-01-01T24:00:00Z", -ERANGE, 0);
	check_time("2024-01-01T00:60:00Z", -ERANGE, 0);
	check_time("2024-01-01T00:00:61Z", -ERANGE, 0);
	check_time("2024-01-01T00:00:00+24:00", -ERANGE, 0);
	check_time("2024-01-01T00:00:00+00:60", -ERANGE, 0);
	/* before the epoch: event times are never there */
	check_time("1969-12-31T23:59:59Z", -ERANGE, 0);
	check_time("1970-01-01T00:00:00+00:01", -ERANGE, 0);
	check_time("0000-01-01T00:00:00Z", -ERANGE, 0);
	/* past what int64 nanoseconds hold */
	check_time("2262-04-11T23:47:16Z", -ERANGE, 0);
	check_time("9999-12-31T23:59:59Z", -ERANGE, 0);
	check_time("1970-01-01T00:00:00-00:01", 0, 60 * NS);
}

static void test_types(void)
{
	const char *loss = nm_param_event_type("loss");

	CHECK_EQ_STR(loss, "loss");
	/* every program in the registry is a type, spelled by the registry (it outlives requests) */
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++) {
		char copy[64];

		snprintf(copy, sizeof(copy), "%s", (*t)->name);
		CHECK(nm_param_event_type(copy) == (*t)->name);
	}
	CHECK(nm_param_event_type("connection") != NULL);
	CHECK(nm_param_event_type("packet_drop") != NULL);
	CHECK(nm_param_event_type("bogus") == NULL);
	CHECK(nm_param_event_type("") == NULL);
	CHECK(nm_param_event_type("Connection") == NULL);
	CHECK(nm_param_event_type("loss ") == NULL);
}

#define ALL                                                                                        \
	(NM_P_TYPE | NM_P_PID | NM_P_COMMAND | NM_P_SINCE | NM_P_UNTIL | NM_P_LIMIT | NM_P_DURATION)

/* Parse @n key/value pairs with @allowed; returns what nm_params_add/finish said. */
static int parse(struct nm_params *ps, unsigned allowed, const char *const *kv, size_t n)
{
	nm_params_init(ps, allowed);
	for (size_t i = 0; i + 1 < n; i += 2)
		if (nm_params_add(ps, kv[i], kv[i + 1]))
			return -EINVAL;
	return nm_params_finish(ps);
}

#define PARSE(ps, allowed, ...)                                                                    \
	parse(ps, allowed, (const char *const[]){__VA_ARGS__},                                     \
	      sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Refused, and the message starts with @prefix (the parameter's name, usually). */
#define REFUSED(ps, prefix)                                                                        \
	do {                                                                                       \
		CHECK(!strncmp((ps)->error, prefix, strlen(prefix)));                              \
		if (strncmp((ps)->error, prefix, strlen(prefix)))                                  \
			fprintf(stderr, "  error: %s\n", (ps)->error);                             \
	} while (0)

static void test_params(void)
{
	struct nm_params ps;

	CHECK_EQ_INT(PARSE(&ps, ALL, "type", "connection", "pid", "42", "command", "curl", "since",
			   "2024-05-01T12:00:00Z", "until", "2024-05-01T14:00:00+02:00", "limit",
			   "7", "duration_seconds", "600"),
		     0);
	CHECK_EQ_STR(ps.f.type, "connection");
	CHECK(ps.f.has_pid && ps.f.pid == 42);
	CHECK(ps.f.has_command && !memcmp(ps.f.command, "curl\0\0\0\0\0\0\0\0\0\0\0\0", 16));
	CHECK(ps.f.has_since && ps.f.has_until && ps.f.since_ns == ps.f.until_ns);
	CHECK(ps.has_limit && ps.limit == 7);
	CHECK(ps.has_duration && ps.duration_s == 600);
	CHECK_EQ_INT(ps.seen, ALL);
	CHECK_EQ_STR(ps.error, "");

	/* nothing given: nothing set */
	CHECK_EQ_INT(parse(&ps, ALL, NULL, 0), 0);
	CHECK(!ps.f.type && !ps.f.has_pid && !ps.f.has_command && !ps.has_limit &&
	      !ps.has_duration && !ps.f.has_since && !ps.f.has_until);

	/* a 16-byte command fills the kernel's field, with no NUL */
	CHECK_EQ_INT(PARSE(&ps, ALL, "command", "0123456789abcdef"), 0);
	CHECK(!memcmp(ps.f.command, "0123456789abcdef", 16));
	CHECK_EQ_INT(PARSE(&ps, ALL, "command", "0123456789abcdefg"), -EINVAL);
	REFUSED(&ps, "command:");
	CHECK_EQ_INT(PARSE(&ps, ALL, "command", ""), -EINVAL);
	REFUSED(&ps, "command:");
	CHECK_EQ_INT(PARSE(&ps, ALL, "command", NULL), -EINVAL); /* "?command" without '=' */
	REFUSED(&ps, "command:");

	CHECK_EQ_INT(PARSE(&ps, ALL, "pid", "abc"), -EINVAL);
	CHECK_EQ_STR(ps.error, "pid: 'abc' is not a decimal number");
	CHECK_EQ_INT(PARSE(&ps, ALL, "pid", "4294967296"), -EINVAL);
	CHECK_EQ_STR(ps.error, "pid: '4294967296' is not in range 0..4294967295");
	CHECK_EQ_INT(PARSE(&ps, ALL, "pid", "0"), 0);
	CHECK(ps.f.has_pid && ps.f.pid == 0);
	CHECK_EQ_INT(PARSE(&ps, ALL, "pid", NULL), -EINVAL);
	REFUSED(&ps, "pid:");

	CHECK_EQ_INT(PARSE(&ps, ALL, "limit", "0"), -EINVAL);
	REFUSED(&ps, "limit:");
	CHECK_EQ_INT(PARSE(&ps, ALL, "limit", "10001"), -EINVAL);
	REFUSED(&ps, "limit:");
	CHECK_EQ_INT(PARSE(&ps, ALL, "limit", "10000"), 0);
	CHECK_EQ_INT(PARSE(&ps, ALL, "duration_seconds", "0"), -EINVAL);
	REFUSED(&ps, "duration_seconds:");
	CHECK_EQ_INT(PARSE(&ps, ALL, "duration_seconds", "31622400"), 0);
	CHECK_EQ_INT(PARSE(&ps, ALL, "duration_seconds", "31622401"), -EINVAL);

	CHECK_EQ_INT(PARSE(&ps, ALL, "since", "yesterday"), -EINVAL);
	REFUSED(&ps, "since:");
	CHECK(strstr(ps.error, "out of range") == NULL);
	CHECK_EQ_INT(PARSE(&ps, ALL, "until", "2024-13-01T00:00:00Z"), -EINVAL);
	REFUSED(&ps, "until:");
	CHECK(strstr(ps.error, "out of range") != NULL);
	/* since after until; equal is fine (both inclusive) */
	CHECK_EQ_INT(
		PARSE(&ps, ALL, "since", "2024-01-02T00:00:00Z", "until", "2024-01-01T00:00:00Z"),
		-EINVAL);
	CHECK_EQ_STR(ps.error, "since: later than until");
	CHECK_EQ_INT(PARSE(&ps, ALL, "since", "2024-01-01T00:00:00.5Z", "until",
			   "2024-01-01T00:00:00.5Z"),
		     0);

	/* the type check: the registry's names and loss; the error lists them */
	CHECK_EQ_INT(PARSE(&ps, ALL, "type", "loss"), 0);
	CHECK_EQ_STR(ps.f.type, "loss");
	CHECK_EQ_INT(PARSE(&ps, ALL, "type", "bogus"), -EINVAL);
	REFUSED(&ps, "type: unknown event type 'bogus' (known: ");
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++)
		CHECK(strstr(ps.error, (*t)->name) != NULL);
	CHECK(strstr(ps.error, "loss)") != NULL);
	CHECK(ps.f.type == NULL);

	/* unknown, not allowed here, or given twice */
	CHECK_EQ_INT(PARSE(&ps, ALL, "bogus", "1"), -EINVAL);
	CHECK_EQ_STR(ps.error, "unknown parameter 'bogus'");
	CHECK_EQ_INT(PARSE(&ps, ALL, "x", NULL), -EINVAL);
	CHECK_EQ_STR(ps.error, "unknown parameter 'x'");
	CHECK_EQ_INT(PARSE(&ps, NM_P_PID | NM_P_LIMIT, "type", "connection"), -EINVAL);
	CHECK_EQ_STR(ps.error, "unknown parameter 'type'");
	CHECK_EQ_INT(PARSE(&ps, 0, "limit", "5"), -EINVAL);
	CHECK_EQ_STR(ps.error, "unknown parameter 'limit'");
	CHECK_EQ_INT(PARSE(&ps, ALL, "pid", "1", "pid", "2"), -EINVAL);
	CHECK_EQ_STR(ps.error, "pid: given more than once");
	CHECK_EQ_INT(PARSE(&ps, ALL, "pid", "1", "pid", "1"), -EINVAL);
	CHECK_EQ_INT(PARSE(&ps, ALL, "Pid", "1"), -EINVAL); /* names are case-sensitive */

	/* hostile values are cut in the message, which stays a bounded C string */
	{
		char big[2000];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK_EQ_INT(PARSE(&ps, ALL, big, "1"), -EINVAL);
		CHECK(strlen(ps.error) < sizeof(ps.error));
		CHECK_EQ_INT(PARSE(&ps, ALL, "since", big), -EINVAL);
		CHECK(strlen(ps.error) < sizeof(ps.error));
		CHECK_EQ_INT(PARSE(&ps, ALL, "type", big), -EINVAL);
		CHECK(strlen(ps.error) < sizeof(ps.error));
	}
}

int main(void)
{
	test_u64();
	test_rfc3339_valid();
	test_rfc3339_invalid();
	test_types();
	test_params();
	CHECK_DONE();
}

/* fuzz_params.c - the control API's query parameters: any query string, numbers and RFC 3339 times. */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "src/control/params.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* What nm_params_finish promises about a query it took. */
static void check_taken(const struct nm_params *ps)
{
	FUZZ_ASSERT((ps->seen & ~ps->allowed) == 0);
	if (ps->f.has_since && ps->f.has_until)
		FUZZ_ASSERT(ps->f.since_ns <= ps->f.until_ns);
	if (ps->f.has_since)
		FUZZ_ASSERT(ps->f.since_ns >= 0);
	if (ps->has_limit)
		FUZZ_ASSERT(ps->limit >= 1 && ps->limit <= NM_PARAM_LIMIT_MAX);
	if (ps->has_duration)
		FUZZ_ASSERT(ps->duration_s >= 1 && ps->duration_s <= NM_PARAM_DURATION_MAX);
	if (ps->f.type)
		FUZZ_ASSERT(nm_param_event_type(ps->f.type) == ps->f.type);
}

/* The parsers alone, on the whole input as one string, against independent answers. */
static void parse_alone(const char *s)
{
	char again[40];
	int64_t ns, ns2;
	uint64_t u;
	int rc;

	rc = nm_parse_u64(s, 0, UINT64_MAX, &u);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	if (!rc) {
		char ref[24];

		FUZZ_ASSERT(strspn(s, "0123456789") == strlen(s));
		snprintf(ref, sizeof(ref), "%" PRIu64, u);
		/* the same number, leading zeros aside */
		FUZZ_ASSERT(!strcmp(s + strspn(s, "0") - (u == 0 ? 1 : 0), ref) ||
			    (u == 0 && strspn(s, "0") == strlen(s)));
	}
	rc = nm_parse_rfc3339(s, &ns);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	if (!rc) {
		FUZZ_ASSERT(ns >= 0);
		/* what the agent writes as "time" reads back as the same instant */
		nm_format_rfc3339(ns, again, sizeof(again));
		FUZZ_ASSERT(nm_parse_rfc3339(again, &ns2) == 0);
		FUZZ_ASSERT(ns2 == ns);
	}
	(void)nm_param_event_type(s);
}

/*
 * Byte 0: the parameters the endpoint accepts (a mask); the rest a query
 * string as libmicrohttpd hands it over, already %-decoded: split on '&',
 * then on the first '=' (no '=' means no value).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nm_params ps;
	char *q, *p, *next;
	int rc = 0;

	if (size < 1)
		return 0;
	q = fuzz_cstr(data + 1, size - 1);
	parse_alone(q);
	nm_params_init(&ps, data[0] & 0x7f);
	for (p = q; p && !rc; p = next) {
		char *eq, *key, *value = NULL;

		next = strchr(p, '&');
		if (next)
			*next++ = '\0';
		if (!*p)
			continue;
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		key = fuzz_cstr((const uint8_t *)p, strlen(p));
		if (value)
			value = fuzz_cstr((const uint8_t *)value, strlen(value));
		rc = nm_params_add(&ps, key, value);
		free(key);
		free(value);
	}
	if (!rc)
		rc = nm_params_finish(&ps);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
	if (rc)
		FUZZ_ASSERT(ps.error[0] && memchr(ps.error, '\0', sizeof(ps.error)));
	else
		check_taken(&ps);
	free(q);
	return 0;
}

/* params.c - query parameters of the control API: names, numbers, RFC 3339 times, event types. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>

#include "params.h"
#include "../program.h"

/* In enum nm_param bit order. */
static const char *const param_names[] = {
	"type", "pid", "command", "since", "until", "limit", "duration_seconds", NULL,
};

int nm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned digit = (unsigned)(*s - '0');

		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && digit > UINT64_MAX % 10))
			return -ERANGE;
		v = v * 10 + digit;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return -EINVAL;
		v = v * 10 + (**s - '0');
	}
	*out = v;
	return 0;
}

/* A '+' in a query string decodes to a space, so a space is taken as '+' in the offset. */
int nm_parse_rfc3339(const char *s, int64_t *out_ns)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, scale = 100000000;
	struct tm tm = {0};
	time_t t;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
	    digits(&s, 2, &d))
		return -EINVAL;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return -EINVAL;
	s++;
	if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
	    digits(&s, 2, &sec))
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			frac += (*s - '0') * scale; /* digits past nanoseconds are truncated */
			scale /= 10;
		}
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == ' ' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		s++;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return -ERANGE;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -ERANGE;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec; /* a leap second is held at :59 */
	t = timegm(&tm);
	t -= sign * (oh * 3600 + om * 60);
	if (t < 0 || t > INT64_MAX / 1000000000LL - 1)
		return -ERANGE;
	*out_ns = (int64_t)t * 1000000000LL + frac;
	return 0;
}

const char *nm_param_event_type(const char *name)
{
	const struct nm_program_type *t;

	if (!strcmp(name, "loss"))
		return "loss";
	t = nm_program_type_find(name);
	return t ? t->name : NULL;
}

/* "connection, packet_drop, loss": every program in the registry, then the loss reports. */
static void type_list(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct nm_program_type *const *t = nm_program_types; *t && n < len; t++)
		n += (size_t)snprintf(buf + n, len - n, "%s, ", (*t)->name);
	if (n < len)
		snprintf(buf + n, len - n, "loss");
}

void nm_params_init(struct nm_params *ps, unsigned allowed)
{
	memset(ps, 0, sizeof(*ps));
	ps->allowed = allowed;
}

static int fail(struct nm_params *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct nm_params *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->error, sizeof(ps->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int nm_params_add(struct nm_params *ps, const char *key, const char *value)
{
	const char *v = value ? value : "";
	unsigned bit;
	uint64_t u;
	int i, rc;

	for (i = 0; param_names[i]; i++)
		if (!strcmp(key, param_names[i]))
			break;
	bit = 1u << i;
	if (!param_names[i] || !(ps->allowed & bit))
		return fail(ps, "unknown parameter '%.64s'", key);
	if (ps->seen & bit)
		return fail(ps, "%s: given more than once", key);
	ps->seen |= bit;

	switch (bit) {
	case NM_P_TYPE:
		ps->f.type = nm_param_event_type(v);
		if (!ps->f.type) {
			char known[256];

			type_list(known, sizeof(known));
			return fail(ps, "type: unknown event type '%.32s' (known: %s)", v, known);
		}
		return 0;
	case NM_P_PID:
		rc = nm_parse_u64(v, 0, UINT32_MAX, &u);
		if (rc)
			return fail(ps, "pid: '%.32s' is not %s", v,
				    rc == -ERANGE ? "in range 0..4294967295" : "a decimal number");
		ps->f.has_pid = true;
		ps->f.pid = (uint32_t)u;
		return 0;
	case NM_P_COMMAND:
		if (!*v || strlen(v) > NM_EVENT_COMM_MAX)
			return fail(ps, "command: must be 1 to %d bytes (a kernel task name)",
				    NM_EVENT_COMM_MAX);
		ps->f.has_command = true;
		memset(ps->f.command, 0, sizeof(ps->f.command));
		memcpy(ps->f.command, v, strlen(v));
		return 0;
	case NM_P_SINCE:
	case NM_P_UNTIL:
		rc = nm_parse_rfc3339(v, bit == NM_P_SINCE ? &ps->f.since_ns : &ps->f.until_ns);
		if (rc)
			return fail(
				ps,
				"%s: '%.40s' is not an RFC 3339 time like 2024-05-01T12:00:00Z%s",
				key, v, rc == -ERANGE ? " (a field is out of range)" : "");
		if (bit == NM_P_SINCE)
			ps->f.has_since = true;
		else
			ps->f.has_until = true;
		return 0;
	case NM_P_LIMIT:
		if (nm_parse_u64(v, 1, NM_PARAM_LIMIT_MAX, &u))
			return fail(ps, "limit: '%.32s' is not a number in 1..%d", v,
				    NM_PARAM_LIMIT_MAX);
		ps->has_limit = true;
		ps->limit = u;
		return 0;
	case NM_P_DURATION:
		if (nm_parse_u64(v, 1, NM_PARAM_DURATION_MAX, &u))
			return fail(ps, "duration_seconds: '%.32s' is not a number in 1..%lld", v,
				    NM_PARAM_DURATION_MAX);
		ps->has_duration = true;
		ps->duration_s = u;
		return 0;
	}
	return 0;
}

int nm_params_finish(struct nm_params *ps)
{
	if (ps->f.has_since && ps->f.has_until && ps->f.since_ns > ps->f.until_ns)
		return fail(ps, "since: later than until");
	return 0;
}

/* Well-formed UTF-8 of @len bytes: no overlong forms, surrogates or code points past U+10FFFF. */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char b = s[i];
		size_t n;
		uint32_t cp;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			n = 1, cp = b & 0x1f;
		else if (b >= 0xe0 && b <= 0xef)
			n = 2, cp = b & 0x0f;
		else if (b >= 0xf0 && b <= 0xf4)
			n = 3, cp = b & 0x07;
		else
			return false;
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/*
 * libmicrohttpd hands over decoded values NUL-terminated: a %00 would cut
 * "limit=5%00junk" to "5" unseen. The lengths it passes alongside tell.
 */
static enum MHD_Result param_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				  size_t key_size, const char *value, size_t value_size)
{
	struct nm_params *ps = cls;

	(void)kind;
	if (strlen(key) != key_size || !valid_utf8((const unsigned char *)key, key_size)) {
		/* not echoed: it would not be valid JSON text */
		fail(ps, "a parameter name holds a NUL (%%00) or is not valid UTF-8");
		return MHD_NO;
	}
	if (value && (strlen(value) != value_size ||
		      !valid_utf8((const unsigned char *)value, value_size))) {
		fail(ps, "parameter '%.64s': its value holds a NUL (%%00) or is not valid UTF-8",
		     key);
		return MHD_NO;
	}
	return nm_params_add(ps, key, value) ? MHD_NO : MHD_YES;
}

int nm_params_parse(struct MHD_Connection *conn, unsigned allowed, struct nm_params *ps)
{
	nm_params_init(ps, allowed);
	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, param_iter, ps);
	if (ps->error[0])
		return -EINVAL;
	return nm_params_finish(ps);
}

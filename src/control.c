/* control.c - the control and query API: HTTP/1.1 on a Unix socket (libmicrohttpd), streams. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "control.h"
#include "fsutil.h"
#include "log.h"
#include "store.h"

#define BODY_MAX	  4096	/* POST bodies are not used; more than this is refused */
#define CONN_MEMORY	  32768 /* request line + headers per connection; 431 past it */
#define CONN_TIMEOUT_S	  30
#define LIMIT_MAX	  10000
#define LIMIT_DEFAULT	  100
#define STREAM_BATCH	  16
#define STREAM_MIN_SLOTS  4096
#define SUMMARY_DEFAULT_S 60
#define SUMMARY_MAX_S	  (366LL * 86400)

struct nm_control {
	const struct nm_config *cfg; /* borrowed */
	struct nm_pipeline *p;	     /* borrowed */
	struct nm_store *store;
	struct nm_tap tap;
	bool tapped;
	struct MHD_Daemon *mhd;
	int listen_fd;	/* until handed to MHD, which then owns it */
	dev_t sock_dev; /* the socket file we created, to remove only that */
	ino_t sock_ino;
	bool have_admin_gid;
	gid_t admin_gid;
	struct timespec started;

	atomic_uint_fast64_t connections;
	atomic_uint_fast64_t connections_total;
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t status_2xx;
	atomic_uint_fast64_t status_4xx;
	atomic_uint_fast64_t status_5xx;
	atomic_uint_fast64_t forbidden;
	atomic_uint_fast64_t streams;

	/* Wakes parked streams once a second: a parked connection cannot see its client leave. */
	pthread_t janitor;
	bool janitor_running;
	pthread_mutex_t janitor_lock;
	pthread_cond_t janitor_cond;
	bool janitor_stop;
};

/* ---- a nested JSON / MessagePack document over the field writers ------------------------ */

struct doc {
	struct nm_buf out;
	struct nm_writer w; /* nested maps and arrays over out */
};

static void doc_init(struct doc *d, enum nm_format fmt)
{
	memset(d, 0, sizeof(*d));
	nm_writer_init(&d->w, fmt, &d->out);
	nm_w_begin(&d->w);
}

static void doc_open(struct doc *d, const char *key, bool array)
{
	if (array)
		nm_w_array(&d->w, key);
	else
		nm_w_map(&d->w, key);
}

static void doc_close(struct doc *d)
{
	if (d->w.depth > 1)
		nm_w_end_nested(&d->w);
}

static struct nm_writer *doc_w(struct doc *d)
{
	return &d->w;
}

/* An event as an element of the current array. */
static void doc_event(struct doc *d, const struct nm_event *ev)
{
	nm_w_map(&d->w, NULL);
	nm_event_fields(ev, &d->w);
	nm_w_end_nested(&d->w);
}

static void doc_time(struct doc *d, const char *key, int64_t wall_ns)
{
	char buf[40];

	nm_format_rfc3339(wall_ns, buf, sizeof(buf));
	nm_w_cstr(doc_w(d), key, buf);
}

static void doc_finish(struct doc *d)
{
	while (d->w.depth > 1)
		nm_w_end_nested(&d->w);
	nm_w_end(&d->w);
	if (d->w.error)
		d->out.oom = 1; /* a programming error; refuse rather than send a broken document */
	if (d->w.ops == &nm_json_writer_ops)
		nm_buf_putc(&d->out, '\n');
}

/* ---- requests ------------------------------------------------------------------------------- */

struct request {
	size_t body_bytes;
	enum nm_format fmt;
};

struct stream {
	struct nm_control *c;
	struct MHD_Connection *conn;
	struct nm_store_sub *sub;
	enum nm_format fmt;
	uint64_t limit; /* 0: until the client goes away */
	uint64_t sent;
	struct nm_buf out;
	size_t off;
	struct nm_event evs[STREAM_BATCH];
};

static int64_t wall_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double uptime_s(const struct nm_control *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - c->started.tv_sec) +
	       (double)(ts.tv_nsec - c->started.tv_nsec) / 1e9;
}

static enum MHD_Result send_doc(struct nm_control *c, struct MHD_Connection *conn,
				unsigned int status, struct doc *d, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;
	void *data;

	doc_finish(d);
	if (d->out.oom) {
		nm_buf_free(&d->out);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		data = NULL;
		len = 0;
	} else {
		data = d->out.data;
		len = d->out.len;
	}
	/* The buffer is now owned by the response, which frees it. */
	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	d->out.data = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				d->w.ops == &nm_msgpack_writer_ops ? "application/msgpack"
							    : "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	if (status >= 500)
		atomic_fetch_add(&c->status_5xx, 1);
	else if (status >= 400)
		atomic_fetch_add(&c->status_4xx, 1);
	else
		atomic_fetch_add(&c->status_2xx, 1);
	return ret;
}

static enum MHD_Result send_error(struct nm_control *c, struct MHD_Connection *conn,
				  enum nm_format fmt, unsigned int status, const char *allow,
				  const char *fmtstr, ...) __attribute__((format(printf, 6, 7)));

static enum MHD_Result send_error(struct nm_control *c, struct MHD_Connection *conn,
				  enum nm_format fmt, unsigned int status, const char *allow,
				  const char *fmtstr, ...)
{
	char msg[512];
	struct doc d;
	va_list ap;

	va_start(ap, fmtstr);
	vsnprintf(msg, sizeof(msg), fmtstr, ap);
	va_end(ap);
	doc_init(&d, fmt);
	nm_w_cstr(doc_w(&d), "error", msg);
	return send_doc(c, conn, status, &d, allow);
}

/* ---- parameters ------------------------------------------------------------------------------ */

enum param {
	P_TYPE = 1 << 0,
	P_PID = 1 << 1,
	P_COMMAND = 1 << 2,
	P_SINCE = 1 << 3,
	P_UNTIL = 1 << 4,
	P_LIMIT = 1 << 5,
	P_DURATION = 1 << 6,
};

static const char *const param_names[] = {
	"type", "pid", "command", "since", "until", "limit", "duration_seconds", NULL,
};

struct params {
	unsigned allowed; /* enum param bits */
	unsigned seen;
	struct nm_store_filter f;
	bool has_limit;
	uint64_t limit;
	bool has_duration;
	uint64_t duration_s;
	char error[256]; /* the first problem, if any */
};

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
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

/*
 * RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM). A '+' in a
 * query string decodes to a space, so a space is taken as '+' in the offset.
 */
static int parse_rfc3339(const char *s, int64_t *out_ns)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, scale = 100000000;
	struct tm tm = { 0 };
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

/* The static spelling of an event type, or NULL: a stream keeps it past the request. */
static const char *known_type(const char *name)
{
	const struct nm_program_type *t;

	if (!strcmp(name, "loss"))
		return "loss";
	t = nm_program_type_find(name);
	return t ? t->name : NULL;
}

static void type_list(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct nm_program_type *const *t = nm_program_types; *t && n < len; t++)
		n += (size_t)snprintf(buf + n, len - n, "%s, ", (*t)->name);
	if (n < len)
		snprintf(buf + n, len - n, "loss");
}

static enum MHD_Result param_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct params *ps = cls;
	const char *v = value ? value : "";
	uint64_t u;
	int i, rc;

	for (i = 0; param_names[i]; i++)
		if (!strcmp(key, param_names[i]))
			break;
	if (!param_names[i] || !(ps->allowed & (1u << i))) {
		snprintf(ps->error, sizeof(ps->error), "unknown parameter '%.64s'", key);
		return MHD_NO;
	}
	if (ps->seen & (1u << i)) {
		snprintf(ps->error, sizeof(ps->error), "%s: given more than once", key);
		return MHD_NO;
	}
	ps->seen |= 1u << i;

	switch (1u << i) {
	case P_TYPE:
		if (!known_type(v)) {
			char known[128];

			type_list(known, sizeof(known));
			snprintf(ps->error, sizeof(ps->error),
				 "type: unknown event type '%.32s' (known: %s)", v, known);
			return MHD_NO;
		}
		ps->f.type = known_type(v);
		return MHD_YES;
	case P_PID:
		rc = parse_u64(v, 0, UINT32_MAX, &u);
		if (rc) {
			snprintf(ps->error, sizeof(ps->error), "pid: '%.32s' is not %s", v,
				 rc == -ERANGE ? "in range 0..4294967295" : "a decimal number");
			return MHD_NO;
		}
		ps->f.has_pid = true;
		ps->f.pid = (uint32_t)u;
		return MHD_YES;
	case P_COMMAND:
		if (!*v || strlen(v) > NM_EVENT_COMM_MAX) {
			snprintf(ps->error, sizeof(ps->error),
				 "command: must be 1 to %d bytes (a kernel task name)",
				 NM_EVENT_COMM_MAX);
			return MHD_NO;
		}
		ps->f.has_command = true;
		memset(ps->f.command, 0, sizeof(ps->f.command));
		memcpy(ps->f.command, v, strlen(v));
		return MHD_YES;
	case P_SINCE:
	case P_UNTIL:
		rc = parse_rfc3339(v, (1u << i) == P_SINCE ? &ps->f.since_ns : &ps->f.until_ns);
		if (rc) {
			snprintf(
				ps->error, sizeof(ps->error),
				"%s: '%.40s' is not an RFC 3339 time like 2024-05-01T12:00:00Z%s",
				key, v, rc == -ERANGE ? " (a field is out of range)" : "");
			return MHD_NO;
		}
		if ((1u << i) == P_SINCE)
			ps->f.has_since = true;
		else
			ps->f.has_until = true;
		return MHD_YES;
	case P_LIMIT:
		rc = parse_u64(v, 1, LIMIT_MAX, &u);
		if (rc) {
			snprintf(ps->error, sizeof(ps->error),
				 "limit: '%.32s' is not a number in 1..%d", v, LIMIT_MAX);
			return MHD_NO;
		}
		ps->has_limit = true;
		ps->limit = u;
		return MHD_YES;
	case P_DURATION:
		rc = parse_u64(v, 1, SUMMARY_MAX_S, &u);
		if (rc) {
			snprintf(ps->error, sizeof(ps->error),
				 "duration_seconds: '%.32s' is not a number in 1..%lld", v,
				 SUMMARY_MAX_S);
			return MHD_NO;
		}
		ps->has_duration = true;
		ps->duration_s = u;
		return MHD_YES;
	}
	(void)kind;
	return MHD_YES;
}

/* Returns 0, or -EINVAL with the message in ps->error. */
static int parse_params(struct MHD_Connection *conn, unsigned allowed, struct params *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->allowed = allowed;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, param_iter, ps);
	if (ps->error[0])
		return -EINVAL;
	if (ps->f.has_since && ps->f.has_until && ps->f.since_ns > ps->f.until_ns) {
		snprintf(ps->error, sizeof(ps->error), "since: later than until");
		return -EINVAL;
	}
	return 0;
}

/* ---- endpoints ------------------------------------------------------------------------------- */

static bool program_state(struct nm_program *prog, bool *loaded)
{
	bool attached;

	if (!prog) {
		*loaded = false;
		return false;
	}
	pthread_mutex_lock(&prog->lock);
	*loaded = prog->loaded;
	attached = prog->attached;
	pthread_mutex_unlock(&prog->lock);
	return attached;
}

static bool program_enabled(const struct nm_control *c, size_t i)
{
	return c->cfg->programs[i].common.enabled;
}

static enum MHD_Result ep_health(struct nm_control *c, struct MHD_Connection *conn,
				 struct request *r)
{
	size_t np = nm_pipeline_program_count(c->p), ns = nm_pipeline_outlet_count(c->p);
	bool ok = true;
	struct doc d;

	doc_init(&d, r->fmt);
	doc_open(&d, "programs", true);
	for (size_t i = 0; i < np; i++) {
		struct nm_program *prog = nm_pipeline_program(c->p, i);
		bool loaded, attached = program_state(prog, &loaded);
		bool healthy = !program_enabled(c, i) || loaded;

		ok &= healthy;
		doc_open(&d, NULL, false);
		nm_w_cstr(doc_w(&d), "name", nm_pipeline_program_type(c->p, i)->name);
		nm_w_bool(doc_w(&d), "enabled", program_enabled(c, i));
		nm_w_bool(doc_w(&d), "loaded", loaded);
		nm_w_bool(doc_w(&d), "attached", attached);
		nm_w_bool(doc_w(&d), "healthy", healthy);
		doc_close(&d);
	}
	doc_close(&d);
	doc_open(&d, "sinks", true);
	for (size_t i = 0; i < ns; i++) {
		struct nm_outlet *o = nm_pipeline_outlet(c->p, i);
		struct nm_outlet_stats st;

		nm_outlet_get_stats(o, &st);
		ok &= st.healthy;
		doc_open(&d, NULL, false);
		nm_w_cstr(doc_w(&d), "name", nm_outlet_name(o));
		nm_w_cstr(doc_w(&d), "type", nm_outlet_type(o));
		nm_w_bool(doc_w(&d), "healthy", st.healthy);
		nm_w_u64(doc_w(&d), "queued", st.queued);
		doc_close(&d);
	}
	doc_close(&d);
	nm_w_cstr(doc_w(&d), "status", ok ? "ok" : "degraded");
	nm_w_cstr(doc_w(&d), "version", PACKAGE_VERSION);
	nm_w_cstr(doc_w(&d), "host", nm_pipeline_host(c->p));
	nm_w_u64(doc_w(&d), "uptime_seconds", (uint64_t)uptime_s(c));
	nm_w_u64(doc_w(&d), "pid", (uint64_t)getpid());
	return send_doc(c, conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, &d, NULL);
}

/* One program's counters; @full adds the stages behind lost_count. */
static bool write_program(struct doc *d, struct nm_control *c, size_t i, bool full)
{
	struct nm_program *prog = nm_pipeline_program(c->p, i);
	const struct nm_program_type *t = nm_pipeline_program_type(c->p, i);
	struct nm_program_counters pc = { 0 };
	bool loaded, attached = program_state(prog, &loaded);
	uint64_t decoded = 0, decode_errors = 0;

	if (prog) {
		nm_program_read_counters(prog, &pc);
		decoded = atomic_load(&prog->decoded);
		decode_errors = atomic_load(&prog->decode_errors);
	}
	doc_open(d, NULL, false);
	nm_w_cstr(doc_w(d), "name", t->name);
	if (!full)
		nm_w_cstr(doc_w(d), "description", t->description);
	nm_w_bool(doc_w(d), "enabled", program_enabled(c, i));
	nm_w_bool(doc_w(d), "loaded", loaded);
	nm_w_bool(doc_w(d), "attached", attached);
	nm_w_u64(doc_w(d), "event_count", decoded);
	nm_w_u64(doc_w(d), "lost_count", pc.ring_full + decode_errors);
	if (full) {
		nm_w_u64(doc_w(d), "emitted", pc.emitted);
		nm_w_u64(doc_w(d), "ring_full", pc.ring_full);
		nm_w_u64(doc_w(d), "read_error", pc.read_error);
		nm_w_u64(doc_w(d), "decode_errors", decode_errors);
	}
	doc_close(d);
	return attached;
}

static enum MHD_Result ep_programs(struct nm_control *c, struct MHD_Connection *conn,
				   struct request *r)
{
	size_t np = nm_pipeline_program_count(c->p);
	uint64_t running = 0;
	struct doc d;

	doc_init(&d, r->fmt);
	doc_open(&d, "programs", true);
	for (size_t i = 0; i < np; i++)
		running += write_program(&d, c, i, false);
	doc_close(&d);
	nm_w_u64(doc_w(&d), "total_programs", np);
	nm_w_u64(doc_w(&d), "running_programs", running);
	return send_doc(c, conn, MHD_HTTP_OK, &d, NULL);
}

static enum MHD_Result ep_stats(struct nm_control *c, struct MHD_Connection *conn,
				struct request *r)
{
	size_t np = nm_pipeline_program_count(c->p), ns = nm_pipeline_outlet_count(c->p);
	struct nm_pipeline_stats ps;
	struct nm_store_stats ss;
	struct doc d;

	nm_pipeline_get_stats(c->p, &ps);
	nm_store_get_stats(c->store, &ss);
	doc_init(&d, r->fmt);
	nm_w_u64(doc_w(&d), "uptime_seconds", (uint64_t)uptime_s(c));
	doc_open(&d, "pipeline", false);
	nm_w_u64(doc_w(&d), "events", ps.events);
	nm_w_u64(doc_w(&d), "decode_errors", ps.decode_errors);
	nm_w_u64(doc_w(&d), "no_memory", ps.no_memory);
	nm_w_u64(doc_w(&d), "loss_events", ps.loss_events);
	doc_close(&d);
	doc_open(&d, "programs", true);
	for (size_t i = 0; i < np; i++)
		write_program(&d, c, i, true);
	doc_close(&d);
	doc_open(&d, "sinks", true);
	for (size_t i = 0; i < ns; i++) {
		doc_open(&d, NULL, false);
		nm_outlet_write_stats(nm_pipeline_outlet(c->p, i), doc_w(&d));
		doc_close(&d);
	}
	doc_close(&d);
	doc_open(&d, "store", false);
	nm_w_u64(doc_w(&d), "capacity", ss.capacity);
	nm_w_u64(doc_w(&d), "stored", ss.stored);
	nm_w_u64(doc_w(&d), "added", ss.added);
	nm_w_u64(doc_w(&d), "evicted", ss.evicted);
	nm_w_u64(doc_w(&d), "queries", ss.queries);
	doc_close(&d);
	doc_open(&d, "control", false);
	nm_w_u64(doc_w(&d), "connections", atomic_load(&c->connections));
	nm_w_u64(doc_w(&d), "connections_total", atomic_load(&c->connections_total));
	nm_w_u64(doc_w(&d), "max_clients", (uint64_t)c->cfg->control.max_clients);
	nm_w_u64(doc_w(&d), "requests", atomic_load(&c->requests));
	nm_w_u64(doc_w(&d), "responses_2xx", atomic_load(&c->status_2xx));
	nm_w_u64(doc_w(&d), "responses_4xx", atomic_load(&c->status_4xx));
	nm_w_u64(doc_w(&d), "responses_5xx", atomic_load(&c->status_5xx));
	nm_w_u64(doc_w(&d), "forbidden", atomic_load(&c->forbidden));
	nm_w_u64(doc_w(&d), "stream_clients", ss.subscribers);
	nm_w_u64(doc_w(&d), "stream_queue_events", (uint64_t)c->cfg->control.stream_queue_events);
	nm_w_u64(doc_w(&d), "stream_sent", ss.stream_sent);
	nm_w_u64(doc_w(&d), "stream_dropped", ss.stream_dropped);
	doc_close(&d);
	return send_doc(c, conn, MHD_HTTP_OK, &d, NULL);
}

/* Query, then copy and write the events in small batches so the store lock is held briefly. */
struct matches {
	uint64_t *keys;
	size_t n;
};

static int find(struct nm_control *c, const struct nm_store_filter *f, size_t limit,
		struct matches *m)
{
	m->keys = malloc(limit * sizeof(*m->keys));
	if (!m->keys)
		return -ENOMEM;
	m->n = nm_store_query(c->store, f, m->keys, limit);
	return 0;
}

/* Calls @fn for each match still stored, newest first. */
static void each_event(struct nm_control *c, const struct matches *m,
		       void (*fn)(void *arg, const struct nm_event *ev), void *arg)
{
	struct nm_event evs[32];
	bool ok[32];

	for (size_t i = 0; i < m->n; i += 32) {
		size_t n = m->n - i < 32 ? m->n - i : 32;

		nm_store_get(c->store, m->keys + i, n, evs, ok);
		for (size_t j = 0; j < n; j++)
			if (ok[j])
				fn(arg, &evs[j]);
	}
}

struct event_sink {
	struct doc *d;
	uint64_t count;
};

static void add_event(void *arg, const struct nm_event *ev)
{
	struct event_sink *es = arg;

	doc_event(es->d, ev);
	es->count++;
}

static enum MHD_Result ep_events(struct nm_control *c, struct MHD_Connection *conn,
				 struct request *r)
{
	struct event_sink es = { 0 };
	struct matches m = { 0 };
	struct params ps;
	struct doc d;

	if (parse_params(conn, P_TYPE | P_PID | P_COMMAND | P_SINCE | P_UNTIL | P_LIMIT, &ps))
		return send_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL, "%s", ps.error);
	if (find(c, &ps.f, ps.has_limit ? ps.limit : LIMIT_DEFAULT, &m))
		return send_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				  "out of memory");
	doc_init(&d, r->fmt);
	es.d = &d;
	doc_open(&d, "events", true);
	each_event(c, &m, add_event, &es);
	doc_close(&d);
	nm_w_u64(doc_w(&d), "count", es.count);
	nm_w_u64(doc_w(&d), "limit", ps.has_limit ? ps.limit : LIMIT_DEFAULT);
	free(m.keys);
	return send_doc(c, conn, MHD_HTTP_OK, &d, NULL);
}

/* ---- grouped by pid -------------------------------------------------------------------------- */

struct grouped {
	struct nm_event *evs;
	size_t n;
};

static void collect(void *arg, const struct nm_event *ev)
{
	struct grouped *g = arg;

	g->evs[g->n++] = *ev;
}

/* Events without a task (softirq drops) first, then by pid; newest first within a pid. */
static int by_pid(const void *a, const void *b)
{
	const struct nm_event *x = a, *y = b;

	if (x->has_task != y->has_task)
		return x->has_task ? 1 : -1;
	if (x->has_task && x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

static enum MHD_Result ep_list(struct nm_control *c, struct MHD_Connection *conn, struct request *r,
			       const char *type)
{
	struct grouped g = { 0 };
	struct matches m = { 0 };
	uint64_t npids = 0;
	struct params ps;
	struct doc d;

	if (parse_params(conn, P_PID | P_COMMAND | P_SINCE | P_UNTIL | P_LIMIT, &ps))
		return send_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL, "%s", ps.error);
	ps.f.type = type;
	if (find(c, &ps.f, ps.has_limit ? ps.limit : LIMIT_DEFAULT, &m))
		goto oom;
	g.evs = malloc((m.n ? m.n : 1) * sizeof(*g.evs));
	if (!g.evs)
		goto oom;
	each_event(c, &m, collect, &g);
	qsort(g.evs, g.n, sizeof(*g.evs), by_pid);

	doc_init(&d, r->fmt);
	nm_w_cstr(doc_w(&d), "type", type);
	doc_open(&d, "pids", true);
	for (size_t i = 0; i < g.n;) {
		size_t j = i;

		while (j < g.n && g.evs[j].has_task == g.evs[i].has_task &&
		       (!g.evs[i].has_task || g.evs[j].pid == g.evs[i].pid))
			j++;
		doc_open(&d, NULL, false);
		if (g.evs[i].has_task) {
			nm_w_u64(doc_w(&d), "pid", g.evs[i].pid);
			nm_w_kstr(doc_w(&d), "command", g.evs[i].command, NM_EVENT_COMM_MAX);
		} else {
			nm_w_null(doc_w(&d), "pid");
			nm_w_null(doc_w(&d), "command");
		}
		nm_w_u64(doc_w(&d), "count", j - i);
		doc_open(&d, "events", true);
		for (size_t k = i; k < j; k++)
			doc_event(&d, &g.evs[k]);
		doc_close(&d);
		doc_close(&d);
		npids++;
		i = j;
	}
	doc_close(&d);
	nm_w_u64(doc_w(&d), "total_pids", npids);
	nm_w_u64(doc_w(&d), "total_events", g.n);
	nm_w_u64(doc_w(&d), "limit", ps.has_limit ? ps.limit : LIMIT_DEFAULT);
	free(g.evs);
	free(m.keys);
	return send_doc(c, conn, MHD_HTTP_OK, &d, NULL);
oom:
	free(g.evs);
	free(m.keys);
	return send_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
}

static enum MHD_Result ep_summary(struct nm_control *c, struct MHD_Connection *conn,
				  struct request *r, const char *type)
{
	int64_t now = wall_now_ns();
	struct params ps;
	struct doc d;
	size_t count;

	if (parse_params(conn, P_PID | P_COMMAND | P_DURATION, &ps))
		return send_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL, "%s", ps.error);
	if (!ps.has_duration)
		ps.duration_s = SUMMARY_DEFAULT_S;
	ps.f.type = type;
	ps.f.has_since = true;
	ps.f.since_ns = now - (int64_t)ps.duration_s * 1000000000LL;
	count = nm_store_query(c->store, &ps.f, NULL, SIZE_MAX);

	doc_init(&d, r->fmt);
	nm_w_cstr(doc_w(&d), "type", type);
	nm_w_u64(doc_w(&d), "count", count);
	if (ps.f.has_pid)
		nm_w_u64(doc_w(&d), "pid", ps.f.pid);
	else
		nm_w_null(doc_w(&d), "pid");
	if (ps.f.has_command)
		nm_w_kstr(doc_w(&d), "command", ps.f.command, NM_EVENT_COMM_MAX);
	else
		nm_w_null(doc_w(&d), "command");
	nm_w_u64(doc_w(&d), "duration_seconds", ps.duration_s);
	doc_time(&d, "since", ps.f.since_ns);
	doc_time(&d, "until", now);
	return send_doc(c, conn, MHD_HTTP_OK, &d, NULL);
}

/* ---- attach / detach ------------------------------------------------------------------------- */

/* uid 0, or the admin group as primary or supplementary group of the peer process. */
static bool peer_privileged(struct nm_control *c, struct MHD_Connection *conn, struct ucred *cred)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	socklen_t len = sizeof(*cred);
	char path[64], line[4096];
	bool ok = false;
	FILE *f;

	memset(cred, 0, sizeof(*cred));
	cred->uid = (uid_t)-1;
	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, cred, &len))
		return false;
	if (cred->uid == 0)
		return true;
	if (!c->have_admin_gid)
		return false;
	if (cred->gid == c->admin_gid)
		return true;
	/* SO_PEERCRED has only the primary group; the rest are the process's, not the user's. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!ok && fgets(line, sizeof(line), f)) {
		char *p = line + 7, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == c->admin_gid)
				ok = true;
			p = end;
		}
		break;
	}
	fclose(f);
	return ok;
}

static enum MHD_Result ep_program_action(struct nm_control *c, struct MHD_Connection *conn,
					 struct request *r, const char *name, bool attach)
{
	size_t np = nm_pipeline_program_count(c->p);
	struct nm_program *prog = NULL;
	struct ucred cred;
	struct params ps;
	bool loaded, attached;
	size_t i;
	struct doc d;
	int rc = 0;

	if (parse_params(conn, 0, &ps))
		return send_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL, "%s", ps.error);
	if (!peer_privileged(c, conn, &cred)) {
		atomic_fetch_add(&c->forbidden, 1);
		nm_info("control: refused %s %s to uid %d pid %d", attach ? "attach" : "detach",
			name, (int)cred.uid, (int)cred.pid);
		if (c->have_admin_gid)
			return send_error(c, conn, r->fmt, MHD_HTTP_FORBIDDEN, NULL,
					  "%s needs uid 0 or membership of group %s",
					  attach ? "attach" : "detach",
					  c->cfg->control.admin_group);
		return send_error(c, conn, r->fmt, MHD_HTTP_FORBIDDEN, NULL, "%s needs uid 0",
				  attach ? "attach" : "detach");
	}
	for (i = 0; i < np; i++)
		if (!strcmp(nm_pipeline_program_type(c->p, i)->name, name))
			break;
	if (i == np)
		return send_error(c, conn, r->fmt, MHD_HTTP_NOT_FOUND, NULL,
				  "unknown program '%.64s'", name);
	prog = nm_pipeline_program(c->p, i);
	if (!prog)
		return send_error(c, conn, r->fmt, MHD_HTTP_CONFLICT, NULL,
				  "program %s is disabled in the configuration", name);
	if (attach)
		rc = nm_program_attach(prog);
	else
		nm_program_detach(prog);
	if (rc)
		return send_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				  "%s: cannot attach: %s", name, strerror(-rc));
	nm_info("control: %s %s (uid %d pid %d)", name, attach ? "attached" : "detached",
		(int)cred.uid, (int)cred.pid);
	attached = program_state(prog, &loaded);
	doc_init(&d, r->fmt);
	nm_w_cstr(doc_w(&d), "name", name);
	nm_w_bool(doc_w(&d), "loaded", loaded);
	nm_w_bool(doc_w(&d), "attached", attached);
	return send_doc(c, conn, MHD_HTTP_OK, &d, NULL);
}

/* ---- live stream --------------------------------------------------------------------------- */

static void stream_wake(void *ctx)
{
	struct stream *st = ctx;

	MHD_resume_connection(st->conn);
}

static void stream_park(void *ctx)
{
	struct stream *st = ctx;

	MHD_suspend_connection(st->conn);
}

/* The client hung up: a stream's client never sends anything after its request. */
static bool peer_gone(struct stream *st)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd pfd;

	if (!ci)
		return false;
	pfd.fd = ci->connect_fd;
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;

	if (peer_gone(st))
		return MHD_CONTENT_READER_END_WITH_ERROR;

	for (;;) {
		uint64_t dropped, want = STREAM_BATCH;
		long n;

		if (st->off < st->out.len) {
			size_t len = st->out.len - st->off < max ? st->out.len - st->off : max;

			memcpy(buf, st->out.data + st->off, len);
			st->off += len;
			return (ssize_t)len;
		}
		nm_buf_reset(&st->out);
		st->off = 0;
		if (st->limit && st->sent >= st->limit)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (st->limit && st->limit - st->sent < want)
			want = st->limit - st->sent;
		/* Parks the connection under the store lock when empty: woken by the tap. */
		n = nm_store_sub_next(st->c->store, st->sub, st->evs, want, stream_park, st,
				      &dropped);
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!n)
			return 0;
		for (long i = 0; i < n; i++) {
			struct nm_writer w;

			nm_writer_init(&w, st->fmt, &st->out);
			nm_event_write(&st->evs[i], &w);
			if (st->fmt == NM_FORMAT_JSON)
				nm_buf_putc(&st->out, '\n');
		}
		st->sent += (uint64_t)n;
		if (st->out.oom)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	(void)pos;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	nm_store_unsubscribe(st->c->store, st->sub);
	atomic_fetch_sub(&st->c->streams, 1);
	nm_buf_free(&st->out);
	free(st);
}

static enum MHD_Result ep_stream(struct nm_control *c, struct MHD_Connection *conn,
				 struct request *r)
{
	struct MHD_Response *resp;
	struct stream *st;
	struct params ps;
	enum MHD_Result ret;

	if (parse_params(conn, P_TYPE | P_PID | P_COMMAND | P_LIMIT | P_SINCE | P_UNTIL, &ps))
		return send_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL, "%s", ps.error);
	if (ps.seen & (P_SINCE | P_UNTIL))
		return send_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL,
				  "%s: a live stream starts now; ask /api/events for past events",
				  ps.seen & P_SINCE ? "since" : "until");
	st = calloc(1, sizeof(*st));
	if (!st)
		return send_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				  "out of memory");
	st->c = c;
	st->conn = conn;
	st->fmt = r->fmt;
	st->limit = ps.has_limit ? ps.limit : 0;
	st->sub = nm_store_subscribe(c->store, &ps.f, (size_t)c->cfg->control.stream_queue_events,
				     stream_wake, st);
	if (!st->sub) {
		int e = errno;

		free(st);
		return send_error(c, conn, r->fmt, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
				  "cannot start a stream: %s",
				  e == ESHUTDOWN ? "shutting down" : strerror(e));
	}
	atomic_fetch_add(&c->streams, 1);
	/* From here the stream is owned by the response: stream_free runs when it is done. */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
						 stream_free);
	if (!resp) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->fmt == NM_FORMAT_MSGPACK ? "application/msgpack"
							    : "application/x-ndjson");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	atomic_fetch_add(&c->status_2xx, 1);
	return ret;
}

/* ---- routing --------------------------------------------------------------------------------- */

enum route {
	R_NONE,
	R_HEALTH,
	R_PROGRAMS,
	R_EVENTS,
	R_STREAM,
	R_LIST_CONN,
	R_LIST_DROP,
	R_SUM_CONN,
	R_SUM_DROP,
	R_STATS,
	R_ATTACH,
	R_DETACH,
};

static const struct {
	const char *path;
	enum route route;
} routes[] = {
	{"/health", R_HEALTH},
	{"/api/programs", R_PROGRAMS},
	{"/api/events", R_EVENTS},
	{"/api/events/stream", R_STREAM},
	{"/api/list-connections", R_LIST_CONN},
	{"/api/list-packet-drops", R_LIST_DROP},
	{"/api/connection-summary", R_SUM_CONN},
	{"/api/packet-drop-summary", R_SUM_DROP},
	{"/api/stats", R_STATS},
};

/* /api/programs/NAME/attach|detach: NAME into @name. */
static enum route route_program(const char *url, char *name, size_t len)
{
	static const char prefix[] = "/api/programs/";
	const char *p, *slash;
	size_t n;

	if (strncmp(url, prefix, sizeof(prefix) - 1))
		return R_NONE;
	p = url + sizeof(prefix) - 1;
	slash = strchr(p, '/');
	if (!slash || slash == p)
		return R_NONE;
	n = (size_t)(slash - p);
	if (n >= len)
		return R_NONE;
	memcpy(name, p, n);
	name[n] = '\0';
	if (!strcmp(slash, "/attach"))
		return R_ATTACH;
	if (!strcmp(slash, "/detach"))
		return R_DETACH;
	return R_NONE;
}

static enum nm_format negotiate(struct MHD_Connection *conn)
{
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");

	if (accept &&
	    (strstr(accept, "application/msgpack") || strstr(accept, "application/x-msgpack") ||
	     strstr(accept, "application/vnd.msgpack")))
		return NM_FORMAT_MSGPACK;
	return NM_FORMAT_JSON;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct nm_control *c = cls;
	struct request *r = *con_cls;
	enum route route = R_NONE;
	char name[128];
	bool is_get, is_post;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->fmt = negotiate(conn);
		*con_cls = r; /* freed in on_completed */
		atomic_fetch_add(&c->requests, 1);
		return MHD_YES;
	}
	if (*upload_data_size) {
		r->body_bytes += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->body_bytes > BODY_MAX)
		return send_error(c, conn, r->fmt, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
				  "request body larger than %d bytes", BODY_MAX);

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(url, routes[i].path))
			route = routes[i].route;
	if (route == R_NONE)
		route = route_program(url, name, sizeof(name));
	if (route == R_NONE)
		return send_error(c, conn, r->fmt, MHD_HTTP_NOT_FOUND, NULL,
				  "no such endpoint: %.200s", url);

	is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
	if (route == R_ATTACH || route == R_DETACH) {
		if (!is_post)
			return send_error(c, conn, r->fmt, MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
					  "%s is POST only", url);
		return ep_program_action(c, conn, r, name, route == R_ATTACH);
	}
	if (!is_get)
		return send_error(c, conn, r->fmt, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
				  "%s is GET only", url);

	switch (route) {
	case R_HEALTH:
	case R_PROGRAMS:
	case R_STATS: {
		struct params ps;

		if (parse_params(conn, 0, &ps))
			return send_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL, "%s",
					  ps.error);
		if (route == R_HEALTH)
			return ep_health(c, conn, r);
		if (route == R_PROGRAMS)
			return ep_programs(c, conn, r);
		return ep_stats(c, conn, r);
	}
	case R_EVENTS:
		return ep_events(c, conn, r);
	case R_STREAM:
		return ep_stream(c, conn, r);
	case R_LIST_CONN:
		return ep_list(c, conn, r, "connection");
	case R_LIST_DROP:
		return ep_list(c, conn, r, "packet_drop");
	case R_SUM_CONN:
		return ep_summary(c, conn, r, "connection");
	case R_SUM_DROP:
		return ep_summary(c, conn, r, "packet_drop");
	default:
		break;
	}
	(void)version;
	(void)upload_data;
	return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	free(*con_cls);
	*con_cls = NULL;
	(void)cls;
	(void)conn;
	(void)toe;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct nm_control *c = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&c->connections, 1);
		atomic_fetch_add(&c->connections_total, 1);
	} else {
		atomic_fetch_sub(&c->connections, 1);
	}
	(void)conn;
	(void)socket_context;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	nm_debug("control: %s", msg);
	(void)cls;
}

static void *janitor_main(void *arg)
{
	struct nm_control *c = arg;
	struct timespec ts;

	pthread_mutex_lock(&c->janitor_lock);
	while (!c->janitor_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&c->janitor_cond, &c->janitor_lock, &ts);
		if (c->janitor_stop)
			break;
		pthread_mutex_unlock(&c->janitor_lock);
		nm_store_poke(c->store);
		pthread_mutex_lock(&c->janitor_lock);
	}
	pthread_mutex_unlock(&c->janitor_lock);
	return NULL;
}

static int start_janitor(struct nm_control *c)
{
	pthread_condattr_t attr;
	int rc;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->janitor_cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&c->janitor_lock, NULL);
	rc = pthread_create(&c->janitor, NULL, janitor_main, c);
	if (rc) {
		pthread_cond_destroy(&c->janitor_cond);
		pthread_mutex_destroy(&c->janitor_lock);
		return -rc;
	}
	c->janitor_running = true;
	return 0;
}

static void stop_janitor(struct nm_control *c)
{
	if (!c->janitor_running)
		return;
	pthread_mutex_lock(&c->janitor_lock);
	c->janitor_stop = true;
	pthread_cond_signal(&c->janitor_cond);
	pthread_mutex_unlock(&c->janitor_lock);
	pthread_join(c->janitor, NULL);
	pthread_cond_destroy(&c->janitor_cond);
	pthread_mutex_destroy(&c->janitor_lock);
	c->janitor_running = false;
}

/* ---- the tap --------------------------------------------------------------------------------- */

static void on_event(void *ctx, const struct nm_event *ev)
{
	nm_store_add(ctx, ev);
}

/* ---- the socket ------------------------------------------------------------------------------ */

/* Another agent still answering there is an error; a leftover socket file is replaced. */
static int clear_stale(const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat stbuf;
	int fd, rc;

	if (lstat(sa->sun_path, &stbuf)) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control socket %s: %s", sa->sun_path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(stbuf.st_mode)) {
		snprintf(err, errlen, "control socket %s: exists and is not a socket",
			 sa->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -errno;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!rc) {
		snprintf(err, errlen, "control socket %s: another process is serving it",
			 sa->sun_path);
		return -EADDRINUSE;
	}
	if (unlink(sa->sun_path) && errno != ENOENT) {
		snprintf(err, errlen, "control socket %s: cannot remove the stale socket: %s",
			 sa->sun_path, strerror(errno));
		return -errno;
	}
	nm_info("control: replaced stale socket %s", sa->sun_path);
	return 0;
}

static int resolve_group(const char *name, gid_t *gid, const char *what, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];
	char *end;
	unsigned long v;

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*gid = gr.gr_gid;
		return 0;
	}
	v = strtoul(name, &end, 10);
	if (*name && !*end) {
		*gid = (gid_t)v;
		return 0;
	}
	snprintf(err, errlen, "control.%s: no such group '%s'", what, name);
	return -ENOENT;
}

static int open_socket(struct nm_control *c, char *err, size_t errlen)
{
	const struct nm_control_config *cc = &c->cfg->control;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	unsigned long mode;
	struct stat stbuf;
	char *end, *slash;
	mode_t old_umask;
	gid_t gid;
	int fd = -1, rc;

	if (!cc->socket || !*cc->socket || strlen(cc->socket) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control.socket: the path must be 1 to %zu bytes",
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	mode = strtoul(cc->mode ? cc->mode : "0660", &end, 8);
	if (*end || mode > 0777) {
		snprintf(err, errlen, "control.mode: '%s' is not an octal mode such as \"0660\"",
			 cc->mode);
		return -EINVAL;
	}
	rc = resolve_group(cc->group ? cc->group : "root", &gid, "group", err, errlen);
	if (rc)
		return rc;
	strcpy(sa.sun_path, cc->socket);
	strcpy(dir, cc->socket);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = nm_mkdir_p(dir, 0755);
		if (rc) {
			snprintf(err, errlen, "control socket directory %s: %s", dir,
				 strerror(-rc));
			return rc;
		}
	}
	rc = clear_stale(&sa, err, errlen);
	if (rc)
		return rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto sys_fail;
	/* Born owner-only, then opened up: never briefly wider than configured. */
	old_umask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (rc)
		goto sys_fail;
	if (chown(sa.sun_path, (uid_t)-1, gid) || chmod(sa.sun_path, (mode_t)mode) ||
	    stat(sa.sun_path, &stbuf))
		goto sys_fail;
	c->sock_dev = stbuf.st_dev;
	c->sock_ino = stbuf.st_ino;
	if (listen(fd, (int)(cc->max_clients < 128 ? 128 : cc->max_clients)))
		goto sys_fail;
	c->listen_fd = fd;
	return 0;
sys_fail:
	rc = -errno;
	snprintf(err, errlen, "control socket %s: %s", sa.sun_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

static void remove_socket(struct nm_control *c)
{
	struct stat stbuf;
	const char *path = c->cfg->control.socket;

	/* Only our own file: a newer agent may already have replaced it. */
	if (c->sock_ino && !lstat(path, &stbuf) && stbuf.st_dev == c->sock_dev &&
	    stbuf.st_ino == c->sock_ino)
		unlink(path);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

struct nm_control *nm_control_start(const struct nm_config *cfg, struct nm_pipeline *p, char *err,
				    size_t errlen)
{
	const struct nm_control_config *cc = &cfg->control;
	struct nm_control *c = calloc(1, sizeof(*c));
	size_t slots;
	int rc;

	if (!c) {
		snprintf(err, errlen, "control: out of memory");
		return NULL;
	}
	c->cfg = cfg;
	c->p = p;
	c->listen_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	if (cc->admin_group && *cc->admin_group) {
		if (resolve_group(cc->admin_group, &c->admin_gid, "admin_group", err, errlen))
			goto fail;
		c->have_admin_gid = true;
	}
	slots = (size_t)cc->stream_queue_events < STREAM_MIN_SLOTS ? (size_t)cc->stream_queue_events
								   : STREAM_MIN_SLOTS;
	c->store = nm_store_create((size_t)cfg->store.capacity, slots, (size_t)cc->max_clients, err,
				   errlen);
	if (!c->store)
		goto fail;
	if (open_socket(c, err, errlen))
		goto fail;

	c->mhd = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, on_request, c, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, c,
		MHD_OPTION_LISTEN_SOCKET, c->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)cc->max_clients, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)CONN_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, c, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, c, MHD_OPTION_END);
	if (!c->mhd) {
		snprintf(err, errlen, "control socket %s: cannot start the HTTP server",
			 cc->socket);
		goto fail;
	}
	c->listen_fd = -1; /* now owned by MHD */
	rc = start_janitor(c);
	if (rc) {
		snprintf(err, errlen, "control: cannot start a thread: %s", strerror(-rc));
		goto fail;
	}

	c->tap.on_event = on_event;
	c->tap.ctx = c->store;
	rc = nm_pipeline_add_tap(p, &c->tap);
	if (rc) {
		snprintf(err, errlen, "control: cannot tap the pipeline: %s", strerror(-rc));
		goto fail;
	}
	c->tapped = true;
	nm_info("control API on %s (mode %s, group %s), store of %lld events", cc->socket, cc->mode,
		cc->group, cfg->store.capacity);
	return c;
fail:
	nm_control_stop(c);
	return NULL;
}

void nm_control_stop(struct nm_control *c)
{
	if (!c)
		return;
	if (c->tapped)
		nm_pipeline_remove_tap(c->p, &c->tap);
	stop_janitor(c);
	if (c->store)
		nm_store_close(c->store);
	if (c->mhd) {
		/* Woken streams end on their own; MHD must not be stopped with one parked. */
		for (int i = 0; i < 200 && atomic_load(&c->streams); i++) {
			struct timespec ts = { 0, 5 * 1000000L };

			nanosleep(&ts, NULL);
		}
		MHD_stop_daemon(c->mhd);
	}
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	remove_socket(c);
	nm_store_destroy(c->store);
	free(c);
}

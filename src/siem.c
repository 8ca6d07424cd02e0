/* siem.c - ECS and OCSF documents, mapped from the native fields an event writes. */
#include <stdio.h>
#include <string.h>

#include "siem.h"

const char *const nm_schema_names[NM_SCHEMA_COUNT + 1] = {"native", "ecs", "ocsf", NULL};

/*
 * ---- capture: the native document, taken in through the writer interface ----
 *
 * Reading fields rather than program bodies is what lets a spool replay map
 * exactly as the live event did: both are a walk of the same native fields.
 */

#define CAP_FIELDS 64	/* native events have about 30 */
#define CAP_ARENA  8192 /* keys and string values; a cgroup path is the longest */
#define CAP_SLOTS  128	/* the key index: open addressing, at most half full */

enum cap_kind { CAP_NULL = 0, CAP_STR, CAP_INT, CAP_BOOL, CAP_DBL };

struct cap_field {
	const char *key; /* in the arena, NUL-terminated */
	const char *s;	 /* CAP_STR: in the arena */
	uint64_t u;	 /* CAP_INT: magnitude; CAP_BOOL: 0/1 */
	double d;
	uint32_t len;
	uint16_t klen;
	uint8_t kind;
	bool neg;  /* CAP_INT below zero: the value is -(int64_t)u */
	bool used; /* mapped to a schema field: not repeated among the extras */
};

struct capture {
	struct cap_field f[CAP_FIELDS];
	size_t n;
	size_t at;
	unsigned depth;
	uint8_t slot[CAP_SLOTS]; /* index + 1 into f, 0 for free: some 30 lookups per document */
	char arena[CAP_ARENA];
};

/* Cheap rather than good: the keys are a few dozen distinct snake_case names, @len >= 1. */
static inline unsigned key_hash(const char *k, size_t len)
{
	return ((unsigned)len * 7 + (uint8_t)k[0] * 3 + (uint8_t)k[len - 1] + (uint8_t)k[len / 2]) &
	       (CAP_SLOTS - 1);
}

/* Lookups name literals: inlined, their strlen folds away. */
#define NM_INLINE static inline __attribute__((always_inline))

static const char *cap_copy(struct capture *c, const char *p, size_t len)
{
	char *out;

	if (len >= sizeof(c->arena) - c->at)
		return NULL;
	out = c->arena + c->at;
	memcpy(out, p, len);
	out[len] = '\0';
	c->at += len + 1;
	return out;
}

static struct cap_field *cap_lookup(struct capture *c, const char *key, size_t klen)
{
	for (unsigned h = key_hash(key, klen); c->slot[h]; h = (h + 1) & (CAP_SLOTS - 1)) {
		struct cap_field *f = &c->f[c->slot[h] - 1];

		if (f->klen == klen && !memcmp(f->key, key, klen))
			return f;
	}
	return NULL;
}

/*
 * A top-level field of @kind, or NULL when nested, keyless or out of room. A
 * repeated key (a replayed record is input) is kept, but lookups find the
 * first, and the extras write only the first.
 */
static struct cap_field *cap_add(struct nm_writer *w, const char *key, size_t klen,
				 enum cap_kind kind)
{
	struct capture *c = w->ctx;
	struct cap_field *f;

	if (c->depth != 1 || !key || !klen || klen > UINT16_MAX || c->n == CAP_FIELDS)
		return NULL;
	f = &c->f[c->n];
	f->key = cap_copy(c, key, klen);
	if (!f->key)
		return NULL;
	f->klen = (uint16_t)klen;
	f->kind = (uint8_t)kind;
	f->neg = false;
	f->used = false;
	c->n++;
	for (unsigned h = key_hash(key, klen);; h = (h + 1) & (CAP_SLOTS - 1)) {
		if (!c->slot[h]) {
			c->slot[h] = (uint8_t)c->n;
			break;
		}
	}
	return f;
}

static void cap_begin(struct nm_writer *w)
{
	((struct capture *)w->ctx)->depth++;
}

static void cap_end(struct nm_writer *w)
{
	struct capture *c = w->ctx;

	if (c->depth)
		c->depth--;
}

static void cap_str(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len)
{
	struct capture *c = w->ctx;
	struct cap_field *f = cap_add(w, key, klen, CAP_STR);

	if (!f)
		return;
	f->s = cap_copy(c, val, len);
	f->len = (uint32_t)len;
	if (!f->s)
		f->kind = CAP_NULL; /* no room for the value: rather none than a cut one */
}

static void cap_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	struct cap_field *f = cap_add(w, key, klen, CAP_INT);

	if (f)
		f->u = v;
}

static void cap_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	struct cap_field *f = cap_add(w, key, klen, CAP_INT);

	if (!f)
		return;
	f->neg = v < 0;
	f->u = v < 0 ? -(uint64_t)v : (uint64_t)v;
}

static void cap_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
	struct cap_field *f = cap_add(w, key, klen, CAP_BOOL);

	if (f)
		f->u = v;
}

static void cap_null(struct nm_writer *w, const char *key, size_t klen)
{
	cap_add(w, key, klen, CAP_NULL);
}

static void cap_dbl(struct nm_writer *w, const char *key, size_t klen, double v)
{
	struct cap_field *f = cap_add(w, key, klen, CAP_DBL);

	if (f)
		f->d = v;
}

/* Native documents are flat today; anything nested is skipped, not mapped. */
static void cap_open(struct nm_writer *w, const char *key, size_t klen)
{
	(void)key;
	(void)klen;
	((struct capture *)w->ctx)->depth++;
}

static const struct nm_writer_ops capture_ops = {
	.begin = cap_begin,
	.end = cap_end,
	.str = cap_str,
	.u64 = cap_u64,
	.i64 = cap_i64,
	.boolean = cap_bool,
	.null = cap_null,
	.dbl = cap_dbl,
	.begin_map = cap_open,
	.begin_array = cap_open,
	.end_nested = cap_end,
};

NM_INLINE struct cap_field *cap_find(struct capture *c, const char *key)
{
	return cap_lookup(c, key, strlen(key));
}

/* A string field, or NULL; @take marks it as mapped. */
NM_INLINE const struct cap_field *get_str(struct capture *c, const char *key, bool take)
{
	struct cap_field *f = cap_find(c, key);

	if (f && take)
		f->used = true;
	return f && f->kind == CAP_STR ? f : NULL;
}

/* An integer field that fits int64_t into *@v; @take marks it as mapped. */
NM_INLINE bool get_int(struct capture *c, const char *key, bool take, int64_t *v)
{
	struct cap_field *f = cap_find(c, key);

	if (f && take)
		f->used = true;
	if (!f || f->kind != CAP_INT || f->u > (uint64_t)INT64_MAX)
		return false;
	*v = f->neg ? -(int64_t)f->u : (int64_t)f->u;
	return true;
}

/* The same for a count, an id, a port: what the schemas write as unsigned, never below zero. */
NM_INLINE bool get_uint(struct capture *c, const char *key, bool take, int64_t *v)
{
	return get_int(c, key, take, v) && *v >= 0;
}

static bool str_is(const struct cap_field *f, const char *s)
{
	return f && f->len == strlen(s) && !memcmp(f->s, s, f->len);
}

static void put_field_str(struct nm_writer *w, const char *key, const struct cap_field *f)
{
	nm_w_str(w, key, f->s, f->len);
}

/* ---- the facts both schemas are written from ----------------------------------- */

enum activity {
	ACT_OPEN = 1, /* the values are OCSF Network Activity's activity_id */
	ACT_CLOSE = 2,
	ACT_RESET = 3,
	ACT_FAIL = 4,
	ACT_REFUSE = 5,
	ACT_TRAFFIC = 6,
	ACT_OTHER = 99,
};

enum outcome { OUT_UNKNOWN = 0, OUT_SUCCESS, OUT_FAILURE };
enum direction { DIR_UNKNOWN = 0, DIR_INBOUND, DIR_OUTBOUND }; /* OCSF direction_id order */

struct endpoint {
	const struct cap_field *ip;
	int64_t port;
	bool has_port;
};

struct facts {
	const struct cap_field *type, *id, *time, *host, *command, *container_id, *runtime;
	const struct cap_field *protocol, *family, *error, *address; /* address: AF_UNIX path */
	const struct cap_field *status_code, *status_detail;
	bool has_task;
	int64_t pid, tid, uid, seq;
	bool has_seq;
	struct endpoint src, dst;
	enum activity activity;
	enum outcome outcome;
	enum direction traffic_dir; /* of this event's packets: ECS network.direction */
	enum direction conn_dir;    /* of the connection's initiation: OCSF direction_id */
	const char *action;
	/* initiator to responder and back: ECS source/destination.bytes, OCSF traffic */
	int64_t bytes_out, bytes_in;
	bool has_bytes_out, has_bytes_in;
	int64_t duration_ns;
	bool has_duration;
	int64_t cookie;
	bool has_cookie;
	bool loss;
};

NM_INLINE void endpoint_of(struct capture *c, struct endpoint *e, const char *ip, const char *port,
			   const char *joined)
{
	e->ip = get_str(c, ip, true);
	e->has_port = get_uint(c, port, true, &e->port);
	get_str(c, joined, true); /* "ip:port", said again by ip and port */
}

static void classify_connection(struct capture *c, struct facts *x)
{
	int64_t ret = 0;

	x->action = "connect";
	x->traffic_dir = x->conn_dir = DIR_OUTBOUND;
	get_int(c, "return_code", false, &ret);
	x->status_code = x->error;
	if (ret == 0) {
		x->activity = ACT_OPEN;
		x->outcome = OUT_SUCCESS;
	} else if (str_is(x->error, "EINPROGRESS")) {
		/* a non-blocking connect: tcp_lifecycle reports how it ends */
		x->activity = ACT_OPEN;
		x->outcome = OUT_UNKNOWN;
	} else if (str_is(x->error, "ECONNREFUSED")) {
		x->activity = ACT_REFUSE;
		x->outcome = OUT_FAILURE;
	} else {
		x->activity = ACT_FAIL;
		x->outcome = OUT_FAILURE;
	}
}

static void classify_tcp_lifecycle(struct capture *c, struct facts *x)
{
	const struct cap_field *phase = get_str(c, "phase", false);
	const struct cap_field *outcome = get_str(c, "outcome", false);
	const struct cap_field *dir = get_str(c, "direction", false);
	bool close = str_is(phase, "close");
	bool in = str_is(dir, "inbound");
	int64_t sent = 0, received = 0, duration = 0;
	bool has_sent = get_uint(c, "bytes_sent", true, &sent);
	bool has_received = get_uint(c, "bytes_received", true, &received);

	x->conn_dir = x->traffic_dir = in			 ? DIR_INBOUND
				       : str_is(dir, "outbound") ? DIR_OUTBOUND
								 : DIR_UNKNOWN;
	x->action = close ? "close" : in ? "accept" : x->conn_dir ? "connect" : "open";
	x->status_code = x->error;
	if (str_is(outcome, "established") || str_is(outcome, "closed")) {
		x->activity = close ? ACT_CLOSE : ACT_OPEN;
		x->outcome = OUT_SUCCESS;
	} else if (str_is(outcome, "refused")) {
		x->activity = ACT_REFUSE;
		x->outcome = OUT_FAILURE;
	} else if (str_is(outcome, "reset")) {
		x->activity = ACT_RESET;
		x->outcome = OUT_FAILURE;
	} else {
		x->activity = ACT_FAIL; /* timeout, error */
		x->outcome = OUT_FAILURE;
	}
	/* The source is the initiator: the local end unless the connection came in. */
	if (in) {
		x->bytes_out = received, x->has_bytes_out = has_received;
		x->bytes_in = sent, x->has_bytes_in = has_sent;
	} else {
		x->bytes_out = sent, x->has_bytes_out = has_sent;
		x->bytes_in = received, x->has_bytes_in = has_received;
	}
	x->has_duration = get_uint(c, "duration_ns", true, &duration);
	x->duration_ns = duration;
}

static void classify(struct capture *c, struct facts *x)
{
	const char *t = x->type ? x->type->s : "";

	x->activity = ACT_OTHER;
	x->outcome = OUT_UNKNOWN;
	x->action = x->type ? x->type->s : "unknown";
	if (!strcmp(t, "connection")) {
		classify_connection(c, x);
	} else if (!strcmp(t, "tcp_lifecycle")) {
		classify_tcp_lifecycle(c, x);
	} else if (!strcmp(t, "packet_drop")) {
		x->action = "drop";
		x->outcome = OUT_FAILURE;
		x->status_code = get_str(c, "drop_reason", false);
	} else if (!strcmp(t, "udp_send")) {
		x->action = "send";
		x->activity = ACT_TRAFFIC;
		x->outcome = OUT_SUCCESS;
		x->traffic_dir = x->conn_dir = DIR_OUTBOUND;
	} else if (!strcmp(t, "tcp_reset")) {
		bool sent = str_is(get_str(c, "direction", false), "sent");

		x->action = sent ? "reset_sent" : "reset_received";
		x->activity = ACT_RESET;
		x->outcome = OUT_FAILURE;
		x->traffic_dir = sent ? DIR_OUTBOUND : DIR_INBOUND;
		x->status_code = get_str(c, "reason", false);
		x->status_detail = get_str(c, "state", false);
	} else if (!strcmp(t, "tcp_retransmit")) {
		x->action = "retransmit";
		x->activity = ACT_TRAFFIC;
		x->traffic_dir = DIR_OUTBOUND; /* the local end resent */
		x->status_detail = get_str(c, "state", false);
	} else if (!strcmp(t, "loss")) {
		x->loss = true;
		x->action = "loss";
		x->outcome = OUT_FAILURE;
	}
}

static void gather(struct capture *c, struct facts *x)
{
	memset(x, 0, sizeof(*x));
	x->type = get_str(c, "type", false); /* kept among the extras too, as is seq */
	x->has_seq = get_uint(c, "seq", false, &x->seq);
	x->id = get_str(c, "id", true);
	x->time = get_str(c, "time", true);
	x->host = get_str(c, "host", true);
	x->has_task = get_uint(c, "pid", true, &x->pid);
	if (!get_uint(c, "tid", true, &x->tid))
		x->tid = -1;
	if (!get_uint(c, "uid", true, &x->uid))
		x->uid = -1;
	x->command = get_str(c, "command", true);
	x->container_id = get_str(c, "container_id", true);
	x->runtime = get_str(c, "container_runtime", true);
	x->protocol = get_str(c, "protocol", true);
	x->family = get_str(c, "family", false);
	if (str_is(x->family, "ipv4") || str_is(x->family, "ipv6"))
		get_str(c, "family", true);    /* said by network.type; unix and other stay */
	x->error = get_str(c, "error", false); /* error.code only if it failed: see below */
	endpoint_of(c, &x->src, "source_ip", "source_port", "source");
	endpoint_of(c, &x->dst, "destination_ip", "destination_port", "destination");
	if (str_is(x->family, "unix")) {
		x->address = get_str(c, "destination", true); /* the socket path */
		x->protocol = NULL;
	}
	x->has_cookie = get_uint(c, "socket_cookie", false, &x->cookie);
	classify(c, x);
	if (x->outcome == OUT_FAILURE)
		get_str(c, "error", true);
	else
		x->error = NULL; /* EINPROGRESS is no error: it stays among the extras */
}

/* IANA protocol numbers of the native protocol names; -1 for none (unix, raw, other). */
static int iana_number(const struct cap_field *proto, const char **ecs_name)
{
	static const struct {
		const char *name, *ecs;
		int num;
	} t[] = {
		{"tcp", "tcp", 6},	     {"udp", "udp", 17},    {"icmp", "icmp", 1},
		{"icmpv6", "ipv6-icmp", 58}, {"sctp", "sctp", 132}, {"udplite", "udplite", 136},
		{"gre", "gre", 47},	     {"esp", "esp", 50},
	};

	for (size_t i = 0; proto && i < sizeof(t) / sizeof(t[0]); i++) {
		if (str_is(proto, t[i].name)) {
			*ecs_name = t[i].ecs;
			return t[i].num;
		}
	}
	*ecs_name = proto ? proto->s : NULL;
	return -1;
}

/* @n digits at @p as a number, or -1. */
static int digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/*
 * Milliseconds since the epoch of native `time` ("2026-11-25T13:20:39.123456789Z", as
 * nm_format_rfc3339 writes it); false for anything else (a replayed record is input too).
 */
static bool time_ms(const struct cap_field *f, int64_t *ms)
{
	const char *s = f ? f->s : NULL;
	int y, mo, d, h, mi, sec, frac;

	if (!f || f->len < 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.')
		return false;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	frac = digits(s + 20, 3);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 60 || frac < 0)
		return false;
	*ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000LL +
	      sec * 1000LL + frac;
	return true;
}

/* Every native field not mapped, and not null, as it was: ECS ebpf_netmon, OCSF unmapped. */
static void write_extras(struct capture *c, struct nm_writer *w, const char *key)
{
	nm_w_map(w, key);
	for (size_t i = 0; i < c->n; i++) {
		const struct cap_field *f = &c->f[i];

		if (f->used || cap_lookup(c, f->key, f->klen) != f)
			continue; /* mapped, or a repeated key */
		switch (f->kind) {
		case CAP_STR:
			w->ops->str(w, f->key, f->klen, f->s, f->len);
			break;
		case CAP_INT:
			if (f->neg)
				w->ops->i64(w, f->key, f->klen, -(int64_t)f->u);
			else
				w->ops->u64(w, f->key, f->klen, f->u);
			break;
		case CAP_BOOL:
			w->ops->boolean(w, f->key, f->klen, f->u);
			break;
		case CAP_DBL:
			w->ops->dbl(w, f->key, f->klen, f->d);
			break;
		default:
			break;
		}
	}
	nm_w_end_nested(w);
}

/* A number as a string: what ECS keywords and OCSF string_t uids are. */
static void put_u64_str(struct nm_writer *w, const char *key, int64_t v)
{
	char buf[24];
	size_t at = sizeof(buf);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		buf[--at] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[--at] = '-';
	nm_w_str(w, key, buf + at, sizeof(buf) - at);
}

/* ---- ECS 8.11 ---------------------------------------------------------------------- */

static void ecs_endpoint(struct nm_writer *w, const char *key, const struct endpoint *e,
			 const struct cap_field *address, bool has_bytes, int64_t bytes)
{
	if (!e->ip && !address && !has_bytes)
		return;
	nm_w_map(w, key);
	if (e->ip) {
		put_field_str(w, "ip", e->ip);
		if (e->has_port)
			nm_w_u64(w, "port", (uint64_t)e->port);
	}
	if (address)
		put_field_str(w, "address", address);
	if (has_bytes)
		nm_w_u64(w, "bytes", (uint64_t)bytes);
	nm_w_end_nested(w);
}

static const char *ecs_outcome(enum outcome o)
{
	return o == OUT_SUCCESS ? "success" : o == OUT_FAILURE ? "failure" : "unknown";
}

/* event.type: ECS's allowed values for the network category. */
static void ecs_event_types(struct nm_writer *w, const struct facts *x)
{
	nm_w_array(w, "type");
	switch (x->activity) {
	case ACT_OPEN:
		nm_w_cstr(w, NULL, "connection");
		nm_w_cstr(w, NULL, "start");
		break;
	case ACT_CLOSE:
	case ACT_RESET:
		nm_w_cstr(w, NULL, "connection");
		nm_w_cstr(w, NULL, "end");
		break;
	case ACT_REFUSE:
		nm_w_cstr(w, NULL, "connection");
		nm_w_cstr(w, NULL, "denied");
		break;
	case ACT_FAIL:
	case ACT_TRAFFIC:
		nm_w_cstr(w, NULL, "connection");
		nm_w_cstr(w, NULL, "info");
		break;
	default:
		/* a packet the kernel dropped: not let through */
		nm_w_cstr(w, NULL, x->action && !strcmp(x->action, "drop") ? "denied" : "info");
		break;
	}
	nm_w_end_nested(w);
}

static void ecs_write(struct capture *c, struct nm_writer *w)
{
	struct facts x;
	const char *transport;
	int64_t ms;
	int iana;
	char dataset[96];

	gather(c, &x);
	iana = iana_number(x.protocol, &transport);
	snprintf(dataset, sizeof(dataset), "ebpf_netmon.%.64s", x.type ? x.type->s : "unknown");

	nm_w_begin(w);
	if (time_ms(x.time, &ms)) /* what a record from a spool says is checked too */
		put_field_str(w, "@timestamp", x.time);
	nm_w_map(w, "ecs");
	nm_w_cstr(w, "version", NM_ECS_VERSION);
	nm_w_end_nested(w);
	nm_w_map(w, "agent");
	nm_w_cstr(w, "type", PACKAGE_NAME);
	nm_w_cstr(w, "version", PACKAGE_VERSION);
	nm_w_end_nested(w);

	nm_w_map(w, "event");
	nm_w_cstr(w, "kind", x.loss ? "metric" : "event");
	if (!x.loss) {
		nm_w_array(w, "category");
		nm_w_cstr(w, NULL, "network");
		nm_w_end_nested(w);
		ecs_event_types(w, &x);
	}
	nm_w_cstr(w, "action", x.action);
	nm_w_cstr(w, "outcome", ecs_outcome(x.outcome));
	if (x.id)
		put_field_str(w, "id", x.id);
	if (x.has_seq)
		nm_w_u64(w, "sequence", (uint64_t)x.seq);
	nm_w_cstr(w, "module", "ebpf_netmon");
	nm_w_cstr(w, "dataset", dataset);
	if (x.status_code)
		put_field_str(w, "reason", x.status_code);
	if (x.has_duration)
		nm_w_u64(w, "duration", (uint64_t)x.duration_ns);
	nm_w_end_nested(w);

	if (x.host) {
		nm_w_map(w, "host");
		put_field_str(w, "name", x.host);
		nm_w_end_nested(w);
	}
	if (x.has_task) {
		nm_w_map(w, "process");
		nm_w_u64(w, "pid", (uint64_t)x.pid);
		if (x.command)
			put_field_str(w, "name", x.command);
		if (x.tid >= 0) {
			nm_w_map(w, "thread");
			nm_w_u64(w, "id", (uint64_t)x.tid);
			nm_w_end_nested(w);
		}
		nm_w_end_nested(w);
		if (x.uid >= 0) {
			nm_w_map(w, "user");
			put_u64_str(w, "id", x.uid);
			nm_w_end_nested(w);
		}
	}
	if (x.container_id) {
		nm_w_map(w, "container");
		put_field_str(w, "id", x.container_id);
		if (x.runtime)
			put_field_str(w, "runtime", x.runtime);
		nm_w_end_nested(w);
	}
	ecs_endpoint(w, "source", &x.src, NULL, x.has_bytes_out, x.bytes_out);
	ecs_endpoint(w, "destination", &x.dst, x.address, x.has_bytes_in, x.bytes_in);
	if (!x.loss) {
		nm_w_map(w, "network");
		if (transport)
			nm_w_cstr(w, "transport", transport);
		if (iana >= 0)
			put_u64_str(w, "iana_number", iana);
		if (str_is(x.family, "ipv4") || str_is(x.family, "ipv6"))
			put_field_str(w, "type", x.family);
		/* host-based: the host's point of view, as ECS asks */
		nm_w_cstr(w, "direction",
			  x.traffic_dir == DIR_OUTBOUND	 ? "egress"
			  : x.traffic_dir == DIR_INBOUND ? "ingress"
							 : "unknown");
		if (x.has_bytes_out && x.has_bytes_in)
			nm_w_u64(w, "bytes", (uint64_t)(x.bytes_out + x.bytes_in));
		nm_w_end_nested(w);
	}
	if (x.error) {
		nm_w_map(w, "error");
		put_field_str(w, "code", x.error);
		nm_w_end_nested(w);
	}
	write_extras(c, w, "ebpf_netmon");
	nm_w_end(w);
}

/* ---- OCSF 1.1 ---------------------------------------------------------------------- */

static const char *const activity_names[] = {
	[ACT_OPEN] = "Open", [ACT_CLOSE] = "Close",   [ACT_RESET] = "Reset",
	[ACT_FAIL] = "Fail", [ACT_REFUSE] = "Refuse", [ACT_TRAFFIC] = "Traffic",
};

static bool ocsf_endpoint(struct nm_writer *w, const char *key, const struct endpoint *e,
			  const struct cap_field *name)
{
	if (!e->ip && !name)
		return false;
	nm_w_map(w, key);
	if (e->ip) {
		put_field_str(w, "ip", e->ip);
		if (e->has_port)
			nm_w_u64(w, "port", (uint64_t)e->port);
	}
	if (name)
		put_field_str(w, "name", name);
	nm_w_end_nested(w);
	return true;
}

static void ocsf_metadata(struct nm_writer *w, const struct facts *x)
{
	nm_w_map(w, "metadata");
	nm_w_cstr(w, "version", NM_OCSF_VERSION);
	nm_w_map(w, "product");
	nm_w_cstr(w, "name", PACKAGE_NAME);
	nm_w_cstr(w, "vendor_name", PACKAGE_NAME);
	nm_w_cstr(w, "version", PACKAGE_VERSION);
	nm_w_end_nested(w);
	if (x->id)
		put_field_str(w, "uid", x->id);
	if (x->has_seq)
		nm_w_u64(w, "sequence", (uint64_t)x->seq);
	if (x->type)
		put_field_str(w, "log_name", x->type);
	nm_w_array(w, "profiles");
	nm_w_cstr(w, NULL, "host");
	if (x->container_id)
		nm_w_cstr(w, NULL, "container");
	nm_w_end_nested(w);
	nm_w_end_nested(w);
}

/* The host profile: device (the agent's host) and actor (the process, when there is one). */
static void ocsf_host(struct nm_writer *w, const struct facts *x)
{
	if (x->host) {
		nm_w_map(w, "device");
		put_field_str(w, "hostname", x->host);
		nm_w_u64(w, "type_id", 0);
		nm_w_cstr(w, "type", "Unknown");
		nm_w_end_nested(w);
	}
	if (x->has_task) {
		nm_w_map(w, "actor");
		nm_w_map(w, "process");
		nm_w_u64(w, "pid", (uint64_t)x->pid);
		if (x->tid >= 0)
			nm_w_u64(w, "tid", (uint64_t)x->tid);
		if (x->command)
			put_field_str(w, "name", x->command);
		if (x->uid >= 0) {
			nm_w_map(w, "user");
			put_u64_str(w, "uid", x->uid);
			nm_w_end_nested(w);
		}
		nm_w_end_nested(w);
		if (x->uid >= 0) {
			nm_w_map(w, "user");
			put_u64_str(w, "uid", x->uid);
			nm_w_end_nested(w);
		}
		nm_w_end_nested(w);
	}
	if (x->container_id) {
		nm_w_map(w, "container");
		put_field_str(w, "uid", x->container_id);
		if (x->runtime)
			put_field_str(w, "runtime", x->runtime);
		nm_w_end_nested(w);
	}
}

static void ocsf_status(struct nm_writer *w, const struct facts *x)
{
	nm_w_u64(w, "status_id", x->outcome == OUT_SUCCESS ? 1 : x->outcome == OUT_FAILURE ? 2 : 0);
	nm_w_cstr(w, "status",
		  x->outcome == OUT_SUCCESS   ? "Success"
		  : x->outcome == OUT_FAILURE ? "Failure"
					      : "Unknown");
	if (x->status_code)
		put_field_str(w, "status_code", x->status_code);
	if (x->status_detail)
		put_field_str(w, "status_detail", x->status_detail);
}

static void ocsf_loss(struct capture *c, struct nm_writer *w, const struct facts *x, int64_t ms)
{
	const struct cap_field *stage = get_str(c, "stage", false);
	const struct cap_field *where = get_str(c, "where", false);
	const struct cap_field *reason = get_str(c, "reason", false);
	int64_t lost = 0;
	char msg[256];
	int n;

	get_uint(c, "lost", false, &lost);
	n = snprintf(msg, sizeof(msg), "lost %lld events (%.32s %.64s: %.64s)", (long long)lost,
		     stage ? stage->s : "?", where ? where->s : "?", reason ? reason->s : "?");
	/* The agent's own report is no network activity: a Base Event. */
	nm_w_u64(w, "class_uid", 0);
	nm_w_cstr(w, "class_name", "Base Event");
	nm_w_u64(w, "category_uid", 0);
	nm_w_cstr(w, "category_name", "Uncategorized");
	nm_w_u64(w, "activity_id", 99);
	nm_w_cstr(w, "activity_name", "Other");
	nm_w_u64(w, "type_uid", 99);
	nm_w_cstr(w, "type_name", "Base Event: Other");
	nm_w_u64(w, "severity_id", 3);
	nm_w_cstr(w, "severity", "Medium");
	nm_w_u64(w, "time", (uint64_t)ms);
	nm_w_str(w, "message", msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	ocsf_status(w, x);
	ocsf_metadata(w, x);
	ocsf_host(w, x);
}

static void ocsf_write(struct capture *c, struct nm_writer *w)
{
	static const char *const dir_names[] = {"Unknown", "Inbound", "Outbound"};
	struct facts x;
	const char *transport;
	int64_t ms = 0;
	int iana;
	char type_name[48];

	gather(c, &x);
	iana = iana_number(x.protocol, &transport);
	time_ms(x.time, &ms);
	nm_w_begin(w);
	if (x.loss) {
		ocsf_loss(c, w, &x, ms);
		write_extras(c, w, "unmapped");
		nm_w_end(w);
		return;
	}
	nm_w_u64(w, "class_uid", 4001);
	nm_w_cstr(w, "class_name", "Network Activity");
	nm_w_u64(w, "category_uid", 4);
	nm_w_cstr(w, "category_name", "Network Activity");
	nm_w_u64(w, "activity_id", x.activity);
	nm_w_cstr(w, "activity_name",
		  x.activity == ACT_OTHER ? "Other" : activity_names[x.activity]);
	nm_w_u64(w, "type_uid", 4001 * 100 + x.activity);
	snprintf(type_name, sizeof(type_name), "Network Activity: %s",
		 x.activity == ACT_OTHER ? "Other" : activity_names[x.activity]);
	nm_w_cstr(w, "type_name", type_name);
	nm_w_u64(w, "severity_id", 1);
	nm_w_cstr(w, "severity", "Informational");
	nm_w_u64(w, "time", (uint64_t)ms);
	if (x.has_duration)
		nm_w_u64(w, "duration", (uint64_t)(x.duration_ns / 1000000));
	ocsf_status(w, &x);
	ocsf_metadata(w, &x);
	ocsf_host(w, &x);

	bool src = ocsf_endpoint(w, "src_endpoint", &x.src, NULL);
	bool dst = ocsf_endpoint(w, "dst_endpoint", &x.dst, x.address);

	if (!src && !dst) {
		/* No address (a drop before the IP header was read): the interface is the endpoint. */
		const struct cap_field *ifname = get_str(c, "interface", false);
		int64_t ifindex = 0;

		nm_w_map(w, "dst_endpoint");
		get_uint(c, "ifindex", false, &ifindex);
		put_u64_str(w, "interface_uid", ifindex);
		if (ifname)
			put_field_str(w, "interface_name", ifname);
		nm_w_end_nested(w);
	}

	nm_w_map(w, "connection_info");
	if (transport)
		nm_w_cstr(w, "protocol_name", transport);
	if (iana >= 0)
		nm_w_u64(w, "protocol_num", (uint64_t)iana);
	if (str_is(x.family, "ipv4") || str_is(x.family, "ipv6"))
		nm_w_u64(w, "protocol_ver_id", str_is(x.family, "ipv4") ? 4 : 6);
	nm_w_u64(w, "direction_id", x.conn_dir);
	nm_w_cstr(w, "direction", dir_names[x.conn_dir]);
	if (x.has_cookie)
		put_u64_str(w, "uid", x.cookie);
	nm_w_end_nested(w);

	if (x.has_bytes_out || x.has_bytes_in) {
		nm_w_map(w, "traffic");
		if (x.has_bytes_out)
			nm_w_u64(w, "bytes_out", (uint64_t)x.bytes_out);
		if (x.has_bytes_in)
			nm_w_u64(w, "bytes_in", (uint64_t)x.bytes_in);
		if (x.has_bytes_out && x.has_bytes_in)
			nm_w_u64(w, "bytes", (uint64_t)(x.bytes_out + x.bytes_in));
		nm_w_end_nested(w);
	}
	write_extras(c, w, "unmapped");
	nm_w_end(w);
}

/* ---- entry points ------------------------------------------------------------------ */

void nm_siem_write(enum nm_schema schema, nm_fields_fn native, const void *ctx, struct nm_writer *w)
{
	struct capture c;
	struct nm_writer cw = {.ops = &capture_ops, .ctx = &c};

	if (schema == NM_SCHEMA_NATIVE || schema >= NM_SCHEMA_COUNT) {
		native(ctx, w);
		return;
	}
	c.n = 0;
	c.at = 0;
	c.depth = 0;
	memset(c.slot, 0, sizeof(c.slot));
	native(ctx, &cw);
	if (schema == NM_SCHEMA_ECS)
		ecs_write(&c, w);
	else
		ocsf_write(&c, w);
}

void nm_siem_encode(enum nm_schema schema, nm_fields_fn native, const void *ctx,
		    enum nm_format format, struct nm_buf *out)
{
	struct nm_writer w;

	nm_buf_reset(out);
	nm_writer_init(&w, format, out);
	nm_siem_write(schema, native, ctx, &w);
}

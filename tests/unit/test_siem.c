/* test_siem.c - ECS and OCSF documents of every event type, in JSON and MessagePack, and replay. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <jansson.h>
#include <msgpack.h>

#include "check.h"
#include "bpf/connection.h"
#include "bpf/tcp_lifecycle.h"
#include "bpf/tcp_reset.h"
#include "bpf/tcp_retransmit.h"
#include "bpf/udp_send.h"
#include "src/msg.h"
#include "src/program.h"
#include "src/siem.h"
#include "src/spool.h"

extern const struct nm_program_type nm_program_connection;
extern const struct nm_program_type nm_program_tcp_lifecycle;
extern const struct nm_program_type nm_program_udp_send;
extern const struct nm_program_type nm_program_tcp_reset;
extern const struct nm_program_type nm_program_tcp_retransmit;

/*
 * packet_drop's body holds pointers into its kernel-derived state (reason
 * names, symbols), so it is stood in for by a type that writes the fields
 * docs/schema.md gives it; the mapping reads fields only. Likewise the
 * pipeline's own loss reports.
 */
static void drop_write(const struct nm_event *ev, struct nm_writer *w)
{
	bool l3 = ev->body[0];

	nm_w_cstr(w, "drop_reason", "NO_SOCKET");
	nm_w_u64(w, "drop_reason_code", 2);
	nm_w_u64(w, "drop_reason_subsystem", 0);
	nm_w_cstr(w, "location", "tcp_v4_rcv+0x1a0");
	nm_w_cstr(w, "context", "softirq");
	if (l3) {
		nm_w_cstr(w, "family", "ipv4");
		nm_w_cstr(w, "protocol", "tcp");
		nm_w_cstr(w, "source_ip", "127.0.0.1");
		nm_w_u64(w, "source_port", 41000);
		nm_w_cstr(w, "source", "127.0.0.1:41000");
		nm_w_cstr(w, "destination_ip", "127.0.0.1");
		nm_w_u64(w, "destination_port", 1);
		nm_w_cstr(w, "destination", "127.0.0.1:1");
	} else {
		nm_w_null(w, "family");
		nm_w_null(w, "protocol");
		nm_w_null(w, "source_ip");
		nm_w_null(w, "source_port");
		nm_w_null(w, "source");
		nm_w_null(w, "destination_ip");
		nm_w_null(w, "destination_port");
		nm_w_null(w, "destination");
	}
	nm_w_u64(w, "ethertype", 2048);
	nm_w_u64(w, "ifindex", 1);
	nm_w_cstr(w, "interface", "lo");
	nm_w_u64(w, "netns", 4026531840u);
	nm_w_u64(w, "length", 60);
}

static const struct nm_program_type drop_type = {.name = "packet_drop", .write_fields = drop_write};

static void loss_write(const struct nm_event *ev, struct nm_writer *w)
{
	nm_w_cstr(w, "stage", "sink");
	nm_w_cstr(w, "where", "siem");
	nm_w_cstr(w, "reason", "queue_full");
	nm_w_u64(w, "lost", 12);
	nm_w_u64(w, "lost_total", 40);
}

static const struct nm_program_type loss_type = {.name = "loss", .write_fields = loss_write};

/* What each sample must map to. */
struct expect {
	const char *name;
	const char *action;
	const char *outcome; /* ECS event.outcome */
	const char *direction;
	int activity_id; /* OCSF; 0 for the Base Event of a loss report */
	int status_id;
	int direction_id;
	const char *src_ip, *dst_ip;
	int src_port, dst_port; /* -1: absent */
	bool task;
};

#define WALL_NS 1764077439123456789LL

static void base_event(struct nm_event *ev, const struct nm_program_type *t, uint64_t seq,
		       bool task)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	ev->seq = seq;
	ev->timestamp_ns = 5000 + seq;
	ev->wall_ns = WALL_NS;
	ev->run_id = 0x0123456789abcdefULL;
	ev->host = "edge-17";
	ev->has_task = task;
	if (task) {
		ev->pid = 4242;
		ev->tid = 4243;
		ev->uid = 1000;
		ev->cgroup_id = 0; /* no cgroup lookup in a unit test */
		/* a kernel string need not be UTF-8: the documents stay valid */
		memcpy(ev->command, "cu\xffrl", 5);
	}
}

static void v4(uint8_t *addr, const char *ip)
{
	inet_pton(AF_INET, ip, addr);
}

#define NSAMPLES 14

static struct nm_event samples[NSAMPLES];
static struct expect expects[NSAMPLES];

static void make_samples(void)
{
	struct nm_connection_fields *c;
	struct nm_tcp_lifecycle_fields *l;
	struct nm_udp_send_fields *u;
	struct nm_tcp_reset_fields *r;
	struct nm_tcp_retransmit_fields *t;
	int i = 0;

	/* connection: refused, established (IPv6), in progress, AF_UNIX */
	base_event(&samples[i], &nm_program_connection, 1, true);
	c = (void *)samples[i].body;
	c->family = AF_INET;
	c->protocol = 6;
	c->sock_type = SOCK_STREAM;
	c->conn_flags = NM_CONN_F_PROTO_KNOWN | NM_CONN_F_SOURCE_KNOWN;
	c->dport = 1;
	c->sport = 41000;
	c->ret = -111;
	v4(c->daddr, "127.0.0.1");
	v4(c->saddr, "127.0.0.1");
	c->socket_cookie = 77;
	expects[i++] =
		(struct expect){"connection refused", "connect",   "failure", "egress", 5,   2, 2,
				"127.0.0.1",	      "127.0.0.1", 41000,     1,	true};

	base_event(&samples[i], &nm_program_connection, 2, true);
	c = (void *)samples[i].body;
	c->family = AF_INET6;
	c->protocol = 6;
	c->sock_type = SOCK_STREAM;
	c->conn_flags = NM_CONN_F_PROTO_KNOWN;
	c->dport = 443;
	c->daddr[15] = 1;
	expects[i++] =
		(struct expect){"connection v6", "connect", "success", "egress", 1, 1, 2, NULL,
				"::1",		 -1,	    443,       true};

	base_event(&samples[i], &nm_program_connection, 3, true);
	c = (void *)samples[i].body;
	c->family = AF_INET;
	c->protocol = 6;
	c->conn_flags = NM_CONN_F_PROTO_KNOWN;
	c->dport = 80;
	c->ret = -115;
	v4(c->daddr, "10.0.0.5");
	expects[i++] = (struct expect){"connection in progress",
				       "connect",
				       "unknown",
				       "egress",
				       1,
				       0,
				       2,
				       NULL,
				       "10.0.0.5",
				       -1,
				       80,
				       true};

	base_event(&samples[i], &nm_program_connection, 4, true);
	c = (void *)samples[i].body;
	c->family = AF_UNIX;
	c->sock_type = SOCK_STREAM;
	c->conn_flags = NM_CONN_F_PROTO_KNOWN;
	c->ret = -2;
	memcpy(c->unix_path, "/run/x.sock", 11);
	c->unix_path_len = 12;
	expects[i++] = (struct expect){"connection unix",
				       "connect",
				       "failure",
				       "egress",
				       4,
				       2,
				       2,
				       NULL,
				       NULL,
				       -1,
				       -1,
				       true};

	/* tcp_lifecycle: established outbound, refused, timeout, close of an inbound one, reset */
	base_event(&samples[i], &nm_program_tcp_lifecycle, 5, true);
	l = (void *)samples[i].body;
	l->family = AF_INET;
	l->phase = NM_TCPL_PHASE_OPEN;
	l->outcome = NM_TCPL_ESTABLISHED;
	l->direction = NM_TCPL_DIR_OUTBOUND;
	l->lc_flags = NM_TCPL_F_LATENCY;
	l->latency_ns = 51000;
	l->sport = 41001;
	l->dport = 8080;
	l->old_state = 2;
	l->socket_cookie = 78;
	v4(l->saddr, "127.0.0.1");
	v4(l->daddr, "127.0.0.2");
	expects[i++] =
		(struct expect){"lifecycle open", "connect",   "success", "egress", 1,	 1, 2,
				"127.0.0.1",	  "127.0.0.2", 41001,	  8080,	    true};

	base_event(&samples[i], &nm_program_tcp_lifecycle, 6, false);
	l = (void *)samples[i].body;
	l->family = AF_INET;
	l->phase = NM_TCPL_PHASE_OPEN;
	l->outcome = NM_TCPL_REFUSED;
	l->direction = NM_TCPL_DIR_OUTBOUND;
	l->sk_err = 111;
	l->sport = 41002;
	l->dport = 1;
	v4(l->saddr, "127.0.0.1");
	v4(l->daddr, "127.0.0.1");
	expects[i++] =
		(struct expect){"lifecycle refused", "connect",	  "failure", "egress", 5,    2, 2,
				"127.0.0.1",	     "127.0.0.1", 41002,     1,	       false};

	base_event(&samples[i], &nm_program_tcp_lifecycle, 7, true);
	l = (void *)samples[i].body;
	l->family = AF_INET;
	l->phase = NM_TCPL_PHASE_OPEN;
	l->outcome = NM_TCPL_TIMEOUT;
	l->direction = NM_TCPL_DIR_OUTBOUND;
	l->sk_err = 110;
	l->sport = 41003;
	l->dport = 9;
	v4(l->saddr, "10.201.0.1");
	v4(l->daddr, "10.201.0.2");
	expects[i++] =
		(struct expect){"lifecycle timeout", "connect",	   "failure", "egress", 4,   2, 2,
				"10.201.0.1",	     "10.201.0.2", 41003,     9,	true};

	base_event(&samples[i], &nm_program_tcp_lifecycle, 8, true);
	l = (void *)samples[i].body;
	l->family = AF_INET;
	l->phase = NM_TCPL_PHASE_CLOSE;
	l->outcome = NM_TCPL_CLOSED;
	l->direction = NM_TCPL_DIR_INBOUND;
	l->lc_flags = NM_TCPL_F_DURATION | NM_TCPL_F_BYTES | NM_TCPL_F_SENT_KNOWN;
	l->duration_ns = 2500000000ULL;
	l->bytes_sent = 512 * 1024;
	l->bytes_received = 1 << 20;
	l->sport = 41004;
	l->dport = 8080;
	v4(l->saddr, "127.0.0.3");
	v4(l->daddr, "127.0.0.1");
	expects[i++] =
		(struct expect){"lifecycle close", "close",	"success", "ingress", 2,   1, 1,
				"127.0.0.3",	   "127.0.0.1", 41004,	   8080,      true};

	base_event(&samples[i], &nm_program_tcp_lifecycle, 9, true);
	l = (void *)samples[i].body;
	l->family = AF_INET6;
	l->phase = NM_TCPL_PHASE_CLOSE;
	l->outcome = NM_TCPL_RESET;
	l->direction = NM_TCPL_DIR_UNKNOWN;
	l->lc_flags = NM_TCPL_F_RESET_PEER;
	l->sport = 41005;
	l->dport = 22;
	l->saddr[15] = 1;
	l->daddr[15] = 1;
	expects[i++] = (struct expect){"lifecycle reset",
				       "close",
				       "failure",
				       "unknown",
				       3,
				       2,
				       0,
				       "::1",
				       "::1",
				       41005,
				       22,
				       true};

	/* packet_drop, with and without the addresses */
	base_event(&samples[i], &drop_type, 10, false);
	samples[i].body[0] = 1;
	expects[i++] = (struct expect){"drop", "drop",	    "failure",	 "unknown", 99, 2,
				       0,      "127.0.0.1", "127.0.0.1", 41000,	    1,	false};
	base_event(&samples[i], &drop_type, 11, false);
	expects[i++] = (struct expect){"drop without L3",
				       "drop",
				       "failure",
				       "unknown",
				       99,
				       2,
				       0,
				       NULL,
				       NULL,
				       -1,
				       -1,
				       false};

	base_event(&samples[i], &nm_program_udp_send, 12, true);
	u = (void *)samples[i].body;
	u->family = AF_INET;
	u->protocol = 17;
	u->dport = 53;
	u->sport = 40000;
	u->send_flags = NM_UDP_F_SOURCE_KNOWN;
	u->socket_cookie = 79;
	v4(u->daddr, "10.0.0.53");
	v4(u->saddr, "10.0.0.1");
	expects[i++] = (struct expect){"udp_send", "send",     "success",   "egress", 6,  1,
				       2,	   "10.0.0.1", "10.0.0.53", 40000,    53, true};

	base_event(&samples[i], &nm_program_tcp_reset, 13, false);
	r = (void *)samples[i].body;
	r->family = AF_INET;
	r->direction = NM_TCPRST_RECEIVED;
	r->rst_flags = NM_TCPRST_F_SOCKET | NM_TCPRST_F_ADDR;
	r->state = 2;
	r->sport = 41006;
	r->dport = 1;
	r->socket_cookie = 80;
	v4(r->saddr, "127.0.0.1");
	v4(r->daddr, "127.0.0.1");
	expects[i++] =
		(struct expect){"tcp_reset", "reset_received", "failure",   "ingress", 3, 2,
				0,	     "127.0.0.1",      "127.0.0.1", 41006,     1, false};

	base_event(&samples[i], &nm_program_tcp_retransmit, 14, false);
	t = (void *)samples[i].body;
	t->family = AF_INET;
	t->retransmits = 3;
	t->total_retransmits = 5;
	t->state = 1;
	t->sport = 41007;
	t->dport = 443;
	t->socket_cookie = 81;
	v4(t->saddr, "10.0.0.1");
	v4(t->daddr, "93.184.216.34");
	expects[i++] =
		(struct expect){"tcp_retransmit", "retransmit",	   "unknown", "egress", 6,    0, 0,
				"10.0.0.1",	  "93.184.216.34", 41007,     443,	false};

	CHECK_EQ_INT(i, NSAMPLES - 0);
}

/* ---- MessagePack read back as a JSON tree, to compare both encodings ------------ */

static json_t *from_msgpack(const msgpack_object *o)
{
	json_t *j;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_array_append_new(j, from_msgpack(&o->via.array.ptr[i]));
		return j;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			char key[256];

			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    kv->key.via.str.size >= sizeof(key))
				return j; /* incomplete: the comparison fails */
			memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
			key[kv->key.via.str.size] = '\0';
			json_object_set_new(j, key, from_msgpack(&kv->val));
		}
		return j;
	default:
		return NULL;
	}
}

static json_t *encode_json(const struct nm_event *ev, enum nm_schema schema)
{
	struct nm_buf out = {0};
	json_error_t jerr;
	json_t *root;

	nm_msg_encode(ev, nm_encoding(NM_FORMAT_JSON, schema), &out);
	root = json_loadb((const char *)out.data, out.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		fprintf(stderr, "invalid JSON (%s): %.*s\n", jerr.text, (int)out.len, out.data);
	nm_buf_free(&out);
	return root;
}

static json_t *encode_msgpack(const struct nm_event *ev, enum nm_schema schema)
{
	struct nm_buf out = {0};
	msgpack_unpacked u;
	size_t off = 0;
	json_t *root = NULL;

	nm_msg_encode(ev, nm_encoding(NM_FORMAT_MSGPACK, schema), &out);
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)out.data, out.len, &off) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    off == out.len && u.data.type == MSGPACK_OBJECT_MAP)
		root = from_msgpack(&u.data);
	msgpack_unpacked_destroy(&u);
	nm_buf_free(&out);
	return root;
}

/* ---- field checks ------------------------------------------------------------------ */

/* The value at a dotted path of nested objects, or NULL. */
static json_t *at(json_t *root, const char *path)
{
	char buf[128], *save = NULL;
	json_t *j = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = json_object_get(j, k);
	return j;
}

static int str_at(json_t *root, const char *path, const char *want, const char *what)
{
	const char *v = json_string_value(at(root, path));

	if (!v || (want && strcmp(v, want))) {
		fprintf(stderr, "%s: %s is %s, expected %s\n", what, path, v ? v : "(not a string)",
			want ? want : "a string");
		return 1;
	}
	return 0;
}

static int int_at(json_t *root, const char *path, long long want, const char *what)
{
	json_t *v = at(root, path);

	if (!json_is_integer(v) || (want != -1 && json_integer_value(v) != want)) {
		fprintf(stderr, "%s: %s is not the integer %lld\n", what, path, want);
		return 1;
	}
	return 0;
}

static bool in_list(const char *v, const char *const *allowed)
{
	for (; v && *allowed; allowed++)
		if (!strcmp(v, *allowed))
			return true;
	return false;
}

/* Every element of the keyword array at @path is an allowed value (ECS 8.11's lists). */
static int keywords_at(json_t *root, const char *path, const char *const *allowed, const char *what)
{
	json_t *a = at(root, path), *v;
	size_t i;
	int bad = !json_is_array(a) || !json_array_size(a);

	json_array_foreach(a, i, v) bad |= !in_list(json_string_value(v), allowed);
	if (bad)
		fprintf(stderr, "%s: %s is not an array of allowed values\n", what, path);
	return bad;
}

static void check_ecs(json_t *d, const struct expect *x, const struct nm_event *ev)
{
	static const char *const categories[] = {"network", NULL};
	static const char *const types[] = {"access", "allowed",  "connection", "denied", "end",
					    "info",   "protocol", "start",	NULL};
	static const char *const directions[] = {"ingress",  "egress",	 "inbound", "outbound",
						 "internal", "external", "unknown", NULL};
	char id[NM_EVENT_ID_LEN], dataset[64];
	int bad = 0;

	nm_event_id(ev, id);
	snprintf(dataset, sizeof(dataset), "ebpf_netmon.%s", ev->type->name);
	bad |= str_at(d, "@timestamp", "2025-11-25T13:30:39.123456789Z", x->name);
	bad |= str_at(d, "ecs.version", "8.11.0", x->name);
	bad |= str_at(d, "event.kind", "event", x->name);
	bad |= keywords_at(d, "event.category", categories, x->name);
	bad |= keywords_at(d, "event.type", types, x->name);
	bad |= str_at(d, "event.action", x->action, x->name);
	bad |= str_at(d, "event.outcome", x->outcome, x->name);
	bad |= str_at(d, "event.id", id, x->name);
	bad |= int_at(d, "event.sequence", (long long)ev->seq, x->name);
	bad |= str_at(d, "event.dataset", dataset, x->name);
	bad |= str_at(d, "event.module", "ebpf_netmon", x->name);
	bad |= str_at(d, "host.name", "edge-17", x->name);
	bad |= !in_list(json_string_value(at(d, "network.direction")), directions);
	bad |= str_at(d, "network.direction", x->direction, x->name);
	if (x->src_ip) {
		bad |= str_at(d, "source.ip", x->src_ip, x->name);
		bad |= x->src_port >= 0 && int_at(d, "source.port", x->src_port, x->name);
	} else {
		bad |= at(d, "source.ip") != NULL;
	}
	if (x->dst_ip) {
		bad |= str_at(d, "destination.ip", x->dst_ip, x->name);
		bad |= int_at(d, "destination.port", x->dst_port, x->name);
	}
	if (x->dst_ip || x->src_ip) {
		bad |= str_at(d, "network.transport", NULL, x->name);
		bad |= str_at(d, "network.iana_number", NULL,
			      x->name); /* a keyword, not a number */
		bad |= str_at(d, "network.type", NULL, x->name);
	}
	if (x->task) {
		bad |= int_at(d, "process.pid", 4242, x->name);
		bad |= int_at(d, "process.thread.id", 4243, x->name);
		bad |= str_at(d, "process.name", "cu\xc3\xbfrl", x->name);
		bad |= str_at(d, "user.id", "1000", x->name); /* a keyword */
	} else {
		bad |= at(d, "process") != NULL || at(d, "user") != NULL;
	}
	/* native fields ECS has no place for */
	bad |= int_at(d, "ebpf_netmon.seq", (long long)ev->seq, x->name);
	bad |= str_at(d, "ebpf_netmon.type", ev->type->name, x->name);
	bad |= at(d, "ebpf_netmon.id") != NULL; /* mapped: event.id */
	bad |= at(d, "ebpf_netmon.source_ip") != NULL;
	if (bad)
		fprintf(stderr, "ECS %s: %s\n", x->name, json_dumps(d, JSON_COMPACT));
	CHECK(!bad);
}

static void check_ocsf(json_t *d, const struct expect *x, const struct nm_event *ev)
{
	char id[NM_EVENT_ID_LEN];
	int bad = 0;
	json_t *dir;

	nm_event_id(ev, id);
	bad |= int_at(d, "class_uid", 4001, x->name);
	bad |= int_at(d, "category_uid", 4, x->name);
	bad |= int_at(d, "activity_id", x->activity_id, x->name);
	bad |= int_at(d, "type_uid", 400100 + x->activity_id, x->name);
	bad |= int_at(d, "severity_id", 1, x->name);
	bad |= int_at(d, "time", WALL_NS / 1000000, x->name);
	bad |= int_at(d, "status_id", x->status_id, x->name);
	bad |= str_at(d, "metadata.version", "1.1.0", x->name);
	bad |= str_at(d, "metadata.product.name", "ebpf-netmon", x->name);
	bad |= str_at(d, "metadata.product.vendor_name", "ebpf-netmon", x->name);
	bad |= str_at(d, "metadata.product.version", NULL, x->name);
	bad |= str_at(d, "metadata.uid", id, x->name);
	bad |= int_at(d, "connection_info.direction_id", x->direction_id, x->name);
	dir = at(d, "connection_info.direction");
	bad |= !json_is_string(dir);
	bad |= !at(d, "src_endpoint") && !at(d, "dst_endpoint"); /* at least one */
	if (x->src_ip) {
		bad |= str_at(d, "src_endpoint.ip", x->src_ip, x->name);
		bad |= x->src_port >= 0 && int_at(d, "src_endpoint.port", x->src_port, x->name);
	}
	if (x->dst_ip) {
		bad |= str_at(d, "dst_endpoint.ip", x->dst_ip, x->name);
		bad |= int_at(d, "dst_endpoint.port", x->dst_port, x->name);
		bad |= str_at(d, "connection_info.protocol_name", NULL, x->name);
		bad |= int_at(d, "connection_info.protocol_num", -1, x->name);
	}
	if (x->task) {
		bad |= int_at(d, "actor.process.pid", 4242, x->name);
		bad |= str_at(d, "actor.process.name", "cu\xc3\xbfrl", x->name);
		bad |= str_at(d, "actor.process.user.uid", "1000", x->name);
	}
	bad |= int_at(d, "unmapped.seq", (long long)ev->seq, x->name);
	if (bad)
		fprintf(stderr, "OCSF %s: %s\n", x->name, json_dumps(d, JSON_COMPACT));
	CHECK(!bad);
}

/* Values the schemas give beyond the common checks, per sample. */
static void check_specifics(void)
{
	json_t *d;

	/* an AF_UNIX connect: its path is the destination's address, no transport */
	d = encode_json(&samples[3], NM_SCHEMA_ECS);
	CHECK(d && !strcmp(json_string_value(at(d, "destination.address")) ?: "", "/run/x.sock"));
	CHECK(d && !at(d, "network.transport") &&
	      !strcmp(json_string_value(at(d, "error.code")) ?: "", "ENOENT"));
	json_decref(d);
	d = encode_json(&samples[3], NM_SCHEMA_OCSF);
	CHECK(d && !strcmp(json_string_value(at(d, "dst_endpoint.name")) ?: "", "/run/x.sock"));
	json_decref(d);

	/* in progress is no error: the native field stays among the extras */
	d = encode_json(&samples[2], NM_SCHEMA_ECS);
	CHECK(d && !at(d, "error") &&
	      !strcmp(json_string_value(at(d, "ebpf_netmon.error")) ?: "", "EINPROGRESS"));
	json_decref(d);

	/* an inbound close: bytes from the initiator (the peer) are what the agent received */
	d = encode_json(&samples[7], NM_SCHEMA_ECS);
	CHECK(d && json_integer_value(at(d, "source.bytes")) == 1 << 20);
	CHECK(d && json_integer_value(at(d, "destination.bytes")) == 512 * 1024);
	CHECK(d && json_integer_value(at(d, "network.bytes")) == (1 << 20) + 512 * 1024);
	CHECK(d && json_integer_value(at(d, "event.duration")) == 2500000000LL);
	CHECK(d && !strcmp(json_string_value(at(d, "network.iana_number")) ?: "", "6"));
	json_decref(d);
	d = encode_json(&samples[7], NM_SCHEMA_OCSF);
	CHECK(d && json_integer_value(at(d, "traffic.bytes_out")) == 1 << 20);
	CHECK(d && json_integer_value(at(d, "traffic.bytes_in")) == 512 * 1024);
	CHECK(d && json_integer_value(at(d, "duration")) == 2500);
	json_decref(d);

	/* refused: the kernel's errno is the status code */
	d = encode_json(&samples[5], NM_SCHEMA_OCSF);
	CHECK(d && !strcmp(json_string_value(at(d, "status_code")) ?: "", "ECONNREFUSED"));
	CHECK(d && !strcmp(json_string_value(at(d, "activity_name")) ?: "", "Refuse"));
	json_decref(d);

	/* a drop before the IP header: the interface stands for the endpoint */
	d = encode_json(&samples[10], NM_SCHEMA_OCSF);
	CHECK(d && !strcmp(json_string_value(at(d, "dst_endpoint.interface_uid")) ?: "", "1"));
	CHECK(d && !strcmp(json_string_value(at(d, "status_code")) ?: "", "NO_SOCKET"));
	json_decref(d);
	d = encode_json(&samples[9], NM_SCHEMA_ECS);
	CHECK(d && !strcmp(json_string_value(at(d, "event.reason")) ?: "", "NO_SOCKET"));
	CHECK(d &&
	      !strcmp(json_string_value(at(d, "ebpf_netmon.location")) ?: "", "tcp_v4_rcv+0x1a0"));
	json_decref(d);
}

/* The agent's loss report: ECS metric, OCSF Base Event. */
static void check_loss(void)
{
	struct nm_event ev;
	json_t *d;

	base_event(&ev, &loss_type, 99, false);
	d = encode_json(&ev, NM_SCHEMA_ECS);
	CHECK(d && !strcmp(json_string_value(at(d, "event.kind")) ?: "", "metric"));
	CHECK(d && json_integer_value(at(d, "ebpf_netmon.lost")) == 12);
	CHECK(d && !at(d, "network"));
	json_decref(d);
	d = encode_json(&ev, NM_SCHEMA_OCSF);
	CHECK(d && json_is_integer(at(d, "class_uid")) &&
	      json_integer_value(at(d, "class_uid")) == 0);
	CHECK(d && json_integer_value(at(d, "type_uid")) == 99);
	CHECK(d && json_integer_value(at(d, "time")) == WALL_NS / 1000000);
	CHECK(d && strstr(json_string_value(at(d, "message")) ?: "", "lost 12 events"));
	CHECK(d && !strcmp(json_string_value(at(d, "metadata.version")) ?: "", "1.1.0"));
	json_decref(d);
}

/* Fields as a replayed record may hold them (input: a spool is a file): still valid documents. */
static void hostile_fields(const void *ctx, struct nm_writer *w)
{
	char big[9000];

	(void)ctx;
	memset(big, 'x', sizeof(big));
	nm_w_begin(w);
	nm_w_str(w, "type", "conn\xff\0ection\"", 13);
	nm_w_cstr(w, "time", "2024-02-29T23:59:59.999999999Z");
	nm_w_cstr(w, "seq", "not a number");
	nm_w_i64(w, "pid", -5);
	nm_w_u64(w, "tid", UINT64_MAX);
	nm_w_str(w, "cgroup", big, sizeof(big)); /* past the capture's room: left out */
	nm_w_cstr(w, "source_ip", "\x01\\\"");
	nm_w_map(w, "nested");
	nm_w_u64(w, "deep", 1);
	nm_w_end_nested(w);
	nm_w_double(w, "ratio", 0.5);
	for (int i = 0; i < 100; i++)
		nm_w_u64(w, "many", (uint64_t)i); /* more fields than the capture holds */
	nm_w_end(w);
}

static void bad_time_fields(const void *ctx, struct nm_writer *w)
{
	(void)ctx;
	nm_w_begin(w);
	nm_w_cstr(w, "type", "udp_send");
	nm_w_cstr(w, "time", "2024-13-99T99:99:99.xZ");
	nm_w_end(w);
}

static void check_hostile(void)
{
	for (int schema = NM_SCHEMA_ECS; schema <= NM_SCHEMA_OCSF; schema++) {
		struct nm_buf out = {0};
		json_t *d;

		nm_siem_encode(schema, hostile_fields, NULL, NM_FORMAT_JSON, &out);
		d = json_loadb((const char *)out.data, out.len,
			       JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
		CHECK(d != NULL);
		/* 2024-02-29T23:59:59.999Z: a leap day, milliseconds truncated */
		if (schema == NM_SCHEMA_OCSF)
			CHECK(d && json_integer_value(at(d, "time")) == 1709251199999LL);
		CHECK(d &&
		      !at(d, schema == NM_SCHEMA_ECS ? "ebpf_netmon.cgroup" : "unmapped.cgroup"));
		json_decref(d);
		nm_siem_encode(schema, bad_time_fields, NULL, NM_FORMAT_MSGPACK, &out);
		CHECK(out.len > 0 && !out.oom);
		nm_siem_encode(schema, bad_time_fields, NULL, NM_FORMAT_JSON, &out);
		d = json_loadb((const char *)out.data, out.len, 0, NULL);
		CHECK(d != NULL);
		if (schema == NM_SCHEMA_OCSF)
			CHECK(d && json_integer_value(at(d, "time")) == 0);
		else
			CHECK(d &&
			      !at(d, "@timestamp")); /* rather none than a date that is not one */
		json_decref(d);
		nm_buf_free(&out);
	}
}

/* Native stays what it was: the same bytes as the encoder's own, in both formats. */
static void check_native(const struct nm_event *ev)
{
	for (int f = 0; f < NM_FORMAT_COUNT; f++) {
		struct nm_buf a = {0}, b = {0};

		nm_event_encode(ev, f, &a);
		nm_msg_encode(ev, nm_encoding(f, NM_SCHEMA_NATIVE), &b);
		CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len));
		nm_buf_free(&a);
		nm_buf_free(&b);
	}
}

/* A spool gives back an ECS/OCSF sink's bytes as they were, and maps anew on a schema change. */
static void check_spool(const char *dir)
{
	const unsigned ecs_json = nm_encoding(NM_FORMAT_JSON, NM_SCHEMA_ECS);
	const unsigned ocsf_mp = nm_encoding(NM_FORMAT_MSGPACK, NM_SCHEMA_OCSF);
	struct nm_buf bufs[NM_ENCODING_COUNT] = {{0}};
	struct nm_buf *enc[NM_ENCODING_COUNT] = {NULL};
	char err[256];
	struct nm_spool *s = nm_spool_open(dir, 1 << 22, err, sizeof(err));
	nm_spool_pos pos;
	uint64_t corrupt = 0;

	CHECK(s != NULL);
	if (!s)
		return;
	for (int i = 0; i < NSAMPLES; i++) {
		struct nm_msg *m;

		memset(enc, 0, sizeof(enc));
		for (unsigned e = 0; e < NM_ENCODING_COUNT; e++) {
			/* every other event also with the native MessagePack another sink wants */
			if (e != ecs_json && e != ocsf_mp && !(i % 2 && e == NM_FORMAT_MSGPACK))
				continue;
			nm_msg_encode(&samples[i], e, &bufs[e]);
			enc[e] = &bufs[e];
		}
		m = nm_msg_new_enc(&samples[i], enc, 1);
		CHECK(m && !nm_spool_append(s, m, ecs_json, false));
		CHECK(m && !nm_spool_append(s, m, ocsf_mp, false));
		nm_msg_unref(m);
	}
	nm_spool_close(s);

	s = nm_spool_open(dir, 1 << 22, err, sizeof(err));
	CHECK(s != NULL);
	for (int i = 0; s && i < NSAMPLES; i++) {
		/* the ECS record as is; the OCSF one read by a sink now on ECS MessagePack */
		const unsigned want[2] = {ecs_json, nm_encoding(NM_FORMAT_MSGPACK, NM_SCHEMA_ECS)};

		for (int k = 0; k < 2; k++) {
			struct nm_msg *m = NULL;
			struct nm_buf live = {0};
			struct nm_buf native = {0}, replayed = {0};
			struct nm_writer w;

			CHECK_EQ_INT(nm_spool_read(s, want[k], &m, &pos, &corrupt), 1);
			if (!m)
				continue;
			nm_msg_encode(&samples[i], want[k], &live);
			CHECK_EQ_INT(m->len[want[k]], live.len);
			CHECK(m->len[want[k]] == live.len &&
			      !memcmp(m->data[want[k]], live.data, live.len));
			CHECK_EQ_STR(m->type, samples[i].type->name);
			/* templates still walk the native fields */
			nm_event_encode(&samples[i], NM_FORMAT_MSGPACK, &native);
			nm_writer_init(&w, NM_FORMAT_MSGPACK, &replayed);
			m->write_fields(m->fields_ctx, &w);
			CHECK(native.len == replayed.len &&
			      !memcmp(native.data, replayed.data, native.len));
			nm_buf_free(&live);
			nm_buf_free(&native);
			nm_buf_free(&replayed);
			nm_msg_unref(m);
		}
	}
	CHECK_EQ_INT(corrupt, 0);
	nm_spool_close(s);
	for (unsigned e = 0; e < NM_ENCODING_COUNT; e++)
		nm_buf_free(&bufs[e]);
}

/* What a mapping costs beside the native encoding, per event (printed, not asserted). */
static void measure(void)
{
	struct nm_buf out = {0};
	const int rounds = 20000;

	for (unsigned e = 0; e < NM_ENCODING_COUNT; e++) {
		double best = 1e18;

		/* the best of a few runs: the machine is shared */
		for (int run = 0; run < 7; run++) {
			struct timespec a, b;
			double ns;

			clock_gettime(CLOCK_MONOTONIC, &a);
			for (int r = 0; r < rounds; r++)
				nm_msg_encode(&samples[r % NSAMPLES], e, &out);
			clock_gettime(CLOCK_MONOTONIC, &b);
			ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / rounds;
			best = ns < best ? ns : best;
		}
		printf("%s %s: %.0f ns/event\n", nm_schema_names[nm_encoding_schema(e)],
		       nm_format_name(nm_encoding_format(e)), best);
	}
	nm_buf_free(&out);
}

int main(void)
{
	char dir[] = "/tmp/nm-siem-test.XXXXXX", sub[300], cmd[400];

	make_samples();
	for (int i = 0; i < NSAMPLES; i++) {
		for (int schema = NM_SCHEMA_ECS; schema <= NM_SCHEMA_OCSF; schema++) {
			json_t *j = encode_json(&samples[i], schema);
			json_t *m = encode_msgpack(&samples[i], schema);

			CHECK(j != NULL && m != NULL);
			/* one document, whichever the format */
			CHECK(j && m && json_equal(j, m));
			if (j && schema == NM_SCHEMA_ECS)
				check_ecs(j, &expects[i], &samples[i]);
			if (j && schema == NM_SCHEMA_OCSF)
				check_ocsf(j, &expects[i], &samples[i]);
			json_decref(j);
			json_decref(m);
		}
		check_native(&samples[i]);
	}
	check_specifics();
	check_loss();
	check_hostile();
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sub, sizeof(sub), "%s/spool", dir);
	check_spool(sub);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	measure();
	CHECK_DONE();
}

/* test_decode.c - ring records are checked (length, version, type) before anything is read. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <jansson.h>

#include "check.h"
#include "bpf/connection.h"
#include "bpf/udp_send.h"
#include "src/event.h"
#include "src/program.h"

extern const struct nm_program_type nm_program_connection;
extern const struct nm_program_type nm_program_udp_send;

static struct nm_connection_record valid_record(void)
{
	struct nm_connection_record r;

	memset(&r, 0, sizeof(r));
	r.hdr.version = NM_RECORD_VERSION;
	r.hdr.type = NM_REC_CONNECTION;
	r.hdr.len = sizeof(r);
	r.hdr.timestamp_ns = 5000;
	r.hdr.pid = 100;
	r.hdr.tid = 101;
	r.hdr.uid = 1000;
	r.hdr.flags = NM_REC_F_TASK;
	r.hdr.cgroup_id = 7;
	memcpy(r.hdr.comm, "curl", 4);
	r.c.family = AF_INET6;
	r.c.protocol = 17; /* UDP, whatever the port says */
	r.c.sock_type = SOCK_DGRAM;
	r.c.dport = 53;
	r.c.ret = -111;
	r.c.conn_flags = NM_CONN_F_PROTO_KNOWN;
	r.c.daddr[15] = 1; /* ::1 */
	return r;
}

static int decode(struct nm_program *p, const void *data, size_t size, struct nm_event *ev)
{
	memset(ev, 0xa5, sizeof(*ev));
	return nm_program_decode(p, data, size, ev);
}

/* @ev as the JSON a sink would get, parsed back; NULL if it is not valid JSON. */
static json_t *as_json(struct nm_event *ev, uint64_t seq)
{
	struct nm_buf out = {0};
	json_t *root;

	ev->host = "h";
	ev->seq = seq;
	ev->run_id = 1;
	nm_event_encode(ev, NM_FORMAT_JSON, &out);
	root = json_loadb((const char *)out.data, out.len, 0, NULL);
	nm_buf_free(&out);
	return root;
}

static void test_valid(struct nm_program *p)
{
	struct nm_connection_record r = valid_record();
	struct nm_event ev;
	json_t *root;

	CHECK_EQ_INT(decode(p, &r, sizeof(r), &ev), 0);
	CHECK_EQ_INT(ev.pid, 100);
	CHECK_EQ_INT(ev.tid, 101);
	CHECK_EQ_INT(ev.uid, 1000);
	CHECK(ev.has_task);
	CHECK(ev.type == &nm_program_connection);
	root = as_json(&ev, 1);
	CHECK(root != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(root, "protocol")), "udp");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "family")), "ipv6");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "destination_ip")), "::1");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "destination")), "[::1]:53");
	CHECK_EQ_INT(json_integer_value(json_object_get(root, "destination_port")), 53);
	CHECK_EQ_INT(json_integer_value(json_object_get(root, "return_code")), -111);
	CHECK_EQ_STR(json_string_value(json_object_get(root, "error")), "ECONNREFUSED");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "command")), "curl");
	CHECK(json_is_null(json_object_get(root, "source_ip")));
	json_decref(root);
	/* a longer ring sample (padding) is fine: the header's length is what counts */
	{
		unsigned char big[sizeof(r) + 8] = {0};

		memcpy(big, &r, sizeof(r));
		CHECK_EQ_INT(decode(p, big, sizeof(big), &ev), 0);
	}
}

static void test_refused(struct nm_program *p)
{
	struct nm_connection_record r = valid_record();
	uint64_t before = atomic_load(&p->decode_errors);
	unsigned char garbage[sizeof(r)];
	struct nm_event ev;
	int refused = 0;

	/* short: every truncation, down to nothing */
	for (size_t n = 0; n < sizeof(r); n += 7, refused++)
		CHECK_EQ_INT(decode(p, &r, n, &ev), -EBADMSG);
	r.hdr.version = NM_RECORD_VERSION + 1;
	CHECK_EQ_INT(decode(p, &r, sizeof(r), &ev), -EBADMSG);
	refused++;
	r = valid_record();
	r.hdr.type = NM_REC_PACKET_DROP;
	CHECK_EQ_INT(decode(p, &r, sizeof(r), &ev), -EBADMSG);
	refused++;
	r = valid_record();
	r.hdr.len = sizeof(r) - 1;
	CHECK_EQ_INT(decode(p, &r, sizeof(r), &ev), -EBADMSG);
	refused++;
	r.hdr.len = sizeof(r) + 64; /* claims more than the sample holds */
	CHECK_EQ_INT(decode(p, &r, sizeof(r), &ev), -EBADMSG);
	refused++;
	/* garbage: random bytes are refused unless they happen to form a valid header */
	srand(1);
	for (int i = 0; i < 10000; i++) {
		for (size_t k = 0; k < sizeof(garbage); k++)
			garbage[k] = (unsigned char)rand();
		if (decode(p, garbage, sizeof(garbage), &ev) == -EBADMSG)
			refused++;
	}
	CHECK_EQ_INT(atomic_load(&p->decode_errors) - before, refused);
	CHECK(refused >= 10000);
}

/* A udp_send record: its fields, and the type check against another program's id. */
static void test_udp_send(void)
{
	struct nm_udp_send_record r;
	struct nm_program p;
	struct nm_event ev;
	json_t *root;

	memset(&p, 0, sizeof(p));
	p.type = &nm_program_udp_send;
	memset(&r, 0, sizeof(r));
	r.hdr.version = NM_RECORD_VERSION;
	r.hdr.type = NM_REC_UDP_SEND;
	r.hdr.len = sizeof(r);
	r.hdr.pid = 42;
	r.hdr.flags = NM_REC_F_TASK;
	memcpy(r.hdr.comm, "dig", 3);
	r.u.socket_cookie = 0x123456789abcULL;
	r.u.netns = 4026531840u;
	r.u.family = AF_INET;
	r.u.protocol = 17;
	r.u.dport = 53;
	r.u.sport = 40000;
	r.u.send_flags = NM_UDP_F_SOURCE_KNOWN;
	memcpy(r.u.daddr, "\x0a\x00\x00\x35", 4); /* 10.0.0.53 */
	CHECK_EQ_INT(decode(&p, &r, sizeof(r), &ev), 0);
	CHECK(ev.type == &nm_program_udp_send && ev.pid == 42);
	root = as_json(&ev, 1);
	CHECK(root != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(root, "type")), "udp_send");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "protocol")), "udp");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "family")), "ipv4");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "destination")), "10.0.0.53:53");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "source")), "0.0.0.0:40000");
	CHECK_EQ_INT(json_integer_value(json_object_get(root, "socket_cookie")), 0x123456789abcLL);
	CHECK_EQ_INT(json_integer_value(json_object_get(root, "netns")), 4026531840LL);
	json_decref(root);

	r.u.send_flags = 0; /* no local port yet: the source is unknown, not 0.0.0.0:0 */
	CHECK_EQ_INT(decode(&p, &r, sizeof(r), &ev), 0);
	root = as_json(&ev, 2);
	CHECK(root != NULL && json_is_null(json_object_get(root, "source")));
	CHECK(root != NULL && json_is_null(json_object_get(root, "source_port")));
	json_decref(root);

	/* right length and version, another program's id: refused */
	r.hdr.type = NM_REC_CONNECTION;
	CHECK_EQ_INT(decode(&p, &r, sizeof(r), &ev), -EBADMSG);
	r.hdr.type = NM_REC_NONE;
	CHECK_EQ_INT(decode(&p, &r, sizeof(r), &ev), -EBADMSG);
	CHECK_EQ_INT(atomic_load(&p.decode_errors), 2);
}

/* Record ids follow the program list, so the registry and both halves agree. */
static void test_registry(void)
{
	size_t n = 0;

	for (const struct nm_program_type *const *t = nm_program_types; *t; t++, n++) {
		CHECK_EQ_INT((*t)->record_type, n + 1);
		CHECK(nm_program_type_find((*t)->name) == *t);
	}
	CHECK_EQ_INT(n, NM_REC_COUNT - 1);
	CHECK(nm_program_type_find("udp_send") == &nm_program_udp_send);
}

int main(void)
{
	struct nm_program p;

	memset(&p, 0, sizeof(p));
	p.type = &nm_program_connection;
	test_valid(&p);
	test_refused(&p);
	test_udp_send();
	test_registry();
	CHECK_DONE();
}

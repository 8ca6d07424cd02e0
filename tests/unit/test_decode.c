/* test_decode.c - ring records are checked (length, version, type) before anything is read. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <jansson.h>

#include "check.h"
#include "bpf/connection.h"
#include "src/event.h"
#include "src/program.h"

extern const struct nm_program_type nm_program_connection;

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

static void test_valid(struct nm_program *p)
{
	struct nm_connection_record r = valid_record();
	struct nm_buf out = { 0 };
	struct nm_event ev;
	json_t *root;

	CHECK_EQ_INT(decode(p, &r, sizeof(r), &ev), 0);
	CHECK_EQ_INT(ev.pid, 100);
	CHECK_EQ_INT(ev.tid, 101);
	CHECK_EQ_INT(ev.uid, 1000);
	CHECK(ev.has_task);
	CHECK(ev.type == &nm_program_connection);
	ev.host = "h";
	ev.seq = 1;
	ev.run_id = 1;
	nm_event_encode(&ev, NM_FORMAT_JSON, &out);
	root = json_loadb((const char *)out.data, out.len, 0, NULL);
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
	nm_buf_free(&out);
	/* a longer ring sample (padding) is fine: the header's length is what counts */
	{
		unsigned char big[sizeof(r) + 8] = { 0 };

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

int main(void)
{
	struct nm_program p;

	memset(&p, 0, sizeof(p));
	p.type = &nm_program_connection;
	test_valid(&p);
	test_refused(&p);
	CHECK_DONE();
}

/* test_encode.c - JSON and MessagePack encoders: hostile strings, round trips, identical keys. */
#include <stdint.h>
#include <string.h>
#include <jansson.h>
#include <msgpack.h>

#include "check.h"
#include "src/event.h"
#include "src/program.h"
#include "src/writer.h"

/* A program type whose body is one string field, to exercise the encoders alone. */
static void sample_write(const struct nm_event *ev, struct nm_writer *w)
{
	nm_w_i64(w, "negative", -111);
	nm_w_u64(w, "big", UINT64_MAX);
	nm_w_bool(w, "flag", true);
	nm_w_str(w, "raw", (const char *)ev->body + 1, ev->body[0]);
}

static const struct nm_program_type sample_type = {
	.name = "sample",
	.write_fields = sample_write,
};

static void make_event(struct nm_event *ev, const uint8_t *comm, size_t comm_len)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = &sample_type;
	ev->seq = 42;
	ev->timestamp_ns = 123456789;
	ev->wall_ns = 1764077439123456789LL;
	ev->has_task = true;
	ev->pid = 7;
	ev->tid = 8;
	ev->uid = 0;
	ev->cgroup_id = 99;
	memcpy(ev->command, comm, comm_len);
	ev->run_id = 0x0123456789abcdefULL; /* with seq 42: the id below */
	ev->host = "edge-17";
	ev->body[0] = (unsigned char)comm_len;
	memcpy(ev->body + 1, comm, comm_len);
}

/* The code points a byte string decodes to under the encoders' rule. */
static size_t expected_utf8(const uint8_t *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t n = nm_utf8_valid_seq(s + i, len - i);

		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			out[o++] = (char)(0xc0 | (s[i] >> 6));
			out[o++] = (char)(0x80 | (s[i] & 0x3f));
			i++;
		}
	}
	out[o] = '\0';
	return o;
}

static void check_json_round_trip(const uint8_t *comm, size_t len)
{
	struct nm_buf out = { 0 };
	struct nm_event ev;
	json_error_t jerr;
	json_t *root;
	char want[64];
	size_t want_len = expected_utf8(comm, len, want);

	make_event(&ev, comm, len);
	nm_event_encode(&ev, NM_FORMAT_JSON, &out);
	/*
	 * jansson rejects invalid UTF-8 and bad escapes: a strict, independent
	 * parser. It holds integers as int64, so 2^64-1 is read as a real.
	 */
	root = json_loadb((const char *)out.data, out.len,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
	CHECK(root != NULL);
	if (!root) {
		fprintf(stderr, "  byte 0x%02x: %s in %.*s\n", comm[1], jerr.text, (int)out.len,
			out.data);
		goto out;
	}
	CHECK(json_string_length(json_object_get(root, "command")) == want_len);
	CHECK(!memcmp(json_string_value(json_object_get(root, "command")), want, want_len));
	CHECK(json_string_length(json_object_get(root, "raw")) == want_len);
	CHECK(json_number_value(json_object_get(root, "negative")) == -111.0);
	CHECK(json_is_true(json_object_get(root, "flag")));
	CHECK_EQ_STR(json_string_value(json_object_get(root, "time")),
		     "2025-11-25T13:30:39.123456789Z");
	CHECK_EQ_STR(json_string_value(json_object_get(root, "type")), "sample");
	json_decref(root);
out:
	nm_buf_free(&out);
}

/* Every single byte value, alone and between ASCII, gives valid JSON that decodes back. */
static void test_json_every_byte(void)
{
	for (int b = 1; b < 256; b++) {
		uint8_t comm[3] = { 'a', (uint8_t)b, 'z' };

		check_json_round_trip(comm, sizeof(comm));
		check_json_round_trip(comm + 1, 1);
		/* in a longer string too, where plain text is scanned a word at a time */
		for (int at = 0; at < 15; at += 7) {
			uint8_t longer[15];

			memset(longer, 'x', sizeof(longer));
			longer[at] = (uint8_t)b;
			check_json_round_trip(longer, sizeof(longer));
		}
	}
	/* valid multi-byte UTF-8 passes through; truncated sequences and overlongs do not */
	check_json_round_trip((const uint8_t *)"caf\xc3\xa9", 5);
	check_json_round_trip((const uint8_t *)"\xe2\x82", 2);
	check_json_round_trip((const uint8_t *)"\xc0\xaf\xed\xa0\x80", 5);
	check_json_round_trip((const uint8_t *)"\"\\\n\t\x7f/", 6);
	check_json_round_trip((const uint8_t *)"0123456789abcdef", 16);
}

static void test_json_shape(void)
{
	struct nm_buf out = { 0 };
	struct nm_event ev;

	make_event(&ev, (const uint8_t *)"curl", 4);
	nm_event_encode(&ev, NM_FORMAT_JSON, &out);
	nm_buf_putc(&out, '\0');
	CHECK_EQ_STR((const char *)out.data,
		     "{\"id\":\"0123456789abcdef-000000000000002a\",\"seq\":42,\"type\":\"sample\","
		     "\"host\":\"edge-17\",\"timestamp_ns\":123456789,"
		     "\"time\":\"2025-11-25T13:30:39.123456789Z\",\"pid\":7,\"tid\":8,\"uid\":0,"
		     "\"command\":\"curl\",\"cgroup_id\":99,\"negative\":-111,"
		     "\"big\":18446744073709551615,\"flag\":true,\"raw\":\"curl\"}");
	/* no task: process fields are null, never zero */
	ev.has_task = false;
	nm_event_encode(&ev, NM_FORMAT_JSON, &out);
	nm_buf_putc(&out, '\0');
	CHECK(strstr((const char *)out.data, "\"pid\":null,\"tid\":null,\"uid\":null,"
					     "\"command\":null,\"cgroup_id\":null") != NULL);
	nm_buf_free(&out);
}

/* Same keys in the same order, same values, through msgpack-c's own unpacker. */
static void test_msgpack_round_trip(void)
{
	static const uint8_t hostile[] = { 'x', 0xff, '/', '#', 0xc3, 0xa9, '"' };
	struct nm_buf mp = { 0 }, js = { 0 };
	msgpack_unpacked up;
	struct nm_event ev;
	json_t *root;
	size_t off = 0;
	const char *key;
	json_t *val;
	uint32_t i = 0;
	char want[64];
	size_t want_len = expected_utf8(hostile, sizeof(hostile), want);

	make_event(&ev, hostile, sizeof(hostile));
	nm_event_encode(&ev, NM_FORMAT_MSGPACK, &mp);
	nm_event_encode(&ev, NM_FORMAT_JSON, &js);
	root = json_loadb((const char *)js.data, js.len,
			  JSON_PRESERVE_ORDER | JSON_DECODE_INT_AS_REAL, NULL);
	CHECK(root != NULL);

	msgpack_unpacked_init(&up);
	CHECK_EQ_INT(msgpack_unpack_next(&up, (const char *)mp.data, mp.len, &off),
		     MSGPACK_UNPACK_SUCCESS);
	CHECK_EQ_INT(off, mp.len);
	CHECK_EQ_INT(up.data.type, MSGPACK_OBJECT_MAP);
	CHECK_EQ_INT(up.data.via.map.size, json_object_size(root));
	json_object_foreach(root, key, val)
	{
		msgpack_object_kv *kv = &up.data.via.map.ptr[i++];
		msgpack_object *v = &kv->val;

		CHECK_EQ_INT(kv->key.type, MSGPACK_OBJECT_STR);
		CHECK(kv->key.via.str.size == strlen(key) &&
		      !memcmp(kv->key.via.str.ptr, key, strlen(key)));
		if (json_is_string(val)) {
			CHECK_EQ_INT(v->type, MSGPACK_OBJECT_STR);
			CHECK(v->via.str.size == json_string_length(val) &&
			      !memcmp(v->via.str.ptr, json_string_value(val), v->via.str.size));
		} else if (json_is_number(val) && json_number_value(val) < 0) {
			CHECK_EQ_INT(v->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
			CHECK(v->via.i64 == (int64_t)json_number_value(val));
		} else if (json_is_true(val)) {
			CHECK(v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean);
		} else if (json_is_null(val)) {
			CHECK_EQ_INT(v->type, MSGPACK_OBJECT_NIL);
		} else {
			CHECK_EQ_INT(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
		}
	}
	/* jansson cannot hold 2^64-1; check it on the msgpack side directly */
	for (uint32_t k = 0; k < up.data.via.map.size; k++) {
		msgpack_object_kv *kv = &up.data.via.map.ptr[k];

		if (kv->key.via.str.size == 3 && !memcmp(kv->key.via.str.ptr, "big", 3))
			CHECK(kv->val.via.u64 == UINT64_MAX);
		if (kv->key.via.str.size == 7 && !memcmp(kv->key.via.str.ptr, "command", 7))
			CHECK(kv->val.via.str.size == want_len &&
			      !memcmp(kv->val.via.str.ptr, want, want_len));
	}
	msgpack_unpacked_destroy(&up);
	json_decref(root);
	nm_buf_free(&mp);
	nm_buf_free(&js);
}

static void test_rfc3339(void)
{
	char out[40];

	nm_format_rfc3339(0, out, sizeof(out));
	CHECK_EQ_STR(out, "1970-01-01T00:00:00.000000000Z");
	nm_format_rfc3339(1000000001LL, out, sizeof(out));
	CHECK_EQ_STR(out, "1970-01-01T00:00:01.000000001Z");
	nm_format_rfc3339(-1, out, sizeof(out));
	CHECK_EQ_STR(out, "1969-12-31T23:59:59.999999999Z");
}

int main(void)
{
	test_json_every_byte();
	test_json_shape();
	test_msgpack_round_trip();
	test_rfc3339();
	CHECK_DONE();
}

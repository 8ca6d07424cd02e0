/* test_encode.c - JSON and MessagePack encoders: hostile strings, round trips, nested documents. */
#include <math.h>
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
	struct nm_buf out = {0};
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
		uint8_t comm[3] = {'a', (uint8_t)b, 'z'};

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
	struct nm_buf out = {0};
	struct nm_event ev;

	make_event(&ev, (const uint8_t *)"curl", 4);
	nm_event_encode(&ev, NM_FORMAT_JSON, &out);
	nm_buf_putc(&out, '\0');
	CHECK_EQ_STR((const char *)out.data,
		     "{\"id\":\"0123456789abcdef-000000000000002a\",\"seq\":42,\"type\":\"sample\","
		     "\"host\":\"edge-17\",\"timestamp_ns\":123456789,"
		     "\"time\":\"2025-11-25T13:30:39.123456789Z\",\"pid\":7,\"tid\":8,\"uid\":0,"
		     "\"command\":\"curl\",\"cgroup_id\":99,\"cgroup\":null,\"container_id\":null,"
		     "\"container_runtime\":null,\"systemd_unit\":null,\"negative\":-111,"
		     "\"big\":18446744073709551615,\"flag\":true,\"raw\":\"curl\"}");
	/* no task: process fields are null, never zero */
	ev.has_task = false;
	nm_event_encode(&ev, NM_FORMAT_JSON, &out);
	nm_buf_putc(&out, '\0');
	CHECK(strstr((const char *)out.data, "\"pid\":null,\"tid\":null,\"uid\":null,"
					     "\"command\":null,\"cgroup_id\":null,\"cgroup\":null,"
					     "\"container_id\":null,\"container_runtime\":null,"
					     "\"systemd_unit\":null,") != NULL);
	nm_buf_free(&out);
}

/* Same keys in the same order, same values, through msgpack-c's own unpacker. */
static void test_msgpack_round_trip(void)
{
	static const uint8_t hostile[] = {'x', 0xff, '/', '#', 0xc3, 0xa9, '"'};
	struct nm_buf mp = {0}, js = {0};
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

/* ---- nested documents -------------------------------------------------------------------- */

#define LONG_KEY "a_key_much_longer_than_thirty_one_bytes_which_the_old_builder_cut"

/* One document using every kind of value and container; the same calls for both encoders. */
static void write_nested(struct nm_writer *w, const struct nm_event *ev)
{
	nm_w_begin(w);
	nm_w_cstr(w, "first", "top");
	nm_w_map(w, "outer");
	nm_w_map(w, "inner");
	nm_w_u64(w, "leaf", 1);
	nm_w_end_nested(w);
	nm_w_i64(w, "after_inner", -2);
	nm_w_end_nested(w);
	nm_w_map(w, "empty_map");
	nm_w_end_nested(w);
	nm_w_array(w, "empty_array");
	nm_w_end_nested(w);
	nm_w_array(w, "mixed");
	nm_w_u64(w, NULL, 1);
	nm_w_cstr(w, NULL, "two");
	nm_w_null(w, NULL);
	nm_w_bool(w, NULL, true);
	nm_w_i64(w, NULL, -3);
	nm_w_double(w, NULL, 0.5);
	nm_w_map(w, NULL);
	nm_w_end_nested(w);
	nm_w_array(w, NULL);
	nm_w_array(w, NULL);
	nm_w_u64(w, NULL, 7);
	nm_w_end_nested(w);
	nm_w_end_nested(w);
	nm_w_end_nested(w);
	nm_w_array(w, "maps");
	for (int i = 0; i < 20; i++) { /* past 15: not a fixarray's count */
		nm_w_map(w, NULL);
		nm_w_u64(w, "i", (uint64_t)i);
		nm_w_cstr(w, LONG_KEY, "long");
		nm_w_end_nested(w);
	}
	nm_w_end_nested(w);
	nm_w_array(w, "events");
	for (int i = 0; i < 2; i++) {
		nm_w_map(w, NULL);
		nm_event_fields(ev, w);
		nm_w_end_nested(w);
	}
	nm_w_end_nested(w);
	nm_w_cstr(w, LONG_KEY, "value of the long key");
	nm_w_double(w, "half", 1.5);
	nm_w_double(w, "negative_small", -0.000125);
	nm_w_double(w, "huge", 1e300);
	nm_w_double(w, "nan", NAN);
	nm_w_double(w, "infinity", INFINITY);
	nm_w_double(w, "minus_infinity", -INFINITY);
	nm_w_cstr(w, "last", "end");
	nm_w_end(w);
}

/* Whether @o (msgpack-c's decoding) holds the same as @j (jansson's), NaN and infinities aside. */
static bool same_value(const msgpack_object *o, const json_t *j)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_is_null(j);
	case MSGPACK_OBJECT_BOOLEAN:
		return json_is_boolean(j) && o->via.boolean == json_is_true(j);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_is_number(j) && (double)o->via.u64 == json_number_value(j);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_is_number(j) && (double)o->via.i64 == json_number_value(j);
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return json_is_null(j); /* JSON has no NaN or infinity */
		return json_is_number(j) && o->via.f64 == json_number_value(j);
	case MSGPACK_OBJECT_STR:
		return json_is_string(j) && o->via.str.size == json_string_length(j) &&
		       !memcmp(o->via.str.ptr, json_string_value(j), o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		if (!json_is_array(j) || o->via.array.size != json_array_size(j))
			return false;
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (!same_value(&o->via.array.ptr[i], json_array_get(j, i)))
				return false;
		return true;
	case MSGPACK_OBJECT_MAP: {
		const char *key;
		json_t *val;
		uint32_t i = 0;

		if (!json_is_object(j) || o->via.map.size != json_object_size(j))
			return false;
		json_object_foreach((json_t *)j, key, val)
		{
			const msgpack_object_kv *kv = &o->via.map.ptr[i++];

			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    kv->key.via.str.size != strlen(key) ||
			    memcmp(kv->key.via.str.ptr, key, strlen(key)) ||
			    !same_value(&kv->val, val))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/* The value under @key of msgpack map @m, or NULL. */
static const msgpack_object *mp_get(const msgpack_object *m, const char *key)
{
	if (m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    !memcmp(kv->key.via.str.ptr, key, strlen(key)))
			return &kv->val;
	}
	return NULL;
}

static json_t *load_json(const struct nm_buf *b)
{
	json_error_t jerr;
	json_t *root = json_loadb(
		(const char *)b->data, b->len,
		JSON_REJECT_DUPLICATES | JSON_PRESERVE_ORDER | JSON_DECODE_INT_AS_REAL, &jerr);

	if (!root)
		fprintf(stderr, "  %s in %.*s\n", jerr.text, (int)b->len, b->data);
	return root;
}

/* Through the JSON encoder: a strict parser accepts it, and every value is where it was put. */
static void test_nested_json(void)
{
	struct nm_buf out = {0};
	struct nm_writer w;
	struct nm_event ev;
	json_t *root, *v;

	make_event(&ev, (const uint8_t *)"curl", 4);
	nm_writer_init(&w, NM_FORMAT_JSON, &out);
	write_nested(&w, &ev);
	CHECK(!w.error);
	CHECK_EQ_INT(w.depth, 0);
	root = load_json(&out);
	CHECK(root != NULL);
	if (!root)
		goto out;
	CHECK_EQ_INT(json_object_size(root), 15);
	CHECK_EQ_STR(json_string_value(json_object_get(root, "first")), "top");
	v = json_object_get(root, "outer");
	CHECK(json_number_value(json_object_get(json_object_get(v, "inner"), "leaf")) == 1);
	CHECK(json_number_value(json_object_get(v, "after_inner")) == -2);
	CHECK(json_is_object(json_object_get(root, "empty_map")) &&
	      json_object_size(json_object_get(root, "empty_map")) == 0);
	CHECK(json_is_array(json_object_get(root, "empty_array")) &&
	      json_array_size(json_object_get(root, "empty_array")) == 0);
	v = json_object_get(root, "mixed");
	CHECK_EQ_INT(json_array_size(v), 8);
	CHECK(json_number_value(json_array_get(v, 0)) == 1);
	CHECK_EQ_STR(json_string_value(json_array_get(v, 1)), "two");
	CHECK(json_is_null(json_array_get(v, 2)));
	CHECK(json_is_true(json_array_get(v, 3)));
	CHECK(json_number_value(json_array_get(v, 4)) == -3);
	CHECK(json_number_value(json_array_get(v, 5)) == 0.5);
	CHECK(json_object_size(json_array_get(v, 6)) == 0);
	CHECK(json_number_value(json_array_get(json_array_get(json_array_get(v, 7), 0), 0)) == 7);
	v = json_object_get(root, "maps");
	CHECK_EQ_INT(json_array_size(v), 20);
	for (size_t i = 0; i < json_array_size(v); i++) {
		CHECK(json_number_value(json_object_get(json_array_get(v, i), "i")) == (double)i);
		CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(v, i), LONG_KEY)),
			     "long");
	}
	v = json_object_get(root, "events");
	CHECK_EQ_INT(json_array_size(v), 2);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(v, 1), "command")), "curl");
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(v, 1), "id")),
		     "0123456789abcdef-000000000000002a");
	CHECK_EQ_STR(json_string_value(json_object_get(root, LONG_KEY)), "value of the long key");
	CHECK(json_number_value(json_object_get(root, "half")) == 1.5);
	CHECK(json_number_value(json_object_get(root, "negative_small")) == -0.000125);
	CHECK(json_number_value(json_object_get(root, "huge")) == 1e300);
	CHECK(json_is_null(json_object_get(root, "nan")));
	CHECK(json_is_null(json_object_get(root, "infinity")));
	CHECK(json_is_null(json_object_get(root, "minus_infinity")));
	CHECK_EQ_STR(json_string_value(json_object_get(root, "last")), "end");
	json_decref(root);
out:
	nm_buf_free(&out);
}

/* Through the MessagePack encoder: msgpack-c decodes the same tree as jansson does from JSON. */
static void test_nested_msgpack(void)
{
	struct nm_buf mp = {0}, js = {0};
	msgpack_unpacked up;
	struct nm_writer w;
	struct nm_event ev;
	const msgpack_object *v;
	json_t *root;
	size_t off = 0;

	make_event(&ev, (const uint8_t *)"curl", 4);
	nm_writer_init(&w, NM_FORMAT_MSGPACK, &mp);
	write_nested(&w, &ev);
	CHECK(!w.error);
	nm_writer_init(&w, NM_FORMAT_JSON, &js);
	write_nested(&w, &ev);
	root = load_json(&js);
	CHECK(root != NULL);
	CHECK(mp.len > 0 && mp.data[0] == 0xdf); /* map32: the top count is patched at the end */

	msgpack_unpacked_init(&up);
	CHECK_EQ_INT(msgpack_unpack_next(&up, (const char *)mp.data, mp.len, &off),
		     MSGPACK_UNPACK_SUCCESS);
	CHECK_EQ_INT(off, mp.len);
	CHECK(root && same_value(&up.data, root));
	/* what JSON cannot say: NaN and the infinities are doubles here */
	v = mp_get(&up.data, "nan");
	CHECK(v && v->type == MSGPACK_OBJECT_FLOAT64 && isnan(v->via.f64));
	v = mp_get(&up.data, "infinity");
	CHECK(v && v->type == MSGPACK_OBJECT_FLOAT64 && isinf(v->via.f64) && v->via.f64 > 0);
	v = mp_get(&up.data, "minus_infinity");
	CHECK(v && v->type == MSGPACK_OBJECT_FLOAT64 && isinf(v->via.f64) && v->via.f64 < 0);
	v = mp_get(&up.data, LONG_KEY);
	CHECK(v && v->type == MSGPACK_OBJECT_STR && v->via.str.size == 21);
	v = mp_get(&up.data, "empty_array");
	CHECK(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 0);
	v = mp_get(&up.data, "empty_map");
	CHECK(v && v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 0);
	msgpack_unpacked_destroy(&up);
	json_decref(root);
	nm_buf_free(&mp);
	nm_buf_free(&js);
}

/* Counts past 65535 (the 32-bit header's range), and documents one after another in a buffer. */
static void test_nested_large(void)
{
	enum { N = 70000 };

	for (int f = 0; f < NM_FORMAT_COUNT; f++) {
		struct nm_buf out = {0};
		struct nm_writer w;
		msgpack_unpacked up;
		size_t off = 0;

		nm_writer_init(&w, (enum nm_format)f, &out);
		for (int doc = 0; doc < 2; doc++) {
			nm_w_begin(&w);
			nm_w_array(&w, "many");
			for (uint64_t i = 0; i < N; i++)
				nm_w_u64(&w, NULL, i);
			nm_w_end_nested(&w);
			nm_w_u64(&w, "doc", (uint64_t)doc);
			nm_w_end(&w);
			CHECK(!w.error);
			if (f == NM_FORMAT_JSON)
				nm_buf_putc(&out, '\n');
		}
		if (f == NM_FORMAT_JSON) {
			json_error_t jerr;
			json_t *root = json_loadb((const char *)out.data, out.len,
						  JSON_DISABLE_EOF_CHECK, &jerr);

			CHECK(root && json_array_size(json_object_get(root, "many")) == N);
			CHECK(root && json_integer_value(json_array_get(
					      json_object_get(root, "many"), N - 1)) == N - 1);
			json_decref(root);
			nm_buf_free(&out);
			continue;
		}
		msgpack_unpacked_init(&up);
		for (uint64_t doc = 0; doc < 2; doc++) {
			const msgpack_object *many;

			CHECK_EQ_INT(
				msgpack_unpack_next(&up, (const char *)out.data, out.len, &off),
				MSGPACK_UNPACK_SUCCESS);
			many = mp_get(&up.data, "many");
			CHECK(many && many->type == MSGPACK_OBJECT_ARRAY &&
			      many->via.array.size == N);
			CHECK(many && many->via.array.ptr[N - 1].via.u64 == N - 1);
			CHECK(mp_get(&up.data, "doc") && mp_get(&up.data, "doc")->via.u64 == doc);
		}
		CHECK_EQ_INT(off, out.len);
		msgpack_unpacked_destroy(&up);
		nm_buf_free(&out);
	}
}

/* Misuse is flagged in w->error, for both encoders, and never writes out of bounds. */
static void test_nested_misuse(void)
{
	for (int f = 0; f < NM_FORMAT_COUNT; f++) {
		struct nm_buf out = {0};
		struct nm_writer w;
		int i;

		nm_writer_init(&w, (enum nm_format)f, &out);

		/* NM_WRITER_DEPTH_MAX levels below the top map are fine ... */
		nm_w_begin(&w);
		for (i = 0; i < NM_WRITER_DEPTH_MAX; i++)
			nm_w_map(&w, "down");
		nm_w_u64(&w, "bottom", 1);
		for (i = 0; i < NM_WRITER_DEPTH_MAX; i++)
			nm_w_end_nested(&w);
		nm_w_end(&w);
		CHECK(!w.error);
		/* ... one more is not, and even far deeper stays in bounds */
		nm_buf_reset(&out);
		nm_w_begin(&w);
		for (i = 0; i < NM_WRITER_DEPTH_MAX + 1; i++)
			nm_w_array(&w, i ? NULL : "down");
		CHECK(w.error);
		for (i = 0; i < 100; i++)
			nm_w_array(&w, NULL);
		for (i = 0; i < 200; i++)
			nm_w_end_nested(&w);
		nm_w_end(&w);
		CHECK(w.error);

		/* begin starts over: a new document, no error */
		nm_buf_reset(&out);
		nm_w_begin(&w);
		nm_w_end(&w);
		CHECK(!w.error);

		/* closing more than was opened */
		nm_buf_reset(&out);
		nm_w_begin(&w);
		nm_w_end_nested(&w);
		CHECK(w.error);
		nm_buf_reset(&out);
		nm_w_begin(&w);
		nm_w_map(&w, "m");
		nm_w_end_nested(&w);
		nm_w_end_nested(&w);
		CHECK(w.error);
		/* ending the document with a container still open */
		nm_buf_reset(&out);
		nm_w_begin(&w);
		nm_w_array(&w, "open");
		nm_w_end(&w);
		CHECK(w.error);
		/* ending twice, or writing after the end */
		nm_buf_reset(&out);
		nm_w_begin(&w);
		nm_w_end(&w);
		nm_w_end(&w);
		CHECK(w.error);
		nm_buf_reset(&out);
		nm_w_begin(&w);
		nm_w_end(&w);
		nm_w_u64(&w, "late", 1);
		CHECK(w.error);

		/* a key inside an array, no key inside a map */
		nm_buf_reset(&out);
		nm_w_begin(&w);
		nm_w_array(&w, "a");
		nm_w_u64(&w, "keyed", 1);
		nm_w_end_nested(&w);
		nm_w_end(&w);
		CHECK(w.error);
		nm_buf_reset(&out);
		nm_w_begin(&w);
		nm_w_u64(&w, NULL, 1);
		nm_w_map(&w, NULL);
		nm_w_end_nested(&w);
		nm_w_end(&w);
		CHECK(w.error);
		nm_buf_free(&out);
	}
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
	test_nested_json();
	test_nested_msgpack();
	test_nested_large();
	test_nested_misuse();
	test_rfc3339();
	CHECK_DONE();
}

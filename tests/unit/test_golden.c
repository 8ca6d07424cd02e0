/* test_golden.c - every program's events encode to exactly the recorded JSON and MessagePack bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <math.h>

#include "check.h"
#include "bpf/connection.h"
#include "bpf/packet_drop.h"
#include "bpf/tcp_lifecycle.h"
#include "bpf/tcp_reset.h"
#include "bpf/tcp_retransmit.h"
#include "bpf/udp_send.h"
#include "src/event.h"
#include "src/program.h"
#include "src/writer.h"

/*
 * The golden files were written by the encoders before they were optimized
 * (`test_golden --write DIR`): any change in the bytes is a change of the
 * output format, to be made on purpose and the files rewritten with it.
 * Events carry no cgroup (the cache is not started), so they are host-free.
 */

/* The bodies of the two programs that keep more than their record (src/programs/). */
struct packet_drop_body_mirror {
	struct nm_packet_drop_fields rec;
	const char *reason_name;
	const char *symbol;
	uint64_t symbol_offset;
};

struct tcp_reset_body_mirror {
	struct nm_tcp_reset_fields t;
	char reason_name[40];
};

/* xorshift64*: the same pseudo-random bodies on every run and host */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void rnd_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(rnd() >> 56);
}

/* a literal and its length, NUL not included */
#define S(lit)                                                                                     \
	{                                                                                          \
		lit, sizeof(lit) - 1                                                               \
	}

static const struct {
	const char *s;
	size_t len;
} commands[] = {
	S("curl"),
	S("nm-connect"),
	S("abcdefghijklmnop"), /* full: no NUL */
	S("\"quoted\\slash\""),
	S("\\\\\\\"\"\""),
	S("a\nb\tc\rd\be\ff\x01\x1f\x7f"),
	S("\xc3\x28\xe2\x82\xf0\x9f\x98\x80"),	   /* bad 2, truncated 3, valid 4 */
	S("\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80"), /* surrogate, overlong, past U+10FFFF */
	S("\xe2\x82\xac\xc3\xa9\xdf\xbf\xef\xbf\xbf"),
	S("\xff\xfe\x80\xbf\xc2"),
	S(""),
};

static const int64_t walls[] = {
	1764077439123456789LL,
	1764077439123456790LL,
	1764077440000000000LL,
	1764077439999999999LL,
	0,
	-1,
	946684799999999999LL,
	INT64_MAX,
	INT64_MIN,
};

static const char *const hosts[] = {"edge-17", "h\"o\\st\x01\xff\xc3\xa9", ""};

static const uint16_t families[] = {AF_INET, AF_INET6, AF_UNIX, 0, 99};

/* Common fields for event @i; the command cycles through hostile strings and then every byte. */
static void make_common(struct nm_event *ev, int i, const struct nm_program_type *type)
{
	size_t nc = sizeof(commands) / sizeof(commands[0]);

	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->seq = i % 5 == 4 ? UINT64_MAX - (uint64_t)i : (uint64_t)i * 977;
	ev->run_id = i % 3 ? 0x0123456789abcdefULL : rnd();
	ev->timestamp_ns = i % 4 ? rnd() : (uint64_t)i;
	ev->wall_ns = walls[i % (sizeof(walls) / sizeof(walls[0]))];
	ev->has_task = i % 7 != 6;
	ev->pid = (uint32_t)rnd();
	ev->tid = i % 2 ? ev->pid : (uint32_t)rnd();
	ev->uid = i % 3 ? 0 : (uint32_t)rnd();
	ev->cgroup_id = rnd();
	ev->host = hosts[i % 3];
	if ((size_t)i < nc) {
		memcpy(ev->command, commands[i].s, commands[i].len);
	} else if ((size_t)i < nc + 16) {
		for (int b = 0; b < 16; b++) /* bytes 16k..16k+15, NUL first for k = 0 */
			ev->command[b] =
				(char)((i - (int)nc) * 16 + (b ? b : (i == (int)nc ? 1 : 0)));
	} else {
		rnd_bytes(ev->command, sizeof(ev->command));
	}
}

static void make_body(struct nm_event *ev, int i)
{
	const char *name = ev->type->name;
	uint16_t fam = families[(i / 2) % 5];

	rnd_bytes(ev->body, sizeof(ev->body));
	if (!strcmp(name, "connection")) {
		struct nm_connection_fields *r = (void *)ev->body;

		r->family = i % 9 == 8 ? (uint16_t)rnd() : fam;
		r->conn_flags = (uint16_t)(i & 7);
		r->protocol = (uint16_t)(i % 4 ? (i % 3 ? 6 : 17) : rnd() % 300);
		r->sock_type = (uint16_t)(1 + i % 6);
		r->ret = i % 3 == 0 ? 0 : i % 3 == 1 ? -111 : -(int32_t)(rnd() % 200);
		r->unix_path_len = (uint16_t)(i % 4 ? rnd() % 120 : 0);
		if (i % 5 == 0)
			r->unix_path[0] = '\0'; /* abstract */
		if (i % 6 == 0)
			r->socket_cookie = 0;
	} else if (!strcmp(name, "packet_drop")) {
		static const char *const reasons[] = {NULL, "NO_SOCKET", "NOT_SPECIFIED"};
		static const char *const symbols[] = {NULL, "tcp_v4_rcv", "a\"b\\c"};
		struct packet_drop_body_mirror *b = (void *)ev->body;

		b->rec.family = (uint8_t)fam;
		b->rec.drop_flags = (uint32_t)i & 7;
		b->rec.l4_proto = (uint8_t)(i % 3 ? 6 : rnd() & 0xff);
		if (i % 4 == 0)
			b->rec.ifname[0] = '\0';
		b->reason_name = reasons[i % 3];
		b->symbol = symbols[(i / 3) % 3];
		b->symbol_offset = rnd() >> (i % 64);
		if (i % 5 == 0)
			b->rec.location = 0;
	} else if (!strcmp(name, "tcp_reset")) {
		struct tcp_reset_body_mirror *b = (void *)ev->body;

		b->t.family = fam;
		b->t.rst_flags = (uint8_t)(i & 7);
		b->t.direction = (uint8_t)(i % 3);
		b->t.state = (uint8_t)(i % 14);
		if (i % 3)
			snprintf(b->reason_name, sizeof(b->reason_name), "%s",
				 i % 2 ? "NOT_SPECIFIED" : "TCP_ABORT_ON_DATA");
		else if (i % 2)
			b->reason_name[0] = '\0';
		/* else a full 40 random bytes: kstr stops at the capacity */
	} else if (!strcmp(name, "tcp_lifecycle")) {
		struct nm_tcp_lifecycle_fields *r = (void *)ev->body;

		r->family = fam;
		r->phase = (uint8_t)(1 + i % 3);
		r->outcome = (uint8_t)(i % 8);
		r->direction = (uint8_t)(i % 4);
		r->old_state = (uint8_t)(i % 14);
		r->lc_flags = (uint16_t)(i % 3 ? (uint64_t)i * 7 : rnd());
		r->sk_err = (uint32_t)(i % 3 ? (uint64_t)i % 140 : rnd());
	} else if (!strcmp(name, "tcp_retransmit")) {
		struct nm_tcp_retransmit_fields *r = (void *)ev->body;

		r->family = fam;
		r->state = (uint8_t)(i % 14);
		r->rt_flags = (uint8_t)(i % 3 ? (uint64_t)i & 1 : rnd());
	} else if (!strcmp(name, "udp_send")) {
		struct nm_udp_send_fields *r = (void *)ev->body;

		r->family = fam;
		r->protocol = (uint16_t)(i % 3 ? 17 : 136);
		r->send_flags = (uint16_t)(i % 3 ? (uint64_t)i & 1 : rnd());
	}
}

/* Every writer operation with its edge values, nested both ways. */
static void all_ops_write(const struct nm_event *ev, struct nm_writer *w)
{
	static const double dbls[] = {0.0, -0.0, 0.1, 1.0 / 3, 1e300, -2.5e-300, 42.0, 1e21};
	uint64_t p10 = 1;

	(void)ev;
	nm_w_str(w, "empty", "", 0);
	nm_w_str(w, "all_bytes", (const char *)ev->body, 128);
	nm_w_str(w, "rest", (const char *)ev->body + 128, 56);
	nm_w_array(w, "u64");
	for (int k = 0; k < 20; k++, p10 *= 10) {
		nm_w_u64(w, NULL, p10 - 1);
		nm_w_u64(w, NULL, p10);
	}
	nm_w_u64(w, NULL, UINT64_MAX);
	nm_w_end_nested(w);
	nm_w_array(w, "i64");
	nm_w_i64(w, NULL, INT64_MIN);
	nm_w_i64(w, NULL, INT64_MAX);
	nm_w_i64(w, NULL, -1);
	nm_w_i64(w, NULL, 0);
	nm_w_i64(w, NULL, -32);
	nm_w_i64(w, NULL, -33);
	nm_w_i64(w, NULL, -129);
	nm_w_i64(w, NULL, -32769);
	nm_w_i64(w, NULL, -2147483649LL);
	nm_w_end_nested(w);
	nm_w_map(w, "misc");
	nm_w_bool(w, "t", true);
	nm_w_bool(w, "f", false);
	nm_w_null(w, "n");
	for (size_t k = 0; k < sizeof(dbls) / sizeof(dbls[0]); k++)
		nm_w_double(w, "d", dbls[k]);
	nm_w_double(w, "nan", NAN);
	nm_w_double(w, "inf", -INFINITY);
	nm_w_map(w, "deeper");
	nm_w_array(w, "list");
	nm_w_map(w, NULL);
	nm_w_end_nested(w);
	nm_w_array(w, NULL);
	nm_w_end_nested(w);
	nm_w_cstr(w, NULL, "x");
	nm_w_end_nested(w);
	nm_w_end_nested(w);
	nm_w_end_nested(w);
	for (int k = 0; k < 20; k++)
		nm_w_u64(w, "counter_key_of_some_length", (uint64_t)k << (3 * k));
}

static const struct nm_program_type all_ops_type = {
	.name = "all_ops",
	.write_fields = all_ops_write,
};

#define EVENTS_PER_TYPE 30 /* past the hostile commands and the 16 of every byte */

/* Event @n of the whole sequence, or false past its end. */
static bool golden_event(int n, struct nm_event *ev)
{
	static const char *const names[] = {"connection",    "packet_drop",    "tcp_reset",
					    "tcp_lifecycle", "tcp_retransmit", "udp_send"};
	const int ntypes = (int)(sizeof(names) / sizeof(names[0]));
	const struct nm_program_type *type;
	int i = n % EVENTS_PER_TYPE, t = n / EVENTS_PER_TYPE;

	if (t > ntypes)
		return false;
	type = t < ntypes ? nm_program_type_find(names[t]) : &all_ops_type;
	if (!type)
		return false;
	make_common(ev, i, type);
	if (t < ntypes) {
		make_body(ev, i);
	} else {
		rnd_bytes(ev->body, sizeof(ev->body));
		for (int b = 0; b < 128; b++)
			ev->body[b] = (unsigned char)(i + b * 2); /* each byte value somewhere */
	}
	return true;
}

static int write_golden(const char *dir)
{
	char path[2][1024];
	struct nm_buf out = {0};
	struct nm_event ev;
	FILE *f[2];

	snprintf(path[0], sizeof(path[0]), "%s/events.json", dir);
	snprintf(path[1], sizeof(path[1]), "%s/events.msgpack.hex", dir);
	f[0] = fopen(path[0], "w");
	f[1] = fopen(path[1], "w");
	if (!f[0] || !f[1]) {
		perror(dir);
		return 1;
	}
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int n = 0; golden_event(n, &ev); n++) {
		nm_event_encode(&ev, NM_FORMAT_JSON, &out);
		fwrite(out.data, 1, out.len, f[0]);
		fputc('\n', f[0]);
		nm_event_encode(&ev, NM_FORMAT_MSGPACK, &out);
		for (size_t k = 0; k < out.len; k++)
			fprintf(f[1], "%02x", out.data[k]);
		fputc('\n', f[1]);
	}
	nm_buf_free(&out);
	fclose(f[0]);
	fclose(f[1]);
	return 0;
}

static int unhex(int c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Read line after line of @f into @line (hex-decoded if @hex); false at the end. */
static bool next_line(FILE *f, bool hex, struct nm_buf *line)
{
	int c, hi = -1;

	nm_buf_reset(line);
	while ((c = fgetc(f)) != EOF && c != '\n') {
		if (!hex) {
			nm_buf_putc(line, (uint8_t)c);
		} else if (hi < 0) {
			hi = unhex(c);
		} else {
			nm_buf_putc(line, (uint8_t)(hi << 4 | unhex(c)));
			hi = -1;
		}
	}
	return c != EOF || line->len;
}

static void report_diff(int n, const char *fmt, const struct nm_buf *want, const struct nm_buf *got)
{
	size_t at = 0;

	while (at < want->len && at < got->len && want->data[at] == got->data[at])
		at++;
	fprintf(stderr, "event %d (%s): %zu bytes, expected %zu; first difference at %zu\n", n, fmt,
		got->len, want->len, at);
	if (!strcmp(fmt, "json"))
		fprintf(stderr, "  expected %.*s\n  got      %.*s\n", (int)want->len, want->data,
			(int)got->len, got->data);
}

static void test_golden(const char *dir)
{
	static const char *const files[] = {"events.json", "events.msgpack.hex"};
	struct nm_buf want = {0}, got = {0};

	for (int fmt = 0; fmt < 2; fmt++) {
		char path[1024];
		struct nm_event ev;
		FILE *f;
		int n;

		snprintf(path, sizeof(path), "%s/%s", dir, files[fmt]);
		f = fopen(path, "r");
		CHECK(f != NULL);
		if (!f) {
			perror(path);
			continue;
		}
		rng_state = 0x9e3779b97f4a7c15ULL;
		for (n = 0; golden_event(n, &ev); n++) {
			CHECK(next_line(f, fmt == 1, &want));
			nm_event_encode(&ev, fmt ? NM_FORMAT_MSGPACK : NM_FORMAT_JSON, &got);
			if (got.len != want.len || memcmp(got.data, want.data, got.len)) {
				CHECK(!"encoded bytes differ from the golden file");
				report_diff(n, fmt ? "msgpack" : "json", &want, &got);
			}
		}
		CHECK_EQ_INT(n, EVENTS_PER_TYPE * 7);
		CHECK(!next_line(f, fmt == 1, &want)); /* nothing left over */
		fclose(f);
	}
	nm_buf_free(&want);
	nm_buf_free(&got);
}

/* @ev in @format through the writer operations alone: a copy of the table defeats every fast path. */
static void encode_by_ops(const struct nm_event *ev, enum nm_format format, struct nm_buf *out)
{
	struct nm_writer_ops ops;
	struct nm_writer w;

	nm_buf_reset(out);
	nm_writer_init(&w, format, out);
	ops = *w.ops;
	w.ops = &ops;
	nm_event_write(ev, &w);
}

/*
 * Beyond the golden events: random ones (any command and host bytes, random
 * bodies) give the same bytes through the fast paths as through the
 * operations they stand in for, in both formats.
 */
static void test_fast_equals_ops(void)
{
	struct nm_buf fast = {0}, slow = {0};
	unsigned char host[24];
	struct nm_event ev;
	int bad = 0;

	rng_state = 0x2545f4914f6cdd1dULL;
	for (int n = 0; n < 20000; n++) {
		if (!golden_event(n % (EVENTS_PER_TYPE * 7), &ev))
			break;
		rnd_bytes(ev.command, sizeof(ev.command));
		rnd_bytes(host, sizeof(host));
		host[rnd() % sizeof(host)] = '\0';
		host[sizeof(host) - 1] = '\0';
		ev.host = (const char *)host;
		for (int fmt = 0; fmt < NM_FORMAT_COUNT; fmt++) {
			nm_event_encode(&ev, fmt, &fast);
			encode_by_ops(&ev, fmt, &slow);
			if (fast.len != slow.len || memcmp(fast.data, slow.data, fast.len)) {
				if (!bad++)
					report_diff(n, fmt ? "msgpack" : "json", &slow, &fast);
			}
		}
	}
	CHECK_EQ_INT(bad, 0);
	nm_buf_free(&fast);
	nm_buf_free(&slow);
}

int main(int argc, char **argv)
{
	const char *src = getenv("top_srcdir");
	char dir[512];

	if (argc == 3 && !strcmp(argv[1], "--write"))
		return write_golden(argv[2]);
	snprintf(dir, sizeof(dir), "%s/tests/unit/golden", src ? src : ".");
	test_golden(dir);
	test_fast_equals_ops();
	CHECK_DONE();
}

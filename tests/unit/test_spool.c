/* test_spool.c - the spool: order, replayed fields and types, format changes, corruption, bounds. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <msgpack.h>

#include "check.h"
#include "src/msg.h"
#include "src/program.h"
#include "src/segstore.h"
#include "src/spool.h"
#include "sinks/lib/template.h"

static void fields(const struct nm_event *ev, struct nm_writer *w)
{
	nm_w_cstr(w, "protocol", "tcp");
	nm_w_u64(w, "destination_port", 80);
	nm_w_i64(w, "return_code", -111);
	nm_w_bool(w, "ok", false);
	nm_w_null(w, "interface");
	nm_w_double(w, "ratio", 0.25);
	nm_w_array(w, "addresses");
	nm_w_cstr(w, NULL, "10.0.0.1");
	nm_w_u64(w, NULL, 7);
	nm_w_end_nested(w);
	nm_w_map(w, "socket");
	nm_w_u64(w, "inode", 4242);
	nm_w_end_nested(w);
}

static const struct nm_program_type type = {.name = "connection", .write_fields = fields};

/* Seventy program types, more than the old spool's 64-name table held. */
#define NTYPES 70
static char type_names[NTYPES][16];
static struct nm_program_type many_types[NTYPES];

/* A live message as the pipeline builds it, encoded in the formats asked for. */
static struct nm_msg *make_typed(const struct nm_program_type *t, uint64_t seq, bool json,
				 bool msgpack)
{
	struct nm_buf b[NM_FORMAT_COUNT] = {{0}};
	struct nm_buf *enc[NM_FORMAT_COUNT] = {NULL};
	struct nm_event ev;
	struct nm_msg *m;

	memset(&ev, 0, sizeof(ev));
	ev.type = t;
	ev.host = "edge-17";
	ev.seq = seq;
	ev.has_task = true;
	ev.pid = 100 + (uint32_t)seq;
	memcpy(ev.command, "curl", 4);
	ev.run_id = 0x5eedULL;
	ev.wall_ns = 1700000000123456789LL;
	if (json) {
		nm_event_encode(&ev, NM_FORMAT_JSON, &b[NM_FORMAT_JSON]);
		enc[NM_FORMAT_JSON] = &b[NM_FORMAT_JSON];
	}
	if (msgpack) {
		nm_event_encode(&ev, NM_FORMAT_MSGPACK, &b[NM_FORMAT_MSGPACK]);
		enc[NM_FORMAT_MSGPACK] = &b[NM_FORMAT_MSGPACK];
	}
	m = nm_msg_new(&ev, enc, 1);
	nm_buf_free(&b[0]);
	nm_buf_free(&b[1]);
	return m;
}

static struct nm_msg *make(uint64_t seq)
{
	return make_typed(&type, seq, true, false);
}

/* ---- a writer that prints every field as text, to compare two field walks ---- */

struct dump {
	struct nm_writer w; /* first: the ops get this pointer */
	char text[4096];
	size_t len;
};

static void dump_put(struct nm_writer *w, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void dump_put(struct nm_writer *w, const char *key, const char *fmt, ...)
{
	struct dump *d = (struct dump *)w;
	va_list ap;

	if (d->len >= sizeof(d->text))
		return;
	d->len += (size_t)snprintf(d->text + d->len, sizeof(d->text) - d->len,
				   "%s=", key ? key : "-");
	if (d->len >= sizeof(d->text))
		return;
	va_start(ap, fmt);
	d->len += (size_t)vsnprintf(d->text + d->len, sizeof(d->text) - d->len, fmt, ap);
	va_end(ap);
	if (d->len < sizeof(d->text))
		d->text[d->len++] = ';';
}

static void dump_nop(struct nm_writer *w)
{
}

static void dump_str(struct nm_writer *w, const char *key, size_t klen, const char *v, size_t n)
{
	dump_put(w, key, "\"%.*s\"", (int)n, v);
}

static void dump_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	dump_put(w, key, "%llu", (unsigned long long)v);
}

static void dump_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	dump_put(w, key, "%lld", (long long)v);
}

static void dump_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
	dump_put(w, key, "%s", v ? "true" : "false");
}

static void dump_null(struct nm_writer *w, const char *key, size_t klen)
{
	dump_put(w, key, "null");
}

static void dump_dbl(struct nm_writer *w, const char *key, size_t klen, double v)
{
	dump_put(w, key, "%g", v);
}

static void dump_map(struct nm_writer *w, const char *key, size_t klen)
{
	dump_put(w, key, "{");
}

static void dump_array(struct nm_writer *w, const char *key, size_t klen)
{
	dump_put(w, key, "[");
}

static void dump_close(struct nm_writer *w)
{
	dump_put(w, NULL, "end");
}

static const struct nm_writer_ops dump_ops = {
	.begin = dump_nop,
	.end = dump_nop,
	.str = dump_str,
	.u64 = dump_u64,
	.i64 = dump_i64,
	.boolean = dump_bool,
	.null = dump_null,
	.dbl = dump_dbl,
	.begin_map = dump_map,
	.begin_array = dump_array,
	.end_nested = dump_close,
};

/* The message's field walk as text (what templates see). */
static void walk_text(const struct nm_msg *m, struct dump *d)
{
	memset(d, 0, sizeof(*d));
	d->w.ops = &dump_ops;
	m->write_fields(m->fields_ctx, &d->w);
	d->text[d->len < sizeof(d->text) ? d->len : sizeof(d->text) - 1] = '\0';
}

/* The value of top-level field "seq" in the message's field walk, 0 if none. */
static uint64_t walk_seq(const struct nm_msg *m)
{
	struct dump d;
	const char *p;

	walk_text(m, &d);
	p = strstr(d.text, ";seq=");
	return p ? strtoull(p + 5, NULL, 10) : 0;
}

static struct nm_msg *read_one(struct nm_spool *s, enum nm_format f, nm_spool_pos *pos,
			       uint64_t *corrupt)
{
	struct nm_msg *m = NULL;
	int rc = nm_spool_read(s, f, &m, pos, corrupt);

	CHECK(rc == 0 || rc == 1);
	CHECK((rc == 1) == (m != NULL));
	return m;
}

/* Read the next record as JSON; its seq, checking the bytes are the original encoding. */
static uint64_t read_seq(struct nm_spool *s, nm_spool_pos *pos, uint64_t *corrupt)
{
	struct nm_msg *m = read_one(s, NM_FORMAT_JSON, pos, corrupt);
	struct nm_msg *orig;
	uint64_t seq;

	if (!m)
		return 0;
	seq = walk_seq(m);
	orig = make(seq);
	CHECK_EQ_INT(m->len[NM_FORMAT_JSON], orig->len[NM_FORMAT_JSON]);
	CHECK(!memcmp(m->data[NM_FORMAT_JSON], orig->data[NM_FORMAT_JSON],
		      orig->len[NM_FORMAT_JSON]));
	nm_msg_unref(orig);
	nm_msg_unref(m);
	return seq;
}

static void append(struct nm_spool *s, struct nm_msg *m, enum nm_format f, bool front)
{
	CHECK_EQ_INT(nm_spool_append(s, m, f, front), 0);
	nm_msg_unref(m);
}

/* Offset of record @k (0-based) in segment file @path, by walking the record headers. */
static long record_offset(const char *path, int k)
{
	int fd = open(path, O_RDONLY);
	long off = 0;

	for (int i = 0; i < k && fd >= 0; i++) {
		uint32_t len = 0;

		if (pread(fd, &len, 4, off + 4) != 4)
			break;
		off += 16 + (long)len;
	}
	if (fd >= 0)
		close(fd);
	return off;
}

static void first_segment(const char *dir, char *path, size_t len)
{
	char cmd[400];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls %s/*.seg | head -1", dir);
	p = popen(cmd, "r");
	path[0] = '\0';
	CHECK(p && fgets(path, (int)len, p));
	if (p)
		pclose(p);
	path[strcspn(path, "\n")] = '\0';
}

/* Replayed events route through templates exactly as live ones. */
static void test_template_routing(struct nm_spool *s, nm_spool_pos *pos, uint64_t *corrupt)
{
	struct nm_msg *m = read_one(s, NM_FORMAT_JSON, pos, corrupt);
	char err[256], out[NM_TPL_OUT_MAX + 1];
	struct nm_template *t = nm_template_new(
		"n/${host}/${type}/${command}/${pid}/${protocol}/${destination_port}",
		NM_TPL_MQTT_TOPIC, err, sizeof(err));
	struct nm_sink_msg msg;
	size_t len;

	CHECK(m && t);
	if (!m || !t)
		return;
	CHECK_EQ_INT(walk_seq(m), 1);
	msg = (struct nm_sink_msg){
		.type = m->type, .write_fields = m->write_fields, .event = m->fields_ctx};
	CHECK_EQ_INT(nm_template_render(t, &msg, out, &len), 0);
	CHECK_EQ_STR(out, "n/edge-17/connection/curl/101/tcp/80");
	nm_template_free(t);
	nm_msg_unref(m);
}

/* Order, routing, ack and restart, corruption, front segments, spool_max_bytes. */
static void test_basics(const char *dir)
{
	char err[256], path[400];
	struct nm_segstore_stats st;
	struct nm_spool *s;
	nm_spool_pos pos = 0, pos3 = 0;
	uint64_t corrupt = 0;

	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	/* a second opener is refused */
	CHECK(nm_spool_open(dir, 1 << 20, err, sizeof(err)) == NULL);
	for (uint64_t i = 1; i <= 10; i++)
		append(s, make(i), NM_FORMAT_JSON, false);
	CHECK_EQ_INT(nm_spool_unread(s), 10);

	test_template_routing(s, &pos, &corrupt);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 2);
	CHECK_EQ_INT(read_seq(s, &pos3, &corrupt), 3);
	nm_spool_ack(s, pos); /* 1 and 2 delivered */
	nm_spool_close(s);

	/* restart: 3..10 are replayed */
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.recovered, 8);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 3);
	nm_spool_close(s);

	/* flip a byte inside record 5's body, and tear the tail as a crash mid-write would */
	first_segment(dir, path, sizeof(path));
	{
		int fd = open(path, O_RDWR);
		long size = lseek(fd, 0, SEEK_END);

		CHECK(pwrite(fd, "X", 1, record_offset(path, 4) + 40) == 1);
		CHECK(pwrite(fd, "garbage", 7, size) == 7);
		close(fd);
	}
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.recovered, 9); /* 7 good + 1 bad checksum + 1 torn */
	corrupt = 0;
	{
		uint64_t want[] = {3, 4, 6, 7, 8, 9, 10};

		for (size_t i = 0; i < 7; i++)
			CHECK_EQ_INT(read_seq(s, &pos, &corrupt), want[i]);
	}
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 0);
	CHECK_EQ_INT(corrupt, 2);
	CHECK_EQ_INT(nm_spool_unread(s), 0);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.corrupt, 2);
	nm_spool_ack(s, pos);

	/* new appends after everything was read go to a fresh segment; front goes first */
	for (uint64_t i = 20; i < 23; i++)
		append(s, make(i), NM_FORMAT_JSON, false);
	append(s, make(15), NM_FORMAT_JSON, true);
	append(s, make(16), NM_FORMAT_JSON, true);
	nm_spool_close(s);
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	{
		uint64_t want[] = {15, 16, 20, 21, 22, 0};

		for (size_t i = 0; i < 6; i++)
			CHECK_EQ_INT(read_seq(s, &pos, &corrupt), want[i]);
	}
	nm_spool_ack(s, pos);
	nm_spool_close(s);

	/* spool_max_bytes is respected */
	s = nm_spool_open(dir, 2048, err, sizeof(err));
	CHECK(s != NULL);
	{
		int rc = 0, n = 0;

		while (!rc && n < 1000) {
			struct nm_msg *m = make((uint64_t)n + 100);

			rc = nm_spool_append(s, m, NM_FORMAT_JSON, false);
			nm_msg_unref(m);
			n++;
		}
		CHECK_EQ_INT(rc, -EFBIG);
		nm_spool_get_stats(s, &st);
		CHECK(st.bytes <= 2048);
	}
	nm_spool_close(s);
}

/* More type names than the old spool's table held: each comes back as itself, after a restart. */
static void test_many_types(const char *dir)
{
	char err[256], want[64], out[NM_TPL_OUT_MAX + 1];
	struct nm_template *t =
		nm_template_new("netmon.${type}", NM_TPL_KAFKA_TOPIC, err, sizeof(err));
	struct nm_spool *s = nm_spool_open(dir, 1 << 24, err, sizeof(err));
	nm_spool_pos pos;
	uint64_t corrupt = 0;
	int n = 0;

	CHECK(s && t);
	if (!s || !t)
		return;
	for (int i = 0; i < NTYPES; i++) {
		snprintf(type_names[i], sizeof(type_names[i]), "prog_%02d", i);
		many_types[i] =
			(struct nm_program_type){.name = type_names[i], .write_fields = fields};
		append(s, make_typed(&many_types[i], (uint64_t)i + 1, true, false), NM_FORMAT_JSON,
		       false);
	}
	nm_spool_close(s);
	s = nm_spool_open(dir, 1 << 24, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	for (struct nm_msg *m; (m = read_one(s, NM_FORMAT_JSON, &pos, &corrupt)); n++) {
		struct nm_sink_msg msg = {
			.type = m->type, .write_fields = m->write_fields, .event = m->fields_ctx};
		struct dump d;
		size_t len;

		snprintf(want, sizeof(want), "prog_%02d", n);
		CHECK_EQ_STR(m->type, want);
		walk_text(m, &d);
		snprintf(want, sizeof(want), ";type=\"prog_%02d\";", n);
		CHECK(strstr(d.text, want) != NULL);
		CHECK_EQ_INT(nm_template_render(t, &msg, out, &len), 0);
		snprintf(want, sizeof(want), "netmon.prog_%02d", n);
		CHECK_EQ_STR(out, want);
		nm_msg_unref(m);
		nm_spool_ack(s, pos);
	}
	CHECK_EQ_INT(n, NTYPES);
	CHECK_EQ_INT(corrupt, 0);
	nm_spool_close(s);
	nm_template_free(t);
}

/* One MessagePack map, nothing after it. */
static bool valid_msgpack_map(const uint8_t *data, size_t len)
{
	msgpack_unpacked u;
	size_t off = 0;
	bool ok;

	msgpack_unpacked_init(&u);
	ok = msgpack_unpack_next(&u, (const char *)data, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	     off == len && u.data.type == MSGPACK_OBJECT_MAP;
	msgpack_unpacked_destroy(&u);
	return ok;
}

/*
 * The sink's format changed between runs: a record is re-encoded from its
 * fields into the current format, byte for byte what a live event would be.
 */
static void test_format_change(const char *dir)
{
	char err[256];
	struct nm_spool *s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	nm_spool_pos pos;
	uint64_t corrupt = 0;
	struct nm_msg *live, *m;
	struct dump a, b;

	CHECK(s != NULL);
	if (!s)
		return;
	/* a JSON sink with no MessagePack sink beside it; then one with both in use */
	append(s, make_typed(&type, 1, true, false), NM_FORMAT_JSON, false);
	append(s, make_typed(&type, 2, true, true), NM_FORMAT_JSON, false);
	/* a MessagePack sink */
	append(s, make_typed(&type, 3, false, true), NM_FORMAT_MSGPACK, false);
	nm_spool_close(s);

	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	for (uint64_t seq = 1; seq <= 2; seq++) {
		/* JSON records, now read by a MessagePack sink */
		m = read_one(s, NM_FORMAT_MSGPACK, &pos, &corrupt);
		live = make_typed(&type, seq, true, true);
		CHECK(m != NULL);
		if (!m)
			break;
		CHECK_EQ_INT(m->len[NM_FORMAT_JSON], 0);
		CHECK(valid_msgpack_map(m->data[NM_FORMAT_MSGPACK], m->len[NM_FORMAT_MSGPACK]));
		CHECK_EQ_INT(m->len[NM_FORMAT_MSGPACK], live->len[NM_FORMAT_MSGPACK]);
		CHECK(!memcmp(m->data[NM_FORMAT_MSGPACK], live->data[NM_FORMAT_MSGPACK],
			      live->len[NM_FORMAT_MSGPACK]));
		walk_text(m, &a);
		walk_text(live, &b);
		CHECK_EQ_STR(a.text, b.text);
		CHECK_EQ_STR(m->type, "connection");
		nm_msg_unref(live);
		nm_msg_unref(m);
	}
	/* a MessagePack record, now read by a JSON sink */
	m = read_one(s, NM_FORMAT_JSON, &pos, &corrupt);
	live = make_typed(&type, 3, true, true);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ_INT(m->len[NM_FORMAT_MSGPACK], 0);
		CHECK_EQ_INT(m->len[NM_FORMAT_JSON], live->len[NM_FORMAT_JSON]);
		CHECK(!memcmp(m->data[NM_FORMAT_JSON], live->data[NM_FORMAT_JSON],
			      live->len[NM_FORMAT_JSON]));
		CHECK(m->data[NM_FORMAT_JSON][0] == '{');
		walk_text(m, &a);
		walk_text(live, &b);
		CHECK_EQ_STR(a.text, b.text);
		nm_msg_unref(m);
	}
	nm_msg_unref(live);
	CHECK_EQ_INT(corrupt, 0);
	nm_spool_close(s);
}

/* A record whose checksum is fine but whose body is not a record (the old layout): corrupt. */
static void test_not_a_record(const char *dir)
{
	static const char old_body[] = "\x00\x01 an old key/value body";
	struct iovec iov = {(void *)old_body, sizeof(old_body)};
	char err[256];
	struct nm_segstore *st = nm_segstore_open(dir, 1 << 20, err, sizeof(err));
	struct nm_segstore_stats stats;
	struct nm_spool *s;
	nm_spool_pos pos;
	uint64_t corrupt = 0;

	CHECK(st != NULL);
	if (!st)
		return;
	CHECK_EQ_INT(nm_segstore_append(st, &iov, 1, false), 0);
	nm_segstore_close(st);
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	append(s, make(7), NM_FORMAT_JSON, false);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 7);
	CHECK_EQ_INT(corrupt, 1);
	nm_spool_get_stats(s, &stats);
	CHECK_EQ_INT(stats.corrupt, 1);
	CHECK_EQ_INT(stats.unread, 0);
	nm_spool_close(s);
}

/* A spool directory others can write, or a symlink, is refused. */
static void test_unsafe_dir(const char *dir)
{
	char err[256], sub[320], link[320];

	snprintf(sub, sizeof(sub), "%s/open", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	CHECK(mkdir(sub, 0700) == 0 && chmod(sub, 0777) == 0);
	CHECK(nm_spool_open(sub, 1 << 20, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "writable by others") != NULL);
	CHECK(chmod(sub, 0700) == 0 && symlink(sub, link) == 0);
	CHECK(nm_spool_open(link, 1 << 20, err, sizeof(err)) == NULL);
}

static int count_segments(const char *dir)
{
	char cmd[400];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '\\.seg$'", dir);
	p = popen(cmd, "r");
	CHECK(p && fscanf(p, "%d", &n) == 1);
	if (p)
		pclose(p);
	return n;
}

/* The ack file: two slots in place; a torn newer slot falls back to the older one. */
static void test_ack_slots(const char *dir)
{
	char err[256], path[400];
	struct nm_segstore_stats st;
	nm_spool_pos pos = 0, pos2 = 0;
	uint64_t corrupt = 0, seq[2];
	struct nm_spool *s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	struct stat sb;
	int fd;

	CHECK(s != NULL);
	if (!s)
		return;
	for (uint64_t i = 1; i <= 10; i++)
		append(s, make(i), NM_FORMAT_JSON, false);
	for (int i = 1; i <= 4; i++) {
		CHECK_EQ_INT(read_seq(s, &pos, &corrupt), i);
		if (i == 2)
			pos2 = pos;
	}
	nm_spool_ack(s, pos2); /* saved now: the first save is never held back */
	nm_spool_ack(s, pos);  /* saved at close, in the other slot */
	nm_spool_close(s);

	snprintf(path, sizeof(path), "%s/ack", dir);
	CHECK(stat(path, &sb) == 0 && sb.st_size == 64 && (sb.st_mode & 0777) == 0600);
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.recovered, 6);
	nm_spool_close(s); /* nothing moved: the slots stay as they are */

	/* tear the newer slot (the higher sequence number) */
	fd = open(path, O_RDWR);
	CHECK(pread(fd, &seq[0], 8, 8) == 8 && pread(fd, &seq[1], 8, 40) == 8);
	CHECK(pwrite(fd, "\xff\xff", 2, seq[1] > seq[0] ? 48 : 16) == 2);
	close(fd);
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.recovered, 8); /* from the older slot: 3..10 */
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 3);
	nm_spool_close(s);
	CHECK_EQ_INT(corrupt, 0);
}

/* A delivered segment is removed at once, the one being written too; numbers move on. */
static void test_free_delivered(const char *dir)
{
	char err[256];
	struct nm_segstore_stats st;
	nm_spool_pos pos = 0;
	uint64_t corrupt = 0;
	struct nm_spool *s = nm_spool_open(dir, 4096, err, sizeof(err));
	int rc = 0, n = 0;

	CHECK(s != NULL);
	if (!s)
		return;
	while (!rc && n < 1000) {
		struct nm_msg *m = make((uint64_t)n + 1);

		rc = nm_spool_append(s, m, NM_FORMAT_JSON, false);
		nm_msg_unref(m);
		n++;
	}
	CHECK_EQ_INT(rc, -EFBIG); /* full */
	n--;
	for (int i = 1; i <= n; i++)
		CHECK_EQ_INT(read_seq(s, &pos, &corrupt), i);
	CHECK_EQ_INT(count_segments(dir), 1);
	nm_spool_ack(s, pos);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(count_segments(dir), 0);
	CHECK_EQ_INT(st.bytes, 0);
	CHECK_EQ_INT(st.segments, 0);
	/* the space is back: appends work again, and after a restart they are all there */
	append(s, make(501), NM_FORMAT_JSON, false);
	append(s, make(502), NM_FORMAT_JSON, false);
	nm_spool_close(s);
	s = nm_spool_open(dir, 4096, err, sizeof(err));
	CHECK(s != NULL);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.recovered, 2);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 501);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 502);
	nm_spool_ack(s, pos);
	CHECK_EQ_INT(count_segments(dir), 0);
	nm_spool_close(s);
	s = nm_spool_open(dir, 4096, err, sizeof(err));
	CHECK(s != NULL);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.recovered, 0);
	nm_spool_close(s);
	CHECK_EQ_INT(corrupt, 0);
}

/* A segment with a second name (a planted hard link) is not read. */
static void test_hard_link(const char *dir)
{
	char err[256], path[400], other[400];
	struct nm_segstore_stats st;
	nm_spool_pos pos = 0;
	uint64_t corrupt = 0;
	struct nm_spool *s = nm_spool_open(dir, 1 << 20, err, sizeof(err));

	CHECK(s != NULL);
	if (!s)
		return;
	append(s, make(1), NM_FORMAT_JSON, false);
	nm_spool_close(s);
	first_segment(dir, path, sizeof(path));
	snprintf(other, sizeof(other), "%s/other", dir);
	CHECK(link(path, other) == 0);
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 0);
	CHECK_EQ_INT(corrupt, 1);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.corrupt, 1);
	nm_spool_close(s);
}

/* Durable mode: only committed records are read back; a commit counts what it made durable. */
static void test_durable(const char *dir)
{
	struct nm_segstore_stats st;
	nm_spool_pos pos = 0;
	uint64_t corrupt = 0;
	struct nm_spool *s;
	char err[512];

	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	nm_spool_set_durable(s);
	for (uint64_t i = 1; i <= 3; i++)
		append(s, make(i), NM_FORMAT_JSON, false);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.unsynced, 3);
	CHECK_EQ_INT(st.synced, 0);
	CHECK(read_one(s, NM_FORMAT_JSON, &pos, &corrupt) == NULL); /* not committed yet */
	CHECK_EQ_INT(nm_spool_sync(s), 0);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.unsynced, 0);
	CHECK_EQ_INT(st.synced, 3);
	CHECK_EQ_INT(st.syncs, 1);
	CHECK(st.synced_bytes > 0 && st.synced_bytes == st.bytes);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 1);
	append(s, make(4), NM_FORMAT_JSON, false);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 2);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 3);
	CHECK(read_one(s, NM_FORMAT_JSON, &pos, &corrupt) == NULL); /* 4: written, not committed */
	CHECK_EQ_INT(nm_spool_sync(s), 0);
	CHECK_EQ_INT(nm_spool_sync(s), 0); /* nothing new: no commit */
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.syncs, 2);
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 4);
	CHECK_EQ_INT(corrupt, 0);
	nm_spool_ack(s, pos);
	nm_spool_close(s);
}

int main(void)
{
	const char *names[] = {"basics",  "types", "format",   "notrec", "unsafe",
			       "ackslot", "free",  "hardlink", "durable"};
	char dir[] = "/tmp/nm-spool-test.XXXXXX", sub[9][300], cmd[400];

	CHECK(mkdtemp(dir) != NULL);
	for (int i = 0; i < 9; i++)
		snprintf(sub[i], sizeof(sub[i]), "%s/%s", dir, names[i]);
	test_basics(sub[0]);
	test_many_types(sub[1]);
	test_format_change(sub[2]);
	test_not_a_record(sub[3]);
	CHECK(mkdir(sub[4], 0700) == 0);
	test_unsafe_dir(sub[4]);
	test_ack_slots(sub[5]);
	test_free_delivered(sub[6]);
	test_hard_link(sub[7]);
	test_durable(sub[8]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	CHECK_DONE();
}

/* test_spool.c - the on-disk spool: order, replayed events, corruption, restart, bounds, front segments. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "src/msg.h"
#include "src/program.h"
#include "src/spool.h"
#include "src/template.h"

static void fields(const struct nm_event *ev, struct nm_writer *w)
{
	nm_w_cstr(w, "protocol", "tcp");
	nm_w_u64(w, "destination_port", 80);
	nm_w_i64(w, "return_code", -111);
	nm_w_bool(w, "ok", false);
	nm_w_null(w, "interface");
}

static const struct nm_program_type type = { .name = "connection", .write_fields = fields };

static struct nm_msg *make(uint64_t seq)
{
	struct nm_event ev;
	struct nm_buf b = { 0 };
	struct nm_buf *enc[NM_FORMAT_COUNT] = { &b, NULL };
	struct nm_msg *m;
	char text[64];

	memset(&ev, 0, sizeof(ev));
	ev.type = &type;
	ev.host = "edge-17";
	ev.seq = seq;
	ev.has_task = true;
	ev.pid = 100 + (uint32_t)seq;
	memcpy(ev.command, "curl", 4);
	ev.run_id = 0x5eedULL;
	snprintf(text, sizeof(text), "{\"seq\":%llu}", (unsigned long long)seq);
	nm_buf_append(&b, text, strlen(text));
	m = nm_msg_new(&ev, enc, 1);
	nm_buf_free(&b);
	return m;
}

static uint64_t read_seq(struct nm_spool *s, nm_spool_pos *pos, uint64_t *corrupt)
{
	struct nm_msg *m = nm_spool_read(s, NM_FORMAT_JSON, pos, corrupt);
	uint64_t seq;

	if (!m)
		return 0;
	seq = m->event.seq;
	CHECK(m->len[0] > 0 && !memcmp(m->data[0], "{\"seq\":", 7));
	nm_msg_unref(m);
	return seq;
}

int main(void)
{
	char dir[] = "/tmp/nm-spool-test.XXXXXX", err[256], cmd[300];
	struct nm_spool_stats st;
	struct nm_spool *s;
	nm_spool_pos pos = 0, pos3 = 0;
	uint64_t corrupt = 0;

	CHECK(mkdtemp(dir) != NULL);
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return 1;
	/* a second opener is refused */
	CHECK(nm_spool_open(dir, 1 << 20, err, sizeof(err)) == NULL);
	for (uint64_t i = 1; i <= 10; i++) {
		struct nm_msg *m = make(i);

		CHECK_EQ_INT(nm_spool_append(s, m, NM_FORMAT_JSON, false), 0);
		nm_msg_unref(m);
	}
	CHECK_EQ_INT(nm_spool_unread(s), 10);

	/* replayed events keep their fields, so templates route them the same */
	{
		struct nm_msg *m = nm_spool_read(s, NM_FORMAT_JSON, &pos, &corrupt);
		struct nm_template *t = nm_template_new(
			"n/${host}/${type}/${command}/${pid}/${protocol}/${destination_port}",
			NM_TPL_MQTT_TOPIC, err, sizeof(err));
		char out[NM_TPL_OUT_MAX + 1];
		size_t len;

		CHECK(m && t);
		CHECK_EQ_INT(m->event.seq, 1);
		struct nm_sink_msg msg = {
			.type = m->event.type->name,
			.write_fields = nm_event_write_fields,
			.event = &m->event,
		};

		CHECK_EQ_INT(nm_template_render(t, &msg, out, &len), 0);
		CHECK_EQ_STR(out, "n/edge-17/connection/curl/101/tcp/80");
		nm_template_free(t);
		nm_msg_unref(m);
	}
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

	/* flip a byte inside record 5's body: skipped and counted, the rest is intact */
	snprintf(cmd, sizeof(cmd),
		 "f=$(ls %s/*.seg | head -1); printf 'X' | dd of=$f bs=1 seek=$((4 * %d + 100)) "
		 "conv=notrunc 2>/dev/null",
		 dir, 0);
	{
		/* record size is fixed here: find it from the file size */
		char path[400];
		FILE *p;
		long size, rec;
		int fd;

		snprintf(cmd, sizeof(cmd), "ls %s/*.seg | head -1", dir);
		p = popen(cmd, "r");
		CHECK(p && fgets(path, sizeof(path), p));
		pclose(p);
		path[strcspn(path, "\n")] = '\0';
		fd = open(path, O_RDWR);
		size = lseek(fd, 0, SEEK_END);
		rec = size / 10;
		CHECK(pwrite(fd, "X", 1, rec * 4 + 40) == 1);
		/* and a torn record at the end, as after a crash mid-write */
		CHECK(pwrite(fd, "garbage", 7, size) == 7);
		close(fd);
	}
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	nm_spool_get_stats(s, &st);
	CHECK_EQ_INT(st.recovered, 9); /* 7 good + 1 bad checksum + 1 torn */
	corrupt = 0;
	{
		uint64_t want[] = { 3, 4, 6, 7, 8, 9, 10 };

		for (size_t i = 0; i < 7; i++)
			CHECK_EQ_INT(read_seq(s, &pos, &corrupt), want[i]);
	}
	CHECK_EQ_INT(read_seq(s, &pos, &corrupt), 0);
	CHECK_EQ_INT(corrupt, 2);
	CHECK_EQ_INT(nm_spool_unread(s), 0);
	nm_spool_ack(s, pos);

	/* new appends after everything was read go to a fresh segment; front goes first */
	for (uint64_t i = 20; i < 23; i++) {
		struct nm_msg *m = make(i);

		CHECK_EQ_INT(nm_spool_append(s, m, NM_FORMAT_JSON, false), 0);
		nm_msg_unref(m);
	}
	{
		struct nm_msg *m = make(15);

		CHECK_EQ_INT(nm_spool_append(s, m, NM_FORMAT_JSON, true), 0);
		nm_msg_unref(m);
		m = make(16);
		CHECK_EQ_INT(nm_spool_append(s, m, NM_FORMAT_JSON, true), 0);
		nm_msg_unref(m);
	}
	nm_spool_close(s);
	s = nm_spool_open(dir, 1 << 20, err, sizeof(err));
	CHECK(s != NULL);
	{
		uint64_t want[] = { 15, 16, 20, 21, 22, 0 };

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
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	CHECK_DONE();
}

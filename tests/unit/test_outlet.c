/* test_outlet.c - per-sink queue policies, spooling off the reader, delivery accounting. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "src/msg.h"
#include "src/outlet.h"
#include "src/program.h"
#include "src/spool.h"

/* A sink that accepts up to `capacity` messages and reports only when the test says. */
struct script_sink {
	const struct nm_sink_env *env;
	pthread_mutex_t lock;
	uint64_t tokens[4096];
	uint64_t seqs[4096];
	size_t accepted;
	size_t reported;
	int eagain_left; /* refuse this many writes with -EAGAIN first */
	bool auto_report;
};

static struct script_sink script;

/* A writer that only picks the top-level "seq" out of a field walk. */
struct seq_capture {
	struct nm_writer w; /* first: the ops get this pointer */
	uint64_t seq;
};

static void cap_none(struct nm_writer *w)
{
}

static void cap_str(struct nm_writer *w, const char *key, size_t klen, const char *v, size_t n)
{
}

static void cap_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	if (!strcmp(key, "seq"))
		((struct seq_capture *)w)->seq = v;
}

static void cap_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
}

static void cap_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
}

static void cap_null(struct nm_writer *w, const char *key, size_t klen)
{
}

static const struct nm_writer_ops seq_ops = {
	.begin = cap_none,
	.end = cap_none,
	.str = cap_str,
	.u64 = cap_u64,
	.i64 = cap_i64,
	.boolean = cap_bool,
	.null = cap_null,
};

/* The event's seq as a sink sees it: through the field walk, live or replayed from a spool. */
static uint64_t msg_seq(const struct nm_sink_msg *msg)
{
	struct seq_capture c = {.w.ops = &seq_ops};

	msg->write_fields(msg->event, &c.w);
	return c.seq;
}

static void *script_create(const void *config, const struct nm_sink_env *env, char *err,
			   size_t errlen)
{
	script.env = env;
	return &script;
}

static int script_write(void *sink, const struct nm_sink_msg *msg)
{
	struct script_sink *s = sink;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->eagain_left > 0) {
		s->eagain_left--;
		rc = -EAGAIN;
	} else {
		s->tokens[s->accepted] = msg->token;
		s->seqs[s->accepted] = msg_seq(msg);
		s->accepted++;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void script_poll(void *sink, int timeout_ms)
{
	struct script_sink *s = sink;

	pthread_mutex_lock(&s->lock);
	/* report newest first: out-of-order reports must still release in order */
	if (s->auto_report && s->reported < s->accepted) {
		for (size_t i = s->accepted; i > s->reported; i--)
			s->env->report(s->env->ctx, s->tokens[i - 1], 0);
		s->reported = s->accepted;
	}
	pthread_mutex_unlock(&s->lock);
	usleep(1000);
}

static int script_flush(void *sink, int timeout_ms)
{
	return 0;
}

static void script_destroy(void *sink)
{
}

static const struct nm_sink_type script_type = {
	.api_version = NM_SINK_API_VERSION,
	.name = "script",
	.create = script_create,
	.write = script_write,
	.poll = script_poll,
	.flush = script_flush,
	.destroy = script_destroy,
};

static void dummy_fields(const struct nm_event *ev, struct nm_writer *w)
{
	nm_w_cstr(w, "note", "dummy");
}

static const struct nm_program_type dummy_type = {.name = "dummy", .write_fields = dummy_fields};

static struct nm_msg *make_msg(uint64_t seq)
{
	struct nm_buf b = {0};
	struct nm_buf *enc[NM_FORMAT_COUNT] = {&b, NULL};
	struct nm_event ev;
	struct nm_msg *m;

	memset(&ev, 0, sizeof(ev));
	ev.type = &dummy_type;
	ev.host = "h";
	ev.seq = seq;
	nm_buf_append(&b, "0123456789", 10);
	m = nm_msg_new(&ev, enc, 1);
	nm_buf_free(&b);
	return m;
}

static void reset_script(void)
{
	pthread_mutex_destroy(&script.lock);
	memset(&script, 0, sizeof(script));
	pthread_mutex_init(&script.lock, NULL);
}

static void check_invariant(struct nm_outlet *o)
{
	struct nm_outlet_stats s;
	uint64_t dropped = 0;

	nm_outlet_get_stats(o, &s);
	for (int i = 0; i < NM_SINK_DROP_COUNT; i++)
		dropped += s.dropped[i];
	CHECK_EQ_INT(s.received, s.delivered + dropped + s.queued + s.spooled);
}

static struct nm_outlet *make_outlet(struct nm_queue_config *q, int when_full, long long max)
{
	char err[256];

	memset(q, 0, sizeof(*q));
	q->max_events = max;
	q->max_bytes = 1 << 20;
	q->when_full = when_full;
	reset_script();
	return nm_outlet_create("t", &script_type, NULL, NM_FORMAT_JSON, q, "h", err, sizeof(err));
}

static bool wait_delivered(struct nm_outlet *o, uint64_t n)
{
	struct nm_outlet_stats s;

	for (int i = 0; i < 2000; i++) {
		nm_outlet_get_stats(o, &s);
		if (s.delivered >= n)
			return true;
		usleep(1000);
	}
	return false;
}

static void test_drop_newest(void)
{
	struct nm_queue_config q;
	struct nm_outlet *o = make_outlet(&q, NM_WHEN_FULL_DROP_NEWEST, 10);
	struct nm_outlet_stats s;
	atomic_bool abort_flag = false;

	for (uint64_t i = 1; i <= 25; i++)
		nm_outlet_push(o, make_msg(i), &abort_flag);
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.received, 25);
	CHECK_EQ_INT(s.queued, 10);
	CHECK_EQ_INT(s.dropped[NM_SINK_DROP_QUEUE_FULL], 15);
	check_invariant(o);

	script.auto_report = true;
	nm_outlet_start(o);
	CHECK(wait_delivered(o, 10));
	CHECK_EQ_INT(script.seqs[0], 1); /* the oldest survived */
	CHECK_EQ_INT(script.seqs[9], 10);
	nm_outlet_stop(o, 1000);
	check_invariant(o);
	nm_outlet_destroy(o);
}

static void test_drop_oldest(void)
{
	struct nm_queue_config q;
	struct nm_outlet *o = make_outlet(&q, NM_WHEN_FULL_DROP_OLDEST, 10);
	struct nm_outlet_stats s;
	atomic_bool abort_flag = false;

	for (uint64_t i = 1; i <= 25; i++)
		nm_outlet_push(o, make_msg(i), &abort_flag);
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.queued, 10);
	CHECK_EQ_INT(s.dropped[NM_SINK_DROP_QUEUE_FULL], 15);
	script.auto_report = true;
	nm_outlet_start(o);
	CHECK(wait_delivered(o, 10));
	CHECK_EQ_INT(script.seqs[0], 16); /* the newest survived, in order */
	CHECK_EQ_INT(script.seqs[9], 25);
	nm_outlet_stop(o, 1000);
	check_invariant(o);
	nm_outlet_destroy(o);
}

/* Not now (-EAGAIN) is retried, in order, and nothing is lost. */
static void test_not_now(void)
{
	struct nm_queue_config q;
	struct nm_outlet *o = make_outlet(&q, NM_WHEN_FULL_DROP_NEWEST, 100);
	atomic_bool abort_flag = false;

	script.eagain_left = 7;
	script.auto_report = true;
	nm_outlet_start(o);
	for (uint64_t i = 1; i <= 50; i++)
		nm_outlet_push(o, make_msg(i), &abort_flag);
	CHECK(wait_delivered(o, 50));
	for (size_t i = 0; i < 50; i++)
		CHECK_EQ_INT(script.seqs[i], i + 1);
	nm_outlet_stop(o, 1000);
	check_invariant(o);
	nm_outlet_destroy(o);
}

/* Accepted is not delivered: without reports, events stay queued, then count as shutdown. */
static void test_unreported_at_shutdown(void)
{
	struct nm_queue_config q;
	struct nm_outlet *o = make_outlet(&q, NM_WHEN_FULL_DROP_NEWEST, 100);
	struct nm_outlet_stats s;
	atomic_bool abort_flag = false;

	nm_outlet_start(o);
	for (uint64_t i = 1; i <= 20; i++)
		nm_outlet_push(o, make_msg(i), &abort_flag);
	nm_outlet_kick(o); /* as the reader does after each drain */
	usleep(100 * 1000);
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.delivered, 0);
	CHECK_EQ_INT(s.queued, 20);
	CHECK_EQ_INT(s.inflight, 20);
	nm_outlet_stop(o, 100);
	check_invariant(o);
	nm_outlet_destroy(o);
}

struct blocked_push {
	struct nm_outlet *o;
	atomic_bool *abort_flag;
	atomic_bool done;
};

static void *push_one(void *arg)
{
	struct blocked_push *b = arg;

	nm_outlet_push(b->o, make_msg(99), b->abort_flag);
	atomic_store(&b->done, true);
	return NULL;
}

/* block waits for room (stopping the reader) instead of dropping. */
static void test_block(void)
{
	struct nm_queue_config q;
	struct nm_outlet *o = make_outlet(&q, NM_WHEN_FULL_BLOCK, 5);
	atomic_bool abort_flag = false;
	struct blocked_push b = {o, &abort_flag, false};
	struct nm_outlet_stats s;
	pthread_t t;

	for (uint64_t i = 1; i <= 5; i++)
		nm_outlet_push(o, make_msg(i), &abort_flag);
	pthread_create(&t, NULL, push_one, &b);
	usleep(200 * 1000);
	CHECK(!atomic_load(&b.done)); /* still waiting for room */
	script.auto_report = true;
	nm_outlet_start(o); /* delivering makes room */
	pthread_join(t, NULL);
	CHECK(atomic_load(&b.done));
	CHECK(wait_delivered(o, 6));
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.dropped[NM_SINK_DROP_QUEUE_FULL], 0);
	nm_outlet_stop(o, 1000);
	check_invariant(o);
	nm_outlet_destroy(o);
}

static size_t count_segments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d)))
		n += strstr(de->d_name, ".seg") != NULL;
	if (d)
		closedir(d);
	return n;
}

/*
 * A spooling outlet on a fresh directory from template @dir, its worker not
 * started, with @n events pushed into a memory queue of 10.
 */
static struct nm_outlet *spool_outlet_with(char *dir, struct nm_queue_config *q, uint64_t n)
{
	atomic_bool abort_flag = false;
	char err[256];
	struct nm_outlet *o;

	CHECK(mkdtemp(dir) != NULL);
	memset(q, 0, sizeof(*q));
	q->max_events = 10;
	q->max_bytes = 1 << 20;
	q->when_full = NM_WHEN_FULL_SPOOL;
	q->spool_dir = dir;
	q->spool_max_bytes = 1LL << 30;
	reset_script();
	o = nm_outlet_create("t", &script_type, NULL, NM_FORMAT_JSON, q, "h", err, sizeof(err));
	CHECK(o != NULL);
	for (uint64_t i = 1; o && i <= n; i++)
		nm_outlet_push(o, make_msg(i), &abort_flag);
	return o;
}

static void remove_dir(const char *dir)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

/*
 * when_full = spool: the pusher (the ring reader) never writes the spool;
 * overflow waits for the worker, which spools it and reads it back, in order.
 */
static void test_spool_off_the_reader(void)
{
	char dir[] = "/tmp/nm-outlet-spool.XXXXXX";
	struct nm_queue_config q;
	struct nm_outlet *o = spool_outlet_with(dir, &q, 60);
	struct nm_outlet_stats s;

	if (!o)
		return;
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.received, 60);
	CHECK_EQ_INT(s.queued, 60);
	CHECK_EQ_INT(s.spool_pending, 50);
	CHECK_EQ_INT(s.spooled, 0);
	CHECK_EQ_INT(count_segments(dir), 0); /* nothing touched the disk */
	check_invariant(o);

	script.auto_report = true;
	nm_outlet_start(o);
	CHECK(wait_delivered(o, 60));
	for (size_t i = 0; i < 60; i++)
		CHECK_EQ_INT(script.seqs[i], i + 1); /* through the disk and back, in order */
	CHECK(count_segments(dir) > 0);
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.spool_pending, 0);
	nm_outlet_stop(o, 1000);
	check_invariant(o);
	nm_outlet_destroy(o);
	remove_dir(dir);
}

/*
 * A worker that cannot keep up (here: not running) costs memory only up to
 * the spill bound; past it events are dropped and counted as spool_slow, and
 * what was waiting is spooled at shutdown for the next run.
 */
static void test_spool_slow(void)
{
	char dir[] = "/tmp/nm-outlet-slow.XXXXXX", err[256];
	struct nm_queue_config q;
	struct nm_outlet *o = spool_outlet_with(dir, &q, 10 + NM_SPOOL_SPILL_MAX + 25);
	struct nm_outlet_stats s;

	if (!o)
		return;
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.spool_pending, NM_SPOOL_SPILL_MAX);
	CHECK_EQ_INT(s.dropped[NM_SINK_DROP_SPOOL_SLOW], 25);
	CHECK_EQ_INT(s.queued, 10 + NM_SPOOL_SPILL_MAX);
	check_invariant(o);
	nm_outlet_destroy(o);

	/* the next run finds them all */
	o = nm_outlet_create("t", &script_type, NULL, NM_FORMAT_JSON, &q, "h", err, sizeof(err));
	CHECK(o != NULL);
	if (o) {
		nm_outlet_get_stats(o, &s);
		CHECK_EQ_INT(s.recovered, 10 + NM_SPOOL_SPILL_MAX);
		nm_outlet_destroy(o);
	}
	remove_dir(dir);
}

struct live_pusher {
	struct nm_outlet *o;
	uint64_t first, n;
};

static void *push_live(void *arg)
{
	struct live_pusher *p = arg;
	atomic_bool abort_flag = false;

	for (uint64_t i = 0; i < p->n; i++) {
		nm_outlet_push(p->o, make_msg(p->first + i), &abort_flag);
		if (i % 50 == 0) {
			nm_outlet_kick(p->o);
			usleep(200);
		}
	}
	nm_outlet_kick(p->o);
	return NULL;
}

/*
 * A previous run's backlog is replayed while live events keep arriving: all
 * are delivered, the backlog first, each part in order, nothing twice.
 */
static void test_replay_while_live(void)
{
	enum { BACKLOG = 1500, LIVE = 2000, LIVE_FIRST = 10001 };
	char dir[] = "/tmp/nm-outlet-replay.XXXXXX", err[256];
	struct nm_queue_config q;
	struct live_pusher p;
	struct nm_outlet_stats s;
	struct nm_spool *sp;
	struct nm_outlet *o;
	pthread_t t;

	o = spool_outlet_with(dir, &q, 0);
	nm_outlet_destroy(o); /* a spool directory, empty */
	sp = nm_spool_open(dir, 1 << 30, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	for (uint64_t i = 1; i <= BACKLOG; i++) {
		struct nm_msg *m = make_msg(i);

		CHECK_EQ_INT(nm_spool_append(sp, m, NM_FORMAT_JSON, false), 0);
		nm_msg_unref(m);
	}
	nm_spool_close(sp);

	reset_script();
	script.auto_report = true;
	o = nm_outlet_create("t", &script_type, NULL, NM_FORMAT_JSON, &q, "h", err, sizeof(err));
	CHECK(o != NULL);
	if (!o)
		return;
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.recovered, BACKLOG);
	p = (struct live_pusher){o, LIVE_FIRST, LIVE};
	nm_outlet_start(o);
	pthread_create(&t, NULL, push_live, &p);
	pthread_join(t, NULL);
	CHECK(wait_delivered(o, BACKLOG + LIVE));
	for (size_t i = 0; i < BACKLOG + LIVE; i++)
		CHECK_EQ_INT(script.seqs[i], i < BACKLOG ? i + 1 : LIVE_FIRST + i - BACKLOG);
	nm_outlet_stop(o, 1000);
	check_invariant(o);
	nm_outlet_get_stats(o, &s);
	CHECK_EQ_INT(s.delivered, BACKLOG + LIVE);
	nm_outlet_destroy(o);
	remove_dir(dir);
}

int main(void)
{
	pthread_mutex_init(&script.lock, NULL);
	test_drop_newest();
	test_drop_oldest();
	test_not_now();
	test_unreported_at_shutdown();
	test_block();
	test_spool_off_the_reader();
	test_spool_slow();
	test_replay_while_live();
	CHECK_DONE();
}

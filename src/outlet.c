/* outlet.c - per-sink bounded queue and worker: hands events to the sink, releases them on report. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "outlet.h"
#include "spool.h"
#include "../sinks/lib/clock.h"

#define DEFAULT_MAX_INFLIGHT 4096
/* Wake an idle worker once this many events wait, or on nm_outlet_kick(): not per event. */
#define WAKE_BATCH	512
#define IDLE_WAIT_MS	100
#define REPORT_WAIT_MS	5
#define NOT_NOW_WAIT_MS 20 /* the sink's poll returns sooner when its I/O has news */
/* Events handed to the sink per lock hand-off (the worker drops the lock around sink calls). */
#define HANDOFF_BATCH 64
/* Hot reload of a changed sink: how long the old instance may take to deliver what it accepted. */
#define SWAP_FLUSH_MS 5000

static const char *const when_full_names[] = {"block", "drop_newest", "drop_oldest", "spool", NULL};

const struct nm_option nm_queue_options[] = {
	{"max_events", NM_OPT_INT, offsetof(struct nm_queue_config, max_events), "100000", 1,
	 100000000, NULL, "events held for this sink before when_full applies"},
	{"max_bytes", NM_OPT_INT, offsetof(struct nm_queue_config, max_bytes), "67108864", 4096,
	 1LL << 40, NULL, "encoded bytes held for this sink before when_full applies"},
	{"when_full", NM_OPT_ENUM, offsetof(struct nm_queue_config, when_full), "drop_newest", 0, 0,
	 when_full_names, "block | drop_newest | drop_oldest | spool"},
	{"spool_dir", NM_OPT_STRING, offsetof(struct nm_queue_config, spool_dir), NULL, 0, 0, NULL,
	 "where when_full = spool keeps overflow"},
	{"spool_max_bytes", NM_OPT_INT, offsetof(struct nm_queue_config, spool_max_bytes),
	 "1073741824", 65536, 1LL << 50, NULL, "bound on the spool's size on disk"},
	{NULL},
};

const char *const nm_durability_names[] = {"memory", "disk", NULL};

const char *const nm_sink_drop_names[NM_SINK_DROP_COUNT] = {
	[NM_SINK_DROP_QUEUE_FULL] = "queue_full",
	[NM_SINK_DROP_DELIVERY_FAILED] = "delivery_failed",
	[NM_SINK_DROP_SHUTDOWN] = "shutdown",
	[NM_SINK_DROP_SPOOL_FULL] = "spool_full",
	[NM_SINK_DROP_NO_MEMORY] = "no_memory",
	[NM_SINK_DROP_SPOOL_ERROR] = "spool_error",
	[NM_SINK_DROP_SPOOL_CORRUPT] = "spool_corrupt",
	[NM_SINK_DROP_SPOOL_SLOW] = "spool_slow",
};

/* Slot status of a message left in the spool at shutdown: neither delivered nor lost. */
#define STATUS_KEPT 1
/* Slot status of a message whose outcome was already counted elsewhere. */
#define STATUS_MOVED 2
#define REFILL_BATCH 256
#define SPILL_MAX    NM_SPOOL_SPILL_MAX
#define SPILL_BATCH  256
/* How long one worker pass may spend writing the spill to disk before serving the sink. */
#define SPILL_PASS_MS 20

struct inflight_slot {
	struct nm_msg *msg;
	nm_spool_pos spool_pos; /* 0, or where it sits in the spool until released */
	uint64_t queued_ns;	/* CLOCK_MONOTONIC when it entered pending: delivery latency */
	int status;
	bool done;
};

struct nm_outlet {
	char *name;
	const struct nm_sink_type *type;
	void *sink;
	/*
	 * Hot reload: a new instance of the sink, waiting for the worker to take it
	 * (under lock). sink_lock guards o->sink for the threads other than the
	 * worker (stats); the worker is the only one that changes it.
	 */
	void *next_sink;
	pthread_rwlock_t sink_lock;
	enum nm_format format;
	unsigned enc; /* nm_encoding(format, q->schema): which of a message's encodings it sends */
	const struct nm_queue_config *q;
	struct nm_sink_env env;

	pthread_mutex_t lock;
	pthread_cond_t work;  /* worker waits for pending events */
	pthread_cond_t space; /* a blocked pusher waits for room */
	pthread_t thread;
	bool started;
	bool stopping;
	bool reopen;
	bool worker_idle;
	int stop_timeout_ms;

	/* pending: ring of queued events not yet handed to the sink */
	struct nm_msg **pending;
	nm_spool_pos *pending_pos; /* when_full = spool: beside pending, same index */
	uint64_t *pending_ns;	   /* beside pending: when each entered it */
	size_t pending_cap; /* max_events + HANDOFF_BATCH: a refused batch always fits back */
	size_t pending_head;
	size_t pending_count;

	/* in flight: accepted by the sink, indexed by token % inflight_cap */
	struct inflight_slot *inflight;
	size_t inflight_cap;
	uint64_t oldest_token; /* first unreleased token */
	uint64_t next_token;   /* next token to hand out */

	uint64_t queued_bytes;
	uint64_t received;
	uint64_t delivered;
	uint64_t dropped[NM_SINK_DROP_COUNT];
	/* Delivery latency, under the lock release_done holds anyway: no cost of its own. */
	uint64_t latency_bucket[NM_LATENCY_BUCKETS]; /* not cumulative; the last is +Inf */
	uint64_t latency_sum_ns;
	struct nm_ratelimit failure_rl;

	/*
	 * when_full = spool. The reader never touches the disk: what must go to
	 * the spool waits in `spill` (arrival order) until the worker writes it,
	 * outside the lock. While the worker runs, only it uses `spool`, and
	 * publishes what the others need under the lock: the unread count and
	 * size. Acks reach it the same way.
	 */
	struct nm_spool *spool;
	bool worker_owns_spool;
	/*
	 * durability = disk: every event takes the spill and the spool, and
	 * comes back from it only once committed (group commit, one fdatasync
	 * per durability_sync_ms at most), so a kill loses only the newest.
	 */
	bool durable;
	int64_t last_sync_ms;		   /* worker only */
	struct nm_segstore_stats spool_st; /* the worker's last word, published under the lock */
	struct nm_msg **spill;		   /* ring of SPILL_MAX */
	size_t spill_head;
	size_t spill_count;
	uint64_t spill_bytes;
	uint64_t spool_unread; /* on disk, not yet read back: the worker's last word */
	uint64_t spool_bytes;
	uint64_t spool_recovered;
	uint64_t spool_ack_errors;
	nm_spool_pos ack_pos; /* released up to here, not yet told to the spool */
	bool ack_due;
	uint64_t kept;	      /* read back from the spool, left there at shutdown */
	bool ack_frozen;      /* a record was kept: later ones must not move the ack */
	uint64_t slow_logged; /* spool_slow drops already logged (worker only) */
	struct nm_ratelimit spool_rl;
};

static void sink_log(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	nm_log(level, "%s", line);
}

const double nm_latency_bounds[NM_LATENCY_BUCKETS - 1] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static const uint64_t latency_bounds_ns[NM_LATENCY_BUCKETS - 1] = {
	1000000,   2500000,   5000000,	  10000000,   25000000,	  50000000,    100000000,
	250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One delivery of @ns nanoseconds into the histogram. Lock held. */
static void latency_add(struct nm_outlet *o, uint64_t ns)
{
	int i = 0;

	while (i < NM_LATENCY_BUCKETS - 1 && ns > latency_bounds_ns[i])
		i++;
	o->latency_bucket[i]++;
	o->latency_sum_ns += ns;
}

/* Lock held. */
static void latency_get(const struct nm_outlet *o, struct nm_outlet_latency *l)
{
	uint64_t sum = 0;

	for (int i = 0; i < NM_LATENCY_BUCKETS; i++) {
		sum += o->latency_bucket[i];
		l->cumulative[i] = sum;
	}
	l->count = sum;
	l->sum_ns = o->latency_sum_ns;
}

static size_t inflight_count(const struct nm_outlet *o)
{
	return (size_t)(o->next_token - o->oldest_token);
}

static uint32_t msg_len(const struct nm_outlet *o, const struct nm_msg *m)
{
	return m->len[o->enc];
}

/* @pos and everything before it left the spool. Lock held. */
static void note_ack(struct nm_outlet *o, nm_spool_pos pos)
{
	if (o->worker_owns_spool) {
		o->ack_pos = pos; /* the worker tells the spool, outside the lock */
		o->ack_due = true;
	} else {
		nm_spool_ack(o->spool, pos); /* no worker: shutdown, nobody waits on the lock */
	}
}

/* Release finished in-flight slots in token order. Lock held. */
static void release_done(struct nm_outlet *o)
{
	uint64_t now = 0;
	bool freed = false;

	while (o->oldest_token < o->next_token) {
		struct inflight_slot *s = &o->inflight[o->oldest_token % o->inflight_cap];

		if (!s->done)
			break;
		/*
		 * Delivered or counted: off the disk. Past a record kept for the next
		 * run the position stays put, so the next run replays from there (some
		 * delivered twice, none lost).
		 */
		if (s->spool_pos && s->status != STATUS_KEPT && !o->ack_frozen)
			note_ack(o, s->spool_pos);
		if (s->status == STATUS_KEPT) {
			o->kept++;
			o->ack_frozen = true;
		} else if (s->status == STATUS_MOVED) {
			/* already counted: unread in the spool, or a spool drop */
		} else if (s->status == 0) {
			o->delivered++;
			if (!now)
				now = mono_ns(); /* once per batch of reports */
			latency_add(o, now > s->queued_ns ? now - s->queued_ns : 0);
		} else if (s->status == -ECANCELED) {
			o->dropped[NM_SINK_DROP_SHUTDOWN]++;
		} else {
			o->dropped[NM_SINK_DROP_DELIVERY_FAILED]++;
		}
		o->queued_bytes -= msg_len(o, s->msg);
		nm_msg_unref(s->msg);
		s->msg = NULL;
		s->spool_pos = 0;
		s->done = false;
		o->oldest_token++;
		freed = true;
	}
	if (freed)
		pthread_cond_broadcast(&o->space);
}

static void mark_done(struct nm_outlet *o, uint64_t token, int status)
{
	struct inflight_slot *s;

	if (token < o->oldest_token || token >= o->next_token) {
		nm_log_ratelimited(&o->failure_rl, NM_LOG_WARN,
				   "sink %s reported unknown token %llu", o->name,
				   (unsigned long long)token);
		return;
	}
	s = &o->inflight[token % o->inflight_cap];
	if (s->done)
		return;
	s->done = true;
	s->status = status;
	if (status)
		nm_log_ratelimited(&o->failure_rl, NM_LOG_WARN, "sink %s: delivery failed: %s",
				   o->name, strerror(-status));
}

static void on_report(void *ctx, uint64_t token, int status)
{
	struct nm_outlet *o = ctx;

	pthread_mutex_lock(&o->lock);
	mark_done(o, token, status);
	release_done(o);
	pthread_mutex_unlock(&o->lock);
}

static void on_report_range(void *ctx, uint64_t first, uint64_t last, int status)
{
	struct nm_outlet *o = ctx;

	pthread_mutex_lock(&o->lock);
	for (uint64_t t = first; t <= last; t++)
		mark_done(o, t, status);
	release_done(o);
	pthread_mutex_unlock(&o->lock);
}

struct nm_outlet *nm_outlet_create(const char *name, const struct nm_sink_type *type,
				   const void *sink_config, enum nm_format format,
				   const struct nm_queue_config *q, const char *host, char *err,
				   size_t errlen)
{
	struct nm_outlet *o = calloc(1, sizeof(*o));

	if (!o)
		goto oom;
	o->name = strdup(name);
	o->type = type;
	o->format = format;
	o->enc = nm_encoding(format, q->schema > 0 && q->schema < NM_SCHEMA_COUNT
					     ? (enum nm_schema)q->schema
					     : NM_SCHEMA_NATIVE);
	o->q = q;
	o->pending_cap = (size_t)q->max_events + HANDOFF_BATCH;
	o->inflight_cap = type->max_inflight ? type->max_inflight : DEFAULT_MAX_INFLIGHT;
	if (o->inflight_cap > (size_t)q->max_events)
		o->inflight_cap = (size_t)q->max_events;
	o->pending = calloc(o->pending_cap, sizeof(*o->pending));
	o->pending_ns = calloc(o->pending_cap, sizeof(*o->pending_ns));
	o->inflight = calloc(o->inflight_cap, sizeof(*o->inflight));
	if (!o->name || !o->pending || !o->pending_ns || !o->inflight)
		goto oom;
	pthread_mutex_init(&o->lock, NULL);
	pthread_rwlock_init(&o->sink_lock, NULL);
	pthread_cond_init(&o->work, NULL);
	pthread_cond_init(&o->space, NULL);

	o->durable = q->durability == NM_DURABILITY_DISK;
	if (q->when_full == NM_WHEN_FULL_SPOOL || o->durable) {
		struct nm_segstore_stats st;
		char why[512];

		o->pending_pos = calloc(o->pending_cap, sizeof(*o->pending_pos));
		o->spill = calloc(SPILL_MAX, sizeof(*o->spill));
		if (!o->pending_pos || !o->spill)
			goto oom;
		o->spool =
			nm_spool_open(q->spool_dir, (uint64_t)q->spool_max_bytes, why, sizeof(why));
		if (!o->spool) {
			snprintf(err, errlen, "sink %s: %s", name, why);
			goto fail;
		}
		if (o->durable)
			nm_spool_set_durable(o->spool);
		nm_spool_get_stats(o->spool, &st);
		o->spool_st = st;
		/* A previous run's backlog is received again, so the books still balance. */
		o->received = st.recovered;
		o->spool_recovered = st.recovered;
		o->spool_unread = st.unread;
		o->spool_bytes = st.bytes;
		if (st.recovered)
			nm_info("sink %s: %llu events in the spool at %s from a previous run, replaying",
				name, (unsigned long long)st.recovered, q->spool_dir);
	}

	o->env.name = o->name;
	o->env.format = format;
	o->env.host = host;
	o->env.report = on_report;
	o->env.report_range = on_report_range;
	o->env.ctx = o;
	o->env.log = sink_log;
	o->sink = type->create(sink_config, &o->env, err, errlen);
	if (!o->sink)
		goto fail;
	return o;
oom:
	snprintf(err, errlen, "sink %s: out of memory", name);
fail:
	nm_outlet_destroy(o);
	return NULL;
}

/*
 * Hand pending events to the sink while it accepts and in-flight room lasts,
 * HANDOFF_BATCH at a time: the lock is dropped once around a batch of sink
 * calls rather than around each, so the reader pushing meanwhile meets it
 * free. Tokens are handed out for the whole batch up front (only the worker
 * hands them out); what the sink does not take goes back to the front of
 * pending, in order. Lock held. True when the sink said "not now" (-EAGAIN).
 */
static bool hand_off(struct nm_outlet *o)
{
	while (o->pending_count && inflight_count(o) < o->inflight_cap) {
		struct nm_sink_msg sm[HANDOFF_BATCH];
		int rc[HANDOFF_BATCH];
		uint64_t first = o->next_token;
		size_t n = o->inflight_cap - inflight_count(o), taken = 0;
		bool refused = false;

		if (n > o->pending_count)
			n = o->pending_count;
		if (n > HANDOFF_BATCH)
			n = HANDOFF_BATCH;
		for (size_t i = 0; i < n; i++) {
			struct nm_msg *m = o->pending[o->pending_head];
			struct inflight_slot *s = &o->inflight[(first + i) % o->inflight_cap];

			sm[i] = (struct nm_sink_msg){
				.token = first + i,
				.data = m->data[o->enc],
				.len = m->len[o->enc],
				.type = m->type,
				/* a replayed event's host is only in its stored fields */
				.host = m->fields_ctx == &m->event ? m->event.host : NULL,
				.write_fields = m->write_fields,
				.event = m->fields_ctx,
			};
			s->spool_pos = o->pending_pos ? o->pending_pos[o->pending_head] : 0;
			s->queued_ns = o->pending_ns[o->pending_head];
			o->pending_head = (o->pending_head + 1) % o->pending_cap;
			o->pending_count--;
			s->msg = m;
			s->done = false;
		}
		o->next_token += n;

		pthread_mutex_unlock(&o->lock);
		while (taken < n) {
			rc[taken] = o->type->write(o->sink, &sm[taken]);
			if (rc[taken] == -EAGAIN)
				break;
			taken++;
		}
		pthread_mutex_lock(&o->lock);

		for (size_t i = 0; i < taken; i++) {
			struct inflight_slot *s = &o->inflight[(first + i) % o->inflight_cap];

			if (rc[i] >= 0)
				continue;
			s->done = true;
			s->status = rc[i];
			refused = true;
			nm_log_ratelimited(&o->failure_rl, NM_LOG_WARN,
					   "sink %s refused an event: %s", o->name,
					   strerror(-rc[i]));
		}
		/* Not now: back to the front, newest first, so the order stays. */
		for (size_t i = n; i-- > taken;) {
			struct inflight_slot *s = &o->inflight[(first + i) % o->inflight_cap];

			o->pending_head = (o->pending_head + o->pending_cap - 1) % o->pending_cap;
			o->pending[o->pending_head] = s->msg;
			if (o->pending_pos)
				o->pending_pos[o->pending_head] = s->spool_pos;
			o->pending_ns[o->pending_head] = s->queued_ns;
			o->pending_count++;
			s->msg = NULL;
			s->spool_pos = 0;
		}
		o->next_token = first + taken;
		if (refused)
			release_done(o);
		if (taken < n)
			return true;
	}
	return false;
}

static void add_ms(struct timespec *ts, int ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Room for one more event of @len bytes in memory (pending + in flight)? Lock held. */
static bool has_room(const struct nm_outlet *o, uint32_t len)
{
	return o->pending_count + inflight_count(o) < (size_t)o->q->max_events &&
	       o->queued_bytes + len <= (uint64_t)o->q->max_bytes;
}

/* Queue @m (owned) behind the pending ones; @pos is its place in the spool or 0. Lock held. */
static void pending_append(struct nm_outlet *o, struct nm_msg *m, nm_spool_pos pos)
{
	size_t at = (o->pending_head + o->pending_count) % o->pending_cap;

	o->pending[at] = m;
	if (o->pending_pos)
		o->pending_pos[at] = pos;
	/* Ingestion for a live event; read back from the spool: from then (the disk's time is not kept). */
	o->pending_ns[at] = mono_ns();
	o->pending_count++;
	o->queued_bytes += msg_len(o, m);
}

/* Take the oldest spilled event (now the caller's). Lock held. */
static struct nm_msg *spill_pop(struct nm_outlet *o)
{
	struct nm_msg *m = o->spill[o->spill_head];

	o->spill_head = (o->spill_head + 1) % SPILL_MAX;
	o->spill_count--;
	o->spill_bytes -= msg_len(o, m);
	return m;
}

/*
 * Write @m (still the caller's) to the spool; a failure is counted in
 * @lost[reason] and logged. 0 or the spool's error. The caller owns the
 * spool: the worker outside the lock, or the last thread at shutdown.
 */
static int spool_write(struct nm_outlet *o, const struct nm_msg *m, bool front,
		       uint64_t lost[NM_SINK_DROP_COUNT])
{
	int rc = nm_spool_append(o->spool, m, o->enc, front);

	if (!rc)
		return 0;
	if (rc == -EFBIG) {
		lost[NM_SINK_DROP_SPOOL_FULL]++;
		nm_log_ratelimited(&o->spool_rl, NM_LOG_WARN,
				   "sink %s: spool %s reached spool_max_bytes, dropping new events",
				   o->name, o->q->spool_dir);
	} else if (rc == -ENOMEM) {
		lost[NM_SINK_DROP_NO_MEMORY]++;
	} else {
		/* Disk full or failing: the sink degrades to counted loss, the agent runs on. */
		lost[NM_SINK_DROP_SPOOL_ERROR]++;
		nm_log_ratelimited(&o->spool_rl, NM_LOG_ERR,
				   "sink %s: CANNOT WRITE SPOOL %s: %s; events are being lost",
				   o->name, o->q->spool_dir, strerror(-rc));
	}
	return rc;
}

/* What one worker pass takes from the shared state, does on disk, and gives back. */
struct spool_pass {
	struct nm_msg *write[SPILL_BATCH]; /* oldest spilled events: still in the spill ring */
	size_t nwrite;
	struct nm_msg *back[REFILL_BATCH]; /* read back from the spool, for pending */
	nm_spool_pos back_pos[REFILL_BATCH];
	size_t nback;
	size_t room;	     /* events pending may take */
	uint64_t room_bytes; /* bytes pending may take */
	bool ack_due;
	nm_spool_pos ack_pos;
	uint64_t slow;	  /* spool_slow drops so far, for the log */
	uint64_t corrupt; /* records skipped while reading back */
	uint64_t lost[NM_SINK_DROP_COUNT];
	struct nm_segstore_stats st;
};

/* Under the lock: move what needs no disk, and pick this pass's work. */
static void pass_begin(struct nm_outlet *o, struct spool_pass *p)
{
	size_t used;

	/* Nothing older on disk and room in memory: spilled events skip the disk (unless durable). */
	while (!o->durable && o->spill_count && !o->spool_unread &&
	       has_room(o, msg_len(o, o->spill[o->spill_head])))
		pending_append(o, spill_pop(o), 0);
	used = o->pending_count + inflight_count(o);
	p->nwrite = o->spill_count < SPILL_BATCH ? o->spill_count : SPILL_BATCH;
	for (size_t i = 0; i < p->nwrite; i++)
		p->write[i] = o->spill[(o->spill_head + i) % SPILL_MAX];
	p->nback = 0;
	p->room = 0;
	p->room_bytes = 0;
	if (used < (size_t)o->q->max_events && o->queued_bytes < (uint64_t)o->q->max_bytes) {
		p->room = (size_t)o->q->max_events - used;
		p->room_bytes = (uint64_t)o->q->max_bytes - o->queued_bytes;
	}
	if (p->room > REFILL_BATCH)
		p->room = REFILL_BATCH;
	/*
	 * Read back no more than the spool counts as unread now: while it counts
	 * none, the reader may queue into pending directly and the room is not
	 * reserved; this pass's own appends are read back by the next one.
	 */
	if (p->room > o->spool_unread)
		p->room = (size_t)o->spool_unread;
	p->ack_due = o->ack_due;
	p->ack_pos = o->ack_pos;
	o->ack_due = false;
	p->slow = o->dropped[NM_SINK_DROP_SPOOL_SLOW];
	p->corrupt = 0;
	memset(p->lost, 0, sizeof(p->lost));
}

/* Without the lock: the disk work. Appends go behind what is unread, reads come from its front. */
static void pass_disk(struct nm_outlet *o, struct spool_pass *p)
{
	uint64_t read_bytes = 0;

	if (p->ack_due)
		nm_spool_ack(o->spool, p->ack_pos);
	nm_spool_tick(o->spool); /* bounds what a crash replays twice */
	for (size_t i = 0; i < p->nwrite; i++)
		spool_write(o, p->write[i], false, p->lost);
	if (o->durable) {
		/* Group commit: what was written since the last one, at most once per interval. */
		int64_t now = nm_mono_ms();

		nm_spool_get_stats(o->spool, &p->st);
		if (p->st.unsynced && now - o->last_sync_ms >= o->q->durability_sync_ms) {
			nm_spool_sync(o->spool);
			o->last_sync_ms = now;
		}
	}
	while (p->nback < p->room && read_bytes < p->room_bytes) {
		struct nm_msg *m;
		int rc = nm_spool_read(o->spool, o->enc, &m, &p->back_pos[p->nback], &p->corrupt);

		if (rc < 0)
			p->lost[NM_SINK_DROP_NO_MEMORY]++;
		if (rc <= 0)
			break;
		read_bytes += msg_len(o, m);
		p->back[p->nback++] = m;
	}
	if (p->corrupt)
		nm_log_ratelimited(&o->spool_rl, NM_LOG_ERR,
				   "sink %s: skipped %llu corrupt records in spool %s", o->name,
				   (unsigned long long)p->corrupt, o->q->spool_dir);
	if (p->slow > o->slow_logged) {
		nm_log_ratelimited(&o->spool_rl, NM_LOG_ERR,
				   "sink %s: spool %s cannot keep up, %llu events lost so far",
				   o->name, o->q->spool_dir, (unsigned long long)p->slow);
		o->slow_logged = p->slow;
	}
	nm_spool_get_stats(o->spool, &p->st);
}

/* Under the lock again: publish the outcome in one step, so every snapshot balances. */
static void pass_end(struct nm_outlet *o, struct spool_pass *p)
{
	for (size_t i = 0; i < p->nwrite; i++)
		nm_msg_unref(spill_pop(o)); /* spooled or counted in lost */
	for (size_t i = 0; i < p->nback; i++)
		pending_append(o, p->back[i], p->back_pos[i]);
	for (int r = 0; r < NM_SINK_DROP_COUNT; r++)
		o->dropped[r] += p->lost[r];
	o->dropped[NM_SINK_DROP_SPOOL_CORRUPT] += p->corrupt;
	o->spool_unread = p->st.unread;
	o->spool_bytes = p->st.bytes;
	o->spool_ack_errors = p->st.ack_errors;
	o->spool_st = p->st;
	if (p->nwrite)
		pthread_cond_broadcast(&o->space); /* durable + block: room in the spill */
}

/* Spooled records the worker may read back now: durable ones only once committed. */
static bool spool_readable(const struct nm_outlet *o)
{
	return o->spool_unread > (o->durable ? o->spool_st.unsynced : 0);
}

/*
 * The worker's spool work: spilled events to disk, acks to the spool, spooled
 * events back into memory as it frees up. The lock is held on entry and exit
 * and dropped around all file I/O, so the reader never waits for the disk.
 */
static void spool_work(struct nm_outlet *o)
{
	int64_t until = nm_mono_ms() + SPILL_PASS_MS;
	struct spool_pass p;

	do {
		pass_begin(o, &p);
		pthread_mutex_unlock(&o->lock);
		pass_disk(o, &p);
		pthread_mutex_lock(&o->lock);
		pass_end(o, &p);
	} while (o->spill_count && !o->stopping && nm_mono_ms() < until);
}

/*
 * Hot reload: the old instance delivers what it accepted, then the new one
 * takes over the same queue (and spool). Worker only; lock held on entry and
 * exit. What the old one neither delivered nor failed in time is counted as
 * dropped at shutdown, as a stop would.
 */
static void take_next_sink(struct nm_outlet *o)
{
	void *next = o->next_sink, *old = o->sink;

	o->next_sink = NULL;
	pthread_mutex_unlock(&o->lock);
	o->type->flush(old, SWAP_FLUSH_MS);
	pthread_rwlock_wrlock(&o->sink_lock);
	o->sink = next;
	pthread_rwlock_unlock(&o->sink_lock);
	o->type->destroy(old); /* may still report */
	pthread_mutex_lock(&o->lock);
	for (uint64_t t = o->oldest_token; t < o->next_token; t++) {
		struct inflight_slot *s = &o->inflight[t % o->inflight_cap];

		if (!s->done) {
			s->done = true;
			s->status = -ECANCELED;
		}
	}
	release_done(o);
	nm_info("sink %s: now running with its new configuration", o->name);
}

static void *worker(void *arg)
{
	struct nm_outlet *o = arg;
	int64_t deadline = 0;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		bool can_send, waiting_reports, not_now;
		int wait_ms;

		if (o->next_sink)
			take_next_sink(o);
		if (o->reopen && o->type->reopen) {
			o->reopen = false;
			pthread_mutex_unlock(&o->lock);
			o->type->reopen(o->sink);
			pthread_mutex_lock(&o->lock);
		}
		if (o->stopping && !deadline)
			deadline = nm_mono_ms() + o->stop_timeout_ms;
		if (o->spool && !o->stopping)
			spool_work(o);
		not_now = hand_off(o);
		/* a sink that said "not now" (disconnected, its queue full) is polled, not spun on */
		can_send = !not_now && o->pending_count && inflight_count(o) < o->inflight_cap;
		if (o->spool && !o->stopping &&
		    (o->spill_count || o->ack_due || (spool_readable(o) && has_room(o, 0))))
			can_send = true; /* more to spool, to ack or to read back: no idle wait */
		waiting_reports = inflight_count(o) > 0;
		if (o->stopping && (!o->pending_count || nm_mono_ms() >= deadline))
			break;
		if (!can_send && !waiting_reports && !o->stopping && !o->reopen && !o->next_sink) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			/* Written but not committed: back in time for the group commit. */
			if (o->durable && o->spool_st.unsynced)
				add_ms(&ts, o->q->durability_sync_ms > 0
						    ? (int)o->q->durability_sync_ms
						    : 1);
			else
				add_ms(&ts, IDLE_WAIT_MS);
			o->worker_idle = true;
			pthread_cond_timedwait(&o->work, &o->lock, &ts);
			o->worker_idle = false;
			wait_ms = 0;
		} else {
			wait_ms = can_send ? 0 : not_now ? NOT_NOW_WAIT_MS : REPORT_WAIT_MS;
		}
		pthread_mutex_unlock(&o->lock);
		o->type->poll(o->sink, wait_ms);
		pthread_mutex_lock(&o->lock);
	}
	pthread_mutex_unlock(&o->lock);

	{
		int64_t left = deadline - nm_mono_ms();

		o->type->flush(o->sink, left > 0 ? (int)left : 0);
	}
	return NULL;
}

int nm_outlet_start(struct nm_outlet *o)
{
	int rc;

	pthread_mutex_lock(&o->lock);
	o->worker_owns_spool = o->spool != NULL;
	pthread_mutex_unlock(&o->lock);
	rc = pthread_create(&o->thread, NULL, worker, o);
	if (rc) {
		o->worker_owns_spool = false;
		return -rc;
	}
	o->started = true;
	return 0;
}

/*
 * when_full = spool and memory is full, or something is spooled already (newer
 * events go behind it): leave @m (owned) for the worker to spool. When the
 * worker cannot keep up, drop it as spool_slow rather than wait. Lock held.
 */
static void spill(struct nm_outlet *o, struct nm_msg *m, uint32_t len)
{
	if (o->spill_count == SPILL_MAX || o->spill_bytes + len > (uint64_t)o->q->max_bytes) {
		o->dropped[NM_SINK_DROP_SPOOL_SLOW]++;
		nm_msg_unref(m);
		return;
	}
	o->spill[(o->spill_head + o->spill_count) % SPILL_MAX] = m;
	o->spill_count++;
	o->spill_bytes += len;
	if (o->worker_idle && o->spill_count >= WAKE_BATCH)
		pthread_cond_signal(&o->work);
}

/* Room for @len more bytes where pushed events go first: the spill when durable. Lock held. */
static bool can_take(const struct nm_outlet *o, uint32_t len)
{
	if (o->durable)
		return o->spill_count < SPILL_MAX &&
		       o->spill_bytes + len <= (uint64_t)o->q->max_bytes;
	return has_room(o, len);
}

void nm_outlet_push(struct nm_outlet *o, struct nm_msg *m, const atomic_bool *abort)
{
	uint32_t len = msg_len(o, m);

	pthread_mutex_lock(&o->lock);
	/*
	 * block: wait for room before the event counts as received, so that
	 * received == delivered + dropped + queued holds while we wait.
	 */
	while (o->q->when_full == NM_WHEN_FULL_BLOCK && !can_take(o, len) && !o->stopping &&
	       !atomic_load(abort)) {
		struct timespec ts;

		if (o->worker_idle)
			pthread_cond_signal(&o->work);
		clock_gettime(CLOCK_REALTIME, &ts);
		add_ms(&ts, 50);
		pthread_cond_timedwait(&o->space, &o->lock, &ts);
	}
	o->received++;
	if (o->spool && (o->durable || o->spill_count || o->spool_unread || !has_room(o, len))) {
		spill(o, m, len);
		pthread_mutex_unlock(&o->lock);
		return;
	}
	while (!has_room(o, len)) {
		if (o->q->when_full == NM_WHEN_FULL_BLOCK) {
			/* Shutting down: queue anyway, the stop deadline accounts for it. */
			if (o->pending_count < (size_t)o->q->max_events)
				break;
		}
		if (o->q->when_full == NM_WHEN_FULL_DROP_OLDEST && o->pending_count) {
			struct nm_msg *old = o->pending[o->pending_head];

			o->pending_head = (o->pending_head + 1) % o->pending_cap;
			o->pending_count--;
			o->queued_bytes -= msg_len(o, old);
			o->dropped[NM_SINK_DROP_QUEUE_FULL]++;
			nm_msg_unref(old);
			continue;
		}
		o->dropped[NM_SINK_DROP_QUEUE_FULL]++;
		pthread_mutex_unlock(&o->lock);
		nm_msg_unref(m);
		return;
	}
	pending_append(o, m, 0);
	if (o->worker_idle && o->pending_count >= WAKE_BATCH)
		pthread_cond_signal(&o->work);
	pthread_mutex_unlock(&o->lock);
}

void nm_outlet_kick(struct nm_outlet *o)
{
	pthread_mutex_lock(&o->lock);
	if (o->worker_idle && (o->pending_count || o->spill_count))
		pthread_cond_signal(&o->work);
	pthread_mutex_unlock(&o->lock);
}

void nm_outlet_request_reopen(struct nm_outlet *o)
{
	pthread_mutex_lock(&o->lock);
	o->reopen = true;
	pthread_cond_signal(&o->work);
	pthread_mutex_unlock(&o->lock);
}

void *nm_outlet_sink_create(struct nm_outlet *o, const void *sink_config, char *err, size_t errlen)
{
	return o->type->create(sink_config, &o->env, err, errlen);
}

void nm_outlet_sink_discard(struct nm_outlet *o, void *sink)
{
	if (sink)
		o->type->destroy(sink);
}

void nm_outlet_swap_sink(struct nm_outlet *o, void *sink)
{
	void *unused;

	pthread_mutex_lock(&o->lock);
	if (!o->started) { /* no worker: nothing uses the sink but us */
		unused = o->sink;
		pthread_rwlock_wrlock(&o->sink_lock);
		o->sink = sink;
		pthread_rwlock_unlock(&o->sink_lock);
	} else {
		unused = o->next_sink; /* a reload the worker has not taken yet: never used */
		o->next_sink = sink;
		pthread_cond_signal(&o->work);
	}
	pthread_mutex_unlock(&o->lock);
	nm_outlet_sink_discard(o, unused);
}

void nm_outlet_stop(struct nm_outlet *o, int timeout_ms)
{
	if (!o || !o->started)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	o->stop_timeout_ms = timeout_ms;
	pthread_cond_broadcast(&o->work);
	pthread_cond_broadcast(&o->space);
	pthread_mutex_unlock(&o->lock);
	pthread_join(o->thread, NULL);
	o->started = false;
	pthread_mutex_lock(&o->lock);
	o->worker_owns_spool = false; /* joined: whoever holds the lock may use the spool now */
	pthread_mutex_unlock(&o->lock);
}

/* Count whatever is still queued as lost at shutdown. Lock held or no other thread. */
static void drop_remaining(struct nm_outlet *o)
{
	while (o->pending_count) {
		struct nm_msg *m = o->pending[o->pending_head];

		o->pending_head = (o->pending_head + 1) % o->pending_cap;
		o->pending_count--;
		o->queued_bytes -= msg_len(o, m);
		o->dropped[NM_SINK_DROP_SHUTDOWN]++;
		nm_msg_unref(m);
	}
	while (o->oldest_token < o->next_token) {
		struct inflight_slot *s = &o->inflight[o->oldest_token % o->inflight_cap];

		if (!s->done) {
			s->done = true;
			s->status = -ECANCELED;
		}
		release_done(o);
	}
}

/*
 * when_full = spool at shutdown, no worker left: what is still in memory goes
 * to the spool for the next run instead of being lost. Events read back from
 * the spool are still there and only let go of. The in-memory ones are older
 * than the spooled ones unless the spool is being read back, so they go in
 * front of it then; otherwise (rare: memory and disk both busy) behind it.
 * The spill is newer than everything: it goes last. Lock held.
 */
static void keep_in_spool(struct nm_outlet *o)
{
	bool front = nm_spool_unread(o->spool) > 0;
	struct nm_segstore_stats st;
	uint64_t kept = 0;

	if (o->ack_due)
		nm_spool_ack(o->spool, o->ack_pos);
	o->ack_due = false;
	for (uint64_t t = o->oldest_token; t < o->next_token; t++)
		if (o->inflight[t % o->inflight_cap].spool_pos)
			front = false;
	for (size_t i = 0; i < o->pending_count; i++)
		if (o->pending_pos[(o->pending_head + i) % o->pending_cap])
			front = false;

	for (uint64_t t = o->oldest_token; t < o->next_token; t++) {
		struct inflight_slot *s = &o->inflight[t % o->inflight_cap];

		if (s->done)
			continue;
		s->done = true;
		if (s->spool_pos) {
			s->status = STATUS_KEPT;
		} else {
			/* Now unread in the spool, or counted by spool_write: nothing more to count. */
			s->status = STATUS_MOVED;
			kept += !spool_write(o, s->msg, front, o->dropped);
		}
	}
	release_done(o);
	while (o->pending_count) {
		struct nm_msg *m = o->pending[o->pending_head];
		nm_spool_pos pos = o->pending_pos[o->pending_head];

		o->pending_head = (o->pending_head + 1) % o->pending_cap;
		o->pending_count--;
		o->queued_bytes -= msg_len(o, m);
		if (pos)
			o->kept++;
		else if (!spool_write(o, m, front, o->dropped))
			kept++;
		nm_msg_unref(m);
	}
	while (o->spill_count) {
		struct nm_msg *m = spill_pop(o);

		kept += !spool_write(o, m, false, o->dropped);
		nm_msg_unref(m);
	}
	nm_spool_get_stats(o->spool, &st);
	o->spool_unread = st.unread;
	o->spool_bytes = st.bytes;
	o->spool_st = st;
	if (kept)
		nm_info("sink %s: %llu undelivered events written to spool %s for the next run",
			o->name, (unsigned long long)kept, o->q->spool_dir);
}

void nm_outlet_destroy(struct nm_outlet *o)
{
	if (!o)
		return;
	nm_outlet_stop(o, 0);
	if (o->sink)
		o->type->destroy(o->sink); /* may still report */
	o->sink = NULL;
	nm_outlet_sink_discard(o, o->next_sink);
	o->next_sink = NULL;
	if (o->pending) {
		struct nm_outlet_stats st;
		uint64_t dropped = 0;

		pthread_mutex_lock(&o->lock);
		if (o->spool)
			keep_in_spool(o);
		drop_remaining(o);
		pthread_mutex_unlock(&o->lock);
		if (o->dropped[NM_SINK_DROP_SHUTDOWN])
			nm_warn("sink %s: %llu events not delivered at shutdown", o->name,
				(unsigned long long)o->dropped[NM_SINK_DROP_SHUTDOWN]);
		/* The books of this run, for operators and tests: they must balance. */
		nm_outlet_get_stats(o, &st);
		for (int i = 0; i < NM_SINK_DROP_COUNT; i++)
			dropped += st.dropped[i];
		nm_info("sink %s: final: received %llu delivered %llu dropped %llu spooled %llu "
			"(queue_full %llu delivery_failed %llu shutdown %llu spool_full %llu "
			"spool_error %llu spool_corrupt %llu spool_slow %llu no_memory %llu)",
			o->name, (unsigned long long)st.received, (unsigned long long)st.delivered,
			(unsigned long long)dropped, (unsigned long long)st.spooled,
			(unsigned long long)st.dropped[NM_SINK_DROP_QUEUE_FULL],
			(unsigned long long)st.dropped[NM_SINK_DROP_DELIVERY_FAILED],
			(unsigned long long)st.dropped[NM_SINK_DROP_SHUTDOWN],
			(unsigned long long)st.dropped[NM_SINK_DROP_SPOOL_FULL],
			(unsigned long long)st.dropped[NM_SINK_DROP_SPOOL_ERROR],
			(unsigned long long)st.dropped[NM_SINK_DROP_SPOOL_CORRUPT],
			(unsigned long long)st.dropped[NM_SINK_DROP_SPOOL_SLOW],
			(unsigned long long)st.dropped[NM_SINK_DROP_NO_MEMORY]);
	}
	nm_spool_close(o->spool);
	free(o->spill);
	free(o->pending_pos);
	free(o->pending_ns);
	free(o->pending);
	free(o->inflight);
	free(o->name);
	free(o);
}

const char *nm_outlet_name(const struct nm_outlet *o)
{
	return o->name;
}

const char *nm_outlet_type(const struct nm_outlet *o)
{
	return o->type->name;
}

void nm_outlet_get_stats(struct nm_outlet *o, struct nm_outlet_stats *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&o->lock);
	s->received = o->received;
	s->delivered = o->delivered;
	memcpy(s->dropped, o->dropped, sizeof(s->dropped));
	s->inflight = inflight_count(o);
	s->queued = o->pending_count + s->inflight + o->spill_count;
	s->queued_bytes = o->queued_bytes + o->spill_bytes;
	s->spool_pending = o->spill_count;
	s->spooled = o->spool_unread + o->kept;
	s->recovered = o->spool_recovered;
	s->spool_bytes = o->spool_bytes;
	s->durable = o->durable;
	s->persisted = o->spool_st.synced;
	s->persisted_bytes = o->spool_st.synced_bytes;
	s->unsynced = o->spool_st.unsynced;
	s->syncs = o->spool_st.syncs;
	s->sync_errors = o->spool_st.sync_errors;
	latency_get(o, &s->latency);
	pthread_mutex_unlock(&o->lock);
	pthread_rwlock_rdlock(&o->sink_lock);
	s->healthy = o->sink && (!o->type->healthy || o->type->healthy(o->sink));
	pthread_rwlock_unlock(&o->sink_lock);
}

/* Prometheus' histogram as fields: cumulative buckets by upper bound, +Inf being count. */
static void write_latency(const struct nm_outlet_latency *l, struct nm_writer *w)
{
	nm_w_map(w, "delivery_latency_seconds");
	nm_w_array(w, "buckets");
	for (int i = 0; i < NM_LATENCY_BUCKETS - 1; i++) {
		nm_w_map(w, NULL);
		nm_w_double(w, "le", nm_latency_bounds[i]);
		nm_w_u64(w, "count", l->cumulative[i]);
		nm_w_end_nested(w);
	}
	nm_w_end_nested(w);
	nm_w_u64(w, "count", l->count);
	nm_w_double(w, "sum", (double)l->sum_ns / 1e9);
	nm_w_end_nested(w);
}

void nm_outlet_write_stats(struct nm_outlet *o, struct nm_writer *w)
{
	struct nm_outlet_stats s;
	uint64_t dropped = 0;
	char key[64];

	nm_outlet_get_stats(o, &s);
	for (int i = 0; i < NM_SINK_DROP_COUNT; i++)
		dropped += s.dropped[i];
	nm_w_cstr(w, "name", o->name);
	nm_w_cstr(w, "type", o->type->name);
	nm_w_cstr(w, "format", nm_format_name(o->format));
	nm_w_cstr(w, "schema", nm_schema_names[nm_encoding_schema(o->enc)]);
	nm_w_bool(w, "healthy", s.healthy);
	nm_w_u64(w, "received", s.received);
	nm_w_u64(w, "delivered", s.delivered);
	nm_w_u64(w, "dropped", dropped);
	for (int i = 0; i < NM_SINK_DROP_COUNT; i++) {
		snprintf(key, sizeof(key), "dropped_%s", nm_sink_drop_names[i]);
		nm_w_u64(w, key, s.dropped[i]);
	}
	nm_w_u64(w, "queued", s.queued);
	nm_w_u64(w, "in_flight", s.inflight);
	nm_w_u64(w, "queued_bytes", s.queued_bytes);
	if (o->spool) {
		uint64_t ack_errors;

		pthread_mutex_lock(&o->lock);
		ack_errors = o->spool_ack_errors;
		pthread_mutex_unlock(&o->lock);
		nm_w_u64(w, "spooled", s.spooled);
		nm_w_u64(w, "spool_pending", s.spool_pending);
		nm_w_u64(w, "spool_bytes", s.spool_bytes);
		nm_w_u64(w, "spool_ack_errors", ack_errors);
		nm_w_u64(w, "recovered", s.recovered);
	}
	if (s.durable) {
		nm_w_cstr(w, "durability", "disk");
		nm_w_u64(w, "persisted", s.persisted);
		nm_w_u64(w, "persisted_bytes", s.persisted_bytes);
		nm_w_u64(w, "unsynced", s.unsynced);
		nm_w_u64(w, "syncs", s.syncs);
		nm_w_u64(w, "sync_errors", s.sync_errors);
	}
	write_latency(&s.latency, w);
	pthread_rwlock_rdlock(&o->sink_lock);
	if (o->type->stats)
		o->type->stats(o->sink, w);
	pthread_rwlock_unlock(&o->sink_lock);
}

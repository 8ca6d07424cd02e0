/* pipeline.c - the reader thread's work: drain rings, decode, enrich, encode once, fan out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "msg.h"
#include "pipeline.h"

#define MAX_TAPS 8

/* A loss counter and what it was when last reported in band. */
struct loss_counter {
	const char *stage;  /* kernel, decode, sink */
	const char *where;  /* program or sink name, borrowed */
	const char *reason; /* static */
	uint64_t reported;
};

struct nm_pipeline {
	const struct nm_config *cfg;  /* borrowed */
	struct nm_program **programs; /* one per cfg->programs, NULL when disabled */
	size_t nprograms;
	struct nm_outlet **outlets;
	size_t noutlets;
	struct ring_buffer *rings;
	bool formats[NM_FORMAT_COUNT];
	struct nm_tap taps[MAX_TAPS];
	size_t ntaps;

	uint64_t run_id;
	uint64_t seq;
	_Atomic int64_t clock_offset_ns; /* realtime - boottime */
	atomic_bool abort;

	struct nm_event scratch;
	struct nm_buf enc[NM_FORMAT_COUNT];

	struct nm_ratelimit loss_rl;
	struct loss_counter *losses;
	size_t nlosses;

	_Atomic uint64_t events;
	_Atomic uint64_t no_memory;
	_Atomic uint64_t loss_events;
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* realtime - boottime, from the tightest of a few bracketed samples. */
static void resample_clock(struct nm_pipeline *p)
{
	uint64_t best_gap = UINT64_MAX;
	int64_t best = 0;

	for (int i = 0; i < 5; i++) {
		uint64_t b0 = clock_ns(CLOCK_BOOTTIME);
		uint64_t r = clock_ns(CLOCK_REALTIME);
		uint64_t b1 = clock_ns(CLOCK_BOOTTIME);

		if (b1 - b0 < best_gap) {
			best_gap = b1 - b0;
			best = (int64_t)r - (int64_t)(b0 + (b1 - b0) / 2);
		}
	}
	atomic_store(&p->clock_offset_ns, best);
}

int64_t nm_pipeline_wall_ns(const struct nm_pipeline *p, uint64_t boot_ns)
{
	return (int64_t)boot_ns + atomic_load(&((struct nm_pipeline *)p)->clock_offset_ns);
}

/* Stamp, encode once per format in use, hand one reference to every outlet and tap. */
static void publish(struct nm_pipeline *p, struct nm_event *ev)
{
	struct nm_buf *enc[NM_FORMAT_COUNT] = {NULL};
	struct nm_msg *m;

	ev->seq = ++p->seq;
	ev->host = p->cfg->host;
	ev->wall_ns = nm_pipeline_wall_ns(p, ev->timestamp_ns);
	ev->run_id = p->run_id;

	for (size_t i = 0; i < p->ntaps; i++)
		p->taps[i].on_event(p->taps[i].ctx, ev);
	atomic_fetch_add_explicit(&p->events, 1, memory_order_relaxed);
	if (!p->noutlets)
		return;
	for (int f = 0; f < NM_FORMAT_COUNT; f++) {
		if (!p->formats[f])
			continue;
		nm_event_encode(ev, f, &p->enc[f]);
		enc[f] = &p->enc[f];
	}
	m = nm_msg_new(ev, enc, (unsigned)p->noutlets);
	if (!m || p->enc[0].oom || p->enc[1].oom) {
		atomic_fetch_add_explicit(&p->no_memory, 1, memory_order_relaxed);
		free(m);
		return;
	}
	for (size_t i = 0; i < p->noutlets; i++)
		nm_outlet_push(p->outlets[i], m, &p->abort);
}

void nm_pipeline_ingest(struct nm_pipeline *p, struct nm_program *prog, const void *data,
			size_t size)
{
	if (nm_program_decode(prog, data, size, &p->scratch))
		return; /* counted; a bad record never stops the drain */
	publish(p, &p->scratch);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct nm_program *prog = ctx;

	nm_pipeline_ingest(prog->reader_ctx, prog, data, size);
	return 0;
}

/* ---- in-band loss reports ------------------------------------------------ */

struct loss_body {
	const char *stage;
	const char *where;
	const char *reason;
	uint64_t lost;
	uint64_t lost_total;
};

static void loss_write(const struct nm_event *ev, struct nm_writer *w)
{
	const struct loss_body *b = (const void *)ev->body;

	nm_w_cstr(w, "stage", b->stage);
	nm_w_cstr(w, "where", b->where);
	nm_w_cstr(w, "reason", b->reason);
	nm_w_u64(w, "lost", b->lost);
	nm_w_u64(w, "lost_total", b->lost_total);
}

/* Not a BPF program: the agent's own reports travel as events of this type. */
static const struct nm_program_type loss_type = {
	.name = "loss",
	.description = "in-band report of events lost at some stage",
	.write_fields = loss_write,
};

static int add_loss_counter(struct nm_pipeline *p, const char *stage, const char *where,
			    const char *reason)
{
	struct loss_counter *l = realloc(p->losses, (p->nlosses + 1) * sizeof(*l));

	if (!l)
		return -ENOMEM;
	p->losses = l;
	l[p->nlosses++] = (struct loss_counter){stage, where, reason, 0};
	return 0;
}

/* Current value of loss counter @i; the order matches how they were added. */
static uint64_t loss_value(struct nm_pipeline *p, size_t i)
{
	size_t k = 0;

	for (size_t j = 0; j < p->nprograms; j++) {
		struct nm_program_counters c;
		struct nm_program *prog = p->programs[j];

		if (!prog)
			continue;
		if (i == k || i == k + 1) {
			if (i == k + 1)
				return atomic_load(&prog->decode_errors);
			nm_program_read_counters(prog, &c);
			return c.ring_full;
		}
		k += 2;
	}
	for (size_t j = 0; j < p->noutlets; j++) {
		if (i >= k && i < k + NM_SINK_DROP_COUNT) {
			struct nm_outlet_stats s;

			nm_outlet_get_stats(p->outlets[j], &s);
			return s.dropped[i - k];
		}
		k += NM_SINK_DROP_COUNT;
	}
	return 0;
}

static int init_loss_counters(struct nm_pipeline *p)
{
	int rc = 0;

	for (size_t j = 0; j < p->nprograms && !rc; j++) {
		if (!p->programs[j])
			continue;
		rc = add_loss_counter(p, "kernel", p->programs[j]->type->name, "ring_full");
		if (!rc)
			rc = add_loss_counter(p, "decode", p->programs[j]->type->name,
					      "bad_record");
	}
	for (size_t j = 0; j < p->noutlets && !rc; j++)
		for (int r = 0; r < NM_SINK_DROP_COUNT && !rc; r++)
			rc = add_loss_counter(p, "sink", nm_outlet_name(p->outlets[j]),
					      nm_sink_drop_names[r]);
	return rc;
}

static void report_losses(struct nm_pipeline *p)
{
	for (size_t i = 0; i < p->nlosses; i++) {
		struct loss_counter *l = &p->losses[i];
		uint64_t now = loss_value(p, i);
		struct nm_event *ev = &p->scratch;
		struct loss_body *b = (void *)ev->body;

		if (now <= l->reported)
			continue;
		memset(ev, 0, offsetof(struct nm_event, body));
		ev->type = &loss_type;
		ev->timestamp_ns = clock_ns(CLOCK_BOOTTIME);
		b->stage = l->stage;
		b->where = l->where;
		b->reason = l->reason;
		b->lost = now - l->reported;
		b->lost_total = now;
		l->reported = now;
		nm_log_ratelimited(&p->loss_rl, NM_LOG_WARN,
				   "lost %llu events (%s %s: %s), %llu in all",
				   (unsigned long long)b->lost, l->stage, l->where, l->reason,
				   (unsigned long long)now);
		publish(p, ev);
		atomic_fetch_add_explicit(&p->loss_events, 1, memory_order_relaxed);
	}
}

/* ---- lifecycle ------------------------------------------------------------ */

struct nm_pipeline *nm_pipeline_create(const struct nm_config *cfg, char *err, size_t errlen)
{
	struct nm_pipeline *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		goto oom;
	p->cfg = cfg;
	if (getrandom(&p->run_id, sizeof(p->run_id), 0) != sizeof(p->run_id))
		p->run_id = clock_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
	resample_clock(p);
	p->programs = calloc(cfg->nprograms, sizeof(*p->programs));
	p->outlets = calloc(cfg->nsinks ? cfg->nsinks : 1, sizeof(*p->outlets));
	if (!p->programs || !p->outlets)
		goto oom;
	p->nprograms = cfg->nprograms;

	for (size_t i = 0; i < cfg->nprograms; i++) {
		const struct nm_program_config *pc = &cfg->programs[i];
		struct nm_program *prog;
		int fd;

		if (!pc->common.enabled)
			continue;
		prog = nm_program_load(pc->type, &pc->common, pc->options, err, errlen);
		if (!prog)
			goto fail;
		p->programs[i] = prog;
		prog->reader_ctx = p;
		fd = nm_program_ring_fd(prog);
		if (!p->rings)
			p->rings = ring_buffer__new(fd, on_record, prog, NULL);
		else if (ring_buffer__add(p->rings, fd, on_record, prog))
			goto ring_fail;
		if (!p->rings)
			goto ring_fail;
	}

	for (size_t i = 0; i < cfg->nsinks; i++) {
		const struct nm_sink_config *sc = &cfg->sinks[i];

		p->outlets[i] = nm_outlet_create(sc->name, sc->type, sc->options, sc->format,
						 &sc->queue, cfg->host, err, errlen);
		if (!p->outlets[i])
			goto fail;
		p->noutlets++;
		p->formats[sc->format] = true;
	}
	rc = init_loss_counters(p);
	if (rc)
		goto oom;
	return p;
ring_fail:
	snprintf(err, errlen, "cannot set up the ring buffer reader: %s", strerror(errno));
	goto fail;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	nm_pipeline_destroy(p);
	return NULL;
}

int nm_pipeline_start_sinks(struct nm_pipeline *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->noutlets; i++) {
		int rc = nm_outlet_start(p->outlets[i]);

		if (rc) {
			snprintf(err, errlen, "sink %s: cannot start its worker: %s",
				 nm_outlet_name(p->outlets[i]), strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int nm_pipeline_start(struct nm_pipeline *p, char *err, size_t errlen)
{
	int rc = nm_pipeline_start_sinks(p, err, errlen);

	if (rc)
		return rc;
	for (size_t i = 0; i < p->nprograms; i++) {
		if (!p->programs[i])
			continue;
		rc = nm_program_attach(p->programs[i]);
		if (rc) {
			snprintf(err, errlen, "%s: cannot attach: %s", p->programs[i]->type->name,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int nm_pipeline_add_tap(struct nm_pipeline *p, const struct nm_tap *tap)
{
	if (p->ntaps == MAX_TAPS)
		return -ENOSPC;
	p->taps[p->ntaps++] = *tap;
	return 0;
}

void nm_pipeline_remove_tap(struct nm_pipeline *p, const struct nm_tap *tap)
{
	for (size_t i = 0; i < p->ntaps; i++) {
		if (p->taps[i].on_event == tap->on_event && p->taps[i].ctx == tap->ctx) {
			memmove(&p->taps[i], &p->taps[i + 1],
				(p->ntaps - i - 1) * sizeof(*p->taps));
			p->ntaps--;
			return;
		}
	}
}

int nm_pipeline_poll(struct nm_pipeline *p, int timeout_ms)
{
	int rc;

	if (!p->rings) {
		struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		return 0;
	}
	/* poll() drains only rings that woke us; consume() catches the batched rest. */
	rc = ring_buffer__poll(p->rings, timeout_ms);
	if (rc < 0 && rc != -EINTR)
		return rc;
	rc = ring_buffer__consume(p->rings);
	nm_pipeline_flush(p);
	return rc < 0 && rc != -EINTR ? rc : 0;
}

void nm_pipeline_flush(struct nm_pipeline *p)
{
	for (size_t i = 0; i < p->noutlets; i++)
		nm_outlet_kick(p->outlets[i]);
}

void nm_pipeline_tick(struct nm_pipeline *p)
{
	resample_clock(p);
	report_losses(p);
}

void nm_pipeline_reopen(struct nm_pipeline *p)
{
	for (size_t i = 0; i < p->noutlets; i++)
		nm_outlet_request_reopen(p->outlets[i]);
}

void nm_pipeline_shutdown(struct nm_pipeline *p)
{
	for (size_t i = 0; i < p->nprograms; i++)
		if (p->programs[i])
			nm_program_detach(p->programs[i]);
	if (p->rings)
		ring_buffer__consume(p->rings);
	report_losses(p);
	nm_pipeline_flush(p);
	atomic_store(&p->abort, true);
	for (size_t i = 0; i < p->noutlets; i++)
		nm_outlet_stop(p->outlets[i], (int)p->cfg->shutdown_timeout_ms);
}

void nm_pipeline_destroy(struct nm_pipeline *p)
{
	if (!p)
		return;
	atomic_store(&p->abort, true);
	for (size_t i = 0; i < p->noutlets; i++)
		nm_outlet_destroy(p->outlets[i]);
	ring_buffer__free(p->rings);
	for (size_t i = 0; i < p->nprograms; i++)
		nm_program_destroy(p->programs[i]);
	for (int f = 0; f < NM_FORMAT_COUNT; f++)
		nm_buf_free(&p->enc[f]);
	free(p->losses);
	free(p->programs);
	free(p->outlets);
	free(p);
}

atomic_bool *nm_pipeline_abort_flag(struct nm_pipeline *p)
{
	return &p->abort;
}

size_t nm_pipeline_program_count(const struct nm_pipeline *p)
{
	return p->nprograms;
}

const struct nm_program_type *nm_pipeline_program_type(const struct nm_pipeline *p, size_t i)
{
	return p->cfg->programs[i].type;
}

struct nm_program *nm_pipeline_program(const struct nm_pipeline *p, size_t i)
{
	return p->programs[i];
}

size_t nm_pipeline_outlet_count(const struct nm_pipeline *p)
{
	return p->noutlets;
}

struct nm_outlet *nm_pipeline_outlet(const struct nm_pipeline *p, size_t i)
{
	return p->outlets[i];
}

void nm_pipeline_get_stats(const struct nm_pipeline *p, struct nm_pipeline_stats *s)
{
	struct nm_pipeline *q = (struct nm_pipeline *)p;

	memset(s, 0, sizeof(*s));
	s->events = atomic_load(&q->events);
	s->no_memory = atomic_load(&q->no_memory);
	s->loss_events = atomic_load(&q->loss_events);
	for (size_t i = 0; i < p->nprograms; i++)
		if (p->programs[i])
			s->decode_errors += atomic_load(&p->programs[i]->decode_errors);
}

const char *nm_pipeline_host(const struct nm_pipeline *p)
{
	return p->cfg->host;
}

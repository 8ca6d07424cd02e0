/* pipeline.c - the reader thread's work: drain rings, decode, enrich, encode once, fan out. */
#include <errno.h>
#include <pthread.h>
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

/* Removed sinks delivering what they hold, off the reader thread (hot reload). */
struct reaper {
	pthread_t thread;
	struct nm_outlet **outlets; /* owned */
	size_t n;
	int timeout_ms;
	struct reaper *next;
};

struct nm_pipeline {
	/*
	 * Hot reload changes cfg, programs[], outlets and what derives from them,
	 * on the reader thread, holding `lock` for writing; the reader itself
	 * needs no lock to read them, other threads hold it shared.
	 */
	pthread_rwlock_t lock;
	struct reaper *reapers;
	struct nm_reload *reload;     /* borrowed; NULL when not reloadable */
	const struct nm_config *cfg;  /* borrowed */
	struct nm_program **programs; /* one per cfg->programs, NULL when disabled */
	size_t nprograms;
	struct nm_outlet **outlets;
	size_t noutlets;
	struct ring_buffer *rings;
	bool encodings[NM_ENCODING_COUNT]; /* in use by a sink: nm_encoding(format, schema) */
	struct nm_tap taps[MAX_TAPS];
	size_t ntaps;

	uint64_t run_id;
	uint64_t seq;
	_Atomic int64_t clock_offset_ns; /* realtime - boottime */
	atomic_bool abort;

	struct nm_event scratch;
	struct nm_buf enc[NM_ENCODING_COUNT];

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

/* Stamp, encode once per encoding in use, hand one reference to every outlet and tap. */
static void publish(struct nm_pipeline *p, struct nm_event *ev)
{
	struct nm_buf *enc[NM_ENCODING_COUNT] = {NULL};
	bool oom = false;
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
	for (unsigned e = 0; e < NM_ENCODING_COUNT; e++) {
		if (!p->encodings[e])
			continue;
		nm_msg_encode(ev, e, &p->enc[e]);
		enc[e] = &p->enc[e];
		oom |= p->enc[e].oom;
	}
	m = nm_msg_new_enc(ev, enc, (unsigned)p->noutlets);
	if (!m || oom) {
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
	{
		pthread_rwlockattr_t a;

		/* a steady flow of stats readers must not hold a reload back */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&p->lock, &a);
		pthread_rwlockattr_destroy(&a);
	}
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
		p->encodings[nm_encoding(sc->format, sc->queue.schema)] = true;
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

/* ---- hot reload ------------------------------------------------------------ */

static void *reap(void *arg)
{
	struct reaper *r = arg;

	for (size_t i = 0; i < r->n; i++)
		nm_outlet_stop(r->outlets[i], r->timeout_ms);
	for (size_t i = 0; i < r->n; i++)
		nm_outlet_destroy(r->outlets[i]);
	return NULL;
}

static void join_reapers(struct nm_pipeline *p)
{
	while (p->reapers) {
		struct reaper *r = p->reapers;

		p->reapers = r->next;
		pthread_join(r->thread, NULL);
		free(r->outlets);
		free(r);
	}
}

/*
 * Loss counters for the programs and outlets in place now, each carrying on
 * from what its predecessor (same stage, where, reason) reported. Reader thread.
 */
static void rebuild_loss_counters(struct nm_pipeline *p)
{
	struct loss_counter *old = p->losses;
	size_t nold = p->nlosses;

	p->losses = NULL;
	p->nlosses = 0;
	if (init_loss_counters(p)) {
		nm_warn("reload: out of memory: losses are no longer reported in band");
		free(p->losses);
		p->losses = NULL;
		p->nlosses = 0;
	}
	for (size_t i = 0; i < p->nlosses; i++) {
		struct loss_counter *l = &p->losses[i];

		for (size_t j = 0; j < nold; j++)
			if (!strcmp(l->stage, old[j].stage) && !strcmp(l->where, old[j].where) &&
			    !strcmp(l->reason, old[j].reason))
				l->reported = old[j].reported;
	}
	free(old);
}

/* A program enabled by a reload: its ring joins the reader's. Reader thread. */
static int add_ring(struct nm_pipeline *p, struct nm_program *prog)
{
	int fd = nm_program_ring_fd(prog);

	prog->reader_ctx = p;
	if (p->rings)
		return ring_buffer__add(p->rings, fd, on_record, prog) ? -errno : 0;
	p->rings = ring_buffer__new(fd, on_record, prog, NULL);
	return p->rings ? 0 : -errno;
}

int nm_pipeline_reconfigure(struct nm_pipeline *p, const struct nm_config *cfg,
			    const long *sink_from, const bool *sink_changed, char *warn,
			    size_t warnlen, char *err, size_t errlen)
{
	struct nm_outlet **outlets = calloc(cfg->nsinks ? cfg->nsinks : 1, sizeof(*outlets));
	bool *kept = calloc(p->noutlets ? p->noutlets : 1, sizeof(*kept));
	void **sinks = calloc(cfg->nsinks ? cfg->nsinks : 1, sizeof(*sinks));
	struct nm_program **loaded = calloc(cfg->nprograms ? cfg->nprograms : 1, sizeof(*loaded));
	const struct nm_config *old_cfg = p->cfg;
	struct reaper *reaper = NULL;
	size_t nremoved = 0, w = 0;
	int rc = -ENOMEM;

	if (warnlen)
		warn[0] = '\0';
	if (!outlets || !kept || !sinks || !loaded || cfg->nprograms != p->nprograms) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Everything that can fail, before anything changes. */
	for (size_t j = 0; j < cfg->nsinks; j++) {
		const struct nm_sink_config *sc = &cfg->sinks[j];

		if (sink_from[j] >= 0) {
			outlets[j] = p->outlets[sink_from[j]];
			kept[sink_from[j]] = true;
			if (sink_changed[j]) {
				sinks[j] =
					nm_outlet_sink_create(outlets[j], sc->options, err, errlen);
				if (!sinks[j])
					goto fail_einval;
			}
			continue;
		}
		outlets[j] = nm_outlet_create(sc->name, sc->type, sc->options, sc->format,
					      &sc->queue, cfg->host, err, errlen);
		if (!outlets[j])
			goto fail_einval;
		rc = nm_outlet_start(outlets[j]);
		if (rc) {
			snprintf(err, errlen, "sink %s: cannot start its worker: %s", sc->name,
				 strerror(-rc));
			goto fail;
		}
	}
	for (size_t i = 0; i < cfg->nprograms; i++) {
		const struct nm_program_config *pc = &cfg->programs[i];

		if (!pc->common.enabled || p->programs[i])
			continue;
		loaded[i] = nm_program_load(pc->type, &pc->common, pc->options, err, errlen);
		if (!loaded[i])
			goto fail_einval;
	}
	for (size_t i = 0; i < p->noutlets; i++)
		nremoved += !kept[i];
	if (nremoved) {
		reaper = calloc(1, sizeof(*reaper));
		if (reaper)
			reaper->outlets = calloc(nremoved, sizeof(*reaper->outlets));
		if (!reaper || !reaper->outlets) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto fail;
		}
	}

	/* The swap: short, and what other threads see is the old set or the new one. */
	pthread_rwlock_wrlock(&p->lock);
	for (size_t i = 0; i < p->noutlets; i++)
		if (!kept[i])
			reaper->outlets[reaper->n++] = p->outlets[i];
	free(p->outlets);
	p->outlets = outlets;
	p->noutlets = cfg->nsinks;
	memset(p->encodings, 0, sizeof(p->encodings));
	for (size_t j = 0; j < cfg->nsinks; j++)
		p->encodings[nm_encoding(cfg->sinks[j].format, cfg->sinks[j].queue.schema)] = true;
	for (size_t i = 0; i < cfg->nprograms; i++)
		if (loaded[i])
			p->programs[i] = loaded[i];
	p->cfg = cfg;
	pthread_rwlock_unlock(&p->lock);
	outlets = NULL;

	for (size_t j = 0; j < cfg->nsinks; j++)
		if (sinks[j])
			nm_outlet_swap_sink(p->outlets[j], sinks[j]);
	/* filters: src/reload.c, which knows which changed (nm_program_set_filter) */
	for (size_t i = 0; i < cfg->nprograms; i++) {
		struct nm_program *prog = p->programs[i];
		bool was = old_cfg->programs[i].common.enabled,
		     now = cfg->programs[i].common.enabled;

		rc = 0;
		if (loaded[i]) {
			rc = add_ring(p, prog);
			if (!rc)
				rc = nm_program_attach(prog);
		} else if (prog && !was && now) {
			rc = nm_program_attach(prog);
		} else if (prog && was && !now) {
			nm_program_detach(prog);
		}
		if (rc && w < warnlen)
			w += (size_t)snprintf(warn + w, warnlen - w, "%s%s: cannot attach: %s",
					      w ? "; " : "", prog->type->name, strerror(-rc));
	}
	rebuild_loss_counters(p);
	if (reaper) {
		reaper->timeout_ms = (int)cfg->shutdown_timeout_ms;
		for (size_t i = 0; i < reaper->n; i++)
			nm_outlet_kick(reaper->outlets[i]);
		if (pthread_create(&reaper->thread, NULL, reap, reaper)) {
			reap(reaper); /* no thread: here then, the reader waits */
			free(reaper->outlets);
			free(reaper);
		} else {
			reaper->next = p->reapers;
			p->reapers = reaper;
		}
	}
	free(kept);
	free(sinks);
	free(loaded);
	return 0;
fail_einval:
	rc = -EINVAL;
fail:
	for (size_t j = 0; j < cfg->nsinks && outlets; j++) {
		if (sink_from[j] < 0)
			nm_outlet_destroy(outlets[j]);
		else if (sinks)
			nm_outlet_sink_discard(outlets[j], sinks[j]);
	}
	for (size_t i = 0; i < cfg->nprograms && loaded; i++)
		nm_program_destroy(loaded[i]);
	if (reaper)
		free(reaper->outlets);
	free(reaper);
	free(outlets);
	free(kept);
	free(sinks);
	free(loaded);
	return rc;
}

void nm_pipeline_lock_shared(struct nm_pipeline *p)
{
	pthread_rwlock_rdlock(&p->lock);
}

void nm_pipeline_unlock_shared(struct nm_pipeline *p)
{
	pthread_rwlock_unlock(&p->lock);
}

bool nm_pipeline_program_enabled(const struct nm_pipeline *p, size_t i)
{
	return p->cfg->programs[i].common.enabled;
}

void nm_pipeline_set_reload(struct nm_pipeline *p, struct nm_reload *r)
{
	p->reload = r;
}

struct nm_reload *nm_pipeline_reload(const struct nm_pipeline *p)
{
	return p->reload;
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
	join_reapers(p); /* removed sinks: delivered within their own timeout */
	atomic_store(&p->abort, true);
	for (size_t i = 0; i < p->noutlets; i++)
		nm_outlet_stop(p->outlets[i], (int)p->cfg->shutdown_timeout_ms);
}

void nm_pipeline_destroy(struct nm_pipeline *p)
{
	if (!p)
		return;
	atomic_store(&p->abort, true);
	join_reapers(p);
	for (size_t i = 0; i < p->noutlets; i++)
		nm_outlet_destroy(p->outlets[i]);
	ring_buffer__free(p->rings);
	for (size_t i = 0; i < p->nprograms; i++)
		nm_program_destroy(p->programs[i]);
	for (int e = 0; e < NM_ENCODING_COUNT; e++)
		nm_buf_free(&p->enc[e]);
	free(p->losses);
	free(p->programs);
	free(p->outlets);
	pthread_rwlock_destroy(&p->lock);
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

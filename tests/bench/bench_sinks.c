/* bench_sinks.c - one sink's delivered events/s: the storm's events encoded once, replayed into its outlet. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "src/config.h"
#include "src/event.h"
#include "src/log.h"
#include "src/msg.h"
#include "src/outlet.h"
#include "src/pipeline.h"
#include "storm_records.h"

/*
 * Under valgrind --tool=callgrind the replay alone is counted (every thread):
 * its instructions per event are the figure a busy machine cannot blur.
 */
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(what)
#endif

/*
 * Why a replay and not the live pipeline: the reference tools (kcat,
 * mosquitto_pub, dd) read ready-made payloads, so the agent's side starts
 * from ready-made messages too — the very nm_msg the pipeline builds (decode,
 * encode once, nm_msg_new), as the spool's replay hands them over. What is
 * timed is the outlet (queue, worker thread, hand-off) and the sink up to
 * its delivery reports: received -> delivered in the outlet's counters, the
 * ones /api/stats shows. "pipeline" as the third argument times the whole
 * path instead (nm_pipeline_ingest of the raw records into the sink).
 */

/* The tap that keeps what the pipeline would hand its outlets: one message per event. */
struct capture {
	enum nm_format format;
	struct nm_buf enc;
	struct nm_msg **msgs;
	long n, cap;
	FILE *payloads; /* every payload, one a line, for the reference tools; or NULL */
	bool oom;
};

static void capture_event(void *ctx, const struct nm_event *ev)
{
	struct capture *c = ctx;
	struct nm_buf *enc[NM_FORMAT_COUNT] = {NULL};
	struct nm_msg *m;

	if (c->n == c->cap)
		return;
	nm_event_encode(ev, c->format, &c->enc);
	enc[c->format] = &c->enc;
	m = nm_msg_new(ev, enc, 1);
	if (!m || c->enc.oom) {
		c->oom = true;
		free(m);
		return;
	}
	c->msgs[c->n++] = m;
	if (c->payloads) {
		fwrite(c->enc.data, 1, c->enc.len, c->payloads);
		if (c->format == NM_FORMAT_JSON)
			fputc('\n', c->payloads);
	}
}

/* Feed @n storm records (half connections, half drops) into @p, flushing as the reader does. */
static void ingest(struct nm_pipeline *p, long n)
{
	struct nm_connection_record conn;
	struct nm_packet_drop_record drop;

	make_records(&conn, &drop);
	for (long i = 0; i < n; i++) {
		if (i % 2 == 0) {
			conn.hdr.timestamp_ns += 1000;
			nm_pipeline_ingest(p, nm_pipeline_program(p, 0), &conn, sizeof(conn));
		} else {
			drop.hdr.timestamp_ns += 1000;
			nm_pipeline_ingest(p, nm_pipeline_program(p, 1), &drop, sizeof(drop));
		}
		if (i % 512 == 511)
			nm_pipeline_flush(p);
	}
	nm_pipeline_flush(p);
}

/* Until every event is delivered or lost, @limit_s at most. */
static void wait_outcome(struct nm_outlet *o, long n, double limit_s, struct nm_outlet_stats *st)
{
	double until = now_s() + limit_s;

	for (;;) {
		uint64_t lost = 0;

		nm_outlet_get_stats(o, st);
		for (int i = 0; i < NM_SINK_DROP_COUNT; i++)
			lost += st->dropped[i];
		if (st->delivered + lost >= (uint64_t)n || now_s() > until)
			return;
		usleep(1000);
	}
}

static void report(const struct nm_sink_config *sc, const char *mode, long n, double wall,
		   double cpu, const struct nm_outlet_stats *st)
{
	uint64_t lost = 0;

	for (int i = 0; i < NM_SINK_DROP_COUNT; i++)
		lost += st->dropped[i];
	printf("sink %s %s %s %s: %ld events, delivered %llu in %.3f s = %.0f events/s; "
	       "lost %llu; cpu %.3f s (%.0f ns/event)\n",
	       sc->name, sc->type_name, nm_format_name(sc->format), mode, n,
	       (unsigned long long)st->delivered, wall, st->delivered / wall,
	       (unsigned long long)lost, cpu, cpu * 1e9 / n);
}

int main(int argc, char **argv)
{
	static const char capture_conf[] = "sinks = ( );\ncontrol = { enabled = false; };\n";
	long n = argc > 1 ? atol(argv[1]) : 0;
	const char *conf = argc > 2 ? argv[2] : NULL;
	const char *payloads = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
	bool pipeline = argc > 4 && !strcmp(argv[4], "pipeline");
	struct capture cap = {0};
	struct nm_config *cfg = NULL, *sink_cfg = NULL;
	struct nm_pipeline *p = NULL;
	const struct nm_sink_config *sc;
	struct nm_outlet_stats st;
	struct nm_outlet *o = NULL;
	atomic_bool abort_push = false;
	struct nm_tap tap;
	long warm = 0;
	char err[1024];
	double t0, c0;
	int rc = 1;

	if (n <= 0 || !conf) {
		fprintf(stderr,
			"usage: bench_sinks N CONFIG [PAYLOADS|-] [pipeline]\n"
			"  CONFIG names one sink: N storm events go through it, timed until\n"
			"  delivered; PAYLOADS gets the same payloads, one a line (JSON).\n");
		return 64;
	}
	nm_log_set_level(getenv("NM_BENCH_DEBUG") ? NM_LOG_DEBUG : NM_LOG_WARN);
	sink_cfg = nm_config_load_file(conf, err, sizeof(err));
	if (!sink_cfg || sink_cfg->nsinks != 1) {
		fprintf(stderr, "%s\n", sink_cfg ? "CONFIG must name exactly one sink" : err);
		goto out;
	}
	sc = &sink_cfg->sinks[0];

	if (pipeline) {
		/* The whole user-space path: decode, encode, queue, sink. */
		p = nm_pipeline_create(sink_cfg, err, sizeof(err));
		if (!p || nm_pipeline_start_sinks(p, err, sizeof(err))) {
			fprintf(stderr, "%s (needs root)\n", err);
			goto out;
		}
		o = nm_pipeline_outlet(p, 0);
		t0 = now_s();
		c0 = cpu_s();
		ingest(p, n);
		wait_outcome(o, n, 300, &st);
		report(sc, "pipeline", n, now_s() - t0, cpu_s() - c0, &st);
		rc = st.delivered == (uint64_t)n ? 0 : 1;
		nm_pipeline_shutdown(p);
		goto out;
	}

	/* Encode once, untimed: the pipeline with no sink, its messages kept by a tap. */
	cap.format = sc->format;
	cap.cap = n;
	cap.msgs = calloc((size_t)n, sizeof(*cap.msgs));
	if (!cap.msgs) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	if (payloads && !(cap.payloads = fopen(payloads, "w"))) {
		perror(payloads);
		goto out;
	}
	cfg = nm_config_load_string(capture_conf, "bench", err, sizeof(err));
	p = cfg ? nm_pipeline_create(cfg, err, sizeof(err)) : NULL;
	if (!p) {
		fprintf(stderr, "%s (needs root)\n", err);
		goto out;
	}
	tap = (struct nm_tap){capture_event, &cap};
	nm_pipeline_add_tap(p, &tap);
	ingest(p, n);
	if (cap.payloads && fclose(cap.payloads)) {
		perror(payloads);
		cap.payloads = NULL;
		goto out;
	}
	cap.payloads = NULL;
	if (cap.oom || cap.n != n) {
		fprintf(stderr, "could not build %ld messages\n", n);
		goto out;
	}

	/* The sink with its real config, its outlet as the agent builds it. */
	o = nm_outlet_create(sc->name, sc->type, sc->options, sc->format, &sc->queue,
			     sink_cfg->host, err, sizeof(err));
	if (!o || nm_outlet_start(o)) {
		fprintf(stderr, "%s\n", o ? "cannot start the outlet" : err);
		goto out;
	}
	/*
	 * A broker sink starts warm, as in a running agent: connected, its
	 * producer id acquired (idempotence), the topic's metadata in. Its first
	 * `warm` messages go once more before the clock starts.
	 */
	if (strcmp(sc->type->name, "file")) {
		warm = n < 1000 ? n : 1000;
		for (long i = 0; i < warm; i++) {
			atomic_fetch_add(&cap.msgs[i]->refs, 1);
			nm_outlet_push(o, cap.msgs[i], &abort_push);
		}
		nm_outlet_kick(o);
		wait_outcome(o, warm, 60, &st);
		if (st.delivered != (uint64_t)warm) {
			fprintf(stderr, "warm-up: %llu of %ld delivered\n",
				(unsigned long long)st.delivered, warm);
			goto out;
		}
	}
	/* for a profiler attached from here on (perf record -p) */
	fprintf(stderr, "bench_sinks: replaying %ld events\n", n);
	if (getenv("NM_BENCH_PAUSE_MS"))
		usleep((useconds_t)atoi(getenv("NM_BENCH_PAUSE_MS")) * 1000);
	CALLGRIND_ZERO_STATS;
	t0 = now_s();
	c0 = cpu_s();
	for (long i = 0; i < n; i++) {
		nm_outlet_push(o, cap.msgs[i], &abort_push); /* the outlet owns it now */
		cap.msgs[i] = NULL;
		if (i % 512 == 511)
			nm_outlet_kick(o);
	}
	nm_outlet_kick(o);
	wait_outcome(o, warm + n, 300, &st);
	CALLGRIND_DUMP_STATS_AT("replay");
	st.delivered -= (uint64_t)warm;
	report(sc, "replay", n, now_s() - t0, cpu_s() - c0, &st);
	if (warm)
		printf("warm-up %ld\n", warm);
	if (getenv("NM_BENCH_STATS")) {
		/* the sink's /api/stats entry, for a look at its own counters */
		struct nm_buf out = {0};
		struct nm_writer w;

		nm_writer_init(&w, NM_FORMAT_JSON, &out);
		nm_w_begin(&w);
		nm_outlet_write_stats(o, &w);
		nm_w_end(&w);
		fprintf(stderr, "%.*s\n", (int)out.len, (const char *)out.data);
		nm_buf_free(&out);
	}
	rc = st.delivered == (uint64_t)n ? 0 : 1;
out:
	if (cap.payloads)
		fclose(cap.payloads);
	if (!pipeline)
		nm_outlet_destroy(o);
	for (long i = 0; i < cap.n; i++)
		nm_msg_unref(cap.msgs[i]);
	free(cap.msgs);
	nm_buf_free(&cap.enc);
	nm_pipeline_destroy(p);
	nm_config_free(cfg);
	nm_config_free(sink_cfg);
	return rc;
}

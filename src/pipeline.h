/* pipeline.h - programs -> ring reader -> decode/enrich -> encode once -> per-sink outlets. */
#ifndef NM_PIPELINE_H
#define NM_PIPELINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "outlet.h"
#include "program.h"

struct nm_pipeline;
struct nm_reload;

/*
 * Something that sees every event as it passes (the store, live streams).
 * Called on the reader thread: must not block.
 */
struct nm_tap {
	void (*on_event)(void *ctx, const struct nm_event *ev);
	void *ctx;
};

struct nm_pipeline_stats {
	uint64_t events;	/* decoded and published */
	uint64_t decode_errors; /* records refused, all programs */
	uint64_t no_memory;	/* events lost to allocation failure */
	uint64_t loss_events;	/* in-band loss reports emitted */
};

/* @cfg is borrowed for the pipeline's life. NULL with the reason in @err. */
struct nm_pipeline *nm_pipeline_create(const struct nm_config *cfg, char *err, size_t errlen);
/* Start sink workers, then attach programs. */
int nm_pipeline_start(struct nm_pipeline *p, char *err, size_t errlen);
/* Only start the sink workers (benchmarks feed records with nm_pipeline_ingest). */
int nm_pipeline_start_sinks(struct nm_pipeline *p, char *err, size_t errlen);
/* One raw ring record of @prog through decode, enrich, encode and fan-out. */
void nm_pipeline_ingest(struct nm_pipeline *p, struct nm_program *prog, const void *data,
			size_t size);
int nm_pipeline_add_tap(struct nm_pipeline *p, const struct nm_tap *tap);
/* Stop calling the tap with the same on_event and ctx; on the reader thread only. */
void nm_pipeline_remove_tap(struct nm_pipeline *p, const struct nm_tap *tap);
/* Wait up to @timeout_ms for a ring wake-up, then drain every ring. */
int nm_pipeline_poll(struct nm_pipeline *p, int timeout_ms);
/* Wake the sink workers for what was published since the last call. */
void nm_pipeline_flush(struct nm_pipeline *p);
/* Once a second: re-sample the clock offset, report losses in band. */
void nm_pipeline_tick(struct nm_pipeline *p);
void nm_pipeline_reopen(struct nm_pipeline *p);
/* Detach, drain the rings, let sinks deliver within the configured timeout. */
void nm_pipeline_shutdown(struct nm_pipeline *p);
void nm_pipeline_destroy(struct nm_pipeline *p);

/*
 * Hot reload, on the reader thread: make @cfg (borrowed for the pipeline's
 * life, as is the one it replaces: running parts keep borrowing from it) the
 * running configuration. Per sink of @cfg, @sink_from is the index of the
 * running outlet it keeps (its queue, spool and counters) or -1 for a new
 * one, and @sink_changed says the kept outlet needs a new instance of its
 * sink. Outlets not kept deliver what they hold within shutdown_timeout_ms
 * in a thread of their own, then go. Programs are loaded, attached and
 * detached per `enabled`. All or nothing: 0, or a negative errno with @err
 * set and nothing changed. What went wrong after the swap (an attach) is in
 * @warn.
 */
int nm_pipeline_reconfigure(struct nm_pipeline *p, const struct nm_config *cfg,
			    const long *sink_from, const bool *sink_changed, char *warn,
			    size_t warnlen, char *err, size_t errlen);
/*
 * Threads other than the reader hold this around a walk of the programs and
 * outlets (the accessors below), so that a reload cannot swap them meanwhile.
 */
void nm_pipeline_lock_shared(struct nm_pipeline *p);
void nm_pipeline_unlock_shared(struct nm_pipeline *p);
/* Whether the running configuration enables program @i. */
bool nm_pipeline_program_enabled(const struct nm_pipeline *p, size_t i);
/* The reload state (src/reload.h), for the control API; NULL when there is none. */
void nm_pipeline_set_reload(struct nm_pipeline *p, struct nm_reload *r);
struct nm_reload *nm_pipeline_reload(const struct nm_pipeline *p);

/* Set when shutting down: stops a blocked push. */
atomic_bool *nm_pipeline_abort_flag(struct nm_pipeline *p);

size_t nm_pipeline_program_count(const struct nm_pipeline *p);
/* The i-th configured program; its instance is NULL when disabled. */
const struct nm_program_type *nm_pipeline_program_type(const struct nm_pipeline *p, size_t i);
struct nm_program *nm_pipeline_program(const struct nm_pipeline *p, size_t i);
size_t nm_pipeline_outlet_count(const struct nm_pipeline *p);
struct nm_outlet *nm_pipeline_outlet(const struct nm_pipeline *p, size_t i);
void nm_pipeline_get_stats(const struct nm_pipeline *p, struct nm_pipeline_stats *s);
const char *nm_pipeline_host(const struct nm_pipeline *p);
/* Boot-time clock to wall clock, with the current offset. */
int64_t nm_pipeline_wall_ns(const struct nm_pipeline *p, uint64_t boot_ns);

#endif

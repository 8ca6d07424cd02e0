/* outlet.h - one configured sink: its bounded queue, its worker thread and its counters. */
#ifndef NM_OUTLET_H
#define NM_OUTLET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "schema.h"
#include "../sinks/sink.h"

enum nm_when_full {
	NM_WHEN_FULL_BLOCK = 0, /* stop draining the rings: the kernel counts the loss */
	NM_WHEN_FULL_DROP_NEWEST,
	NM_WHEN_FULL_DROP_OLDEST,
	NM_WHEN_FULL_SPOOL,
};

enum nm_durability {
	NM_DURABILITY_MEMORY = 0, /* the queue is in memory; the spool (if any) takes overflow */
	NM_DURABILITY_DISK,	  /* every event goes through the spool: a write-ahead log */
};

struct nm_queue_config {
	long long max_events;
	long long max_bytes;
	int when_full; /* enum nm_when_full */
	char *spool_dir;
	long long spool_max_bytes;
	/* Keys of the sink itself, beside `queue` (src/config.c), kept here for the outlet. */
	int durability; /* enum nm_durability */
	long long durability_sync_ms;
	int schema; /* enum nm_schema: what the sink's documents follow */
};

extern const struct nm_option nm_queue_options[];
extern const char *const nm_durability_names[];

/* Why a sink lost an event; each is a counter in /api/stats. */
enum nm_sink_drop {
	NM_SINK_DROP_QUEUE_FULL = 0,
	NM_SINK_DROP_DELIVERY_FAILED,
	NM_SINK_DROP_SHUTDOWN,
	NM_SINK_DROP_SPOOL_FULL,
	NM_SINK_DROP_NO_MEMORY,
	NM_SINK_DROP_SPOOL_ERROR,   /* the spool could not be written (disk full, I/O error) */
	NM_SINK_DROP_SPOOL_CORRUPT, /* a spooled record failed its checksum or was torn */
	NM_SINK_DROP_SPOOL_SLOW,    /* the spool's disk fell behind: its write buffer was full */
	NM_SINK_DROP_COUNT,
};

extern const char *const nm_sink_drop_names[NM_SINK_DROP_COUNT];

/*
 * when_full = spool: events waiting in memory for the worker to write them to
 * the spool, at most (and at most max_bytes encoded bytes); past that, new
 * events are dropped as spool_slow.
 */
#define NM_SPOOL_SPILL_MAX 65536

/*
 * Delivery latency: from when an event entered the sink's queue in memory (its
 * ingestion; for one read back from the spool, its read-back) to the sink's
 * report of its delivery. Buckets log spaced from 1 ms to 10 s, then +Inf.
 */
#define NM_LATENCY_BUCKETS 14
extern const double nm_latency_bounds[NM_LATENCY_BUCKETS - 1]; /* seconds */

struct nm_outlet_latency {
	uint64_t cumulative[NM_LATENCY_BUCKETS]; /* deliveries within bound i; the last is count */
	uint64_t count;				 /* == delivered */
	uint64_t sum_ns;
};

/*
 * A consistent snapshot: received == delivered + sum(dropped) + queued + spooled.
 * With when_full = spool, received includes what a previous run left in the
 * spool (recovered), and spooled is what waits on disk, not in memory.
 */
struct nm_outlet_stats {
	uint64_t received;
	uint64_t delivered;
	uint64_t dropped[NM_SINK_DROP_COUNT];
	uint64_t queued;    /* in memory: pending, in flight, and waiting to be spooled */
	uint64_t spooled;   /* on disk, not yet read back (or kept there at shutdown) */
	uint64_t recovered; /* found in the spool at start; part of received */
	uint64_t spool_bytes;
	uint64_t spool_pending; /* part of queued: in memory, waiting for the worker to spool it */
	uint64_t inflight;	/* accepted by the sink, not yet reported */
	uint64_t queued_bytes;
	/* durability = disk, this run: committed to disk by a group commit, and not yet */
	uint64_t persisted;
	uint64_t persisted_bytes;
	uint64_t unsynced;
	uint64_t syncs;
	uint64_t sync_errors;
	bool durable;
	bool healthy;
	struct nm_outlet_latency latency; /* latency.count == delivered, same snapshot */
};

struct nm_outlet;

/*
 * @sink_config and @q are borrowed for the outlet's life; @host too. Returns
 * NULL with the reason in @err.
 */
struct nm_outlet *nm_outlet_create(const char *name, const struct nm_sink_type *type,
				   const void *sink_config, enum nm_format format,
				   const struct nm_queue_config *q, const char *host, char *err,
				   size_t errlen);
int nm_outlet_start(struct nm_outlet *o);

/*
 * Queue one reference of @m (now owned by the outlet, whatever happens). With
 * when_full = block this waits for room until *@abort becomes true; otherwise
 * it never waits for more than the outlet's lock, which no file I/O holds:
 * with when_full = spool the worker writes the overflow to disk, and with
 * durability = disk every event (the write-behind buffer bounds it, room
 * there is what when_full = block waits for).
 */
void nm_outlet_push(struct nm_outlet *o, struct nm_msg *m, const atomic_bool *abort);

/* Wake the worker for what was pushed since: the reader calls it after each drain. */
void nm_outlet_kick(struct nm_outlet *o);
void nm_outlet_request_reopen(struct nm_outlet *o);
/*
 * Deliver what is queued within @timeout_ms, then stop; what is left is counted
 * as shutdown, or with when_full = spool kept in the spool for the next run.
 */
void nm_outlet_stop(struct nm_outlet *o, int timeout_ms);

/*
 * Hot reload of a sink whose own keys changed: a new instance of its type for
 * @sink_config (borrowed for the instance's life), with the outlet's queue,
 * spool and counters. Create before committing to the reload (NULL with @err
 * set), discard if the reload is abandoned, or swap: the worker lets the old
 * instance deliver what it accepted, then hands on to the new one (owned now).
 */
void *nm_outlet_sink_create(struct nm_outlet *o, const void *sink_config, char *err, size_t errlen);
void nm_outlet_sink_discard(struct nm_outlet *o, void *sink);
void nm_outlet_swap_sink(struct nm_outlet *o, void *sink);
void nm_outlet_destroy(struct nm_outlet *o);

const char *nm_outlet_name(const struct nm_outlet *o);
const char *nm_outlet_type(const struct nm_outlet *o);
void nm_outlet_get_stats(struct nm_outlet *o, struct nm_outlet_stats *s);
/* Stats as fields (for /api/stats), the sink's own included. */
void nm_outlet_write_stats(struct nm_outlet *o, struct nm_writer *w);

#endif

/* spool.h - a sink's on-disk backlog: events as records in their encoded form, replayed in order. */
#ifndef NM_SPOOL_H
#define NM_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "segstore.h"
#include "writer.h"

/*
 * A record (in a segment store, src/segstore.h) holds an event as the sink
 * encoded it, that encoding's format, the event's type name, and, unless the
 * encoding is MessagePack already, the event's fields as a MessagePack map:
 * what templates walk, and what a record is re-encoded from when the sink's
 * format changed since it was written. Not thread-safe: one thread at a time.
 */
struct nm_spool;

/* A record's place, for nm_spool_ack. */
typedef nm_seg_pos nm_spool_pos;

/* Open or create the spool in @dir (see nm_segstore_open). NULL with the reason in @err. */
struct nm_spool *nm_spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen);
/* Persist the ack position and close; NULL is fine. */
void nm_spool_close(struct nm_spool *s);

/*
 * Append @m (borrowed) in its encoding @enc (src/msg.h; a bare format is its
 * native encoding) at the end, or, with @front, to
 * a segment read before every other (shutdown: events older than what is
 * spooled). 0, -EFBIG when spool_max_bytes would be passed, -ENOMEM, or
 * -errno from the file system (-ENOSPC).
 */
int nm_spool_append(struct nm_spool *s, const struct nm_msg *m, unsigned enc, bool front);

/*
 * Read the next unread record into *@m, a new message (one reference) in
 * encoding @enc, re-encoded from its native fields if it was written in
 * another one (format or schema). 1 when *@m is set, with *@pos the record's place; 0 when none
 * is left; -ENOMEM when a record was read but could not be rebuilt (it is
 * consumed: count it). *@corrupt is increased by the corrupt records skipped.
 */
int nm_spool_read(struct nm_spool *s, unsigned enc, struct nm_msg **m, nm_spool_pos *pos,
		  uint64_t *corrupt);

/* Everything up to @pos left the spool (delivered or counted): drop finished segments. */
void nm_spool_ack(struct nm_spool *s, nm_spool_pos pos);

/* Save a moved ack position that is due (cheap when nothing moved): call now and then. */
void nm_spool_tick(struct nm_spool *s);

/* Durable mode and group commit: see nm_segstore_set_durable and nm_segstore_sync. */
void nm_spool_set_durable(struct nm_spool *s);
int nm_spool_sync(struct nm_spool *s);

uint64_t nm_spool_unread(const struct nm_spool *s);
/* The store's counters; corrupt includes records whose checksum was fine but layout not ours. */
void nm_spool_get_stats(const struct nm_spool *s, struct nm_segstore_stats *st);

#endif

/* spool.h - a sink's on-disk overflow: append-only, checksummed segments replayed in order. */
#ifndef NM_SPOOL_H
#define NM_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "writer.h"

/*
 * Layout of spool_dir: NNNNNNNNNNNNNNNN.seg segment files (hex numbers, read
 * in ascending order), `ack` (the segment and offset up to which everything
 * was delivered) and `lock` (flock: one agent per spool). A record is a
 * 16-byte header (magic, body length, CRC-32 of those two, CRC-32 of the
 * body) and a body holding the event's common fields, its program fields and
 * the encoded bytes. Not thread-safe: the outlet calls it under its lock.
 */
struct nm_spool;

/* A record's place: segment number << 32 | offset just past the record. */
typedef uint64_t nm_spool_pos;

struct nm_spool_stats {
	uint64_t unread;       /* records on disk not yet read back */
	uint64_t bytes;	       /* size of the segment files */
	uint64_t recovered;    /* records found at open (a previous run's backlog) */
	uint64_t corrupt;      /* records skipped: bad checksum or torn */
	uint64_t write_errors; /* appends that failed (disk full, I/O error) */
	uint64_t segments;
};

/*
 * Open or create @dir, scanning what a previous run left. NULL with the reason
 * in @err. Corrupt records found by the scan count in unread until read past.
 */
struct nm_spool *nm_spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen);
/* Persist the ack position and close; NULL is fine. */
void nm_spool_close(struct nm_spool *s);

/*
 * Append @m in @format at the end, or, with @front, to a segment read before
 * every other (shutdown: events older than what is spooled). 0, -EFBIG when
 * spool_max_bytes would be passed, or -errno from the file system (-ENOSPC).
 */
int nm_spool_append(struct nm_spool *s, const struct nm_msg *m, enum nm_format format, bool front);

/*
 * The next unread record as a new message (one reference) with its event
 * rebuilt for templates, or NULL when none is left. *@corrupt is increased
 * by the corrupt records skipped on the way. *@pos gets the record's place.
 */
struct nm_msg *nm_spool_read(struct nm_spool *s, enum nm_format format, nm_spool_pos *pos,
			     uint64_t *corrupt);

/* Everything up to @pos left the spool (delivered or counted): drop finished segments. */
void nm_spool_ack(struct nm_spool *s, nm_spool_pos pos);

/* Save a moved ack position that is due (cheap when nothing moved): call now and then. */
void nm_spool_tick(struct nm_spool *s);

uint64_t nm_spool_unread(const struct nm_spool *s);
void nm_spool_get_stats(const struct nm_spool *s, struct nm_spool_stats *st);

#endif

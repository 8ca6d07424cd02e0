/* segstore.h - append-only segment files of checksummed records, with an ack position and a lock. */
#ifndef NM_SEGSTORE_H
#define NM_SEGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * Layout of the directory: NNNNNNNNNNNNNNNN.seg segment files (hex numbers,
 * read in ascending order, at most 16 MiB each; removed once all is consumed),
 * `ack` (two checksummed slots, rewritten in place: the segment and offset up
 * to which everything was consumed) and `lock` (flock: one owner). Every file
 * must be a regular file of ours with one link. A record
 * is a 16-byte header (magic, body length, CRC-32 of those two, CRC-32 of the
 * body) and the body, in host byte order. The store knows nothing of what a
 * body means. Not thread-safe: one thread at a time.
 */
struct nm_segstore;

/* A record's place: segment number << 32 | offset just past the record. */
typedef uint64_t nm_seg_pos;

struct nm_segstore_stats {
	uint64_t unread;       /* records on disk not yet read back */
	uint64_t bytes;	       /* size of the segment files */
	uint64_t recovered;    /* records found at open (a previous run's backlog) */
	uint64_t corrupt;      /* records skipped: bad checksum, garbled header or torn */
	uint64_t write_errors; /* appends that failed (disk full, I/O error) */
	uint64_t ack_errors;   /* saves of the ack position that failed */
	uint64_t segments;
	/* Group commit (nm_segstore_sync), counted for this run only. */
	uint64_t unsynced;     /* records appended since the last commit */
	uint64_t synced;       /* records made durable by a commit */
	uint64_t synced_bytes; /* their bytes, headers included */
	uint64_t syncs;	       /* commits that wrote something */
	uint64_t sync_errors;  /* commits the file system failed */
};

/*
 * Open or create @dir (mode 0700; refused when it is not a directory of ours
 * that only we can write), lock it and scan what a previous run left. NULL
 * with the reason in @err. Corrupt records found by the scan count in unread
 * until read past.
 */
struct nm_segstore *nm_segstore_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen);
/* Persist the ack position, sync the segment being written, close; NULL is fine. */
void nm_segstore_close(struct nm_segstore *s);

/*
 * Append one record whose body is the concatenation of @iov, at the end or,
 * with @front, in a segment read before every other (only possible while
 * nothing of the first unread segment was read; else it goes at the end).
 * Written whole or not at all. 0, -EFBIG when max_bytes would be passed,
 * -E2BIG for a body over 16 MiB, or -errno from the file system (-ENOSPC).
 */
int nm_segstore_append(struct nm_segstore *s, const struct iovec *iov, int iovcnt, bool front);

/*
 * The next whole, checksum-valid record: 1 with *@body (valid until the next
 * call) and *@len set and *@pos its place, 0 when none is left. *@corrupt is
 * increased by the records skipped on the way.
 */
int nm_segstore_next(struct nm_segstore *s, const uint8_t **body, size_t *len, nm_seg_pos *pos,
		     uint64_t *corrupt);

/* Everything up to @pos was consumed: remove finished segments, save the position when due. */
void nm_segstore_ack(struct nm_segstore *s, nm_seg_pos pos);
/* Save a moved ack position that is due (cheap when nothing moved): call now and then. */
void nm_segstore_tick(struct nm_segstore *s);

/*
 * Durable mode: from now on nm_segstore_next returns only committed records
 * (what a power loss cannot take), and every ack is written at once, so that
 * a kill replays nothing that was acked.
 */
void nm_segstore_set_durable(struct nm_segstore *s);
/*
 * Group commit: fdatasync what was appended since the last commit (and the
 * directory, when a segment was created). Cheap when nothing is new. 0 or
 * -errno; on failure the records are readable anyway (they are in the page
 * cache, a reader can still deliver them) but do not count as synced.
 */
int nm_segstore_sync(struct nm_segstore *s);

uint64_t nm_segstore_unread(const struct nm_segstore *s);
void nm_segstore_get_stats(const struct nm_segstore *s, struct nm_segstore_stats *st);

#endif

/* recbuf.h - whole records buffered for a sink that writes to a file descriptor (file, stdout). */
#ifndef NM_RECBUF_H
#define NM_RECBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../sink.h"
#include "buf.h"

/*
 * Records are appended whole, written out in order, and reported as ranges of
 * tokens once written; a failed write keeps the rest for a retry retry_ms
 * later. How much of a record may go out before a failure is the drain's
 * business (the file sink continues a record where it stopped). One thread.
 *
 * A sink whose state starts with a struct nm_recbuf uses the nm_recbuf_sink_*
 * functions as its write, poll, flush and healthy operations and writes only
 * its drain: the function that writes out what is pending.
 */
struct nm_recbuf {
	struct nm_buf buf; /* the records, oldest first */
	size_t *ends;	   /* where record i ends in buf */
	size_t ends_cap;
	size_t head;	      /* records before this one are reported */
	size_t count;	      /* records in buf, reported ones included */
	uint64_t first_token; /* of record 0; the others follow in order */
	int64_t retry_at_ms;  /* after a failure: no write before then */
	bool failing;
	uint64_t bytes_written;
	uint64_t write_errors; /* counted by the sink where a write(2) failed */
	void (*drain)(void *sink);
	bool newline;	   /* records are lines (JSON): each gets a '\n' */
	uint32_t retry_ms; /* pause after a failed write; nm_recbuf_init sets 1000 */
};

/* Zero @rb and set what it calls. @drain gets the sink, whose state starts with @rb. */
void nm_recbuf_init(struct nm_recbuf *rb, void (*drain)(void *sink), bool newline);

/* Sink operations for a sink whose state starts with its struct nm_recbuf. */
int nm_recbuf_sink_write(void *sink, const struct nm_sink_msg *msg);
void nm_recbuf_sink_poll(void *sink, int timeout_ms);
int nm_recbuf_sink_flush(void *sink, int timeout_ms);
bool nm_recbuf_sink_healthy(void *sink);

/* Records not yet written, and whether a write may be tried now. */
size_t nm_recbuf_pending(const struct nm_recbuf *rb);
bool nm_recbuf_ready(const struct nm_recbuf *rb);
/* The bytes of the next @n pending records start at nm_recbuf_data(). */
const uint8_t *nm_recbuf_data(const struct nm_recbuf *rb);
size_t nm_recbuf_span(const struct nm_recbuf *rb, size_t n);
/* How many pending records end within the first @bytes of nm_recbuf_data(). */
size_t nm_recbuf_whole(const struct nm_recbuf *rb, size_t bytes);
/* Report the next @n pending records with @status (0 = written) and count them as written. */
void nm_recbuf_release(struct nm_recbuf *rb, size_t n, int status, const struct nm_sink_env *env);
/* The last write failed: retry after a pause. Or: everything pending went out. */
void nm_recbuf_failed(struct nm_recbuf *rb);
void nm_recbuf_succeeded(struct nm_recbuf *rb);
/* bytes_written and write_errors as fields. */
void nm_recbuf_stats(const struct nm_recbuf *rb, struct nm_writer *w);
void nm_recbuf_free(struct nm_recbuf *rb);

/* write(2) all of @len bytes, through EINTR: 0, or a negative errno with *@done bytes written. */
int nm_write_full(int fd, const uint8_t *data, size_t len, size_t *done);

#endif

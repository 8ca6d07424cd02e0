/* recbuf.c - whole records buffered, written in order, reported once written, retried after faults. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "recbuf.h"

#define DUE_AT_BYTES   (256 * 1024)
#define RETRY_AFTER_MS 1000

/* Drop the reported records from the front; only after a failure is there anything to move. */
static void compact(struct nm_recbuf *rb)
{
	size_t cut = rb->head ? rb->ends[rb->head - 1] : 0;

	if (!rb->head)
		return;
	memmove(rb->buf.data, rb->buf.data + cut, rb->buf.len - cut);
	rb->buf.len -= cut;
	for (size_t i = rb->head; i < rb->count; i++)
		rb->ends[i - rb->head] = rb->ends[i] - cut;
	rb->first_token += rb->head;
	rb->count -= rb->head;
	rb->head = 0;
}

void nm_recbuf_init(struct nm_recbuf *rb, void (*drain)(void *sink), bool newline)
{
	memset(rb, 0, sizeof(*rb));
	rb->drain = drain;
	rb->newline = newline;
	rb->retry_ms = RETRY_AFTER_MS;
}

/* Append @msg whole: 0, -EAGAIN (the writer is behind) or -ENOMEM. */
static int add(struct nm_recbuf *rb, const struct nm_sink_msg *msg)
{
	size_t before;

	if (rb->buf.len >= 4 * DUE_AT_BYTES)
		return -EAGAIN; /* the disk or the reader is not keeping up */
	compact(rb);
	before = rb->buf.len;
	nm_buf_append(&rb->buf, msg->data, msg->len);
	if (rb->newline)
		nm_buf_putc(&rb->buf, '\n');
	if (rb->count == rb->ends_cap) {
		size_t cap = rb->ends_cap ? 2 * rb->ends_cap : 1024;
		size_t *ends = realloc(rb->ends, cap * sizeof(*ends));

		if (ends) {
			rb->ends = ends;
			rb->ends_cap = cap;
		} else {
			rb->buf.oom = 1;
		}
	}
	if (rb->buf.oom) {
		rb->buf.len = before; /* never leave half a record */
		rb->buf.oom = 0;
		return -ENOMEM;
	}
	if (!rb->count)
		rb->first_token = msg->token;
	rb->ends[rb->count++] = rb->buf.len;
	return 0;
}

size_t nm_recbuf_pending(const struct nm_recbuf *rb)
{
	return rb->count - rb->head;
}

bool nm_recbuf_ready(const struct nm_recbuf *rb)
{
	return nm_recbuf_pending(rb) && (!rb->retry_at_ms || nm_mono_ms() >= rb->retry_at_ms);
}

const uint8_t *nm_recbuf_data(const struct nm_recbuf *rb)
{
	return rb->buf.data + (rb->head ? rb->ends[rb->head - 1] : 0);
}

size_t nm_recbuf_span(const struct nm_recbuf *rb, size_t n)
{
	size_t base = rb->head ? rb->ends[rb->head - 1] : 0;

	return n ? rb->ends[rb->head + n - 1] - base : 0;
}

size_t nm_recbuf_whole(const struct nm_recbuf *rb, size_t bytes)
{
	size_t base = rb->head ? rb->ends[rb->head - 1] : 0, n = 0;

	while (rb->head + n < rb->count && rb->ends[rb->head + n] - base <= bytes)
		n++;
	return n;
}

void nm_recbuf_release(struct nm_recbuf *rb, size_t n, int status, const struct nm_sink_env *env)
{
	if (!n)
		return;
	if (!status)
		rb->bytes_written += nm_recbuf_span(rb, n);
	env->report_range(env->ctx, rb->first_token + rb->head, rb->first_token + rb->head + n - 1,
			  status);
	rb->head += n;
	if (rb->head == rb->count) {
		nm_buf_reset(&rb->buf);
		rb->head = rb->count = 0;
	}
}

void nm_recbuf_failed(struct nm_recbuf *rb)
{
	rb->failing = true;
	rb->retry_at_ms = nm_mono_ms() + rb->retry_ms;
}

void nm_recbuf_succeeded(struct nm_recbuf *rb)
{
	rb->failing = false;
	rb->retry_at_ms = 0;
}

int nm_recbuf_sink_write(void *sink, const struct nm_sink_msg *msg)
{
	struct nm_recbuf *rb = sink;
	int rc = add(rb, msg);

	if (!rc && rb->buf.len >= DUE_AT_BYTES)
		rb->drain(sink);
	return rc;
}

void nm_recbuf_sink_poll(void *sink, int timeout_ms)
{
	struct nm_recbuf *rb = sink;

	rb->drain(sink);
	/*
	 * A failed write or open is retried later: wait for that here rather than
	 * spin. A buffer that was merely full has just been drained: the outlet may
	 * hand over more at once.
	 */
	if (rb->failing && timeout_ms > 0)
		usleep((useconds_t)timeout_ms * 1000);
}

int nm_recbuf_sink_flush(void *sink, int timeout_ms)
{
	struct nm_recbuf *rb = sink;
	int64_t deadline = nm_mono_ms() + timeout_ms;

	for (;;) {
		rb->retry_at_ms = 0;
		rb->drain(sink);
		if (!nm_recbuf_pending(rb))
			return 0;
		if (nm_mono_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(50 * 1000);
	}
}

bool nm_recbuf_sink_healthy(void *sink)
{
	return !((struct nm_recbuf *)sink)->failing;
}

void nm_recbuf_stats(const struct nm_recbuf *rb, struct nm_writer *w)
{
	nm_w_u64(w, "bytes_written", rb->bytes_written);
	nm_w_u64(w, "write_errors", rb->write_errors);
}

void nm_recbuf_free(struct nm_recbuf *rb)
{
	uint32_t retry_ms = rb->retry_ms;

	nm_buf_free(&rb->buf);
	free(rb->ends);
	nm_recbuf_init(rb, rb->drain, rb->newline);
	rb->retry_ms = retry_ms;
}

int nm_write_full(int fd, const uint8_t *data, size_t len, size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t n = write(fd, data + *done, len - *done);

		if (n > 0) {
			*done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n == 0 ? -ENOSPC : -errno;
	}
	return 0;
}

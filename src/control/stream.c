/* stream.c - GET /api/events/stream: live events as NDJSON or MessagePack, waiting while idle. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define STREAM_BATCH 16	   /* events taken from the subscription at a time */
#define STREAM_BLOCK 16384 /* libmicrohttpd's buffer per read callback */
/* an idle stream looks at its client this often: how long a gone client can hold its slot */
#define STREAM_CHECK_MS 250

/*
 * Each connection has its own libmicrohttpd thread, so an idle stream waits on
 * its own condition variable. (libmicrohttpd 0.9.75's suspend/resume, used
 * before, deadlocked its own thread now and then when a resume from the reader
 * thread met a client leaving, and made the reader wait on its lock.)
 */
struct stream {
	struct nm_control *c;
	struct MHD_Connection *conn;
	struct nm_store_sub *sub;
	enum nm_format fmt;
	uint64_t limit; /* 0: until the client goes away */
	uint64_t sent;
	struct nm_buf out; /* encoded events not yet handed to libmicrohttpd */
	size_t off;
	pthread_mutex_t lock; /* guards woken */
	pthread_cond_t cond;
	bool woken;
	struct nm_event evs[STREAM_BATCH];
};

/* From the store, on the reader thread: something arrived for a stream that found nothing. */
static void stream_wake(void *ctx)
{
	struct stream *st = ctx;

	pthread_mutex_lock(&st->lock);
	st->woken = true;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

/* Until woken or STREAM_CHECK_MS: a wake-up that came before the wait is not lost. */
static void stream_wait(struct stream *st)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += STREAM_CHECK_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->lock);
	while (!st->woken && pthread_cond_timedwait(&st->cond, &st->lock, &ts) != ETIMEDOUT)
		;
	st->woken = false;
	pthread_mutex_unlock(&st->lock);
}

/* The client hung up: a stream's client never sends anything after its request. */
static bool peer_gone(struct stream *st)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd pfd;

	if (!ci)
		return false;
	pfd.fd = ci->connect_fd;
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* The first @n events of st->evs into st->out, a document each; JSON ones a line each. */
static void encode_batch(struct stream *st, long n)
{
	struct nm_writer w;

	nm_writer_init(&w, st->fmt, &st->out);
	for (long i = 0; i < n; i++) {
		nm_event_write(&st->evs[i], &w);
		if (st->fmt == NM_FORMAT_JSON)
			nm_buf_putc(&st->out, '\n');
	}
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;

	(void)pos;
	for (;;) {
		uint64_t dropped, want = STREAM_BATCH;
		long n;

		if (st->off < st->out.len) {
			size_t len = st->out.len - st->off < max ? st->out.len - st->off : max;

			memcpy(buf, st->out.data + st->off, len);
			st->off += len;
			return (ssize_t)len;
		}
		nm_buf_reset(&st->out);
		st->off = 0;
		if (st->limit && st->sent >= st->limit)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (st->limit && st->limit - st->sent < want)
			want = st->limit - st->sent;
		if (peer_gone(st))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		n = nm_store_sub_next(st->c->store, st->sub, st->evs, want, &dropped);
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!n) {
			stream_wait(st);
			continue;
		}
		encode_batch(st, n);
		st->sent += (uint64_t)n;
		if (st->out.oom)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	nm_store_unsubscribe(st->c->store, st->sub);
	atomic_fetch_sub(&st->c->streams, 1);
	nm_buf_free(&st->out);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

enum MHD_Result nm_ep_stream(struct nm_control *c, struct MHD_Connection *conn,
			     struct nm_request *r)
{
	struct MHD_Response *resp;
	const struct nm_params *ps = &r->params;
	pthread_condattr_t ca;
	enum MHD_Result ret;
	struct stream *st;

	if (ps->seen & (NM_P_SINCE | NM_P_UNTIL))
		return nm_reply_error(
			c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL,
			"%s: a live stream starts now; ask /api/events for past events",
			ps->seen & NM_P_SINCE ? "since" : "until");
	st = calloc(1, sizeof(*st));
	if (!st)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				      "out of memory");
	st->c = c;
	st->conn = conn;
	st->fmt = r->fmt;
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);
	st->limit = ps->has_limit ? ps->limit : 0;
	st->sub = nm_store_subscribe(c->store, &ps->f, (size_t)c->cfg->control.stream_queue_events,
				     stream_wake, st);
	if (!st->sub) {
		int e = errno;

		pthread_cond_destroy(&st->cond);
		pthread_mutex_destroy(&st->lock);
		free(st);
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
				      "cannot start a stream: %s",
				      e == ESHUTDOWN ? "shutting down" : strerror(e));
	}
	atomic_fetch_add(&c->streams, 1);
	/* From here the stream is owned by the response: stream_free runs when it is done. */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st,
						 stream_free);
	if (!resp) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->fmt == NM_FORMAT_MSGPACK ? "application/msgpack"
							    : "application/x-ndjson");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	nm_reply_count(c, MHD_HTTP_OK);
	return ret;
}

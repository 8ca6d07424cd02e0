/* reply.c - answers of the control API: a document written by the field writer, or an error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void nm_reply_start(struct nm_writer *w, struct nm_buf *out, enum nm_format fmt)
{
	memset(out, 0, sizeof(*out));
	nm_writer_init(w, fmt, out);
	nm_w_begin(w);
}

void nm_reply_count(struct nm_control *c, unsigned int status)
{
	if (status >= 500)
		atomic_fetch_add(&c->status_5xx, 1);
	else if (status >= 400)
		atomic_fetch_add(&c->status_4xx, 1);
	else
		atomic_fetch_add(&c->status_2xx, 1);
}

enum MHD_Result nm_reply_send(struct nm_control *c, struct MHD_Connection *conn,
			      unsigned int status, struct nm_writer *w, const char *allow)
{
	bool msgpack = w->ops == &nm_msgpack_writer_ops;

	nm_w_end(w);
	if (!msgpack)
		nm_buf_putc(w->out, '\n');
	/* w->error is a programming error: refuse rather than send a broken document */
	if (w->error)
		w->out->oom = true;
	return nm_reply_buf(c, conn, status, w->out,
			    msgpack ? "application/msgpack" : "application/json", allow);
}

enum MHD_Result nm_reply_buf(struct nm_control *c, struct MHD_Connection *conn, unsigned int status,
			     struct nm_buf *out, const char *content_type, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (out->oom) {
		nm_buf_free(out);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	resp = MHD_create_response_from_buffer(out->len, out->data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		nm_buf_free(out);
		return MHD_NO;
	}
	out->data = NULL; /* now owned by the response, which frees it */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* one request per connection: every request passes the gate's checks (gate.c) */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	nm_reply_count(c, status);
	return ret;
}

enum MHD_Result nm_reply_error(struct nm_control *c, struct MHD_Connection *conn,
			       enum nm_format fmt, unsigned int status, const char *allow,
			       const char *msgfmt, ...)
{
	struct nm_writer w;
	struct nm_buf out;
	char msg[512];
	va_list ap;

	va_start(ap, msgfmt);
	vsnprintf(msg, sizeof(msg), msgfmt, ap);
	va_end(ap);
	nm_reply_start(&w, &out, fmt);
	nm_w_cstr(&w, "error", msg);
	return nm_reply_send(c, conn, status, &w, allow);
}

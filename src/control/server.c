/* server.c - the control server: routes, libmicrohttpd callbacks, start and stop. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "../log.h"
#include "../reload.h"

#define BODY_MAX	 NM_CONTROL_BODY_MAX
#define CONN_MEMORY	 32768 /* request line + headers per connection; 431 past it */
#define CONN_TIMEOUT_S	 30
#define BODY_TIMEOUT_S	 3 /* idle seconds allowed while a request body is still due */
#define STREAM_MIN_SLOTS 4096

/* ---- routing ---------------------------------------------------------------------------- */

#define EVENT_FILTERS (NM_P_TYPE | NM_P_PID | NM_P_COMMAND | NM_P_SINCE | NM_P_UNTIL | NM_P_LIMIT)

struct route {
	nm_endpoint *fn;
	unsigned params; /* enum nm_param bits: the query parameters it takes */
	bool post;	 /* POST only; otherwise GET and HEAD */
	bool also_post;	 /* GET, HEAD and POST: the endpoint tells them apart */
};

static const struct {
	const char *path;
	struct route route;
} fixed_routes[] = {
	{"/health", {nm_ep_health, 0}},
	{"/api/programs", {nm_ep_programs, 0}},
	{"/api/stats", {nm_ep_stats, 0}},
	{"/metrics", {nm_ep_metrics, 0}},
	{"/api/events", {nm_ep_events, EVENT_FILTERS}},
	/* since and until are taken so that the stream can say why it refuses them */
	{"/api/events/stream", {nm_ep_stream, EVENT_FILTERS}},
	{"/api/reload", {nm_ep_reload, 0, true}},
};

static const struct route list_route = {nm_ep_list, NM_P_PID | NM_P_COMMAND | NM_P_SINCE |
							    NM_P_UNTIL | NM_P_LIMIT};
static const struct route summary_route = {nm_ep_summary, NM_P_PID | NM_P_COMMAND | NM_P_DURATION};
static const struct route action_route = {nm_ep_program_action, 0, true};
static const struct route filter_route = {nm_ep_filter, 0, false, true};

/* /api/LIST_ROUTE and /api/SUMMARY_ROUTE, as each program in the registry declares them. */
static bool match_program_route(const char *url, struct nm_request *r, struct route *rt)
{
	static const char prefix[] = "/api/";

	if (strncmp(url, prefix, sizeof(prefix) - 1))
		return false;
	url += sizeof(prefix) - 1;
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++) {
		if ((*t)->list_route && !strcmp(url, (*t)->list_route))
			*rt = list_route;
		else if ((*t)->summary_route && !strcmp(url, (*t)->summary_route))
			*rt = summary_route;
		else
			continue;
		r->type = *t;
		return true;
	}
	return false;
}

/* /api/programs/NAME/attach|detach|filter: NAME into r->program. */
static bool match_action_route(const char *url, struct nm_request *r, struct route *rt)
{
	static const char prefix[] = "/api/programs/";
	const char *p, *slash;
	size_t n;

	if (strncmp(url, prefix, sizeof(prefix) - 1))
		return false;
	p = url + sizeof(prefix) - 1;
	slash = strchr(p, '/');
	if (!slash || slash == p)
		return false;
	n = (size_t)(slash - p);
	if (n >= sizeof(r->program))
		return false;
	*rt = action_route;
	if (!strcmp(slash, "/attach"))
		r->attach = true;
	else if (!strcmp(slash, "/filter"))
		*rt = filter_route;
	else if (strcmp(slash, "/detach"))
		return false;
	memcpy(r->program, p, n);
	r->program[n] = '\0';
	return true;
}

/* The endpoint for @url, with what its path says filled into @r; false when there is none. */
static bool find_route(const char *url, struct nm_request *r, struct route *rt)
{
	for (size_t i = 0; i < sizeof(fixed_routes) / sizeof(fixed_routes[0]); i++) {
		if (!strcmp(url, fixed_routes[i].path)) {
			*rt = fixed_routes[i].route;
			return true;
		}
	}
	return match_program_route(url, r, rt) || match_action_route(url, r, rt);
}

static enum nm_format negotiate(struct MHD_Connection *conn)
{
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");

	if (accept &&
	    (strstr(accept, "application/msgpack") || strstr(accept, "application/x-msgpack") ||
	     strstr(accept, "application/vnd.msgpack")))
		return NM_FORMAT_MSGPACK;
	return NM_FORMAT_JSON;
}

/* Content-Length over BODY_MAX (libmicrohttpd has already refused one that is not a number). */
static bool declared_too_large(struct MHD_Connection *conn)
{
	const char *cl =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n;

	return cl && nm_parse_u64(cl, 0, BODY_MAX, &n) == -ERANGE;
}

/* ---- libmicrohttpd callbacks -------------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct nm_control *c = cls;
	struct nm_request *r = *con_cls;
	struct route rt;
	bool is_get;

	(void)version;
	if (!r) /* on_uri could not allocate it */
		return MHD_NO;
	if (!r->started) {
		size_t ulen = strlen(url);

		r->started = true;
		r->fmt = negotiate(conn);
		/* only a filter's body is read; the route is checked again once it is whole */
		r->keep_body = !strncmp(url, "/api/programs/", 14) && ulen > 7 &&
			       !strcmp(url + ulen - 7, "/filter");
		atomic_fetch_add(&c->requests, 1);
		/* a declared body too large is refused before a byte of it is read */
		if (declared_too_large(conn))
			return nm_reply_error(c, conn, r->fmt, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
					      "request body larger than %d bytes", BODY_MAX);
		/* a declared body that never comes must not hold the slot for the idle timeout */
		if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_CONTENT_LENGTH) ||
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_TRANSFER_ENCODING))
			MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
						  (unsigned int)BODY_TIMEOUT_S);
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->body_bytes + n > BODY_MAX) /* the gate refuses chunked bodies: a backstop */
			return nm_reply_error(c, conn, r->fmt, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
					      "request body larger than %d bytes", BODY_MAX);
		if (r->keep_body) {
			char *b = realloc(r->body, r->body_bytes + n + 1);

			if (!b)
				return nm_reply_error(c, conn, r->fmt,
						      MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
						      "out of memory");
			memcpy(b + r->body_bytes, upload_data, n);
			b[r->body_bytes + n] = '\0';
			r->body = b;
		}
		r->body_bytes += n;
		return MHD_YES;
	}
	if (r->body_bytes > BODY_MAX)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
				      "request body larger than %d bytes", BODY_MAX);
	if (r->path_encoded)
		return nm_reply_error(
			c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL,
			"the path must be written out: %%-encoding is not accepted in it");
	if (!find_route(url, r, &rt))
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_NOT_FOUND, NULL,
				      "no such endpoint: %.200s", url);

	is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	r->post = !strcmp(method, MHD_HTTP_METHOD_POST);
	if (rt.also_post) {
		if (!is_get && !r->post)
			return nm_reply_error(c, conn, r->fmt, MHD_HTTP_METHOD_NOT_ALLOWED,
					      "GET, HEAD, POST", "%s is GET or POST", url);
	} else if (rt.post && strcmp(method, MHD_HTTP_METHOD_POST)) {
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
				      "%s is POST only", url);
	} else if (!rt.post && !is_get) {
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
				      "%s is GET only", url);
	}
	if (nm_params_parse(conn, rt.params, &r->params))
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_BAD_REQUEST, NULL, "%s",
				      r->params.error);
	return rt.fn(c, conn, r);
}

/*
 * The request as it arrived, before libmicrohttpd decodes it: the only place
 * that can tell /api/programs/x%2fdetach from /api/programs/x/detach. What it
 * returns is the request's state, freed in on_completed.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct nm_request *r = calloc(1, sizeof(*r));
	size_t path_len = strcspn(uri, "?");

	(void)cls;
	(void)conn;
	if (r)
		r->path_encoded = memchr(uri, '%', path_len) != NULL;
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct nm_request *r = *con_cls;

	if (r)
		free(r->body);
	free(*con_cls);
	*con_cls = NULL;
	(void)cls;
	(void)conn;
	(void)toe;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct nm_control *c = cls;

	const union MHD_ConnectionInfo *ci;
	uintptr_t uid1;

	/* the gate counted the client in (connections, its uid) when it handed it over */
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		/* uid + 1, so that 0 means "not known": then the count stays held (never seen) */
		*socket_context = ci ? (void *)((uintptr_t)nm_peer_uid(ci->connect_fd) + 1) : NULL;
		return;
	}
	atomic_fetch_sub(&c->connections, 1);
	uid1 = (uintptr_t)*socket_context;
	if (uid1)
		nm_clients_release(c, (uid_t)(uid1 - 1));
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	nm_debug("control: %s", msg);
	(void)cls;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* The tap, on the reader thread: the store copies the event into a preallocated slot. */
static void on_event(void *ctx, const struct nm_event *ev)
{
	nm_store_add(ctx, ev);
}

struct nm_control *nm_control_start(const struct nm_config *cfg, struct nm_pipeline *p, char *err,
				    size_t errlen)
{
	const struct nm_control_config *cc = &cfg->control;
	struct nm_control *c = calloc(1, sizeof(*c));
	size_t slots;
	int rc;

	if (!c) {
		snprintf(err, errlen, "control: out of memory");
		return NULL;
	}
	c->cfg = cfg;
	c->p = p;
	c->listen_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	slots = (size_t)cc->stream_queue_events < STREAM_MIN_SLOTS ? (size_t)cc->stream_queue_events
								   : STREAM_MIN_SLOTS;
	c->store = nm_store_create((size_t)cfg->store.capacity, slots, (size_t)cc->max_clients, err,
				   errlen);
	if (!c->store)
		goto fail;
	nm_reload_set_store(nm_pipeline_reload(p), c->store); /* store.capacity follows reloads */
	if (nm_control_socket_open(c, err, errlen))
		goto fail;

	c->mhd = MHD_start_daemon(
		/* a thread per client: a live stream waits in its own thread, not suspended */
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
			MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
		0, NULL, NULL, on_request, c, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, c,
		/* the gate enforces the limit; this only backs it up, with room for closes in flight */
		MHD_OPTION_CONNECTION_LIMIT,
		2 * ((unsigned int)cc->max_clients + NM_CONTROL_HEALTH_SLOTS),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, c, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
		c, MHD_OPTION_NOTIFY_CONNECTION, on_connection, c, MHD_OPTION_END);
	if (!c->mhd) {
		snprintf(err, errlen, "control socket %s: cannot start the HTTP server",
			 cc->socket);
		goto fail;
	}
	/* clients reach MHD through the gate only, each with a header already checked */
	/* every client the gate holds, and every one libmicrohttpd may (its limit below) */
	if (nm_clients_init(c, 3 * (size_t)cc->max_clients + 2 * NM_CONTROL_HEALTH_SLOTS)) {
		snprintf(err, errlen, "control: out of memory");
		goto fail;
	}
	c->gate = nm_gate_start(c, c->listen_fd, (size_t)cc->max_clients, err, errlen);
	c->listen_fd = -1; /* now owned by the gate */
	if (!c->gate)
		goto fail;

	c->tap.on_event = on_event;
	c->tap.ctx = c->store;
	rc = nm_pipeline_add_tap(p, &c->tap);
	if (rc) {
		snprintf(err, errlen, "control: cannot tap the pipeline: %s", strerror(-rc));
		goto fail;
	}
	c->tapped = true;
	if (nm_metrics_listen(c, err, errlen))
		goto fail;
	nm_info("control API on %s (mode %s, group %s), store of %lld events", cc->socket, cc->mode,
		cc->group, cfg->store.capacity);
	return c;
fail:
	nm_control_stop(c);
	return NULL;
}

void nm_control_stop(struct nm_control *c)
{
	if (!c)
		return;
	if (c->tapped)
		nm_pipeline_remove_tap(c->p, &c->tap);
	nm_gate_stop(c->gate);
	nm_metrics_stop(c);
	if (c->store)
		nm_store_close(c->store);
	if (c->mhd) {
		/* the store's close wakes every stream, which then ends within a check */
		for (int i = 0; i < 200 && atomic_load(&c->streams); i++) {
			struct timespec ts = {0, 5 * 1000000L};

			nanosleep(&ts, NULL);
		}
		MHD_stop_daemon(c->mhd);
	}
	nm_clients_free(c);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	nm_control_socket_remove(c);
	nm_reload_set_store(nm_pipeline_reload(c->p), NULL);
	nm_store_destroy(c->store);
	free(c);
}

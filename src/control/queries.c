/* queries.c - the control API's endpoints over the store and the pipeline, and attach/detach. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "params.h"
#include "../log.h"
#include "../reload.h"

#define STORE_BATCH 32 /* events copied out of the store per lock */

static int64_t wall_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t uptime_s(const struct nm_control *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)((double)(ts.tv_sec - c->started.tv_sec) +
			  (double)(ts.tv_nsec - c->started.tv_nsec) / 1e9);
}

static void write_time(struct nm_writer *w, const char *key, int64_t wall_ns)
{
	char buf[40];

	nm_format_rfc3339(wall_ns, buf, sizeof(buf));
	nm_w_cstr(w, key, buf);
}

/* An event as an element of the open array. */
static void write_event(struct nm_writer *w, const struct nm_event *ev)
{
	nm_w_map(w, NULL);
	nm_event_fields(ev, w);
	nm_w_end_nested(w);
}

static enum MHD_Result no_memory(struct nm_control *c, struct MHD_Connection *conn,
				 const struct nm_request *r)
{
	return nm_reply_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			      "out of memory");
}

/* ---- the agent's state ------------------------------------------------------------------ */

static bool program_state(struct nm_program *prog, bool *loaded)
{
	bool attached;

	if (!prog) {
		*loaded = false;
		return false;
	}
	pthread_mutex_lock(&prog->lock);
	*loaded = prog->loaded;
	attached = prog->attached;
	pthread_mutex_unlock(&prog->lock);
	return attached;
}

/* As the running configuration says: a reload may have changed it. Pipeline lock held. */
static bool program_enabled(const struct nm_control *c, size_t i)
{
	return nm_pipeline_program_enabled(c->p, i);
}

/* The configuration's generation and when it was read (hot reload, src/reload.h). */
static void write_config(struct nm_writer *w, struct nm_control *c)
{
	struct nm_reload *rl = nm_pipeline_reload(c->p);
	struct nm_reload_info info;

	if (!rl)
		return;
	nm_reload_get_info(rl, &info);
	nm_w_map(w, "config");
	nm_w_cstr(w, "source", info.source);
	nm_w_u64(w, "generation", info.generation);
	write_time(w, "loaded_at", info.loaded_at_ns);
	nm_w_bool(w, "reloadable", info.reloadable);
	nm_w_end_nested(w);
}

enum MHD_Result nm_ep_health(struct nm_control *c, struct MHD_Connection *conn,
			     struct nm_request *r)
{
	size_t np, ns;
	struct nm_writer w;
	struct nm_buf out;
	bool ok = true;

	nm_reply_start(&w, &out, r->fmt);
	nm_pipeline_lock_shared(c->p);
	np = nm_pipeline_program_count(c->p);
	ns = nm_pipeline_outlet_count(c->p);
	nm_w_array(&w, "programs");
	for (size_t i = 0; i < np; i++) {
		struct nm_program *prog = nm_pipeline_program(c->p, i);
		bool loaded, attached = program_state(prog, &loaded);
		bool healthy = !program_enabled(c, i) || loaded;

		ok &= healthy;
		nm_w_map(&w, NULL);
		nm_w_cstr(&w, "name", nm_pipeline_program_type(c->p, i)->name);
		nm_w_bool(&w, "enabled", program_enabled(c, i));
		nm_w_bool(&w, "loaded", loaded);
		nm_w_bool(&w, "attached", attached);
		nm_w_bool(&w, "healthy", healthy);
		nm_w_end_nested(&w);
	}
	nm_w_end_nested(&w);
	nm_w_array(&w, "sinks");
	for (size_t i = 0; i < ns; i++) {
		struct nm_outlet *o = nm_pipeline_outlet(c->p, i);
		struct nm_outlet_stats st;

		nm_outlet_get_stats(o, &st);
		ok &= st.healthy;
		nm_w_map(&w, NULL);
		nm_w_cstr(&w, "name", nm_outlet_name(o));
		nm_w_cstr(&w, "type", nm_outlet_type(o));
		nm_w_bool(&w, "healthy", st.healthy);
		nm_w_u64(&w, "queued", st.queued);
		nm_w_end_nested(&w);
	}
	nm_w_end_nested(&w);
	nm_w_cstr(&w, "status", ok ? "ok" : "degraded");
	nm_w_cstr(&w, "version", PACKAGE_VERSION);
	nm_w_cstr(&w, "host", nm_pipeline_host(c->p));
	nm_pipeline_unlock_shared(c->p);
	nm_w_u64(&w, "uptime_seconds", uptime_s(c));
	nm_w_u64(&w, "pid", (uint64_t)getpid());
	write_config(&w, c);
	return nm_reply_send(c, conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, &w, NULL);
}

/* Program @i's counters as an element of the open array; @full adds the stages behind lost_count. */
static bool write_program(struct nm_writer *w, struct nm_control *c, size_t i, bool full)
{
	struct nm_program *prog = nm_pipeline_program(c->p, i);
	const struct nm_program_type *t = nm_pipeline_program_type(c->p, i);
	struct nm_program_counters pc = {0};
	bool loaded, attached = program_state(prog, &loaded);
	uint64_t decoded = 0, decode_errors = 0;

	if (prog) {
		nm_program_read_counters(prog, &pc);
		decoded = atomic_load(&prog->decoded);
		decode_errors = atomic_load(&prog->decode_errors);
	}
	nm_w_map(w, NULL);
	nm_w_cstr(w, "name", t->name);
	if (!full)
		nm_w_cstr(w, "description", t->description);
	nm_w_bool(w, "enabled", program_enabled(c, i));
	nm_w_bool(w, "loaded", loaded);
	nm_w_bool(w, "attached", attached);
	nm_w_u64(w, "event_count", decoded);
	nm_w_u64(w, "lost_count", pc.ring_full + decode_errors);
	/* refused by the program's filter in the kernel: not events, and not lost */
	nm_w_u64(w, "filtered", pc.filtered);
	if (full) {
		nm_w_u64(w, "emitted", pc.emitted);
		nm_w_u64(w, "ring_full", pc.ring_full);
		nm_w_u64(w, "read_error", pc.read_error);
		nm_w_u64(w, "decode_errors", decode_errors);
	}
	nm_w_end_nested(w);
	return attached;
}

enum MHD_Result nm_ep_programs(struct nm_control *c, struct MHD_Connection *conn,
			       struct nm_request *r)
{
	size_t np = nm_pipeline_program_count(c->p);
	uint64_t running = 0;
	struct nm_writer w;
	struct nm_buf out;

	nm_reply_start(&w, &out, r->fmt);
	nm_w_array(&w, "programs");
	nm_pipeline_lock_shared(c->p);
	for (size_t i = 0; i < np; i++)
		running += write_program(&w, c, i, false);
	nm_pipeline_unlock_shared(c->p);
	nm_w_end_nested(&w);
	nm_w_u64(&w, "total_programs", np);
	nm_w_u64(&w, "running_programs", running);
	return nm_reply_send(c, conn, MHD_HTTP_OK, &w, NULL);
}

void nm_stats_write(struct nm_control *c, struct nm_writer *w)
{
	size_t np = nm_pipeline_program_count(c->p), ns;
	struct nm_reload *rl = nm_pipeline_reload(c->p);
	struct nm_pipeline_stats pst;
	struct nm_store_stats ss;

	nm_pipeline_lock_shared(c->p);
	ns = nm_pipeline_outlet_count(c->p);
	nm_pipeline_get_stats(c->p, &pst);
	nm_store_get_stats(c->store, &ss);
	nm_w_u64(w, "uptime_seconds", uptime_s(c));
	nm_w_map(w, "pipeline");
	nm_w_u64(w, "events", pst.events);
	nm_w_u64(w, "decode_errors", pst.decode_errors);
	nm_w_u64(w, "no_memory", pst.no_memory);
	nm_w_u64(w, "loss_events", pst.loss_events);
	nm_w_end_nested(w);
	nm_w_array(w, "programs");
	for (size_t i = 0; i < np; i++)
		write_program(w, c, i, true);
	nm_w_end_nested(w);
	nm_w_array(w, "sinks");
	for (size_t i = 0; i < ns; i++) {
		nm_w_map(w, NULL);
		nm_outlet_write_stats(nm_pipeline_outlet(c->p, i), w);
		nm_w_end_nested(w);
	}
	nm_w_end_nested(w);
	nm_pipeline_unlock_shared(c->p);
	if (rl) {
		struct nm_reload_info info;

		nm_reload_get_info(rl, &info);
		nm_w_map(w, "reload");
		nm_w_u64(w, "generation", info.generation);
		nm_w_u64(w, "applied", info.applied);
		nm_w_u64(w, "refused", info.refused);
		nm_w_end_nested(w);
	}
	nm_w_map(w, "store");
	nm_w_u64(w, "capacity", ss.capacity);
	nm_w_u64(w, "stored", ss.stored);
	nm_w_u64(w, "added", ss.added);
	nm_w_u64(w, "evicted", ss.evicted);
	nm_w_u64(w, "queries", ss.queries);
	nm_w_end_nested(w);
	nm_w_map(w, "control");
	nm_w_u64(w, "connections", atomic_load(&c->connections));
	nm_w_u64(w, "connections_total", atomic_load(&c->connections_total));
	nm_w_u64(w, "max_clients", (uint64_t)c->cfg->control.max_clients);
	nm_w_u64(w, "requests", atomic_load(&c->requests));
	nm_w_u64(w, "responses_2xx", atomic_load(&c->status_2xx));
	nm_w_u64(w, "responses_4xx", atomic_load(&c->status_4xx));
	nm_w_u64(w, "responses_5xx", atomic_load(&c->status_5xx));
	nm_w_u64(w, "forbidden", atomic_load(&c->forbidden));
	nm_w_u64(w, "refused_early", atomic_load(&c->refused_early));
	nm_w_u64(w, "refused_uid_limit", atomic_load(&c->refused_uid_limit));
	nm_w_u64(w, "max_clients_per_uid", (uint64_t)c->cfg->control.max_clients_per_uid);
	nm_w_u64(w, "stream_clients", ss.subscribers);
	nm_w_u64(w, "stream_queue_events", (uint64_t)c->cfg->control.stream_queue_events);
	nm_w_u64(w, "stream_sent", ss.stream_sent);
	nm_w_u64(w, "stream_dropped", ss.stream_dropped);
	nm_w_end_nested(w);
}

enum MHD_Result nm_ep_stats(struct nm_control *c, struct MHD_Connection *conn, struct nm_request *r)
{
	struct nm_writer w;
	struct nm_buf out;

	nm_reply_start(&w, &out, r->fmt);
	nm_stats_write(c, &w);
	return nm_reply_send(c, conn, MHD_HTTP_OK, &w, NULL);
}

/* ---- stored events: query, then copy out in small batches so the store lock is held briefly ---- */

struct matches {
	uint64_t *keys;
	size_t n;
};

static int find(struct nm_control *c, const struct nm_store_filter *f, size_t limit,
		struct matches *m)
{
	m->keys = malloc(limit * sizeof(*m->keys));
	if (!m->keys)
		return -ENOMEM;
	m->n = nm_store_query(c->store, f, m->keys, limit);
	return 0;
}

/* Calls @fn for each match still stored, newest first. */
static void each_event(struct nm_control *c, const struct matches *m,
		       void (*fn)(void *arg, const struct nm_event *ev), void *arg)
{
	struct nm_event evs[STORE_BATCH];
	bool ok[STORE_BATCH];

	for (size_t i = 0; i < m->n; i += STORE_BATCH) {
		size_t n = m->n - i < STORE_BATCH ? m->n - i : STORE_BATCH;

		nm_store_get(c->store, m->keys + i, n, evs, ok);
		for (size_t j = 0; j < n; j++)
			if (ok[j])
				fn(arg, &evs[j]);
	}
}

struct event_array {
	struct nm_writer *w;
	uint64_t count;
};

static void add_event(void *arg, const struct nm_event *ev)
{
	struct event_array *ea = arg;

	write_event(ea->w, ev);
	ea->count++;
}

enum MHD_Result nm_ep_events(struct nm_control *c, struct MHD_Connection *conn,
			     struct nm_request *r)
{
	struct matches m = {0};
	struct event_array ea;
	struct nm_params *ps = &r->params;
	struct nm_writer w;
	struct nm_buf out;
	uint64_t limit;

	limit = ps->has_limit ? ps->limit : NM_PARAM_LIMIT_DEFAULT;
	if (find(c, &ps->f, limit, &m))
		return no_memory(c, conn, r);
	nm_reply_start(&w, &out, r->fmt);
	ea.w = &w;
	ea.count = 0;
	nm_w_array(&w, "events");
	each_event(c, &m, add_event, &ea);
	nm_w_end_nested(&w);
	nm_w_u64(&w, "count", ea.count);
	nm_w_u64(&w, "limit", limit);
	free(m.keys);
	return nm_reply_send(c, conn, MHD_HTTP_OK, &w, NULL);
}

/* ---- grouped by pid ---------------------------------------------------------------------- */

struct grouped {
	struct nm_event *evs;
	size_t n;
};

static void collect(void *arg, const struct nm_event *ev)
{
	struct grouped *g = arg;

	g->evs[g->n++] = *ev;
}

/* Events without a task (softirq drops) first, then by pid; newest first within a pid. */
static int by_pid(const void *a, const void *b)
{
	const struct nm_event *x = a, *y = b;

	if (x->has_task != y->has_task)
		return x->has_task ? 1 : -1;
	if (x->has_task && x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

/* The group of @n sorted events @evs as an element of the open array. */
static void write_group(struct nm_writer *w, const struct nm_event *evs, size_t n)
{
	nm_w_map(w, NULL);
	if (evs[0].has_task) {
		nm_w_u64(w, "pid", evs[0].pid);
		nm_w_kstr(w, "command", evs[0].command, NM_EVENT_COMM_MAX);
	} else {
		nm_w_null(w, "pid");
		nm_w_null(w, "command");
	}
	nm_w_u64(w, "count", n);
	nm_w_array(w, "events");
	for (size_t k = 0; k < n; k++)
		write_event(w, &evs[k]);
	nm_w_end_nested(w);
	nm_w_end_nested(w);
}

/* GET /api/LIST_ROUTE of r->type: recent events of that type grouped by pid. */
enum MHD_Result nm_ep_list(struct nm_control *c, struct MHD_Connection *conn, struct nm_request *r)
{
	struct grouped g = {0};
	struct matches m = {0};
	uint64_t npids = 0, limit;
	struct nm_params *ps = &r->params;
	struct nm_writer w;
	struct nm_buf out;

	ps->f.type = r->type->name;
	limit = ps->has_limit ? ps->limit : NM_PARAM_LIMIT_DEFAULT;
	if (find(c, &ps->f, limit, &m))
		goto oom;
	g.evs = malloc((m.n ? m.n : 1) * sizeof(*g.evs));
	if (!g.evs)
		goto oom;
	each_event(c, &m, collect, &g);
	qsort(g.evs, g.n, sizeof(*g.evs), by_pid);

	nm_reply_start(&w, &out, r->fmt);
	nm_w_cstr(&w, "type", r->type->name);
	nm_w_array(&w, "pids");
	for (size_t i = 0, j; i < g.n; i = j) {
		for (j = i; j < g.n && g.evs[j].has_task == g.evs[i].has_task &&
			    (!g.evs[i].has_task || g.evs[j].pid == g.evs[i].pid);
		     j++)
			;
		write_group(&w, g.evs + i, j - i);
		npids++;
	}
	nm_w_end_nested(&w);
	nm_w_u64(&w, "total_pids", npids);
	nm_w_u64(&w, "total_events", g.n);
	nm_w_u64(&w, "limit", limit);
	free(g.evs);
	free(m.keys);
	return nm_reply_send(c, conn, MHD_HTTP_OK, &w, NULL);
oom:
	free(g.evs);
	free(m.keys);
	return no_memory(c, conn, r);
}

/* GET /api/SUMMARY_ROUTE of r->type: how many of its events the last duration_seconds hold. */
enum MHD_Result nm_ep_summary(struct nm_control *c, struct MHD_Connection *conn,
			      struct nm_request *r)
{
	int64_t now = wall_now_ns();
	struct nm_params *ps = &r->params;
	struct nm_writer w;
	struct nm_buf out;
	size_t count;

	if (!ps->has_duration)
		ps->duration_s = NM_PARAM_DURATION_DEFAULT;
	ps->f.type = r->type->name;
	ps->f.has_since = true;
	ps->f.since_ns = now - (int64_t)ps->duration_s * 1000000000LL;
	count = nm_store_query(c->store, &ps->f, NULL, SIZE_MAX);

	nm_reply_start(&w, &out, r->fmt);
	nm_w_cstr(&w, "type", r->type->name);
	nm_w_u64(&w, "count", count);
	if (ps->f.has_pid)
		nm_w_u64(&w, "pid", ps->f.pid);
	else
		nm_w_null(&w, "pid");
	if (ps->f.has_command)
		nm_w_kstr(&w, "command", ps->f.command, NM_EVENT_COMM_MAX);
	else
		nm_w_null(&w, "command");
	nm_w_u64(&w, "duration_seconds", ps->duration_s);
	write_time(&w, "since", ps->f.since_ns);
	write_time(&w, "until", now);
	return nm_reply_send(c, conn, MHD_HTTP_OK, &w, NULL);
}

/* ---- attach / detach ---------------------------------------------------------------------- */

/* uid 0, or the admin group as primary or supplementary group of the peer process. */
bool nm_peer_privileged(struct nm_control *c, struct MHD_Connection *conn, struct ucred *cred)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	socklen_t len = sizeof(*cred);
	char path[64], *line = NULL;
	size_t linecap = 0;
	bool ok = false;
	FILE *f;

	memset(cred, 0, sizeof(*cred));
	cred->uid = (uid_t)-1;
	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, cred, &len))
		return false;
	if (cred->uid == 0)
		return true;
	if (!c->cfg->control.has_admin_group)
		return false;
	if (cred->gid == c->cfg->control.admin_gid)
		return true;
	/* SO_PEERCRED has only the primary group; the rest are the process's, not the user's. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	/* getline: a user in many groups has a Groups: line longer than any fixed buffer */
	while (!ok && getline(&line, &linecap, f) > 0) {
		char *p = line + 7, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == c->cfg->control.admin_gid)
				ok = true;
			p = end;
		}
		break;
	}
	free(line);
	fclose(f);
	return ok;
}

/* POST /api/programs/NAME/attach|detach, NAME in r->program. */
enum MHD_Result nm_ep_program_action(struct nm_control *c, struct MHD_Connection *conn,
				     struct nm_request *r)
{
	const char *verb = r->attach ? "attach" : "detach", *name = r->program;
	size_t np = nm_pipeline_program_count(c->p), i;
	struct nm_program *prog;
	bool loaded, attached;
	struct nm_writer w;
	struct ucred cred;
	struct nm_buf out;
	int rc = 0;

	if (!nm_peer_privileged(c, conn, &cred)) {
		atomic_fetch_add(&c->forbidden, 1);
		nm_info("control: refused %s %s to uid %d pid %d", verb, name, (int)cred.uid,
			(int)cred.pid);
		if (c->cfg->control.has_admin_group)
			return nm_reply_error(c, conn, r->fmt, MHD_HTTP_FORBIDDEN, NULL,
					      "%s needs uid 0 or membership of group %s", verb,
					      c->cfg->control.admin_group);
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_FORBIDDEN, NULL, "%s needs uid 0",
				      verb);
	}
	for (i = 0; i < np; i++)
		if (!strcmp(nm_pipeline_program_type(c->p, i)->name, name))
			break;
	if (i == np)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_NOT_FOUND, NULL,
				      "unknown program '%.64s'", name);
	/* programs are never unloaded while the agent runs: the pointer stays good */
	nm_pipeline_lock_shared(c->p);
	prog = nm_pipeline_program(c->p, i);
	nm_pipeline_unlock_shared(c->p);
	if (!prog)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_CONFLICT, NULL,
				      "program %s is disabled in the configuration", name);
	if (r->attach)
		rc = nm_program_attach(prog);
	else
		nm_program_detach(prog);
	if (rc)
		return nm_reply_error(c, conn, r->fmt, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				      "%s: cannot attach: %s", name, strerror(-rc));
	nm_info("control: %s %s (uid %d pid %d)", name, r->attach ? "attached" : "detached",
		(int)cred.uid, (int)cred.pid);
	attached = program_state(prog, &loaded);
	nm_reply_start(&w, &out, r->fmt);
	nm_w_cstr(&w, "name", name);
	nm_w_bool(&w, "loaded", loaded);
	nm_w_bool(&w, "attached", attached);
	return nm_reply_send(c, conn, MHD_HTTP_OK, &w, NULL);
}

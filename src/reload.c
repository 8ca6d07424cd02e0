/* reload.c - hot reload: what changed between two configurations, refused or handed to the pipeline. */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "filter.h"
#include "log.h"
#include "reload.h"
#include "schema.h"
#include "store.h"
#include "tracefs.h"

#define REQUEST_WAIT_S 60

struct kept_config {
	struct nm_config *cfg;
	struct kept_config *next;
};

struct nm_reload {
	char *path; /* NULL: the built-in default */
	struct nm_pipeline *p;
	struct nm_store *store;
	bool log_level_from_config;
	struct kept_config *configs; /* newest (running) first, all owned */

	/* Requests from other threads, served on the reader thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t one; /* one request at a time */
	bool wanted, serving, done, closing;
	struct nm_reload_result result;

	/* What /health and /api/stats show; under lock. */
	uint64_t generation;
	int64_t loaded_at_ns;
	uint64_t applied;
	uint64_t refused;
};

/*
 * @path made absolute, links not followed: an operator who points a link
 * at another file and reloads means the file it points at then. NULL on failure.
 */
static char *absolute(const char *path)
{
	char cwd[4096], *out;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	out = malloc(strlen(cwd) + strlen(path) + 2);
	if (out)
		sprintf(out, "%s/%s", cwd, path);
	return out;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct nm_reload *nm_reload_create(const char *path, struct nm_config *cfg,
				   struct nm_pipeline *pipeline, bool log_level_from_config)
{
	struct nm_reload *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->configs = calloc(1, sizeof(*r->configs));
	/* a relative -c must name the same file whatever the working directory */
	r->path = path ? absolute(path) : NULL;
	if (!r->configs || (path && !r->path)) {
		free(r->configs);
		free(r->path);
		free(r);
		return NULL;
	}
	r->configs->cfg = cfg;
	r->p = pipeline;
	r->log_level_from_config = log_level_from_config;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->one, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->generation = 1;
	r->loaded_at_ns = realtime_ns();
	return r;
}

void nm_reload_destroy(struct nm_reload *r)
{
	if (!r)
		return;
	while (r->configs) {
		struct kept_config *k = r->configs;

		r->configs = k->next;
		nm_config_free(k->cfg);
		free(k);
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->one);
	free(r->path);
	free(r);
}

const struct nm_config *nm_reload_config(const struct nm_reload *r)
{
	return r->configs->cfg;
}

void nm_reload_set_store(struct nm_reload *r, struct nm_store *store)
{
	if (r)
		r->store = store;
}

/* ---- what changed ---------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Two structs parsed with option table @t hold the same values (declared keys only). */
static bool options_equal(const struct nm_option *t, const void *a, const void *b)
{
	for (; t && t->name; t++) {
		const char *x = (const char *)a + t->offset, *y = (const char *)b + t->offset;

		switch (t->type) {
		case NM_OPT_BOOL:
			if (*(const bool *)x != *(const bool *)y)
				return false;
			break;
		case NM_OPT_INT:
			if (*(const long long *)x != *(const long long *)y)
				return false;
			break;
		case NM_OPT_ENUM:
			if (*(const int *)x != *(const int *)y)
				return false;
			break;
		case NM_OPT_STRING:
			if (!str_eq(*(char *const *)x, *(char *const *)y))
				return false;
			break;
		case NM_OPT_STRINGS: {
			const struct nm_strings *u = (const void *)x, *v = (const void *)y;

			if (u->n != v->n)
				return false;
			for (size_t i = 0; i < u->n; i++)
				if (!str_eq(u->v[i], v->v[i]))
					return false;
			break;
		}
		default:
			return false; /* a kind this does not know: call it changed */
		}
	}
	return true;
}

static bool filter_equal(const struct nm_filter *a, const struct nm_filter *b)
{
	if (!a || !b)
		return (!a || nm_filter_empty(a)) && (!b || nm_filter_empty(b));
	for (int d = 0; d < NM_FD_MAX; d++) {
		for (int x = 0; x < 2; x++) {
			const struct nm_filter_list *u = &a->list[d][x], *v = &b->list[d][x];

			if (u->n != v->n)
				return false;
			for (size_t i = 0; i < u->n; i++) {
				const struct nm_filter_item *p = &u->v[i], *q = &v->v[i];

				if (p->num != q->num || !str_eq(p->text, q->text) ||
				    p->family != q->family || p->prefix != q->prefix ||
				    memcmp(p->addr, q->addr, sizeof(p->addr)))
					return false;
			}
		}
	}
	return true;
}

/*
 * A program's filter that the file changed, into the kernel: a filter set
 * through the API stays until the file's changes. Reader thread, after the
 * swap; a failure leaves the old filter in force and is a warning.
 */
static void apply_filters(struct nm_reload *r, const struct nm_config *old,
			  const struct nm_config *nw, struct nm_reload_result *res)
{
	size_t w = strlen(res->warnings);

	for (size_t i = 0; i < nw->nprograms && i < old->nprograms; i++) {
		struct nm_program *prog = nm_pipeline_program(r->p, i);
		char why[256];

		if (!prog ||
		    filter_equal(old->programs[i].common.filter, nw->programs[i].common.filter))
			continue;
		if (nm_program_set_filter(prog, nw->programs[i].common.filter, why, sizeof(why)) &&
		    w < sizeof(res->warnings))
			w += (size_t)snprintf(res->warnings + w, sizeof(res->warnings) - w,
					      "%s%s: filter not changed: %s", w ? "; " : "",
					      nw->programs[i].type->name, why);
	}
}

static bool queue_equal(const struct nm_queue_config *a, const struct nm_queue_config *b)
{
	return options_equal(nm_queue_options, a, b) && a->durability == b->durability &&
	       a->durability_sync_ms == b->durability_sync_ms && a->schema == b->schema;
}

struct diff {
	const char *source;
	config_t cf; /* the file again, only to say on which line a refused key is */
	bool have_cf;
	char *out;
	size_t len, used;
	unsigned n;
};

/*
 * Parse the file once more for line numbers. The configuration itself came
 * from nm_config_load_file; should the file change in between, a line is
 * only a hint, so this reads the same way but trusts nothing it finds.
 */
static void diff_open(struct diff *d, const char *path)
{
	struct stat st;
	char *text = NULL;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size <= NM_CONFIG_MAX_BYTES)
		text = malloc((size_t)st.st_size + 1);
	if (text)
		n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (!text || n < 0 || memchr(text, '\0', (size_t)n)) {
		free(text);
		return;
	}
	text[n] = '\0';
	config_init(&d->cf);
	d->have_cf = config_read_string(&d->cf, text) == CONFIG_TRUE;
	if (!d->have_cf)
		config_destroy(&d->cf);
	free(text);
}

static void diff_close(struct diff *d)
{
	if (d->have_cf)
		config_destroy(&d->cf);
	d->have_cf = false;
}

/* The line of @path ("control.socket"), or of the nearest group above it that is there; 0. */
static int line_of(struct diff *d, const char *path)
{
	char p[256];

	if (!d->have_cf)
		return 0;
	snprintf(p, sizeof(p), "%s", path);
	for (;;) {
		const config_setting_t *s = config_lookup(&d->cf, p);
		char *dot;

		if (s)
			return config_setting_source_line(s);
		dot = strrchr(p, '.');
		if (!dot)
			return 0;
		*dot = '\0';
	}
}

/* The line of sink @name's @key, or of the sink, in the list `sinks`; 0. */
static int sink_line(struct diff *d, const char *name, const char *key)
{
	const config_setting_t *list = d->have_cf ? config_lookup(&d->cf, "sinks") : NULL;

	for (int i = 0; list && i < config_setting_length(list); i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i), *k;
		const char *n = NULL;

		if (!config_setting_lookup_string(s, "name", &n) || strcmp(n, name))
			continue;
		k = key ? config_setting_get_member(s, key) : NULL;
		return config_setting_source_line(k ? k : s);
	}
	return 0;
}

/* One refusal, "file:line: message" (no line when the key is not in the file: a default). */
static void __attribute__((format(printf, 3, 4)))
refuse(struct diff *d, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	d->n++;
	if (d->used >= d->len)
		return;
	if (line > 0)
		n = snprintf(d->out + d->used, d->len - d->used, "%s%s:%d: ", d->used ? "\n" : "",
			     d->source, line);
	else
		n = snprintf(d->out + d->used, d->len - d->used, "%s%s: ", d->used ? "\n" : "",
			     d->source);
	if (n > 0)
		d->used += (size_t)n;
	if (d->used >= d->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(d->out + d->used, d->len - d->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		d->used += (size_t)n;
}

#define RESTART "cannot change at run time: restart the agent for that"

/*
 * Keys the running agent cannot take: what the control socket, the
 * privileges and the BPF objects were set up with. Refused rather than
 * half-applied, so that what runs is always exactly one file's content.
 */
static void check_fixed(const struct nm_config *cur, const struct nm_config *nw, struct diff *d)
{
	const struct nm_control_config *a = &cur->control, *b = &nw->control;
	static const struct {
		const char *key;
		size_t offset;
		bool is_string;
	} fixed[] = {
		{"control.socket", offsetof(struct nm_config, control.socket), true},
		{"control.mode", offsetof(struct nm_config, control.mode), true},
		{"control.group", offsetof(struct nm_config, control.group), true},
		{"control.admin_group", offsetof(struct nm_config, control.admin_group), true},
		{"control.max_clients", offsetof(struct nm_config, control.max_clients), false},
		{"control.max_clients_per_uid",
		 offsetof(struct nm_config, control.max_clients_per_uid), false},
		{"control.stream_queue_events",
		 offsetof(struct nm_config, control.stream_queue_events), false},
		{"metrics.listen", offsetof(struct nm_config, metrics.listen), true},
		{"user", offsetof(struct nm_config, user), true},
		{"group", offsetof(struct nm_config, group), true},
	};

	if (a->enabled != b->enabled)
		refuse(d, line_of(d, "control.enabled"), "control.enabled " RESTART);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		const char *x = (const char *)cur + fixed[i].offset;
		const char *y = (const char *)nw + fixed[i].offset;
		bool same = fixed[i].is_string ? str_eq(*(char *const *)x, *(char *const *)y)
					       : *(const long long *)x == *(const long long *)y;

		if (!same)
			refuse(d, line_of(d, fixed[i].key), "%s " RESTART, fixed[i].key);
	}
	for (size_t i = 0; i < nw->nprograms && i < cur->nprograms; i++) {
		const struct nm_program_config *x = &cur->programs[i], *y = &nw->programs[i];
		const char *name = y->type->name;
		char key[128];

		snprintf(key, sizeof(key), "programs.%s.ring_size", name);
		if (x->common.ring_size != y->common.ring_size)
			refuse(d, line_of(d, key), "%s " RESTART, key);
		snprintf(key, sizeof(key), "programs.%s.wakeup_bytes", name);
		if (x->common.wakeup_bytes != y->common.wakeup_bytes)
			refuse(d, line_of(d, key), "%s " RESTART, key);
		/* compiled into the loaded BPF object (.rodata): only `enabled` can change */
		snprintf(key, sizeof(key), "programs.%s", name);
		if (!options_equal(y->type->options, x->options, y->options))
			refuse(d, line_of(d, key),
			       "%s: its own keys are compiled into the loaded program and " RESTART
			       " (only 'enabled' can change)",
			       key);
	}
}

/*
 * Match the new sinks to the running ones by name. Equal parsed config:
 * untouched; other keys of its own: a new instance on the same queue and
 * spool; type, format or queue changed: refused (its queue holds events
 * encoded for them; rename the sink to replace it).
 */
static void plan_sinks(const struct nm_config *cur, const struct nm_config *nw, long *from,
		       bool *changed, struct nm_reload_result *res, struct diff *d)
{
	for (size_t j = 0; j < nw->nsinks; j++) {
		const struct nm_sink_config *b = &nw->sinks[j];

		from[j] = -1;
		changed[j] = false;
		for (size_t i = 0; i < cur->nsinks; i++) {
			const struct nm_sink_config *a = &cur->sinks[i];

			if (strcmp(a->name, b->name))
				continue;
			from[j] = (long)i;
			if (a->type != b->type)
				refuse(d, sink_line(d, b->name, "type"),
				       "sink %s: type " RESTART
				       ", or give the new one another name",
				       b->name);
			else if (a->format != b->format || a->queue.schema != b->queue.schema)
				refuse(d, sink_line(d, b->name, NULL),
				       "sink %s: format and schema " RESTART
				       ", or give the new one another name",
				       b->name);
			else if (!queue_equal(&a->queue, &b->queue))
				refuse(d, sink_line(d, b->name, NULL),
				       "sink %s: queue and durability " RESTART
				       ", or give the new one another name",
				       b->name);
			else
				changed[j] =
					!options_equal(b->type->options, a->options, b->options);
			break;
		}
		if (from[j] < 0)
			res->sinks_added++;
		else if (changed[j])
			res->sinks_changed++;
		else
			res->sinks_unchanged++;
	}
	res->sinks_removed = (unsigned)(cur->nsinks - (nw->nsinks - res->sinks_added));
}

/* ---- applying ------------------------------------------------------------------- */

static void finish(struct nm_reload *r, struct nm_reload_result *res)
{
	pthread_mutex_lock(&r->lock);
	if (res->status)
		r->refused++;
	res->generation = r->generation;
	pthread_mutex_unlock(&r->lock);
	if (res->status) {
		char line[sizeof(res->errors) + 256];
		size_t n = 0;

		/* one log line: the errors joined */
		for (const char *e = res->errors; *e && n + 3 < sizeof(line); e++) {
			if (*e == '\n') {
				line[n++] = ';';
				line[n++] = ' ';
			} else {
				line[n++] = *e;
			}
		}
		line[n] = '\0';
		nm_err("reload refused, the running configuration (generation %llu) stays: %s",
		       (unsigned long long)res->generation, line);
	}
	if (res->warnings[0])
		nm_warn("reload: %s", res->warnings);
}

int nm_reload_apply(struct nm_reload *r, struct nm_reload_result *res)
{
	const struct nm_config *cur = nm_reload_config(r);
	struct diff d = {.out = res->errors, .len = sizeof(res->errors)};
	struct kept_config *k = NULL;
	struct nm_config *nw = NULL;
	bool *changed = NULL;
	long *from = NULL;
	int64_t loaded_at;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!r->path) {
		snprintf(res->errors, sizeof(res->errors),
			 "the agent runs the built-in default configuration (no -c FILE): there is "
			 "no file to re-read");
		res->status = -ENOENT;
		pthread_mutex_lock(&r->lock);
		res->generation = r->generation;
		pthread_mutex_unlock(&r->lock);
		return res->status;
	}
	loaded_at = realtime_ns();
	nw = nm_config_load_file(r->path, res->errors, sizeof(res->errors));
	if (!nw) {
		rc = -EINVAL;
		goto out;
	}
	d.source = nw->source;
	if (nw->warning[0])
		snprintf(res->warnings, sizeof(res->warnings), "%s", nw->warning);
	from = calloc(nw->nsinks ? nw->nsinks : 1, sizeof(*from));
	changed = calloc(nw->nsinks ? nw->nsinks : 1, sizeof(*changed));
	k = calloc(1, sizeof(*k));
	if (!from || !changed || !k) {
		snprintf(res->errors, sizeof(res->errors), "%s: out of memory", r->path);
		rc = -ENOMEM;
		goto out;
	}
	diff_open(&d, r->path);
	check_fixed(cur, nw, &d);
	plan_sinks(cur, nw, from, changed, res, &d);
	if (r->store && nw->store.capacity != cur->store.capacity &&
	    (size_t)nw->store.capacity > nm_store_max_capacity(r->store))
		refuse(&d, line_of(&d, "store.capacity"),
		       "store.capacity: at most %zu at run time (what the store allocated at "
		       "start); more needs a restart",
		       nm_store_max_capacity(r->store));
	for (size_t i = 0; i < nw->nprograms && i < cur->nprograms; i++) {
		bool on = !cur->programs[i].common.enabled && nw->programs[i].common.enabled;
		char why[256];

		res->programs_enabled += on;
		res->programs_disabled +=
			cur->programs[i].common.enabled && !nw->programs[i].common.enabled;
		/* as at start; once privileges are dropped a mount may no longer be possible */
		if (on && nw->programs[i].type->needs_tracefs &&
		    nm_tracefs_ensure(why, sizeof(why))) {
			char key[128];

			snprintf(key, sizeof(key), "programs.%s.enabled",
				 nw->programs[i].type->name);
			refuse(&d, line_of(&d, key), "%s: %s", key, why);
		}
	}
	if (d.n) {
		rc = -EINVAL;
		goto out;
	}
	rc = nm_pipeline_reconfigure(r->p, nw, from, changed, res->warnings + strlen(res->warnings),
				     sizeof(res->warnings) - strlen(res->warnings), res->errors,
				     sizeof(res->errors));
	if (rc)
		goto out;
	apply_filters(r, cur, nw, res);
	if (r->store)
		nm_store_set_capacity(r->store, (size_t)nw->store.capacity);
	if (r->log_level_from_config)
		nm_log_set_level((enum nm_log_level)nw->log_level);
	k->cfg = nw;
	pthread_mutex_lock(&r->lock);
	k->next = r->configs;
	r->configs = k;
	r->generation++;
	r->loaded_at_ns = loaded_at;
	r->applied++;
	res->generation = r->generation;
	pthread_mutex_unlock(&r->lock);
	nw = NULL;
	k = NULL;
	nm_info("reload: %s applied as generation %llu: sinks %u added, %u removed, %u changed, "
		"%u unchanged; programs %u enabled, %u disabled",
		r->path, (unsigned long long)res->generation, res->sinks_added, res->sinks_removed,
		res->sinks_changed, res->sinks_unchanged, res->programs_enabled,
		res->programs_disabled);
out:
	diff_close(&d);
	res->status = rc;
	finish(r, res);
	nm_config_free(nw);
	free(k);
	free(from);
	free(changed);
	return rc;
}

/* ---- requests from other threads -------------------------------------------------- */

void nm_reload_serve(struct nm_reload *r)
{
	struct nm_reload_result res;

	pthread_mutex_lock(&r->lock);
	if (!r->wanted || r->serving) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	r->serving = true;
	pthread_mutex_unlock(&r->lock);
	nm_reload_apply(r, &res);
	pthread_mutex_lock(&r->lock);
	r->result = res;
	r->serving = false;
	r->wanted = false;
	r->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void nm_reload_close(struct nm_reload *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

int nm_reload_request(struct nm_reload *r, struct nm_reload_result *res)
{
	struct timespec until;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&r->one);
	pthread_mutex_lock(&r->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += REQUEST_WAIT_S;
	r->done = false;
	r->wanted = !r->closing;
	/* once the reader has begun it finishes: wait for that whatever the time */
	while (!r->done && !r->closing && (rc != ETIMEDOUT || r->serving)) {
		if (rc == ETIMEDOUT)
			until.tv_sec++;
		rc = pthread_cond_timedwait(&r->cond, &r->lock, &until);
	}
	if (r->done) {
		*res = r->result;
	} else {
		r->wanted = false;
		res->status = r->closing ? -ECANCELED : -ETIMEDOUT;
		res->generation = r->generation;
		snprintf(res->errors, sizeof(res->errors), "%s",
			 r->closing ? "the agent is shutting down"
				    : "the agent's reader thread did not get to the reload");
	}
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&r->one);
	return res->status;
}

void nm_reload_get_info(struct nm_reload *r, struct nm_reload_info *info)
{
	pthread_mutex_lock(&r->lock);
	info->generation = r->generation;
	info->loaded_at_ns = r->loaded_at_ns;
	info->applied = r->applied;
	info->refused = r->refused;
	info->source = r->configs->cfg->source; /* kept until destroy: good after the lock */
	pthread_mutex_unlock(&r->lock);
	info->reloadable = r->path != NULL;
}

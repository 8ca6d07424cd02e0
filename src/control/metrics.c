/* metrics.c - GET /metrics: every /api/stats number in the Prometheus text exposition format. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../log.h"

/*
 * /api/stats is written once, through a writer that captures instead of
 * encoding: each number becomes a sample named after where it sits
 * (sinks[].delivered -> ebpf_netmon_sink_delivered_total{sink="NAME"}), and
 * the samples are printed grouped by metric, as the format requires. So a
 * counter added to /api/stats is exported without a line here.
 */

#define PREFIX "ebpf_netmon_"
/* sinks[].delivery_latency_seconds (outlet.c): a histogram, _bucket/_sum/_count */
#define HIST	    "sink_delivery_latency_seconds"
#define HIST_FAMILY PREFIX HIST
#define NAME_MAX_   128
#define LABEL_MAX   256

struct sample {
	char name[NAME_MAX_];	/* the metric family, suffix included */
	char labels[LABEL_MAX]; /* `sink="f",reason="x"`, already escaped */
	double value;
	bool counter;
	const char *family; /* a histogram's name, for its TYPE line; NULL: name itself */
};

struct prom {
	struct sample *s;
	size_t n, cap;
	bool oom;
	/* where the writer is: section per depth ("sink", "program", ...), and the item's labels */
	char section[NM_WRITER_DEPTH_MAX + 1][64];
	char item_label[LABEL_MAX];
	char hist_label[LABEL_MAX]; /* the sink's, kept across the buckets' own items */
	double le;		    /* the bucket being read */
};

/* Numbers that are a level, not a running count (the rest are counters, with _total). */
static const char *const gauges[] = {
	"uptime_seconds",
	"capacity",
	"stored",
	"connections",
	"max_clients",
	"max_clients_per_uid",
	"stream_clients",
	"stream_queue_events",
	"queued",
	"in_flight",
	"queued_bytes",
	"spool_pending",
	"spool_bytes",
	"healthy",
	"enabled",
	"loaded",
	"attached",
	"pid",
	"unsynced",
	"generation",
	NULL,
};

static bool is_gauge(const char *key)
{
	for (const char *const *g = gauges; *g; g++)
		if (!strcmp(key, *g))
			return true;
	return false;
}

/* Prometheus label values: backslash, double quote and newline escaped; the rest as is. */
static void escape_label(char *dst, size_t cap, const char *v, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 3 < cap; i++) {
		char ch = v[i];

		if (ch == '\\' || ch == '"' || ch == '\n') {
			dst[o++] = '\\';
			ch = ch == '\n' ? 'n' : ch;
		}
		dst[o++] = ch;
	}
	dst[o] = '\0';
}

/* Metric names allow [a-zA-Z0-9_:]; our keys are written so, but never trust that. */
static void append_name(char *dst, size_t cap, const char *part)
{
	size_t o = strlen(dst);

	for (; *part && o + 1 < cap; part++)
		dst[o++] = (*part >= 'a' && *part <= 'z') || (*part >= 'A' && *part <= 'Z') ||
					   (*part >= '0' && *part <= '9') || *part == '_'
				   ? *part
				   : '_';
	dst[o] = '\0';
}

static struct sample *new_sample(struct prom *p)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		struct sample *ns = realloc(p->s, cap * sizeof(*ns));

		if (!ns) {
			p->oom = true;
			return NULL;
		}
		p->s = ns;
		p->cap = cap;
	}
	return &p->s[p->n++];
}

static void hist_sample(struct prom *p, const char *suffix, const char *le, double v)
{
	struct sample *s = new_sample(p);

	if (!s)
		return;
	snprintf(s->name, sizeof(s->name), "%s%s", HIST_FAMILY, suffix);
	if (le)
		snprintf(s->labels, sizeof(s->labels), "%.200s%sle=\"%s\"", p->hist_label,
			 *p->hist_label ? "," : "", le);
	else
		snprintf(s->labels, sizeof(s->labels), "%s", p->hist_label);
	s->value = v;
	s->counter = true;
	s->family = HIST_FAMILY;
}

/* Inside sinks[].delivery_latency_seconds: true when @k was taken as part of the histogram. */
static bool hist_add(struct prom *p, const char *section, const char *k, double v)
{
	char le[32];

	if (!strcmp(section, HIST "_buckets")) {
		if (!strcmp(k, "le")) {
			p->le = v;
		} else if (!strcmp(k, "count")) {
			snprintf(le, sizeof(le), "%g", p->le);
			hist_sample(p, "_bucket", le, v);
		}
		return true;
	}
	if (strcmp(section, HIST))
		return false;
	if (!strcmp(k, "count")) {
		hist_sample(p, "_bucket", "+Inf", v);
		hist_sample(p, "_count", NULL, v);
	} else if (!strcmp(k, "sum")) {
		hist_sample(p, "_sum", NULL, v);
	}
	return true;
}

static void add(struct nm_writer *w, const char *key, size_t klen, double v)
{
	struct prom *p = w->ctx;
	const char *section = p->section[w->depth - 1];
	char k[64];
	struct sample *s;
	bool counter;

	if (!key || klen >= sizeof(k))
		return;
	memcpy(k, key, klen);
	k[klen] = '\0';
	if (hist_add(p, section, k, v))
		return;
	/* the sum of the reasons below it: exported as the reasons alone, which add up to it */
	if (!strcmp(section, "sink") && !strcmp(k, "dropped"))
		return;
	s = new_sample(p);
	if (!s)
		return;
	counter = !is_gauge(k);
	s->family = NULL;
	snprintf(s->name, sizeof(s->name), PREFIX "%s%s", section, *section ? "_" : "");
	strcpy(s->labels, p->item_label);
	if (!strcmp(section, "sink") && !strncmp(k, "dropped_", 8)) {
		append_name(s->name, sizeof(s->name), "dropped");
		snprintf(s->labels + strlen(s->labels), sizeof(s->labels) - strlen(s->labels),
			 "%sreason=\"%s\"", *s->labels ? "," : "", k + 8);
	} else {
		append_name(s->name, sizeof(s->name), k);
	}
	if (counter && (strlen(s->name) < 6 || strcmp(s->name + strlen(s->name) - 6, "_total")))
		append_name(s->name, sizeof(s->name), "_total");
	s->value = v;
	s->counter = counter;
}

static void p_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	add(w, key, klen, (double)v);
}

static void p_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	add(w, key, klen, (double)v);
}

static void p_dbl(struct nm_writer *w, const char *key, size_t klen, double v)
{
	add(w, key, klen, v);
}

static void p_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
	add(w, key, klen, v);
}

/* A program's or sink's name is the label of everything after it in its map. */
static void p_str(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len)
{
	struct prom *p = w->ctx;
	const char *section = p->section[w->depth - 1];
	char v[LABEL_MAX / 2];

	if (!key || klen != 4 || memcmp(key, "name", 4) || !*section)
		return;
	escape_label(v, sizeof(v), val, len);
	snprintf(p->item_label, sizeof(p->item_label), "%s=\"%s\"", section, v);
}

static void p_null(struct nm_writer *w, const char *key, size_t klen)
{
	(void)w;
	(void)key;
	(void)klen;
}

/* "programs" -> "program", "sinks" -> "sink", a map "store" -> "store"; nested maps join by _. */
static void open_nested(struct nm_writer *w, const char *key, size_t klen)
{
	struct prom *p = w->ctx;
	char *sec;

	if (w->depth > NM_WRITER_DEPTH_MAX) {
		w->error = true;
		return;
	}
	sec = p->section[w->depth];
	if (!key) { /* an element of an array: the array's section, a new item */
		strcpy(sec, p->section[w->depth - 1]);
		p->item_label[0] = '\0';
	} else {
		size_t n = klen < sizeof(p->section[0]) - 1 ? klen : sizeof(p->section[0]) - 1;

		char parent[sizeof(p->section[0])];

		strcpy(parent, p->section[w->depth - 1]);
		/* our keys nest shallowly: a name cut short here would be a bug in a writer */
		if (snprintf(sec, sizeof(p->section[0]), "%s%s%.*s", parent, *parent ? "_" : "",
			     (int)n, key) >= (int)sizeof(p->section[0]))
			w->error = true;
		/* an array of items is named for one item: sink="f", ebpf_netmon_sink_... */
		if (!strcmp(sec, "programs") || !strcmp(sec, "sinks"))
			sec[strlen(sec) - 1] = '\0';
		if (!strcmp(sec, HIST))
			strcpy(p->hist_label, p->item_label);
	}
	w->depth++;
}

static void p_map(struct nm_writer *w, const char *key, size_t klen)
{
	open_nested(w, key, klen);
	w->in_array[w->depth - 1] = false;
}

static void p_array(struct nm_writer *w, const char *key, size_t klen)
{
	open_nested(w, key, klen);
	w->in_array[w->depth - 1] = true;
}

static void p_end_nested(struct nm_writer *w)
{
	struct prom *p = w->ctx;

	if (w->depth <= 1) {
		w->error = true;
		return;
	}
	/* the histogram's buckets were items of their own: the sink's label again after it */
	if (!strcmp(p->section[w->depth - 1], HIST))
		strcpy(p->item_label, p->hist_label);
	w->depth--;
	if (w->in_array[w->depth - 1])
		p->item_label[0] = '\0';
}

static void p_begin(struct nm_writer *w)
{
	struct prom *p = w->ctx;

	p->section[0][0] = '\0';
	w->depth = 1;
}

static void p_end(struct nm_writer *w)
{
	(void)w;
}

static const struct nm_writer_ops prom_ops = {
	.begin = p_begin,
	.end = p_end,
	.str = p_str,
	.u64 = p_u64,
	.i64 = p_i64,
	.boolean = p_bool,
	.null = p_null,
	.dbl = p_dbl,
	.begin_map = p_map,
	.begin_array = p_array,
	.end_nested = p_end_nested,
};

/* One line of at most 512 bytes (names and labels are bounded above) onto @out. */
static void __attribute__((format(printf, 2, 3))) put(struct nm_buf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		nm_buf_append(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Each family once, in the order first seen, with its HELP and TYPE lines. */
static void render(const struct prom *p, struct nm_buf *out)
{
	bool *done = calloc(p->n ? p->n : 1, sizeof(*done));

	if (!done) {
		out->oom = true;
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct sample *f = &p->s[i];
		const char *family = f->family ? f->family : f->name;

		if (done[i])
			continue;
		put(out, "# HELP %s /api/stats field, see docs/control-api.md\n# TYPE %s %s\n",
		    family, family,
		    f->family	 ? "histogram"
		    : f->counter ? "counter"
				 : "gauge");
		for (size_t j = i; j < p->n; j++) {
			const struct sample *s = &p->s[j];

			if (done[j] || strcmp(s->family ? s->family : s->name, family))
				continue;
			done[j] = true;
			put(out, "%s%s%s%s %.17g\n", s->name, *s->labels ? "{" : "", s->labels,
			    *s->labels ? "}" : "", s->value);
		}
	}
	free(done);
}

enum MHD_Result nm_ep_metrics(struct nm_control *c, struct MHD_Connection *conn,
			      struct nm_request *r)
{
	struct prom p = {0};
	struct nm_writer w = {.ops = &prom_ops, .ctx = &p};
	struct nm_buf out = {0};

	(void)r;
	nm_w_begin(&w);
	nm_stats_write(c, &w);
	nm_w_end(&w);
	if (p.oom || w.error)
		out.oom = true;
	else
		render(&p, &out);
	free(p.s);
	return nm_reply_buf(c, conn, MHD_HTTP_OK, &out, "text/plain; version=0.0.4; charset=utf-8",
			    NULL);
}

/* ---- the optional TCP listener (metrics.listen): /metrics alone, for Prometheus to scrape ---- */

#define METRICS_MAX_CLIENTS 16
#define METRICS_TIMEOUT_S   10

static enum MHD_Result text_reply(struct nm_control *c, struct MHD_Connection *conn,
				  unsigned int status, const char *text, const char *allow)
{
	struct nm_buf out = {0};

	nm_buf_append(&out, text, strlen(text));
	return nm_reply_buf(c, conn, status, &out, "text/plain; charset=utf-8", allow);
}

static enum MHD_Result on_scrape(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_size, void **req)
{
	struct nm_control *c = cls;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req;
	atomic_fetch_add(&c->requests, 1);
	if (strcmp(url, "/metrics"))
		return text_reply(c, conn, MHD_HTTP_NOT_FOUND, "only /metrics is served here\n",
				  NULL);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return text_reply(c, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n", "GET, HEAD");
	return nm_ep_metrics(c, conn, NULL);
}

int nm_metrics_listen(struct nm_control *c, char *err, size_t errlen)
{
	const struct nm_metrics_config *mc = &c->cfg->metrics;
	char where[INET6_ADDRSTRLEN + 8];

	if (!mc->listen)
		return 0;
	snprintf(where, sizeof(where), "%s", mc->listen);
	/* bodies are never read: every answer is queued at the first call, before any upload */
	c->metrics_mhd =
		MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
					 (mc->addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				 0, NULL, NULL, on_scrape, c, MHD_OPTION_SOCK_ADDR, &mc->addr,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_CLIENTS,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
				 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_END);
	if (!c->metrics_mhd) {
		snprintf(err, errlen,
			 "metrics listen %s: cannot listen there (in use, or not an "
			 "address of this host)",
			 where);
		return -EADDRNOTAVAIL;
	}
	nm_info("metrics on http://%s/metrics", where);
	return 0;
}

void nm_metrics_stop(struct nm_control *c)
{
	if (c->metrics_mhd)
		MHD_stop_daemon(c->metrics_mhd);
	c->metrics_mhd = NULL;
}

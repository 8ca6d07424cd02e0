/* ebpf-netmonctl.c - command line client of the control API on the agent's Unix socket (curl). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <msgpack.h>

#include "ctl.h"

const char *prog_name = "ebpf-netmonctl";

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ebpf-netmonctl [--socket PATH] [--json] COMMAND [ARGS]\n"
		"\n"
		"Queries and controls a running ebpf-netmon agent over its control socket.\n"
		"\n"
		"Commands:\n"
		"  health                 agent status, per-program and per-sink health\n"
		"  programs               monitoring programs: attached?, events, losses\n"
		"  events [FILTERS]       stored events, newest first (default 100)\n"
		"  tail [FILTERS]         follow new events live until interrupted\n"
		"  stats                  every counter of every stage and sink\n"
		"  top                    live view, each second: events/s per program and sink,\n"
		"                         queues, losses, top commands and destinations; q quits\n"
		"                         (-n N: N refreshes; with --json a JSON line each)\n"
		"  attach NAME            attach a program (needs uid 0 or the admin group)\n"
		"  detach NAME            detach a program (same)\n"
		"  filter NAME [show]     a program's in-kernel filter\n"
		"  filter NAME set KEY=V[,KEY=V...]\n"
		"                         replace it (same privilege): KEY is pids, uids, cgroups,\n"
		"                         commands, ports, cidrs, drop_reasons or exclude_ and one\n"
		"                         of them; repeat a KEY for more values\n"
		"  filter NAME clear      remove it\n"
		"  reload                 re-read the agent's configuration file and apply it, or\n"
		"                         print why it was refused (same privilege; as SIGHUP)\n"
		"\n"
		"Filters:\n"
		"  -t, --type TYPE        a program's name (see: ebpf-netmonctl programs), or loss\n"
		"  -p, --pid PID          process id\n"
		"  -c, --command COMM     exact process name (up to 16 bytes)\n"
		"      --since TIME       RFC 3339, e.g. 2024-05-01T12:00:00Z (events only)\n"
		"      --until TIME       RFC 3339 (events only)\n"
		"  -n, --limit N          at most N events (1..10000); tail stops after N\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH      control socket [$EBPF_NETMON_SOCKET or " DEFAULT_SOCKET
		"]\n"
		"  -j, --json             the agent's JSON as is (NDJSON for tail), for scripts\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n"
		"\n"
		"Exit status: 0 ok; 1 the agent refused the request (its message is printed) or\n"
		"reports itself degraded; 2 no agent answered on the socket; 64 usage error.\n"
		"See ebpf-netmonctl(1) and docs/control-api.md for the HTTP API underneath.\n");
}

/* ---- HTTP over the Unix socket --------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	char *p = realloc(b->data, b->len + n + 1);

	if (!p)
		return 0; /* curl reports a write error */
	b->data = p;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* The body of the next POST (a filter's JSON), NULL for none. */
static const char *post_body;

static void setup(struct client *c, const char *method, const char *url, bool msgpack,
		  struct curl_slist **headers)
{
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	*headers = NULL;
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, post_body ? post_body : "");
		if (post_body)
			*headers = curl_slist_append(NULL, "Content-Type: application/json");
	}
	*headers = curl_slist_append(*headers, msgpack ? "Accept: application/msgpack"
						       : "Accept: application/json");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, *headers);
}

/* A printable copy of @len bytes: control characters (attacker-chosen names) become '?'. */
void ctl_put_clean(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], out);
}

const msgpack_object *ctl_mp_get(const msgpack_object *map, const char *key)
{
	size_t klen = strlen(key);

	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
		    !memcmp(k->via.str.ptr, key, klen))
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

/* A scalar as text into @buf; "-" for null or absent. */
const char *ctl_mp_text(const msgpack_object *o, char *buf, size_t len)
{
	if (!o || o->type == MSGPACK_OBJECT_NIL) {
		snprintf(buf, len, "-");
	} else if (o->type == MSGPACK_OBJECT_STR) {
		size_t n = o->via.str.size < len - 1 ? o->via.str.size : len - 1;

		for (size_t i = 0; i < n; i++) {
			char ch = o->via.str.ptr[i];

			buf[i] = (unsigned char)ch < 0x20 || ch == 0x7f ? '?' : ch;
		}
		buf[n] = '\0';
	} else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		snprintf(buf, len, "%llu", (unsigned long long)o->via.u64);
	} else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		snprintf(buf, len, "%lld", (long long)o->via.i64);
	} else if (o->type == MSGPACK_OBJECT_BOOLEAN) {
		snprintf(buf, len, "%s", o->via.boolean ? "yes" : "no");
	} else if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) {
		snprintf(buf, len, "%g", o->via.f64);
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

const char *ctl_field(const msgpack_object *map, const char *key, char *buf, size_t len)
{
	return ctl_mp_text(ctl_mp_get(map, key), buf, len);
}

/*
 * One request. On success returns 0 and leaves the body in @b (JSON or
 * MessagePack as asked). On an error answer prints the agent's message.
 * Returns the exit status to use otherwise.
 */
int ctl_request(struct client *c, const char *method, const char *path, bool msgpack,
		struct body *b, long *status)
{
	struct curl_slist *headers = NULL;
	char url[4096];
	CURLcode rc;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	setup(c, method, url, msgpack, &headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
	c->errbuf[0] = '\0';
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		fprintf(stderr, "%s: cannot talk to the agent on %s: %s\n", prog_name, c->socket,
			c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return EXIT_UNREACH;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* Print the agent's {"error": ...} for an error status; its exit status. */
static int report_error(const struct body *b, long status, bool msgpack)
{
	msgpack_unpacked u;
	size_t off = 0;
	char msg[512] = "";

	if (msgpack) {
		msgpack_unpacked_init(&u);
		if (msgpack_unpack_next(&u, b->data, b->len, &off) == MSGPACK_UNPACK_SUCCESS)
			ctl_field(&u.data, "error", msg, sizeof(msg));
		msgpack_unpacked_destroy(&u);
	} else if (b->data) {
		/* Scripts get the body as is on stderr; it is the agent's JSON error. */
		snprintf(msg, sizeof(msg), "%.*s", (int)strcspn(b->data, "\n"), b->data);
	}
	fprintf(stderr, "%s: %s (HTTP %ld)\n", prog_name, msg[0] ? msg : "request failed", status);
	return EXIT_SERVER;
}

/* GET or POST @path; print JSON as is, or hand the decoded document to @show. */
static int run(struct client *c, const char *method, const char *path,
	       int (*show)(const msgpack_object *doc, long status))
{
	struct body b = {0};
	msgpack_unpacked u;
	size_t off = 0;
	long status = 0;
	int rc = ctl_request(c, method, path, !c->json, &b, &status);

	if (rc)
		goto out;
	/*
	 * /health answers 503 with a full document when degraded, /api/reload a
	 * refusal with its file:line errors: show it, then fail.
	 */
	if (status >= 400 && !(status == 503 && !strcmp(path, "/health")) &&
	    !(status != 403 && status < 500 && !strcmp(path, "/api/reload"))) {
		rc = report_error(&b, status, !c->json);
		goto out;
	}
	if (c->json) {
		fwrite(b.data, 1, b.len, stdout);
		rc = status >= 400 ? EXIT_SERVER : 0;
		goto out;
	}
	msgpack_unpacked_init(&u);
	if (!b.data || msgpack_unpack_next(&u, b.data, b.len, &off) != MSGPACK_UNPACK_SUCCESS) {
		fprintf(stderr, "%s: the agent's answer is not MessagePack\n", prog_name);
		rc = EXIT_SERVER;
	} else {
		rc = show(&u.data, status);
	}
	msgpack_unpacked_destroy(&u);
out:
	free(b.data);
	return rc;
}

/* ---- human output ---------------------------------------------------------------------------- */

static const msgpack_object *mp_array(const msgpack_object *doc, const char *key, uint32_t *n)
{
	const msgpack_object *a = ctl_mp_get(doc, key);

	if (!a || a->type != MSGPACK_OBJECT_ARRAY) {
		*n = 0;
		return NULL;
	}
	*n = a->via.array.size;
	return a->via.array.ptr;
}

static int show_health(const msgpack_object *doc, long status)
{
	char a[128], b[128], c2[128], d[128], e[16];
	const msgpack_object *items;
	uint32_t n;

	printf("status: %s  host: %s  version: %s  uptime: %ss\n",
	       ctl_field(doc, "status", a, sizeof(a)), ctl_field(doc, "host", b, sizeof(b)),
	       ctl_field(doc, "version", c2, sizeof(c2)),
	       ctl_field(doc, "uptime_seconds", d, sizeof(d)));
	items = mp_array(doc, "programs", &n);
	printf("\n%-16s %-8s %-8s %-8s %s\n", "PROGRAM", "ENABLED", "LOADED", "ATTACHED",
	       "HEALTHY");
	for (uint32_t i = 0; i < n; i++)
		printf("%-16s %-8s %-8s %-8s %s\n", ctl_field(&items[i], "name", a, sizeof(a)),
		       ctl_field(&items[i], "enabled", b, sizeof(b)),
		       ctl_field(&items[i], "loaded", c2, sizeof(c2)),
		       ctl_field(&items[i], "attached", d, sizeof(d)),
		       ctl_field(&items[i], "healthy", e, sizeof(e)));
	items = mp_array(doc, "sinks", &n);
	printf("\n%-16s %-8s %-8s %s\n", "SINK", "TYPE", "HEALTHY", "QUEUED");
	for (uint32_t i = 0; i < n; i++)
		printf("%-16s %-8s %-8s %s\n", ctl_field(&items[i], "name", a, sizeof(a)),
		       ctl_field(&items[i], "type", b, sizeof(b)),
		       ctl_field(&items[i], "healthy", c2, sizeof(c2)),
		       ctl_field(&items[i], "queued", d, sizeof(d)));
	return status >= 400 ? EXIT_SERVER : 0;
}

static int show_programs(const msgpack_object *doc, long status)
{
	char a[128], b[64], c2[64], d[64], e[256];
	const msgpack_object *items;
	uint32_t n;

	items = mp_array(doc, "programs", &n);
	printf("%-16s %-9s %12s %10s  %s\n", "NAME", "ATTACHED", "EVENTS", "LOST", "DESCRIPTION");
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *loaded = ctl_mp_get(&items[i], "loaded");
		bool is_loaded =
			loaded && loaded->type == MSGPACK_OBJECT_BOOLEAN && loaded->via.boolean;

		printf("%-16s %-9s %12s %10s  %s\n", ctl_field(&items[i], "name", a, sizeof(a)),
		       is_loaded ? ctl_field(&items[i], "attached", b, sizeof(b)) : "disabled",
		       ctl_field(&items[i], "event_count", c2, sizeof(c2)),
		       ctl_field(&items[i], "lost_count", d, sizeof(d)),
		       ctl_field(&items[i], "description", e, sizeof(e)));
	}
	printf("\n%s programs, %s running\n", ctl_field(doc, "total_programs", a, sizeof(a)),
	       ctl_field(doc, "running_programs", b, sizeof(b)));
	(void)status;
	return 0;
}

static bool is_common(const char *k, size_t len)
{
	static const char *const skip[] = {
		"id",  "seq", "type", "host",	 "timestamp_ns", "time",
		"pid", "tid", "uid",  "command", "cgroup_id",	 NULL,
	};

	for (int i = 0; skip[i]; i++)
		if (strlen(skip[i]) == len && !memcmp(skip[i], k, len))
			return true;
	return false;
}

/* One event per line: time, type, pid, command, then the program's own non-null fields. */
static void print_event(const msgpack_object *ev)
{
	char t[64], ty[32], pid[16], comm[64], v[256];

	printf("%-30s %-12s %7s %-16s", ctl_field(ev, "time", t, sizeof(t)),
	       ctl_field(ev, "type", ty, sizeof(ty)), ctl_field(ev, "pid", pid, sizeof(pid)),
	       ctl_field(ev, "command", comm, sizeof(comm)));
	if (ev->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < ev->via.map.size; i++) {
			const msgpack_object *k = &ev->via.map.ptr[i].key;
			const msgpack_object *val = &ev->via.map.ptr[i].val;

			if (k->type != MSGPACK_OBJECT_STR || val->type == MSGPACK_OBJECT_NIL ||
			    is_common(k->via.str.ptr, k->via.str.size))
				continue;
			putchar(' ');
			ctl_put_clean(stdout, k->via.str.ptr, k->via.str.size);
			printf("=%s", ctl_mp_text(val, v, sizeof(v)));
		}
	}
	putchar('\n');
}

static int show_events(const msgpack_object *doc, long status)
{
	const msgpack_object *items;
	uint32_t n;

	items = mp_array(doc, "events", &n);
	if (!n) {
		printf("no matching events\n");
		return 0;
	}
	printf("%-30s %-12s %7s %-16s %s\n", "TIME", "TYPE", "PID", "COMMAND", "DETAILS");
	for (uint32_t i = 0; i < n; i++)
		print_event(&items[i]);
	(void)status;
	return 0;
}

static void show_map(const char *title, const msgpack_object *m)
{
	char v[128];

	if (!m || m->type != MSGPACK_OBJECT_MAP)
		return;
	printf("%s:\n", title);
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;

		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		printf("  %-24.*s %s\n", (int)k->via.str.size, k->via.str.ptr,
		       ctl_mp_text(&m->via.map.ptr[i].val, v, sizeof(v)));
	}
}

static int show_stats(const msgpack_object *doc, long status)
{
	char a[64], b[64], c2[64], d[64], e[64], f[64], g[64];
	const msgpack_object *items;
	uint32_t n;

	printf("uptime: %ss\n", ctl_field(doc, "uptime_seconds", a, sizeof(a)));
	show_map("pipeline", ctl_mp_get(doc, "pipeline"));
	items = mp_array(doc, "programs", &n);
	printf("\n%-16s %12s %10s %12s %10s %10s\n", "PROGRAM", "EVENTS", "LOST", "EMITTED",
	       "RING_FULL", "DECODE_ERR");
	for (uint32_t i = 0; i < n; i++)
		printf("%-16s %12s %10s %12s %10s %10s\n",
		       ctl_field(&items[i], "name", a, sizeof(a)),
		       ctl_field(&items[i], "event_count", b, sizeof(b)),
		       ctl_field(&items[i], "lost_count", c2, sizeof(c2)),
		       ctl_field(&items[i], "emitted", d, sizeof(d)),
		       ctl_field(&items[i], "ring_full", e, sizeof(e)),
		       ctl_field(&items[i], "decode_errors", f, sizeof(f)));
	items = mp_array(doc, "sinks", &n);
	printf("\n%-16s %-8s %12s %12s %10s %10s %s\n", "SINK", "TYPE", "RECEIVED", "DELIVERED",
	       "DROPPED", "QUEUED", "HEALTHY");
	for (uint32_t i = 0; i < n; i++) {
		printf("%-16s %-8s %12s %12s %10s %10s %s\n",
		       ctl_field(&items[i], "name", a, sizeof(a)),
		       ctl_field(&items[i], "type", b, sizeof(b)),
		       ctl_field(&items[i], "received", c2, sizeof(c2)),
		       ctl_field(&items[i], "delivered", d, sizeof(d)),
		       ctl_field(&items[i], "dropped", e, sizeof(e)),
		       ctl_field(&items[i], "queued", f, sizeof(f)),
		       ctl_field(&items[i], "healthy", g, sizeof(g)));
	}
	for (uint32_t i = 0; i < n; i++) {
		char title[96];

		snprintf(title, sizeof(title), "\nsink %s",
			 ctl_field(&items[i], "name", a, sizeof(a)));
		show_map(title, &items[i]);
	}
	putchar('\n');
	show_map("store", ctl_mp_get(doc, "store"));
	show_map("control", ctl_mp_get(doc, "control"));
	(void)status;
	return 0;
}

static int show_action(const msgpack_object *doc, long status)
{
	char a[128], b[16];
	const msgpack_object *att = ctl_mp_get(doc, "attached");

	printf("%s: %s\n", ctl_field(doc, "name", a, sizeof(a)),
	       att && att->type == MSGPACK_OBJECT_BOOLEAN && att->via.boolean ? "attached"
									      : "detached");
	(void)b;
	(void)status;
	return 0;
}

/* A reload: what it changed, or why it was refused (one file:line error a line). */
static int show_reload(const msgpack_object *doc, long status)
{
	const msgpack_object *errs = ctl_mp_get(doc, "errors"),
			     *warns = ctl_mp_get(doc, "warnings");
	char a[512], b[64];

	for (uint32_t i = 0;
	     warns && warns->type == MSGPACK_OBJECT_ARRAY && i < warns->via.array.size; i++)
		fprintf(stderr, "warning: %s\n",
			ctl_mp_text(&warns->via.array.ptr[i], a, sizeof(a)));
	if (status >= 400) {
		fprintf(stderr, "%s: %s (HTTP %ld)\n", prog_name,
			ctl_field(doc, "error", a, sizeof(a)), status);
		for (uint32_t i = 0;
		     errs && errs->type == MSGPACK_OBJECT_ARRAY && i < errs->via.array.size; i++)
			fprintf(stderr, "  %s\n",
				ctl_mp_text(&errs->via.array.ptr[i], a, sizeof(a)));
		fprintf(stderr, "running configuration: generation %s\n",
			ctl_field(doc, "generation", b, sizeof(b)));
		return EXIT_SERVER;
	}
	printf("applied: generation %s, loaded at %s\n", ctl_field(doc, "generation", b, sizeof(b)),
	       ctl_field(doc, "loaded_at", a, sizeof(a)));
	show_map("sinks", ctl_mp_get(doc, "sinks"));
	show_map("programs", ctl_mp_get(doc, "programs"));
	return 0;
}

/* A filter: each list as "KEY  VALUE VALUE ...", or that there is none. */
static int show_filter(const msgpack_object *doc, long status)
{
	char buf[256];

	(void)status;
	if (doc->type != MSGPACK_OBJECT_MAP || !doc->via.map.size) {
		printf("no filter\n");
		return 0;
	}
	for (uint32_t i = 0; i < doc->via.map.size; i++) {
		const msgpack_object *k = &doc->via.map.ptr[i].key, *v = &doc->via.map.ptr[i].val;

		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		printf("%-22s", ctl_mp_text(k, buf, sizeof(buf)));
		for (uint32_t j = 0; v->type == MSGPACK_OBJECT_ARRAY && j < v->via.array.size; j++)
			printf(" %s", ctl_mp_text(&v->via.array.ptr[j], buf, sizeof(buf)));
		printf("\n");
	}
	return 0;
}

/* Keys whose values are always strings, even when they look like numbers. */
static bool string_key(const char *k, size_t len)
{
	static const char *const keys[] = {"commands", "cidrs", "drop_reasons"};

	if (len > 8 && !strncmp(k, "exclude_", 8)) {
		k += 8;
		len -= 8;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == len && !strncmp(k, keys[i], len))
			return true;
	return false;
}

/* Append @len bytes of @s to the growing string @out as a JSON string. */
static int json_str(char **out, size_t *n, const char *s, size_t len)
{
	char *p = realloc(*out, *n + 6 * len + 3);

	if (!p)
		return -1;
	*out = p;
	p[(*n)++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			p[(*n)++] = '\\';
			p[(*n)++] = (char)ch;
		} else if (ch < 0x20) {
			*n += (size_t)sprintf(p + *n, "\\u%04x", ch);
		} else {
			p[(*n)++] = (char)ch;
		}
	}
	p[(*n)++] = '"';
	p[*n] = '\0';
	return 0;
}

/*
 * KEY=V[,KEY=V...] arguments as the JSON object POST /api/programs/NAME/filter
 * takes: the values of one key gathered into its array; the agent checks them.
 * NULL (with a message) when an argument is not KEY=V.
 */
static char *filter_body(int argc, char **argv)
{
	struct pair {
		const char *k, *v;
		size_t klen, vlen;
	} *pairs = NULL;
	size_t np = 0, n = 1;
	char *out = strdup("{");
	bool ok = out != NULL;

	for (int i = 0; ok && i < argc; i++) {
		for (const char *a = argv[i]; ok && *a;) {
			size_t len = strcspn(a, ",");
			const char *eq = memchr(a, '=', len);
			struct pair *np2;

			if (!eq || eq == a) {
				fprintf(stderr, "%s: filter set: '%.*s' is not KEY=VALUE\n",
					prog_name, (int)len, a);
				ok = false;
				break;
			}
			np2 = realloc(pairs, (np + 1) * sizeof(*pairs));
			if (!np2) {
				ok = false;
				break;
			}
			pairs = np2;
			pairs[np++] = (struct pair){a, eq + 1, (size_t)(eq - a),
						    len - (size_t)(eq - a) - 1};
			a += len;
			if (*a == ',')
				a++;
		}
	}
	for (size_t i = 0; ok && i < np; i++) {
		bool first = true;

		if (!pairs[i].k) /* gathered under an earlier pair of its key */
			continue;
		if (out[n - 1] != '{')
			out[n++] = ',';
		ok = !json_str(&out, &n, pairs[i].k, pairs[i].klen);
		for (size_t j = i; ok && j < np; j++) {
			bool digits = pairs[j].vlen > 0 && pairs[j].vlen <= 19;
			char *p;

			if (!pairs[j].k || pairs[j].klen != pairs[i].klen ||
			    memcmp(pairs[j].k, pairs[i].k, pairs[i].klen))
				continue;
			for (size_t c = 0; c < pairs[j].vlen; c++)
				digits &= pairs[j].v[c] >= '0' && pairs[j].v[c] <= '9';
			p = realloc(out, n + pairs[j].vlen + 4);
			if (!p) {
				ok = false;
				break;
			}
			out = p;
			out[n++] = first ? ':' : ',';
			if (first)
				out[n++] = '[';
			first = false;
			if (digits && !string_key(pairs[j].k, pairs[j].klen)) {
				memcpy(out + n, pairs[j].v, pairs[j].vlen);
				n += pairs[j].vlen;
				out[n] = '\0';
			} else {
				ok = !json_str(&out, &n, pairs[j].v, pairs[j].vlen);
			}
			if (j != i)
				pairs[j].k = NULL;
		}
		if (ok) {
			char *p = realloc(out, n + 3);

			if (!p) {
				ok = false;
				break;
			}
			out = p;
			out[n++] = ']';
			out[n] = '\0';
		}
	}
	if (ok) {
		char *p = realloc(out, n + 2);

		if (p) {
			out = p;
			out[n++] = '}';
			out[n] = '\0';
		}
		ok = p != NULL;
	}
	free(pairs);
	if (!ok) {
		free(out);
		return NULL;
	}
	return out;
}

/* filter NAME [show | set KEY=V,... | clear] */
static int filter_cmd(struct client *c, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "show";
	char *name = curl_easy_escape(c->curl, argv[0], 0);
	char path[1024], *body = NULL;
	int status;

	snprintf(path, sizeof(path), "/api/programs/%s/filter", name ? name : "");
	curl_free(name);
	if (!strcmp(verb, "show") && argc <= 2) {
		status = run(c, "GET", path, show_filter);
	} else if (!strcmp(verb, "clear") && argc == 2) {
		post_body = "{}";
		status = run(c, "POST", path, show_filter);
	} else if (!strcmp(verb, "set") && argc > 2) {
		body = filter_body(argc - 2, argv + 2);
		if (!body)
			return EXIT_USAGE;
		post_body = body;
		status = run(c, "POST", path, show_filter);
	} else {
		fprintf(stderr, "%s: filter NAME [show | set KEY=V,... | clear]\n", prog_name);
		return EXIT_USAGE;
	}
	post_body = NULL;
	free(body);
	return status;
}

/* ---- tail ------------------------------------------------------------------------------------ */

struct tail {
	struct client *c;
	msgpack_unpacker mp;
	struct body err; /* the body of an error answer */
	long status;
	bool failed;
};

static size_t on_stream(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct tail *t = userdata;
	size_t n = size * nmemb;
	msgpack_unpacked u;

	if (!t->status)
		curl_easy_getinfo(t->c->curl, CURLINFO_RESPONSE_CODE, &t->status);
	if (t->status >= 400)
		return on_body(ptr, size, nmemb, &t->err);
	if (t->c->json) {
		fwrite(ptr, 1, n, stdout);
		fflush(stdout);
		return n;
	}
	if (!msgpack_unpacker_reserve_buffer(&t->mp, n))
		return 0;
	memcpy(msgpack_unpacker_buffer(&t->mp), ptr, n);
	msgpack_unpacker_buffer_consumed(&t->mp, n);
	msgpack_unpacked_init(&u);
	while (msgpack_unpacker_next(&t->mp, &u) == MSGPACK_UNPACK_SUCCESS)
		print_event(&u.data);
	msgpack_unpacked_destroy(&u);
	fflush(stdout);
	return n;
}

static int tail(struct client *c, const char *path)
{
	struct tail t = {.c = c};
	struct curl_slist *headers = NULL;
	char url[4096];
	CURLcode rc;
	int status = 0;

	if (!msgpack_unpacker_init(&t.mp, 65536)) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return EXIT_SERVER;
	}
	snprintf(url, sizeof(url), "http://localhost%s", path);
	setup(c, "GET", url, !c->json, &headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &t);
	if (!c->json)
		printf("%-30s %-12s %7s %-16s %s\n", "TIME", "TYPE", "PID", "COMMAND", "DETAILS");
	fflush(stdout);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(headers);
	if (!t.status)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &t.status);
	if (t.status >= 400) {
		status = report_error(&t.err, t.status, !c->json);
	} else if (rc != CURLE_OK) {
		fprintf(stderr, "%s: %s %s: %s\n", prog_name,
			t.status ? "stream from the agent ended" : "cannot talk to the agent on",
			c->socket, c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		status = t.status ? EXIT_SERVER : EXIT_UNREACH;
	}
	free(t.err.data);
	msgpack_unpacker_destroy(&t.mp);
	return status;
}

/* ---- main ------------------------------------------------------------------------------------ */

/* Append "&key=value" (value URL-escaped) to @q. */
static void add_param(CURL *curl, char *q, size_t len, const char *key, const char *value)
{
	char *esc;

	if (!value)
		return;
	esc = curl_easy_escape(curl, value, 0);
	snprintf(q + strlen(q), len - strlen(q), "%c%s=%s", q[0] ? '&' : '?', key, esc ? esc : "");
	curl_free(esc);
}

int main(int argc, char **argv)
{
	enum { OPT_SINCE = 256, OPT_UNTIL };
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"type", required_argument, NULL, 't'},
		{"pid", required_argument, NULL, 'p'},
		{"command", required_argument, NULL, 'c'},
		{"since", required_argument, NULL, OPT_SINCE},
		{"until", required_argument, NULL, OPT_UNTIL},
		{"limit", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *type = NULL, *pid = NULL, *comm = NULL, *since = NULL, *until = NULL;
	const char *limit = NULL, *cmd;
	struct client c = {0};
	char path[2048], q[1536] = "";
	bool filters, nargs_ok;
	int opt, status;

	c.socket = getenv("EBPF_NETMON_SOCKET");
	if (!c.socket || !*c.socket)
		c.socket = DEFAULT_SOCKET;
	while ((opt = getopt_long(argc, argv, "s:jt:p:c:n:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			c.socket = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 't':
			type = optarg;
			break;
		case 'p':
			pid = optarg;
			break;
		case 'c':
			comm = optarg;
			break;
		case OPT_SINCE:
			since = optarg;
			break;
		case OPT_UNTIL:
			until = optarg;
			break;
		case 'n':
			limit = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ebpf-netmonctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: a command is needed\n", prog_name);
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	filters = type || pid || comm || since || until || (limit && strcmp(cmd, "top"));
	if (filters && strcmp(cmd, "events") && strcmp(cmd, "tail")) {
		fprintf(stderr, "%s: filters apply to 'events' and 'tail' only\n", prog_name);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "filter"))
		nargs_ok = optind < argc;
	else if (!strcmp(cmd, "attach") || !strcmp(cmd, "detach"))
		nargs_ok = optind + 1 == argc;
	else
		nargs_ok = optind == argc;
	if (!nargs_ok) {
		fprintf(stderr, "%s: %s: wrong number of arguments\n", prog_name, cmd);
		usage(stderr);
		return EXIT_USAGE;
	}

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_NOTHING) || !(c.curl = curl_easy_init())) {
		fprintf(stderr, "%s: cannot initialize libcurl\n", prog_name);
		return EXIT_SERVER;
	}
	add_param(c.curl, q, sizeof(q), "type", type);
	add_param(c.curl, q, sizeof(q), "pid", pid);
	add_param(c.curl, q, sizeof(q), "command", comm);
	add_param(c.curl, q, sizeof(q), "since", since);
	add_param(c.curl, q, sizeof(q), "until", until);
	add_param(c.curl, q, sizeof(q), "limit", limit);

	if (!strcmp(cmd, "health")) {
		status = run(&c, "GET", "/health", show_health);
	} else if (!strcmp(cmd, "programs")) {
		status = run(&c, "GET", "/api/programs", show_programs);
	} else if (!strcmp(cmd, "events")) {
		snprintf(path, sizeof(path), "/api/events%s", q);
		status = run(&c, "GET", path, show_events);
	} else if (!strcmp(cmd, "tail")) {
		snprintf(path, sizeof(path), "/api/events/stream%s", q);
		status = tail(&c, path);
	} else if (!strcmp(cmd, "stats")) {
		status = run(&c, "GET", "/api/stats", show_stats);
	} else if (!strcmp(cmd, "top")) {
		char *end = NULL;
		long n = limit ? strtol(limit, &end, 10) : 0;

		if (limit && (*end || n < 1)) {
			fprintf(stderr, "%s: top: -n wants a number of refreshes, 1 or more\n",
				prog_name);
			status = EXIT_USAGE;
		} else {
			status = ctl_top(&c, n);
		}
	} else if (!strcmp(cmd, "attach") || !strcmp(cmd, "detach")) {
		char *name = curl_easy_escape(c.curl, argv[optind], 0);

		snprintf(path, sizeof(path), "/api/programs/%s/%s", name ? name : "", cmd);
		curl_free(name);
		status = run(&c, "POST", path, show_action);
	} else if (!strcmp(cmd, "filter")) {
		status = filter_cmd(&c, argc - optind, argv + optind);
	} else if (!strcmp(cmd, "reload")) {
		status = run(&c, "POST", "/api/reload", show_reload);
	} else {
		fprintf(stderr, "%s: unknown command '%s'\n", prog_name, cmd);
		usage(stderr);
		status = EXIT_USAGE;
	}
	curl_easy_cleanup(c.curl);
	curl_global_cleanup();
	return status;
}

/* ctl_top.c - `ebpf-netmonctl top`: events/s per program and sink, queues, losses, top talkers. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define MAX_ITEMS  64	   /* programs or sinks shown */
#define MAX_KEYS   4096	   /* distinct commands or destinations counted per refresh */
#define TOP_N	   5	   /* talkers shown */
#define EVENTS_MAX "10000" /* the store's own limit per query */

struct item {
	char name[64];
	uint64_t count, lost; /* programs: events, lost; sinks: delivered, dropped */
	uint64_t queued;
	bool up; /* programs: attached; sinks: healthy */
};

struct sample {
	struct item programs[MAX_ITEMS], sinks[MAX_ITEMS];
	size_t nprograms, nsinks;
	uint64_t uptime;
};

struct tally {
	char key[80];
	uint64_t n;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t u64_of(const msgpack_object *o)
{
	if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return o->via.u64;
	return 0;
}

static bool bool_of(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

/* programs[] or sinks[] of /api/stats into @items: the counter, the losses, the level. */
static size_t read_items(const msgpack_object *doc, const char *array, const char *count,
			 const char *lost, const char *up, struct item *items)
{
	const msgpack_object *a = ctl_mp_get(doc, array);
	size_t n = 0;

	if (!a || a->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	for (uint32_t i = 0; i < a->via.array.size && n < MAX_ITEMS; i++, n++) {
		const msgpack_object *m = &a->via.array.ptr[i];

		ctl_field(m, "name", items[n].name, sizeof(items[n].name));
		items[n].count = u64_of(ctl_mp_get(m, count));
		items[n].lost = u64_of(ctl_mp_get(m, lost));
		items[n].queued = u64_of(ctl_mp_get(m, "queued"));
		items[n].up = bool_of(ctl_mp_get(m, up));
	}
	return n;
}

/* One GET as MessagePack, decoded into @u (the caller destroys it). 0 or an exit status. */
static int get_doc(struct client *c, const char *path, msgpack_unpacked *u, struct body *b)
{
	size_t off = 0;
	long status = 0;
	int rc = ctl_request(c, "GET", path, true, b, &status);

	if (rc)
		return rc;
	if (status != 200 || !b->data ||
	    msgpack_unpack_next(u, b->data, b->len, &off) != MSGPACK_UNPACK_SUCCESS) {
		fprintf(stderr, "%s: %s: HTTP %ld from the agent\n", prog_name, path, status);
		return EXIT_SERVER;
	}
	return 0;
}

static int take_sample(struct client *c, struct sample *s)
{
	struct body b = {0};
	msgpack_unpacked u;
	int rc;

	msgpack_unpacked_init(&u);
	rc = get_doc(c, "/api/stats", &u, &b);
	if (!rc) {
		s->uptime = u64_of(ctl_mp_get(&u.data, "uptime_seconds"));
		s->nprograms = read_items(&u.data, "programs", "event_count", "lost_count",
					  "attached", s->programs);
		s->nsinks =
			read_items(&u.data, "sinks", "delivered", "dropped", "healthy", s->sinks);
	}
	msgpack_unpacked_destroy(&u);
	free(b.data);
	return rc;
}

/* A string's bytes as they are (for JSON, which escapes them); "-" for null or absent. */
static const char *raw_str(const msgpack_object *o, char *buf, size_t len)
{
	size_t n;

	if (!o || o->type != MSGPACK_OBJECT_STR)
		return ctl_mp_text(o, buf, len);
	n = o->via.str.size < len - 1 ? o->via.str.size : len - 1;
	memcpy(buf, o->via.str.ptr, n);
	buf[n] = '\0';
	return buf;
}

/* For the screen: control bytes, a name's attack on the terminal, as '?'. */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void count(struct tally *t, size_t *n, const char *key)
{
	for (size_t i = 0; i < *n; i++) {
		if (!strcmp(t[i].key, key)) {
			t[i].n++;
			return;
		}
	}
	if (*n < MAX_KEYS) {
		snprintf(t[*n].key, sizeof(t[*n].key), "%s", key);
		t[(*n)++].n = 1;
	}
}

static int by_count(const void *a, const void *b)
{
	const struct tally *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->key, y->key);
}

/* The events stored since @since (RFC 3339): who made them, where they went. */
static int talkers(struct client *c, const char *since, struct tally *cmds, size_t *ncmds,
		   struct tally *dests, size_t *ndests, uint64_t *seen)
{
	char path[256], comm[64], ip[64], port[16], key[80];
	const msgpack_object *evs;
	struct body b = {0};
	msgpack_unpacked u;
	int rc;

	*ncmds = *ndests = 0;
	*seen = 0;
	snprintf(path, sizeof(path), "/api/events?since=%s&limit=" EVENTS_MAX, since);
	msgpack_unpacked_init(&u);
	rc = get_doc(c, path, &u, &b);
	evs = rc ? NULL : ctl_mp_get(&u.data, "events");
	for (uint32_t i = 0; evs && evs->type == MSGPACK_OBJECT_ARRAY && i < evs->via.array.size;
	     i++) {
		const msgpack_object *ev = &evs->via.array.ptr[i];

		if (ctl_mp_get(ev, "type") &&
		    !strcmp(ctl_field(ev, "type", key, sizeof(key)), "loss"))
			continue;
		(*seen)++;
		count(cmds, ncmds, raw_str(ctl_mp_get(ev, "command"), comm, sizeof(comm)));
		if (!ctl_mp_get(ev, "destination_ip") ||
		    ctl_mp_get(ev, "destination_ip")->type != MSGPACK_OBJECT_STR)
			continue;
		ctl_field(ev, "destination_ip", ip, sizeof(ip));
		ctl_field(ev, "destination_port", port, sizeof(port));
		snprintf(key, sizeof(key), strchr(ip, ':') ? "[%s]:%s" : "%s:%s", ip, port);
		count(dests, ndests, key);
	}
	qsort(cmds, *ncmds, sizeof(*cmds), by_count);
	qsort(dests, *ndests, sizeof(*dests), by_count);
	msgpack_unpacked_destroy(&u);
	free(b.data);
	return rc;
}

static void rfc3339(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;

	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09uZ", (unsigned)(ts->tv_nsec % 1000000000L));
}

/* A JSON string: UTF-8 kept where valid, anything else as U+FFFD, controls escaped. */
static void json_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	while (*p) {
		size_t n = *p < 0x80		 ? 1
			   : (*p & 0xe0) == 0xc0 ? 2
			   : (*p & 0xf0) == 0xe0 ? 3
			   : (*p & 0xf8) == 0xf0 ? 4
						 : 0;
		bool ok = n > 0;

		for (size_t i = 1; ok && i < n; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (!ok) {
			fputs("\\ufffd", out);
			p++;
		} else if (n > 1) {
			fwrite(p, 1, n, out);
			p += n;
		} else {
			if (*p == '"' || *p == '\\')
				fprintf(out, "\\%c", *p);
			else if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
			p++;
		}
	}
	fputc('"', out);
}

static double rate(uint64_t now, uint64_t before, double secs)
{
	return now >= before && secs > 0 ? (double)(now - before) / secs : 0;
}

/* The same item in the previous sample (programs and sinks can come and go on a restart). */
static const struct item *previous(const struct item *prev, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(prev[i].name, name))
			return &prev[i];
	return NULL;
}

static void show_json(const struct sample *a, const struct sample *b, double secs, const char *when,
		      const struct tally *cmds, size_t ncmds, const struct tally *dests,
		      size_t ndests)
{
	printf("{\"time\":\"%s\",\"interval_seconds\":%.3f,\"uptime_seconds\":%" PRIu64
	       ",\"programs\":[",
	       when, secs, b->uptime);
	for (size_t i = 0; i < b->nprograms; i++) {
		const struct item *it = &b->programs[i], *p;

		p = previous(a->programs, a->nprograms, it->name);
		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, it->name);
		printf(",\"attached\":%s,\"events_per_second\":%.1f,\"lost_per_second\":%.1f}",
		       it->up ? "true" : "false", p ? rate(it->count, p->count, secs) : 0,
		       p ? rate(it->lost, p->lost, secs) : 0);
	}
	printf("],\"sinks\":[");
	for (size_t i = 0; i < b->nsinks; i++) {
		const struct item *it = &b->sinks[i], *p;

		p = previous(a->sinks, a->nsinks, it->name);
		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, it->name);
		printf(",\"healthy\":%s,\"delivered_per_second\":%.1f,\"dropped_per_second\":%.1f,"
		       "\"queued\":%" PRIu64 "}",
		       it->up ? "true" : "false", p ? rate(it->count, p->count, secs) : 0,
		       p ? rate(it->lost, p->lost, secs) : 0, it->queued);
	}
	printf("],\"top_commands\":[");
	for (size_t i = 0; i < ncmds && i < TOP_N; i++) {
		printf("%s{\"command\":", i ? "," : "");
		json_str(stdout, cmds[i].key);
		printf(",\"events\":%" PRIu64 "}", cmds[i].n);
	}
	printf("],\"top_destinations\":[");
	for (size_t i = 0; i < ndests && i < TOP_N; i++) {
		printf("%s{\"destination\":", i ? "," : "");
		json_str(stdout, dests[i].key);
		printf(",\"events\":%" PRIu64 "}", dests[i].n);
	}
	printf("]}\n");
}

static void show_screen(const struct sample *a, const struct sample *b, double secs,
			const char *when, const struct tally *cmds, size_t ncmds,
			const struct tally *dests, size_t ndests, uint64_t seen, bool tty)
{
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("ebpf-netmon  up %" PRIu64 "s  %.19s%s\n\n", b->uptime, when,
	       tty ? "   (q to quit)" : "");
	printf("%-20s %12s %10s  %s\n", "PROGRAM", "EVENTS/S", "LOST/S", "ATTACHED");
	for (size_t i = 0; i < b->nprograms; i++) {
		const struct item *it = &b->programs[i];
		const struct item *p = previous(a->programs, a->nprograms, it->name);

		printf("%-20s %12.0f %10.0f  %s\n", it->name,
		       p ? rate(it->count, p->count, secs) : 0,
		       p ? rate(it->lost, p->lost, secs) : 0, it->up ? "yes" : "no");
	}
	printf("\n%-20s %12s %10s %10s  %s\n", "SINK", "DELIVERED/S", "DROPPED/S", "QUEUED",
	       "HEALTHY");
	for (size_t i = 0; i < b->nsinks; i++) {
		const struct item *it = &b->sinks[i];
		const struct item *p = previous(a->sinks, a->nsinks, it->name);

		printf("%-20s %12.0f %10.0f %10" PRIu64 "  %s\n", it->name,
		       p ? rate(it->count, p->count, secs) : 0,
		       p ? rate(it->lost, p->lost, secs) : 0, it->queued, it->up ? "yes" : "no");
	}
	printf("\nTOP TALKERS (%" PRIu64 " events stored in the last %.1f s)\n", seen, secs);
	printf("%-20s %8s    %-40s %8s\n", "COMMAND", "EVENTS", "DESTINATION", "EVENTS");
	for (size_t i = 0; i < TOP_N && (i < ncmds || i < ndests); i++) {
		char cmd[64] = "", dst[96] = "", nc[24] = "", nd[24] = "";

		if (i < ncmds) {
			snprintf(cmd, sizeof(cmd), "%.63s", cmds[i].key);
			clean(cmd);
			snprintf(nc, sizeof(nc), "%" PRIu64, cmds[i].n);
		}
		if (i < ndests) {
			snprintf(dst, sizeof(dst), "%.95s", dests[i].key);
			snprintf(nd, sizeof(nd), "%" PRIu64, dests[i].n);
		}
		printf("%-20s %8s    %-40s %8s\n", cmd, nc, dst, nd);
	}
	fflush(stdout);
}

/* Up to one second, or less if 'q' is typed or a signal comes. */
static void wait_a_second(bool keys)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	char ch;

	if (!keys) {
		struct timespec ts = {1, 0};

		nanosleep(&ts, NULL);
		return;
	}
	if (poll(&pfd, 1, 1000) == 1 && read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
		stop = 1;
}

int ctl_top(struct client *c, long refreshes)
{
	static struct tally cmds[MAX_KEYS], dests[MAX_KEYS];
	static struct sample samples[2];
	bool tty = !c->json && isatty(STDOUT_FILENO);
	bool keys = tty && isatty(STDIN_FILENO);
	struct sigaction sa = {.sa_handler = on_signal};
	struct termios saved, raw;
	struct timespec t0, t1, wall0, wall1;
	int rc, cur = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (keys && !tcgetattr(STDIN_FILENO, &saved)) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		keys = false;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_REALTIME, &wall0);
	rc = take_sample(c, &samples[cur]);
	for (long n = 0; !rc && !stop && (!refreshes || n < refreshes); n++) {
		size_t ncmds, ndests;
		char since[80], when[80];
		uint64_t seen;
		double secs;

		wait_a_second(keys);
		if (stop)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		clock_gettime(CLOCK_REALTIME, &wall1);
		rc = take_sample(c, &samples[!cur]);
		if (!rc) {
			rfc3339(&wall0, since, sizeof(since));
			rc = talkers(c, since, cmds, &ncmds, dests, &ndests, &seen);
		}
		if (rc)
			break;
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		rfc3339(&wall1, when, sizeof(when));
		if (c->json)
			show_json(&samples[cur], &samples[!cur], secs, when, cmds, ncmds, dests,
				  ndests);
		else
			show_screen(&samples[cur], &samples[!cur], secs, when, cmds, ncmds, dests,
				    ndests, seen, tty);
		fflush(stdout);
		cur = !cur;
		t0 = t1;
		wall0 = wall1;
	}
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return rc;
}

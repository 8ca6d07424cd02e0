/* bench_store.c - fills the event store and prints the latency of typical queries and inserts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/program.h"
#include "src/store.h"

static void no_fields(const struct nm_event *ev, struct nm_writer *w)
{
	(void)ev;
	(void)w;
}

/* body sizes of src/programs/connection.c and packet_drop.c */
static const struct nm_program_type conn_type = {
	.name = "connection", .body_size = 184, .write_fields = no_fields};
static const struct nm_program_type drop_type = {
	.name = "packet_drop", .body_size = 112, .write_fields = no_fields};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median and worst of @reps runs of one query (keys, then the copy of the matches). */
static void bench(struct nm_store *s, const char *what, const struct nm_store_filter *f,
		  size_t limit, int reps)
{
	uint64_t *keys = malloc(limit * sizeof(*keys));
	struct nm_event *evs = malloc(64 * sizeof(*evs));
	bool ok[64];
	double *t = malloc((size_t)reps * sizeof(*t));
	size_t n = 0;

	for (int r = 0; r < reps; r++) {
		double t0 = now_us();

		n = nm_store_query(s, f, keys, limit);
		for (size_t i = 0; i < n; i += 64)
			nm_store_get(s, keys + i, n - i < 64 ? n - i : 64, evs, ok);
		t[r] = now_us() - t0;
	}
	qsort(t, (size_t)reps, sizeof(*t), cmp_double);
	printf("  %-46s %6zu matches  median %9.1f us  max %9.1f us\n", what, n, t[reps / 2],
	       t[reps - 1]);
	free(t);
	free(evs);
	free(keys);
}

int main(int argc, char **argv)
{
	size_t capacity = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t total = capacity * 3 / 2; /* wrap the ring: eviction is part of the steady state */
	struct nm_store_filter f;
	struct nm_event ev;
	char err[256];
	struct nm_store *s = nm_store_create(capacity, 0, 1, err, sizeof(err));
	int64_t wall = 1700000000LL * 1000000000LL;
	struct nm_store_stats st;
	double t0, t1;

	if (!s) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* 200 processes under 20 names, 2 connection events for each packet drop, 1 ms apart. */
	srand(1);
	t0 = now_us();
	for (size_t i = 0; i < total; i++) {
		uint32_t pid = 1000 + (uint32_t)(rand() % 200);
		char comm[16];

		snprintf(comm, sizeof(comm), "proc%u", pid % 20);
		memset(&ev, 0, sizeof(ev));
		ev.type = i % 3 == 2 ? &drop_type : &conn_type;
		ev.seq = i + 1;
		ev.wall_ns = wall + (int64_t)i * 1000000;
		ev.has_task = ev.type == &conn_type;
		ev.pid = pid;
		memcpy(ev.command, comm, strlen(comm));
		ev.timestamp_ns = 3600000000000ULL + i * 1000000;
		ev.tid = pid;
		ev.cgroup_id = 4242;
		ev.host = "host";
		ev.run_id = 0x0123456789abcdefULL;
		/* what an IPv4 connect or drop fills: a few words, most of the body zero */
		for (size_t b = 0; b < 64; b += 4)
			ev.body[b] = (unsigned char)(b + i);
		ev.body[176] = 1;
		nm_store_add(s, &ev);
	}
	t1 = now_us();
	wall += (int64_t)(total - 1) * 1000000; /* the newest event's time */
	nm_store_get_stats(s, &st);
	printf("store of %zu events, %zu added: %.0f ns per insert (eviction included), "
	       "%.0f bytes per event\n",
	       capacity, total, (t1 - t0) * 1000 / (double)total,
	       (double)st.bytes / (double)st.stored);

	memset(&f, 0, sizeof(f));
	bench(s, "no filter, limit 100", &f, 100, 201);
	bench(s, "no filter, limit 10000", &f, 10000, 51);
	f.type = "packet_drop";
	bench(s, "type=packet_drop, limit 100", &f, 100, 201);
	f.type = NULL;
	f.has_pid = true;
	f.pid = 1042;
	bench(s, "pid (1 of 200), limit 100", &f, 100, 201);
	bench(s, "pid (1 of 200), limit 10000 (all)", &f, 10000, 201);
	f.has_pid = false;
	f.has_command = true;
	memcpy(f.command, "proc7", 6);
	bench(s, "command (1 of 20), limit 100", &f, 100, 201);
	f.type = "connection";
	f.has_since = true;
	f.since_ns = wall - 10LL * 1000000000; /* last 10 s: 10 000 events */
	bench(s, "type+command+since (last 10 s), limit 10000", &f, 10000, 201);
	memset(&f, 0, sizeof(f));
	f.has_since = true;
	f.since_ns = wall - 60LL * 1000000000;
	bench(s, "since (last 60 s), no limit (60 000 copied)", &f, capacity, 51);
	f.has_until = true;
	f.since_ns = wall - 90LL * 1000000000;
	f.until_ns = wall - 80LL * 1000000000;
	bench(s, "since+until (a 10 s window), limit 10000", &f, 10000, 201);
	memset(&f, 0, sizeof(f));
	f.has_pid = true;
	f.pid = 99999;
	bench(s, "pid absent", &f, 100, 201);
	memset(&f, 0, sizeof(f));
	f.has_pid = true;
	f.pid = 1042;
	f.has_until = true;
	f.until_ns = 0;
	bench(s, "pid with no match in time (walks its chain)", &f, 100, 201);
	nm_store_destroy(s);
	return 0;
}

/* test_store.c - the event store: eviction, indexes, filters, time cut-off and streams. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "src/program.h"
#include "src/store.h"

static void no_fields(const struct nm_event *ev, struct nm_writer *w)
{
	(void)ev;
	(void)w;
}

static const struct nm_program_type type_a = {.name = "connection", .write_fields = no_fields};
static const struct nm_program_type type_b = {.name = "packet_drop", .write_fields = no_fields};

static uint64_t seq;

static void make(struct nm_event *ev, const struct nm_program_type *t, uint32_t pid,
		 const char *comm, int64_t wall)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	ev->seq = ++seq;
	ev->wall_ns = wall;
	ev->has_task = comm != NULL;
	ev->pid = pid;
	if (comm)
		memcpy(ev->command, comm, strnlen(comm, sizeof(ev->command)));
}

/* Everything that was added, searched by brute force to check the indexed query. */
struct model {
	struct nm_event *evs;
	size_t n;
};

static size_t model_query(const struct model *m, size_t capacity, const struct nm_store_filter *f,
			  uint64_t *seqs, size_t max)
{
	size_t n = 0, oldest = m->n > capacity ? m->n - capacity : 0;

	for (size_t i = m->n; i > oldest && n < max; i--) {
		if (!nm_store_filter_match(f, &m->evs[i - 1]))
			continue;
		if (seqs)
			seqs[n] = m->evs[i - 1].seq;
		n++;
	}
	return n;
}

static void compare(struct nm_store *s, const struct model *m, size_t capacity,
		    const struct nm_store_filter *f, size_t max, const char *what)
{
	size_t room = (max < m->n ? max : m->n) + 1;
	uint64_t *keys = calloc(room, sizeof(*keys)), *want = calloc(room, sizeof(*want));
	struct nm_event *evs = calloc(room, sizeof(*evs));
	bool *ok = calloc(room, sizeof(*ok));
	size_t n = nm_store_query(s, f, keys, max);
	size_t nw = model_query(m, capacity, f, want, max);

	if (n != nw)
		fprintf(stderr, "%s: %zu matches, expected %zu\n", what, n, nw);
	CHECK_EQ_INT(n, nw);
	CHECK_EQ_INT(nm_store_get(s, keys, n, evs, ok), n);
	for (size_t i = 0; i < n && i < nw; i++) {
		if (evs[i].seq != want[i]) {
			fprintf(stderr, "%s: match %zu is seq %llu, expected %llu\n", what, i,
				(unsigned long long)evs[i].seq, (unsigned long long)want[i]);
			check_failures++;
			break;
		}
	}
	CHECK_EQ_INT(nm_store_query(s, f, NULL, SIZE_MAX),
		     model_query(m, capacity, f, NULL, SIZE_MAX));
	free(keys);
	free(want);
	free(evs);
	free(ok);
}

static void fill_filter(struct nm_store_filter *f, const char *type, int pid, const char *comm)
{
	memset(f, 0, sizeof(*f));
	f->type = type;
	if (pid >= 0) {
		f->has_pid = true;
		f->pid = (uint32_t)pid;
	}
	if (comm) {
		f->has_command = true;
		memcpy(f->command, comm, strnlen(comm, sizeof(f->command)));
	}
}

/* Random traffic through a small store, every filter combination checked against the model. */
static void test_random(size_t capacity, size_t total)
{
	static const char *const comms[] = {"curl", "sshd", "nginx", "a-sixteen-byte-c", "x"};
	struct model m = {calloc(total, sizeof(struct nm_event)), 0};
	char err[256];
	struct nm_store *s = nm_store_create(capacity, 0, 4, err, sizeof(err));
	struct nm_store_filter f;
	int64_t wall = 1000000000000LL;

	CHECK(s != NULL);
	srand(42);
	for (size_t i = 0; i < total; i++) {
		struct nm_event *ev = &m.evs[m.n++];
		int r = rand();

		/* Mostly increasing time with some disorder, as two rings drained in turn give. */
		wall += 1000 + (r % 7 == 0 ? -50000 : 0);
		make(ev, r % 3 ? &type_a : &type_b, 100 + (uint32_t)(r % 37),
		     r % 11 == 0 ? NULL : comms[(r / 7) % 5], wall);
		nm_store_add(s, ev);

		if (i % 997 == 0 || i == total - 1) {
			for (int t = 0; t < 3; t++) {
				const char *type = t == 0   ? NULL
						   : t == 1 ? "connection"
							    : "packet_drop";

				fill_filter(&f, type, -1, NULL);
				compare(s, &m, capacity, &f, 50, "type");
				fill_filter(&f, type, 100 + (int)(i % 37), NULL);
				compare(s, &m, capacity, &f, 1000000, "pid");
				fill_filter(&f, type, -1, comms[i % 5]);
				compare(s, &m, capacity, &f, 7, "command");
				fill_filter(&f, type, 101, "sshd");
				compare(s, &m, capacity, &f, 1000000, "pid+command");
				fill_filter(&f, type, -1, NULL);
				f.has_since = true;
				f.since_ns = wall - 200000;
				compare(s, &m, capacity, &f, 1000000, "since");
				f.has_until = true;
				f.until_ns = wall - 100000;
				compare(s, &m, capacity, &f, 1000000, "since+until");
				fill_filter(&f, type, 4242, NULL);
				compare(s, &m, capacity, &f, 10, "absent pid");
			}
			fill_filter(&f, "loss", -1, NULL);
			compare(s, &m, capacity, &f, 10, "absent type");
		}
	}
	nm_store_destroy(s);
	free(m.evs);
}

/* What a copy out of the store must equal: the event as added, its body up to the type's size. */
static void expect_same(const struct nm_event *got, const struct nm_event *want, const char *what)
{
	size_t body = want->type->body_size ? want->type->body_size : NM_EVENT_BODY_MAX;

	if (got->type != want->type || got->seq != want->seq ||
	    got->timestamp_ns != want->timestamp_ns || got->wall_ns != want->wall_ns ||
	    got->has_task != want->has_task || got->pid != want->pid || got->tid != want->tid ||
	    got->uid != want->uid || got->cgroup_id != want->cgroup_id ||
	    memcmp(got->command, want->command, sizeof(got->command)) ||
	    got->run_id != want->run_id || got->host != want->host ||
	    memcmp(got->body, want->body, body)) {
		fprintf(stderr, "%s: seq %llu comes back different\n", what,
			(unsigned long long)want->seq);
		check_failures++;
	}
}

/*
 * Records of every size through a ring that wraps its arena many times: each
 * comes back whole, more types and (host, run id) pairs than the store's
 * tables hold included, and the body past the type's size is not kept.
 */
static void test_round_trip(void)
{
	enum { NTYPES = 40, CAP = 300, TOTAL = 20000 };
	static struct nm_program_type types[NTYPES];
	static char names[NTYPES][16];
	static const char *const hosts[] = {"h0", "h1", "h2"};
	struct nm_event *evs = calloc(TOTAL, sizeof(*evs)), got[8];
	uint64_t keys[8];
	bool ok[8];
	char err[256];
	struct nm_store *s = nm_store_create(CAP, 0, 1, err, sizeof(err));
	struct nm_store_filter f = {0};

	CHECK(s != NULL && evs != NULL);
	for (int i = 0; i < NTYPES; i++) {
		snprintf(names[i], sizeof(names[i]), "type%d", i);
		types[i].name = names[i];
		types[i].write_fields = no_fields;
		types[i].body_size = (uint32_t)(i % 5 == 0 ? 0 : 4 * (i % 46) + 1);
	}
	srand(7);
	for (size_t i = 0; i < TOTAL; i++) {
		struct nm_event *ev = &evs[i];
		const struct nm_program_type *t = &types[i % 7 ? rand() % 3 : rand() % NTYPES];
		size_t body = t->body_size ? t->body_size : NM_EVENT_BODY_MAX;

		make(ev, t, (uint32_t)rand(), i % 5 ? "comm-name-sixtee" + i % 16 : NULL,
		     (int64_t)i * 1000);
		ev->timestamp_ns = (uint64_t)rand() << (i % 40);
		ev->tid = (uint32_t)rand() * (i % 2 ? 1u : 0u);
		ev->uid = i % 3 ? 0 : UINT32_MAX;
		ev->cgroup_id = i % 4 ? (uint64_t)rand() : UINT64_MAX;
		ev->run_id = i % 100 < 2 ? (uint64_t)i : 0x1234567890abcdefull;
		ev->host = hosts[i % 3];
		/* some units zero, some not, and bytes past the type's size that are not kept */
		for (size_t b = 0; b < NM_EVENT_BODY_MAX; b++)
			ev->body[b] = b >= body || rand() % 3 ? 0 : (unsigned char)(rand() | 1);
		if (i % 17 == 0)
			memset(ev->body, 0xff, NM_EVENT_BODY_MAX);
		nm_store_add(s, ev);
		if (i % 13 == 0 || i == TOTAL - 1) {
			size_t n = nm_store_query(s, &f, keys, 8);

			CHECK(nm_store_get(s, keys, n, got, ok) == n);
			for (size_t j = 0; j < n; j++)
				expect_same(&got[j], &evs[i - j], "round trip");
		}
	}
	/* the oldest still stored, read last: the arena has wrapped many times by now */
	{
		size_t n = nm_store_query(s, &f, NULL, SIZE_MAX);
		uint64_t *all = calloc(n, sizeof(*all));
		struct nm_event *out = calloc(n, sizeof(*out));
		bool *oks = calloc(n, sizeof(*oks));

		CHECK_EQ_INT(n, CAP);
		CHECK_EQ_INT(nm_store_query(s, &f, all, n), n);
		CHECK_EQ_INT(nm_store_get(s, all, n, out, oks), n);
		for (size_t j = 0; j < n; j++)
			expect_same(&out[j], &evs[TOTAL - 1 - j], "oldest");
		free(all);
		free(out);
		free(oks);
	}
	{
		struct nm_store_stats st;

		/* compact: well under the whole decoded events (272 bytes each) */
		nm_store_get_stats(s, &st);
		CHECK(st.bytes > CAP * 40 && st.bytes < CAP * sizeof(struct nm_event));
	}
	nm_store_destroy(s);
	free(evs);
}

static void test_stats_and_capacity(void)
{
	char err[256];
	struct nm_store *s = nm_store_create(10, 64, 1, err, sizeof(err));
	struct nm_store_stats st;
	struct nm_store_filter f;
	struct nm_event ev;

	for (int i = 0; i < 100; i++) {
		make(&ev, &type_a, 1, "c", i);
		nm_store_add(s, &ev);
	}
	nm_store_get_stats(s, &st);
	CHECK_EQ_INT(st.capacity, 10);
	CHECK_EQ_INT(st.stored, 10); /* the ring holds 64, queries see 10 */
	CHECK_EQ_INT(st.added, 100);
	CHECK_EQ_INT(st.evicted, 90);
	fill_filter(&f, NULL, 1, NULL);
	CHECK_EQ_INT(nm_store_query(s, &f, NULL, SIZE_MAX), 10);
	nm_store_destroy(s);
	nm_store_destroy(NULL);
}

static int wakes;

static void on_wake(void *ctx)
{
	(void)ctx;
	wakes++;
}

static void test_stream(void)
{
	char err[256];
	struct nm_store *s = nm_store_create(100, 0, 2, err, sizeof(err));
	struct nm_store_filter f;
	struct nm_store_sub *sub, *sub2, *sub3;
	struct nm_event ev, out[8];
	struct nm_store_stats st;
	uint64_t dropped;

	fill_filter(&f, "connection", -1, "me");
	sub = nm_store_subscribe(s, &f, 4, on_wake, NULL);
	fill_filter(&f, NULL, -1, NULL);
	sub2 = nm_store_subscribe(s, &f, 1000, on_wake, NULL);
	CHECK(sub && sub2);
	sub3 = nm_store_subscribe(s, &f, 1000, on_wake, NULL);
	CHECK(sub3 == NULL && errno == ENOSPC); /* max_subs is 2 */

	CHECK_EQ_INT(nm_store_sub_next(s, sub, out, 8, &dropped), 0); /* arms */
	make(&ev, &type_b, 1, "me", 1);
	nm_store_add(s, &ev); /* not for sub */
	CHECK_EQ_INT(wakes, 0);
	for (int i = 0; i < 6; i++) {
		make(&ev, &type_a, 1, "me", 2 + i);
		nm_store_add(s, &ev);
	}
	CHECK_EQ_INT(wakes, 1); /* once per arming */
	CHECK_EQ_INT(nm_store_sub_next(s, sub, out, 8, &dropped), 4);
	CHECK_EQ_INT(dropped, 2);
	CHECK_EQ_INT(out[0].seq, ev.seq - 5);
	CHECK_EQ_INT(out[3].seq, ev.seq - 2);
	CHECK_EQ_INT(nm_store_sub_next(s, sub2, out, 8, &dropped), 7);
	CHECK_EQ_INT(dropped, 0);
	nm_store_get_stats(s, &st);
	CHECK_EQ_INT(st.subscribers, 2);
	CHECK_EQ_INT(st.stream_sent, 11);
	CHECK_EQ_INT(st.stream_dropped, 2);

	/* Closing wakes the waiting and ends them once they are drained. */
	wakes = 0;
	CHECK_EQ_INT(nm_store_sub_next(s, sub, out, 8, &dropped), 0);
	nm_store_close(s);
	CHECK_EQ_INT(wakes, 1);
	CHECK_EQ_INT(nm_store_sub_next(s, sub, out, 8, &dropped), -ESHUTDOWN);
	nm_store_unsubscribe(s, sub);
	nm_store_get_stats(s, &st);
	CHECK_EQ_INT(st.subscribers, 1);
	CHECK_EQ_INT(st.stream_dropped, 2); /* kept after the subscriber left */
	nm_store_destroy(s);		    /* frees sub2 */
}

int main(void)
{
	test_random(1000, 20000);
	test_random(100000, 30000); /* never evicts */
	test_random(1, 500);
	test_round_trip();
	{
		char err[256];

		/* refused before anything is allocated: slot offsets are 32-bit */
		CHECK(nm_store_create(200000000, 0, 1, err, sizeof(err)) == NULL);
		CHECK(strstr(err, "more than one store can index") != NULL);
	}
	test_stats_and_capacity();
	test_stream();
	CHECK_DONE();
}

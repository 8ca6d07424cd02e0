/* store.c - a ring of event copies, chained per type, pid and command for fast queries. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"
#include "store.h"

/*
 * Every event gets a key, 0, 1, 2 ... in arrival order; key k lives in slot
 * k % nslots until key k + nslots overwrites it. Each event links to the
 * previous (older) event of its type, pid and command, so a filtered query
 * walks only the events of the rarest key it names, newest first. A chain
 * ends at a key that is no longer stored, which is why a link is a key and
 * not a slot. The oldest event of a chain is evicted first, so an index entry
 * dies exactly when the event it points to (its newest) is evicted.
 */

#define NO_KEY	  UINT64_MAX
#define MAX_TYPES 32
#define NO_TYPE	  0xff

struct meta {
	int64_t wall_ns;
	int64_t max_wall; /* of every event up to this one: lets `since` cut the walk short */
	uint64_t prev_type;
	uint64_t prev_pid;
	uint64_t prev_comm;
	uint32_t pid;
	uint8_t type_idx;
	bool has_task;
	char comm[NM_EVENT_COMM_MAX]; /* NUL-padded copy, compared whole */
};

/* One open-addressing table (linear probing, backward-shift delete) of chain heads. */
struct ix_entry {
	uint64_t head;
	uint32_t count;
	uint32_t hash;
	bool used;
	char key[NM_EVENT_COMM_MAX];
};

struct ix {
	struct ix_entry *e;
	size_t mask;
	size_t used;
	bool broken; /* growth failed once: queries stop trusting this index */
};

struct type_entry {
	const struct nm_program_type *type; /* static */
	uint64_t head;
	uint64_t count;
};

struct nm_store_sub {
	struct nm_store_sub *next;
	struct nm_store_filter f;
	uint64_t *q; /* keys, a ring of qlen */
	size_t qlen;
	size_t qhead;
	size_t qn;
	bool waiting;
	void (*wake)(void *ctx);
	void *ctx;
	uint64_t sent;
	uint64_t dropped;
};

struct nm_store {
	pthread_mutex_t lock;
	size_t capacity;
	size_t nslots;
	struct nm_event *ev;
	struct meta *meta;
	uint64_t next; /* the key the next event gets */
	struct type_entry types[MAX_TYPES];
	size_t ntypes;
	bool types_overflow;
	struct ix pids;
	struct ix comms;
	uint64_t queries;

	struct nm_store_sub *subs;
	size_t nsubs;
	size_t max_subs;
	bool closing;
	uint64_t gone_sent; /* totals of subscribers that have left */
	uint64_t gone_dropped;
};

/* ---- index tables ---------------------------------------------------------- */

static uint32_t hash_key(const char key[NM_EVENT_COMM_MAX])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < NM_EVENT_COMM_MAX; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h ^ (h >> 15);
}

static int ix_init(struct ix *ix, size_t size)
{
	ix->e = calloc(size, sizeof(*ix->e));
	if (!ix->e)
		return -ENOMEM;
	ix->mask = size - 1;
	ix->used = 0;
	return 0;
}

static struct ix_entry *ix_find(const struct ix *ix, const char key[NM_EVENT_COMM_MAX])
{
	uint32_t h = hash_key(key);

	for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		struct ix_entry *e = &ix->e[i];

		if (!e->used)
			return NULL;
		if (e->hash == h && !memcmp(e->key, key, NM_EVENT_COMM_MAX))
			return e;
	}
}

static void ix_place(struct ix *ix, const struct ix_entry *src)
{
	size_t i = src->hash & ix->mask;

	while (ix->e[i].used)
		i = (i + 1) & ix->mask;
	ix->e[i] = *src;
}

/* Doubles the table; rare (the table only grows with the number of distinct live keys). */
static int ix_grow(struct ix *ix)
{
	struct ix old = *ix;

	if (ix_init(ix, (old.mask + 1) * 2)) {
		*ix = old;
		return -ENOMEM;
	}
	ix->used = old.used;
	for (size_t i = 0; i <= old.mask; i++)
		if (old.e[i].used)
			ix_place(ix, &old.e[i]);
	free(old.e);
	return 0;
}

/* The entry for @key, created empty if absent; NULL if the table cannot grow. */
static struct ix_entry *ix_get(struct ix *ix, const char key[NM_EVENT_COMM_MAX])
{
	struct ix_entry *e = ix_find(ix, key), fresh = {0};

	if (e)
		return e;
	if ((ix->used + 1) * 2 > ix->mask + 1 && ix_grow(ix)) {
		ix->broken = true;
		return NULL;
	}
	fresh.head = NO_KEY;
	fresh.hash = hash_key(key);
	fresh.used = true;
	memcpy(fresh.key, key, NM_EVENT_COMM_MAX);
	ix_place(ix, &fresh);
	ix->used++;
	return ix_find(ix, key);
}

static void ix_delete(struct ix *ix, struct ix_entry *victim)
{
	size_t i = (size_t)(victim - ix->e), j = i;

	ix->e[i].used = false;
	ix->used--;
	for (;;) {
		size_t home;

		j = (j + 1) & ix->mask;
		if (!ix->e[j].used)
			return;
		home = ix->e[j].hash & ix->mask;
		/* Entry j may fill the hole at i only if its home is not in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		ix->e[i] = ix->e[j];
		ix->e[j].used = false;
		i = j;
	}
}

static void pid_key(uint32_t pid, char key[NM_EVENT_COMM_MAX])
{
	memset(key, 0, NM_EVENT_COMM_MAX);
	memcpy(key, &pid, sizeof(pid));
}

/* ---- lifecycle --------------------------------------------------------------- */

struct nm_store *nm_store_create(size_t capacity, size_t min_slots, size_t max_subs, char *err,
				 size_t errlen)
{
	struct nm_store *s = calloc(1, sizeof(*s));

	if (!s)
		goto oom;
	pthread_mutex_init(&s->lock, NULL);
	s->capacity = capacity;
	s->nslots = capacity > min_slots ? capacity : min_slots;
	if (!s->nslots)
		s->nslots = 1;
	s->max_subs = max_subs;
	/* calloc: pages are only touched as the ring fills, so RSS follows the events held. */
	s->ev = calloc(s->nslots, sizeof(*s->ev));
	s->meta = calloc(s->nslots, sizeof(*s->meta));
	if (!s->ev || !s->meta || ix_init(&s->pids, 256) || ix_init(&s->comms, 256))
		goto oom;
	return s;
oom:
	snprintf(err, errlen, "event store: cannot allocate %zu events: out of memory", capacity);
	nm_store_destroy(s);
	return NULL;
}

void nm_store_destroy(struct nm_store *s)
{
	if (!s)
		return;
	while (s->subs) {
		struct nm_store_sub *sub = s->subs;

		s->subs = sub->next;
		free(sub->q);
		free(sub);
	}
	free(s->pids.e);
	free(s->comms.e);
	free(s->meta);
	free(s->ev);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- adding --------------------------------------------------------------------- */

static uint64_t ring_oldest(const struct nm_store *s)
{
	return s->next > s->nslots ? s->next - s->nslots : 0;
}

static uint64_t visible_oldest(const struct nm_store *s)
{
	return s->next > s->capacity ? s->next - s->capacity : 0;
}

static void unlink_chain(struct ix *ix, const char key[NM_EVENT_COMM_MAX], uint64_t k)
{
	struct ix_entry *e = ix->broken ? NULL : ix_find(ix, key);

	if (!e)
		return;
	e->count--;
	if (e->head == k)
		ix_delete(ix, e);
}

static void evict(struct nm_store *s, uint64_t k)
{
	const struct meta *m = &s->meta[k % s->nslots];
	char key[NM_EVENT_COMM_MAX];

	if (m->type_idx != NO_TYPE) {
		struct type_entry *t = &s->types[m->type_idx];

		t->count--;
		if (t->head == k)
			t->head = NO_KEY;
	}
	if (m->has_task) {
		pid_key(m->pid, key);
		unlink_chain(&s->pids, key, k);
		unlink_chain(&s->comms, m->comm, k);
	}
}

static uint8_t type_index(struct nm_store *s, const struct nm_program_type *type)
{
	for (size_t i = 0; i < s->ntypes; i++)
		if (s->types[i].type == type)
			return (uint8_t)i;
	if (s->ntypes == MAX_TYPES) {
		s->types_overflow = true;
		return NO_TYPE;
	}
	s->types[s->ntypes] = (struct type_entry){type, NO_KEY, 0};
	return (uint8_t)s->ntypes++;
}

/* Link key @k at the head of its chain in @ix; returns the previous head. */
static uint64_t link_chain(struct ix *ix, const char key[NM_EVENT_COMM_MAX], uint64_t k)
{
	struct ix_entry *e = ix->broken ? NULL : ix_get(ix, key);
	uint64_t prev;

	if (!e)
		return NO_KEY;
	prev = e->head;
	e->head = k;
	e->count++;
	return prev;
}

void nm_store_add(struct nm_store *s, const struct nm_event *ev)
{
	uint64_t k;
	struct meta *m;
	char key[NM_EVENT_COMM_MAX];
	int64_t prev_max;
	size_t len;

	pthread_mutex_lock(&s->lock);
	k = s->next;
	if (k >= s->nslots)
		evict(s, k - s->nslots);
	prev_max = k ? s->meta[(k - 1) % s->nslots].max_wall : INT64_MIN;
	m = &s->meta[k % s->nslots];
	s->ev[k % s->nslots] = *ev;

	memset(m, 0, sizeof(*m));
	m->wall_ns = ev->wall_ns;
	m->max_wall = ev->wall_ns > prev_max ? ev->wall_ns : prev_max;
	m->prev_type = m->prev_pid = m->prev_comm = NO_KEY;
	m->type_idx = type_index(s, ev->type);
	if (m->type_idx != NO_TYPE) {
		struct type_entry *t = &s->types[m->type_idx];

		m->prev_type = t->head;
		t->head = k;
		t->count++;
	}
	m->has_task = ev->has_task;
	if (ev->has_task) {
		m->pid = ev->pid;
		len = strnlen(ev->command, NM_EVENT_COMM_MAX);
		memcpy(m->comm, ev->command, len);
		pid_key(ev->pid, key);
		m->prev_pid = link_chain(&s->pids, key, k);
		m->prev_comm = link_chain(&s->comms, m->comm, k);
	}
	s->next = k + 1;

	for (struct nm_store_sub *sub = s->subs; sub; sub = sub->next) {
		if (!nm_store_filter_match(&sub->f, ev))
			continue;
		if (sub->qn == sub->qlen) {
			sub->dropped++;
		} else {
			sub->q[(sub->qhead + sub->qn) % sub->qlen] = k;
			sub->qn++;
		}
		/* under the lock, so that an unsubscribed stream is never woken after it went */
		if (sub->waiting) {
			sub->waiting = false;
			sub->wake(sub->ctx);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- queries ------------------------------------------------------------------------ */

static bool comm_equal(const char *a, const char *b)
{
	return !memcmp(a, b, NM_EVENT_COMM_MAX);
}

bool nm_store_filter_match(const struct nm_store_filter *f, const struct nm_event *ev)
{
	if (f->type && strcmp(f->type, ev->type->name))
		return false;
	if ((f->has_pid || f->has_command) && !ev->has_task)
		return false;
	if (f->has_pid && ev->pid != f->pid)
		return false;
	if (f->has_command) {
		size_t n = strnlen(ev->command, NM_EVENT_COMM_MAX);

		if (n != strnlen(f->command, NM_EVENT_COMM_MAX) ||
		    memcmp(ev->command, f->command, n))
			return false;
	}
	if (f->has_since && ev->wall_ns < f->since_ns)
		return false;
	if (f->has_until && ev->wall_ns > f->until_ns)
		return false;
	return true;
}

/* Matches on the side data alone, so a scan never touches the events themselves. */
static bool meta_match(const struct nm_store *s, const struct meta *m,
		       const struct nm_store_filter *f, int want_type)
{
	if (f->type) {
		if (m->type_idx == NO_TYPE) {
			const struct nm_event *ev = &s->ev[m - s->meta];

			if (strcmp(ev->type->name, f->type))
				return false;
		} else if (m->type_idx != want_type) {
			return false;
		}
	}
	if ((f->has_pid || f->has_command) && !m->has_task)
		return false;
	if (f->has_pid && m->pid != f->pid)
		return false;
	if (f->has_command && !comm_equal(m->comm, f->command))
		return false;
	if (f->has_since && m->wall_ns < f->since_ns)
		return false;
	if (f->has_until && m->wall_ns > f->until_ns)
		return false;
	return true;
}

enum chain { CHAIN_ALL, CHAIN_TYPE, CHAIN_PID, CHAIN_COMM };

static uint64_t chain_prev(const struct meta *m, enum chain c, uint64_t k)
{
	switch (c) {
	case CHAIN_TYPE:
		return m->prev_type;
	case CHAIN_PID:
		return m->prev_pid;
	case CHAIN_COMM:
		return m->prev_comm;
	default:
		return k ? k - 1 : NO_KEY;
	}
}

size_t nm_store_query(struct nm_store *s, const struct nm_store_filter *f, uint64_t *keys,
		      size_t max)
{
	uint64_t oldest, cut, k, best_count = UINT64_MAX;
	enum chain chain = CHAIN_ALL;
	int want_type = -1;
	size_t n = 0;
	char key[NM_EVENT_COMM_MAX];
	char comm[NM_EVENT_COMM_MAX] = {0};
	struct nm_store_filter fc = *f;

	/* Normalize the command the way the side data holds it. */
	if (fc.has_command) {
		memcpy(comm, f->command, strnlen(f->command, NM_EVENT_COMM_MAX));
		memcpy(fc.command, comm, sizeof(comm));
	}

	pthread_mutex_lock(&s->lock);
	s->queries++;
	oldest = visible_oldest(s);
	k = s->next ? s->next - 1 : NO_KEY;
	if (!max || s->next == oldest)
		goto out;

	/* Everything before the first key whose running max reaches `since` is older. */
	cut = oldest;
	if (fc.has_since) {
		uint64_t lo = oldest, hi = s->next;

		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (s->meta[mid % s->nslots].max_wall >= fc.since_ns)
				hi = mid;
			else
				lo = mid + 1;
		}
		cut = lo;
	}

	if (fc.type) {
		for (size_t i = 0; i < s->ntypes; i++)
			if (!strcmp(s->types[i].type->name, fc.type))
				want_type = (int)i;
		if (want_type < 0 && !s->types_overflow)
			goto out; /* never seen */
		if (want_type >= 0) {
			chain = CHAIN_TYPE;
			best_count = s->types[want_type].count;
			k = s->types[want_type].head;
		}
	}
	if (fc.has_pid && !s->pids.broken) {
		const struct ix_entry *e;

		pid_key(fc.pid, key);
		e = ix_find(&s->pids, key);
		if (!e)
			goto out;
		if (e->count < best_count) {
			chain = CHAIN_PID;
			best_count = e->count;
			k = e->head;
		}
	}
	if (fc.has_command && !s->comms.broken) {
		const struct ix_entry *e = ix_find(&s->comms, comm);

		if (!e)
			goto out;
		if (e->count < best_count) {
			chain = CHAIN_COMM;
			k = e->head;
		}
	}

	while (k != NO_KEY && k >= cut && k < s->next) {
		const struct meta *m = &s->meta[k % s->nslots];

		if (meta_match(s, m, &fc, want_type)) {
			if (keys)
				keys[n] = k;
			if (++n == max)
				break;
		}
		k = chain_prev(m, chain, k);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t nm_store_get(struct nm_store *s, const uint64_t *keys, size_t n, struct nm_event *evs,
		    bool *ok)
{
	size_t got = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		ok[i] = keys[i] >= ring_oldest(s) && keys[i] < s->next;
		if (ok[i]) {
			evs[i] = s->ev[keys[i] % s->nslots];
			got++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return got;
}

void nm_store_get_stats(struct nm_store *s, struct nm_store_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->lock);
	st->capacity = s->capacity;
	st->stored = s->next - visible_oldest(s);
	st->added = s->next;
	st->evicted = s->next - st->stored; /* out of the query window, whatever the ring holds */
	st->queries = s->queries;
	st->subscribers = s->nsubs;
	st->stream_sent = s->gone_sent;
	st->stream_dropped = s->gone_dropped;
	for (struct nm_store_sub *sub = s->subs; sub; sub = sub->next) {
		st->stream_sent += sub->sent;
		st->stream_dropped += sub->dropped;
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- live streams --------------------------------------------------------------------- */

struct nm_store_sub *nm_store_subscribe(struct nm_store *s, const struct nm_store_filter *f,
					size_t queue_len, void (*wake)(void *ctx), void *ctx)
{
	struct nm_store_sub *sub = calloc(1, sizeof(*sub));

	if (!sub)
		return NULL;
	sub->q = calloc(queue_len ? queue_len : 1, sizeof(*sub->q));
	if (!sub->q) {
		free(sub);
		return NULL;
	}
	sub->f = *f;
	sub->qlen = queue_len ? queue_len : 1;
	sub->wake = wake;
	sub->ctx = ctx;
	pthread_mutex_lock(&s->lock);
	if (s->nsubs == s->max_subs || s->closing) {
		pthread_mutex_unlock(&s->lock);
		free(sub->q);
		free(sub);
		errno = s->closing ? ESHUTDOWN : ENOSPC;
		return NULL;
	}
	sub->next = s->subs;
	s->subs = sub;
	s->nsubs++;
	pthread_mutex_unlock(&s->lock);
	return sub;
}

long nm_store_sub_next(struct nm_store *s, struct nm_store_sub *sub, struct nm_event *evs,
		       size_t max, uint64_t *dropped)
{
	long n = 0;

	pthread_mutex_lock(&s->lock);
	while ((size_t)n < max && sub->qn) {
		uint64_t k = sub->q[sub->qhead];

		sub->qhead = (sub->qhead + 1) % sub->qlen;
		sub->qn--;
		if (k < ring_oldest(s)) {
			sub->dropped++; /* so far behind that the ring overwrote it */
			continue;
		}
		evs[n++] = s->ev[k % s->nslots];
		sub->sent++;
	}
	if (!n) {
		if (s->closing) {
			n = -ESHUTDOWN;
		} else {
			sub->waiting = true;
		}
	}
	*dropped = sub->dropped;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void nm_store_close(struct nm_store *s)
{
	pthread_mutex_lock(&s->lock);
	s->closing = true;
	for (struct nm_store_sub *sub = s->subs; sub; sub = sub->next) {
		if (sub->waiting) {
			sub->waiting = false;
			sub->wake(sub->ctx);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void nm_store_unsubscribe(struct nm_store *s, struct nm_store_sub *sub)
{
	if (!sub)
		return;
	pthread_mutex_lock(&s->lock);
	for (struct nm_store_sub **pp = &s->subs; *pp; pp = &(*pp)->next) {
		if (*pp == sub) {
			*pp = sub->next;
			s->nsubs--;
			break;
		}
	}
	s->gone_sent += sub->sent;
	s->gone_dropped += sub->dropped;
	pthread_mutex_unlock(&s->lock);
	free(sub->q);
	free(sub);
}

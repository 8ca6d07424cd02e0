/* store.c - compact event records in a byte ring, chained per type, pid and command for queries. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
 *
 * A slot holds only what queries test; the event itself is a variable-length
 * record in the arena, a byte ring written in order: small integers as
 * varints, the command without its padding, the body cut to what the program
 * declares and without its all-zero 4-byte units (an IPv4 connect keeps ~40 of
 * 184 bytes). The arena is sized for nslots records of the largest size, so
 * the store still holds exactly the newest nslots events whatever their sizes;
 * it is reserved, not committed, and the pages the oldest record has left are
 * given back a chunk at a time, so the resident part follows the bytes held.
 */

#define NO_KEY	  UINT64_MAX
#define MAX_TYPES 32
#define NO_TYPE	  0xff

#define MAX_ORIGINS 16
#define NO_ORIGIN   0xff

#define BODY_UNITS (NM_EVENT_BODY_MAX / 4)
#define VARINT_MAX 10
/* flags, origin, command length, spare; command; 5 varints; raw type, host, run id; mask; body */
#define REC_MAX	    ((4 + NM_EVENT_COMM_MAX + 6 * VARINT_MAX + 24 + NM_EVENT_BODY_MAX + 7) & ~7)
#define ARENA_CHUNK ((size_t)256 << 10)

#define REC_TASK     0x1
#define REC_RAW_TYPE 0x2 /* more types than the table holds: the pointer is in the record */
/* more (host, run id) pairs than the table holds: both are in the record */
#define REC_RAW_ORIGIN 0x4

_Static_assert(NM_EVENT_BODY_MAX % 4 == 0 && BODY_UNITS <= 64, "body units fit the mask");

struct slot {
	int64_t wall_ns;
	int64_t max_wall; /* of every event up to this one: lets `since` cut the walk short */
	uint32_t off;	  /* the record, in 8-byte units into the arena */
	/* chain links as distances back from this key, 0 for none: a live link is < nslots */
	uint32_t prev_type;
	uint32_t prev_pid;
	uint32_t prev_comm;
	uint32_t pid;
	uint8_t type_idx;
	bool has_task;
};

struct origin {
	const char *host;
	uint64_t run_id;
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
	struct slot *slots;
	unsigned char *arena; /* mmap'ed, arena_len bytes */
	size_t arena_len;
	size_t head;	 /* where the next record goes */
	size_t released; /* chunks from here up to the oldest record's are given back */
	uint64_t next;	 /* the key the next event gets */
	struct origin origins[MAX_ORIGINS];
	size_t norigins;
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

/* ---- records ------------------------------------------------------------------ */

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

/* Only ever reads what put_varint wrote, so it needs no bound. */
static const unsigned char *get_varint(const unsigned char *p, uint64_t *v)
{
	uint64_t r = 0;
	unsigned int shift = 0;

	while (*p & 0x80) {
		r |= (uint64_t)(*p++ & 0x7f) << shift;
		shift += 7;
	}
	*v = r | (uint64_t)*p++ << shift;
	return p;
}

static uint8_t origin_index(struct nm_store *s, const struct nm_event *ev)
{
	for (size_t i = 0; i < s->norigins; i++)
		if (s->origins[i].host == ev->host && s->origins[i].run_id == ev->run_id)
			return (uint8_t)i;
	if (s->norigins == MAX_ORIGINS)
		return NO_ORIGIN;
	s->origins[s->norigins] = (struct origin){ev->host, ev->run_id};
	return (uint8_t)s->norigins++;
}

static size_t body_units(const struct nm_program_type *type)
{
	uint32_t size = type->body_size;

	return size && size < NM_EVENT_BODY_MAX ? (size + 3) / 4 : BODY_UNITS;
}

/* Encode @ev at @p (REC_MAX bytes of room); returns the record's length, a multiple of 8. */
static size_t rec_put(struct nm_store *s, unsigned char *p, const struct nm_event *ev,
		      uint8_t type_idx)
{
	unsigned char *q, *maskp;
	uint8_t origin = origin_index(s, ev);
	size_t comm_len = strnlen(ev->command, NM_EVENT_COMM_MAX), units = body_units(ev->type);
	uint64_t mask = 0;

	p[0] = (ev->has_task ? REC_TASK : 0) | (type_idx == NO_TYPE ? REC_RAW_TYPE : 0) |
	       (origin == NO_ORIGIN ? REC_RAW_ORIGIN : 0);
	p[1] = origin;
	p[2] = (unsigned char)comm_len;
	p[3] = 0;
	memcpy(p + 4, ev->command, comm_len);
	q = p + 4 + comm_len;
	q = put_varint(q, ev->seq);
	q = put_varint(q, ev->timestamp_ns);
	q = put_varint(q, ev->tid);
	q = put_varint(q, ev->uid);
	q = put_varint(q, ev->cgroup_id);
	if (type_idx == NO_TYPE) {
		memcpy(q, &ev->type, sizeof(ev->type));
		q += sizeof(ev->type);
	}
	if (origin == NO_ORIGIN) {
		memcpy(q, &ev->host, sizeof(ev->host));
		memcpy(q + sizeof(ev->host), &ev->run_id, sizeof(ev->run_id));
		q += sizeof(ev->host) + sizeof(ev->run_id);
	}
	/* the mask goes first but is known last: reserve its longest form */
	maskp = q;
	q += VARINT_MAX;
	for (size_t i = 0; i < units; i++) {
		uint32_t u;

		memcpy(&u, ev->body + 4 * i, 4);
		if (u) {
			mask |= (uint64_t)1 << i;
			memcpy(q, &u, 4);
			q += 4;
		}
	}
	{
		unsigned char m[VARINT_MAX];
		size_t mlen = (size_t)(put_varint(m, mask) - m);

		memmove(maskp + mlen, maskp + VARINT_MAX, (size_t)(q - maskp - VARINT_MAX));
		memcpy(maskp, m, mlen);
		q -= VARINT_MAX - mlen;
	}
	return ((size_t)(q - p) + 7) & ~(size_t)7;
}

static const unsigned char *rec_at(const struct nm_store *s, uint64_t k)
{
	return s->arena + (size_t)s->slots[k % s->nslots].off * 8;
}

/* The command of the record, NUL-padded, as the filters compare it. */
static void rec_comm(const unsigned char *p, char comm[NM_EVENT_COMM_MAX])
{
	memset(comm, 0, NM_EVENT_COMM_MAX);
	memcpy(comm, p + 4, p[2]);
}

/* Key @k, stored, back into a whole event. */
static void rec_get(const struct nm_store *s, uint64_t k, struct nm_event *ev)
{
	const struct slot *sl = &s->slots[k % s->nslots];
	const unsigned char *p = rec_at(s, k), *q = p + 4 + p[2];
	uint64_t v, mask;

	memset(ev, 0, sizeof(*ev));
	ev->wall_ns = sl->wall_ns;
	ev->pid = sl->pid;
	ev->has_task = p[0] & REC_TASK;
	memcpy(ev->command, p + 4, p[2]);
	q = get_varint(q, &ev->seq);
	q = get_varint(q, &ev->timestamp_ns);
	q = get_varint(q, &v);
	ev->tid = (uint32_t)v;
	q = get_varint(q, &v);
	ev->uid = (uint32_t)v;
	q = get_varint(q, &ev->cgroup_id);
	if (p[0] & REC_RAW_TYPE) {
		memcpy(&ev->type, q, sizeof(ev->type));
		q += sizeof(ev->type);
	} else {
		ev->type = s->types[sl->type_idx].type;
	}
	if (p[0] & REC_RAW_ORIGIN) {
		memcpy(&ev->host, q, sizeof(ev->host));
		memcpy(&ev->run_id, q + sizeof(ev->host), sizeof(ev->run_id));
		q += sizeof(ev->host) + sizeof(ev->run_id);
	} else {
		ev->host = s->origins[p[1]].host;
		ev->run_id = s->origins[p[1]].run_id;
	}
	q = get_varint(q, &mask);
	for (size_t i = 0; mask; i++, mask >>= 1) {
		if (mask & 1) {
			memcpy(ev->body + 4 * i, q, 4);
			q += 4;
		}
	}
}

/* The program of a record whose type did not fit the table. */
static const char *rec_type_name(const struct nm_store *s, uint64_t k)
{
	struct nm_event ev;

	rec_get(s, k, &ev);
	return ev.type->name;
}

/* ---- lifecycle --------------------------------------------------------------- */

struct nm_store *nm_store_create(size_t capacity, size_t min_slots, size_t max_subs, char *err,
				 size_t errlen)
{
	struct nm_store *s = calloc(1, sizeof(*s));
	size_t nslots = capacity > min_slots ? capacity : min_slots;
	bool too_many = false;

	if (!s)
		goto fail;
	pthread_mutex_init(&s->lock, NULL);
	if (!nslots)
		nslots = 1;
	/* slot offsets are 32-bit in 8-byte units, links 32-bit distances */
	if (nslots > (((size_t)UINT32_MAX * 8) - 4 * ARENA_CHUNK) / REC_MAX) {
		too_many = true;
		goto fail;
	}
	s->capacity = capacity;
	s->nslots = nslots;
	s->max_subs = max_subs;
	/*
	 * Room for nslots records of the largest size, a record skipped at the
	 * wrap, and two chunks: the free part ahead of the newest record is then
	 * always longer than a chunk, so a chunk given back never holds a live record.
	 */
	s->arena_len = (nslots * REC_MAX + 3 * ARENA_CHUNK) / ARENA_CHUNK * ARENA_CHUNK;
	s->arena = mmap(NULL, s->arena_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->arena == MAP_FAILED) {
		s->arena = NULL;
		goto fail;
	}
	/* calloc: pages are only touched as the ring fills, so RSS follows the events held. */
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->slots || ix_init(&s->pids, 256) || ix_init(&s->comms, 256))
		goto fail;
	return s;
fail:
	if (too_many)
		snprintf(err, errlen, "event store: %zu events are more than one store can index",
			 nslots);
	else
		snprintf(err, errlen, "event store: cannot allocate %zu events: out of memory",
			 capacity);
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
	free(s->slots);
	if (s->arena)
		munmap(s->arena, s->arena_len);
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

static uint64_t link_key(uint64_t k, uint32_t dist)
{
	return dist ? k - dist : NO_KEY;
}

static uint32_t link_dist(uint64_t k, uint64_t prev)
{
	return prev == NO_KEY ? 0 : (uint32_t)(k - prev);
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
	const struct slot *m = &s->slots[k % s->nslots];
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
		rec_comm(rec_at(s, k), key);
		unlink_chain(&s->comms, key, k);
	}
}

/*
 * Give back the whole chunks the oldest record (@tail, a byte offset) has
 * left since the last call: they are written again only after the rest of
 * the free part, and until then would count as resident for nothing.
 */
static void release_behind(struct nm_store *s, size_t tail)
{
	size_t until = tail / ARENA_CHUNK * ARENA_CHUNK;

	while (s->released != until) {
		size_t end = s->released < until ? until : s->arena_len;

		madvise(s->arena + s->released, end - s->released, MADV_DONTNEED);
		s->released = end == s->arena_len ? 0 : end;
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
	struct slot *m;
	char key[NM_EVENT_COMM_MAX];
	int64_t prev_max;
	size_t len;

	pthread_mutex_lock(&s->lock);
	k = s->next;
	if (k >= s->nslots) {
		evict(s, k - s->nslots);
		if (s->nslots > 1)
			release_behind(s, (size_t)s->slots[(k + 1) % s->nslots].off * 8);
	}
	prev_max = k ? s->slots[(k - 1) % s->nslots].max_wall : INT64_MIN;
	m = &s->slots[k % s->nslots];

	memset(m, 0, sizeof(*m));
	m->wall_ns = ev->wall_ns;
	m->max_wall = ev->wall_ns > prev_max ? ev->wall_ns : prev_max;
	m->pid = ev->pid;
	m->type_idx = type_index(s, ev->type);
	if (m->type_idx != NO_TYPE) {
		struct type_entry *t = &s->types[m->type_idx];

		m->prev_type = link_dist(k, t->head);
		t->head = k;
		t->count++;
	}
	if (s->head + REC_MAX > s->arena_len)
		s->head = 0; /* records never wrap: the end's remainder waits a round */
	m->off = (uint32_t)(s->head / 8);
	len = rec_put(s, s->arena + s->head, ev, m->type_idx);
	s->head += len;
	m->has_task = ev->has_task;
	if (ev->has_task) {
		pid_key(ev->pid, key);
		m->prev_pid = link_dist(k, link_chain(&s->pids, key, k));
		rec_comm(s->arena + (size_t)m->off * 8, key);
		m->prev_comm = link_dist(k, link_chain(&s->comms, key, k));
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

/* Matches on the slot and the record's command, so a scan decodes nothing. */
static bool slot_match(const struct nm_store *s, uint64_t k, const struct nm_store_filter *f,
		       int want_type)
{
	const struct slot *m = &s->slots[k % s->nslots];

	if (f->type) {
		if (m->type_idx == NO_TYPE) {
			if (strcmp(rec_type_name(s, k), f->type))
				return false;
		} else if (m->type_idx != want_type) {
			return false;
		}
	}
	if ((f->has_pid || f->has_command) && !m->has_task)
		return false;
	if (f->has_pid && m->pid != f->pid)
		return false;
	if (f->has_since && m->wall_ns < f->since_ns)
		return false;
	if (f->has_until && m->wall_ns > f->until_ns)
		return false;
	if (f->has_command) {
		const unsigned char *p = rec_at(s, k);

		/* f->command is NUL-padded here (nm_store_query normalizes it) */
		if (strnlen(f->command, NM_EVENT_COMM_MAX) != p[2] ||
		    memcmp(p + 4, f->command, p[2]))
			return false;
	}
	return true;
}

enum chain { CHAIN_ALL, CHAIN_TYPE, CHAIN_PID, CHAIN_COMM };

static uint64_t chain_prev(const struct slot *m, enum chain c, uint64_t k)
{
	switch (c) {
	case CHAIN_TYPE:
		return link_key(k, m->prev_type);
	case CHAIN_PID:
		return link_key(k, m->prev_pid);
	case CHAIN_COMM:
		return link_key(k, m->prev_comm);
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

			if (s->slots[mid % s->nslots].max_wall >= fc.since_ns)
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
		if (slot_match(s, k, &fc, want_type)) {
			if (keys)
				keys[n] = k;
			if (++n == max)
				break;
		}
		k = chain_prev(&s->slots[k % s->nslots], chain, k);
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
			rec_get(s, keys[i], &evs[i]);
			got++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return got;
}

size_t nm_store_max_capacity(const struct nm_store *s)
{
	return s->nslots; /* fixed at create */
}

int nm_store_set_capacity(struct nm_store *s, size_t capacity)
{
	if (!capacity || capacity > s->nslots)
		return -E2BIG;
	pthread_mutex_lock(&s->lock);
	s->capacity = capacity;
	pthread_mutex_unlock(&s->lock);
	return 0;
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
	if (s->next) {
		size_t tail = (size_t)s->slots[ring_oldest(s) % s->nslots].off * 8;

		/* the ring's records from the oldest to the newest, a skipped end included */
		st->bytes = (s->head > tail ? s->head - tail : s->arena_len - tail + s->head) +
			    (s->next - ring_oldest(s)) * sizeof(struct slot);
	}
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
		rec_get(s, k, &evs[n++]);
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

/* store.h - the bounded in-memory event store behind queries and live streams, fed by a tap. */
#ifndef NM_STORE_H
#define NM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct nm_store;
struct nm_store_sub;

/* What a query or a stream selects; every set member must match. */
struct nm_store_filter {
	const char *type; /* program name, or NULL for any; borrowed */
	bool has_pid;
	uint32_t pid;
	bool has_command;
	char command[NM_EVENT_COMM_MAX]; /* exact match, NUL-padded */
	bool has_since;
	int64_t since_ns; /* wall clock, inclusive */
	bool has_until;
	int64_t until_ns; /* wall clock, inclusive */
};

struct nm_store_stats {
	uint64_t capacity;
	uint64_t stored; /* visible to queries now */
	uint64_t added;
	uint64_t evicted;
	uint64_t queries;
	uint64_t subscribers;
	uint64_t stream_sent;
	uint64_t stream_dropped; /* slow stream clients, all of them, since start */
	uint64_t bytes;		 /* the stored events' records and slots, about */
};

/*
 * Keep the newest @capacity events for queries. Streams read from the same
 * ring, so it holds at least @min_slots events whatever @capacity is; at most
 * @max_subs streams at a time. NULL with @err set.
 */
struct nm_store *nm_store_create(size_t capacity, size_t min_slots, size_t max_subs, char *err,
				 size_t errlen);
void nm_store_destroy(struct nm_store *s);

/* Copy @ev in (the tap). O(1) apart from rare index growth; wakes matching streams. */
void nm_store_add(struct nm_store *s, const struct nm_event *ev);

/*
 * Keys of up to @max events matching @f, newest first, into @keys (which may
 * be NULL to only count). Returns how many matched, at most @max.
 */
size_t nm_store_query(struct nm_store *s, const struct nm_store_filter *f, uint64_t *keys,
		      size_t max);

/*
 * Copy the events of @keys into @evs, marking in @ok which are still stored
 * (an event can be evicted between query and copy). Returns how many were.
 */
size_t nm_store_get(struct nm_store *s, const uint64_t *keys, size_t n, struct nm_event *evs,
		    bool *ok);

void nm_store_get_stats(struct nm_store *s, struct nm_store_stats *st);

/*
 * Hot reload: the query window becomes the newest @capacity events, at most
 * the ring's slots (nm_store_max_capacity: allocated at create, never
 * grown). 0, or -E2BIG with nothing changed.
 */
int nm_store_set_capacity(struct nm_store *s, size_t capacity);
size_t nm_store_max_capacity(const struct nm_store *s);

/* True when @ev matches @f; the same test queries and streams use. */
bool nm_store_filter_match(const struct nm_store_filter *f, const struct nm_event *ev);

/*
 * A live stream of events matching @f (copied), from now on. At most
 * @queue_len are held for the subscriber; what does not fit is counted as
 * dropped. @wake(@ctx) is called at most once after each nm_store_sub_next()
 * that found nothing, when something arrives or the store closes; it runs under
 * the store's lock (so it never runs after nm_store_unsubscribe() returned) and
 * must only signal: call nothing of the store, take no lock held around a call
 * into the store.
 */
struct nm_store_sub *nm_store_subscribe(struct nm_store *s, const struct nm_store_filter *f,
					size_t queue_len, void (*wake)(void *ctx), void *ctx);
/*
 * Copy up to @max queued events into @evs, oldest first. Returns how many;
 * -ESHUTDOWN once the store is closing and nothing is left. On 0 the wake-up
 * is armed. *@dropped receives the subscriber's drop count.
 */
long nm_store_sub_next(struct nm_store *s, struct nm_store_sub *sub, struct nm_event *evs,
		       size_t max, uint64_t *dropped);
/* Shutting down: no new subscribers, and every waiting one is woken to see -ESHUTDOWN. */
void nm_store_close(struct nm_store *s);
void nm_store_unsubscribe(struct nm_store *s, struct nm_store_sub *sub);

#endif

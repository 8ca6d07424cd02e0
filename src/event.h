/* event.h - a decoded, enriched event: common header plus the program's typed body. */
#ifndef NM_EVENT_H
#define NM_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "writer.h"

struct nm_program_type;

#define NM_EVENT_ID_LEN	  34  /* "<run id>-<seq>", 16 hex digits each, and a NUL */
#define NM_EVENT_BODY_MAX 184 /* room for any program's body; each asserts its own fits */
#define NM_EVENT_COMM_MAX 16

struct nm_event {
	const struct nm_program_type *type; /* the program that produced it; static */
	uint64_t seq;			    /* per agent run, +1 per event */
	uint64_t timestamp_ns;		    /* CLOCK_BOOTTIME, from the kernel */
	int64_t wall_ns;		    /* CLOCK_REALTIME equivalent */
	bool has_task;			    /* pid..cgroup_id belong to the event */
	uint32_t pid;
	uint32_t tid;
	uint32_t uid;
	uint64_t cgroup_id;
	char command[NM_EVENT_COMM_MAX]; /* not NUL-terminated when full */
	uint64_t run_id;		 /* the agent run that saw it: with seq, the event's id */
	const char *host;		 /* borrowed from the pipeline, outlives every event */
	/* The program's decoded record and enrichment, laid out by the program. */
	_Alignas(8) unsigned char body[NM_EVENT_BODY_MAX];
};

/*
 * The event's id: run id and seq in hex, so it is unique, and the same however
 * often the event is delivered. Writes NM_EVENT_ID_LEN bytes, NUL included.
 * Inline: shared sink modules use it and link nothing of the agent's.
 */
static inline void nm_event_id(const struct nm_event *ev, char out[NM_EVENT_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++)
		out[i] = hex[(ev->run_id >> (60 - 4 * i)) & 15];
	out[16] = '-';
	for (int i = 0; i < 16; i++)
		out[17 + i] = hex[(ev->seq >> (60 - 4 * i)) & 15];
	out[33] = '\0';
}

/* Write every field of @ev, common ones first, into the open map of @w. */
void nm_event_fields(const struct nm_event *ev, struct nm_writer *w);

/* Write every field of @ev, common ones first, as one map. */
void nm_event_write(const struct nm_event *ev, struct nm_writer *w);

/* The same, with the signature of struct nm_sink_msg's field walk. */
void nm_event_write_fields(const void *event, struct nm_writer *w);

/* Encode @ev in @format into @out (reset first). */
void nm_event_encode(const struct nm_event *ev, enum nm_format format, struct nm_buf *out);

/* RFC 3339 UTC with nanoseconds, e.g. 2026-11-25T13:20:39.123456789Z; @out >= 32 bytes. */
void nm_format_rfc3339(int64_t wall_ns, char *out, size_t outlen);

#endif

/* msg.h - an event as sinks get it, shared by every sink: one allocation, reference counted. */
#ifndef NM_MSG_H
#define NM_MSG_H

#include <stdatomic.h>
#include <stdint.h>

#include "../sinks/lib/buf.h"
#include "event.h"
#include "writer.h"

/* A replayed event's fields: a MessagePack map (the spool's record), walked by the spool. */
struct nm_msg_fields {
	const uint8_t *data;
	uint32_t len;
};

/*
 * A live event (nm_msg_new) or one read back from a spool (nm_msg_new_stored).
 * Sinks see it only through type, write_fields and fields_ctx (struct nm_sink_msg).
 */
struct nm_msg {
	atomic_uint refs;
	uint32_t len[NM_FORMAT_COUNT]; /* 0 when that format is not in use */
	uint8_t *data[NM_FORMAT_COUNT];
	const char *type; /* the program's name (static), or inside bytes[] */
	void (*write_fields)(const void *ctx, struct nm_writer *w);
	const void *fields_ctx; /* &event, or &stored */
	union {
		struct nm_event event;	     /* live */
		struct nm_msg_fields stored; /* replayed; points into bytes[] */
	};
	uint8_t bytes[];
};

/*
 * Copy @ev and the encodings in @enc (NULL where a format is not in use) into
 * one allocation holding @refs references. NULL on allocation failure.
 */
struct nm_msg *nm_msg_new(const struct nm_event *ev, struct nm_buf *const enc[NM_FORMAT_COUNT],
			  unsigned refs);

/*
 * A message with one reference from stored parts, all copied: the type name
 * (@type_len bytes), the event's fields as a MessagePack map walked by
 * @write_fields, and @data encoded in @format. When @data is @fields (a
 * MessagePack record) the bytes are stored once. NULL on allocation failure.
 */
struct nm_msg *nm_msg_new_stored(const char *type, size_t type_len, const uint8_t *fields,
				 size_t fields_len, enum nm_format format, const uint8_t *data,
				 size_t data_len,
				 void (*write_fields)(const void *ctx, struct nm_writer *w));

static inline void nm_msg_unref(struct nm_msg *m)
{
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		free(m);
}

#endif

/* msg.h - an event as sinks get it, shared by every sink: one allocation, reference counted. */
#ifndef NM_MSG_H
#define NM_MSG_H

#include <stdatomic.h>
#include <stdint.h>

#include "../sinks/lib/buf.h"
#include "event.h"
#include "siem.h"
#include "writer.h"

/*
 * An encoding: a format in a schema. Native encodings have their format's
 * number, so an index by format is an index by native encoding.
 */
#define NM_ENCODING_COUNT (NM_FORMAT_COUNT * NM_SCHEMA_COUNT)

static inline unsigned nm_encoding(enum nm_format format, enum nm_schema schema)
{
	return (unsigned)schema * NM_FORMAT_COUNT + (unsigned)format;
}

static inline enum nm_format nm_encoding_format(unsigned enc)
{
	return (enum nm_format)(enc % NM_FORMAT_COUNT);
}

static inline enum nm_schema nm_encoding_schema(unsigned enc)
{
	return (enum nm_schema)(enc / NM_FORMAT_COUNT);
}

/* Encode @ev in encoding @enc into @out (reset first). */
void nm_msg_encode(const struct nm_event *ev, unsigned enc, struct nm_buf *out);

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
	uint32_t len[NM_ENCODING_COUNT]; /* 0 when that encoding is not in use */
	uint8_t *data[NM_ENCODING_COUNT];
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
 * Copy @ev and the encodings in @enc (NULL where one is not in use) into one
 * allocation holding @refs references. NULL on allocation failure.
 */
struct nm_msg *nm_msg_new_enc(const struct nm_event *ev,
			      struct nm_buf *const enc[NM_ENCODING_COUNT], unsigned refs);

/* The same with native encodings only, indexed by format. */
struct nm_msg *nm_msg_new(const struct nm_event *ev, struct nm_buf *const enc[NM_FORMAT_COUNT],
			  unsigned refs);

/*
 * A message with one reference from stored parts, all copied: the type name
 * (@type_len bytes), the event's native fields as a MessagePack map walked by
 * @write_fields, and @data in encoding @enc (a bare format is its native
 * encoding). When @data is @fields (a native MessagePack record) the bytes
 * are stored once. NULL on allocation failure.
 */
struct nm_msg *nm_msg_new_stored(const char *type, size_t type_len, const uint8_t *fields,
				 size_t fields_len, unsigned enc, const uint8_t *data,
				 size_t data_len,
				 void (*write_fields)(const void *ctx, struct nm_writer *w));

static inline void nm_msg_unref(struct nm_msg *m)
{
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		free(m);
}

#endif

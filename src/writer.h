/* writer.h - the JSON and MessagePack encoders of the field-writer interface (sinks/sink.h). */
#ifndef NM_WRITER_H
#define NM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../sinks/lib/buf.h"
#include "../sinks/sink.h"

const char *nm_format_name(enum nm_format f);

/* The writer interface itself is part of the sink contract (sinks/sink.h). */
extern const struct nm_writer_ops nm_json_writer_ops;
extern const struct nm_writer_ops nm_msgpack_writer_ops;

/* Point @w at @out with the encoder for @format. */
void nm_writer_init(struct nm_writer *w, enum nm_format format, struct nm_buf *out);

/*
 * Kernel strings need not be UTF-8. Both encoders emit valid UTF-8: valid
 * sequences pass through, and each byte that is not part of one becomes the
 * code point of the same value (U+0080..U+00FF), so every byte is represented.
 * Returns the length of the valid UTF-8 sequence at @s (1..4), or 0 if the
 * byte at @s starts none.
 */
size_t nm_utf8_valid_seq(const uint8_t *s, size_t len);

/*
 * The JSON encoder's own primitives, for the common fields of every event
 * (src/event.c) to be written in one pass: not part of the sink contract.
 * The byte-level primitives they use are in src/encode.h.
 */

/* Worst case of JSON text for @len input bytes: \u00XX for a control byte. */
#define NM_TEXT_MAX(len) ((len)*6)

/*
 * When @w is the JSON encoder at the top level of its map, room for @max more
 * bytes: where they go. NULL otherwise (or out of memory): use the writer.
 */
uint8_t *nm_json_reserve(struct nm_writer *w, size_t max);
/* End the bytes written since nm_json_reserve() at @end: @nfields more fields, commas included. */
void nm_json_commit(struct nm_writer *w, uint8_t *end, uint32_t nfields);

/* The same for the MessagePack encoder: nm_mp_reserve() also wants the top-level map. */
#define NM_MP_STR_MAX(len) (5 + NM_TEXT_MAX(len))
uint8_t *nm_mp_reserve(struct nm_writer *w, size_t max);
void nm_mp_commit(struct nm_writer *w, uint8_t *end, uint32_t nfields);

#endif

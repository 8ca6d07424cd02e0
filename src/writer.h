/* writer.h - the field-writer interface: programs write fields, encoders turn them into bytes. */
#ifndef NM_WRITER_H
#define NM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

enum nm_format {
	NM_FORMAT_JSON = 0,
	NM_FORMAT_MSGPACK,
	NM_FORMAT_COUNT,
};

const char *nm_format_name(enum nm_format f);

struct nm_writer;

/*
 * One flat map per event. Keys are snake_case literals; string values are
 * arbitrary bytes (kernel strings are attacker-controlled) and every encoder
 * must still produce a valid document from them.
 */
struct nm_writer_ops {
	void (*begin)(struct nm_writer *w);
	void (*end)(struct nm_writer *w);
	/* @klen is strlen(@key), folded at compile time by the inline wrappers below */
	void (*str)(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len);
	void (*u64)(struct nm_writer *w, const char *key, size_t klen, uint64_t v);
	void (*i64)(struct nm_writer *w, const char *key, size_t klen, int64_t v);
	void (*boolean)(struct nm_writer *w, const char *key, size_t klen, bool v);
	void (*null)(struct nm_writer *w, const char *key, size_t klen);
};

struct nm_writer {
	const struct nm_writer_ops *ops;
	struct nm_buf *out; /* borrowed */
	size_t map_start;   /* msgpack: where the map header is patched */
	uint32_t nfields;
	bool first;
};

extern const struct nm_writer_ops nm_json_writer_ops;
extern const struct nm_writer_ops nm_msgpack_writer_ops;

/* Point @w at @out with the encoder for @format. */
void nm_writer_init(struct nm_writer *w, enum nm_format format, struct nm_buf *out);

static inline void nm_w_begin(struct nm_writer *w)
{
	w->ops->begin(w);
}

static inline void nm_w_end(struct nm_writer *w)
{
	w->ops->end(w);
}

static inline void nm_w_str(struct nm_writer *w, const char *key, const char *val, size_t len)
{
	w->ops->str(w, key, strlen(key), val, len);
}

static inline void nm_w_cstr(struct nm_writer *w, const char *key, const char *val)
{
	w->ops->str(w, key, strlen(key), val, strlen(val));
}

/* A fixed-size kernel char array: stops at the first NUL or at @cap. */
static inline void nm_w_kstr(struct nm_writer *w, const char *key, const char *val, size_t cap)
{
	w->ops->str(w, key, strlen(key), val, strnlen(val, cap));
}

static inline void nm_w_u64(struct nm_writer *w, const char *key, uint64_t v)
{
	w->ops->u64(w, key, strlen(key), v);
}

static inline void nm_w_i64(struct nm_writer *w, const char *key, int64_t v)
{
	w->ops->i64(w, key, strlen(key), v);
}

static inline void nm_w_bool(struct nm_writer *w, const char *key, bool v)
{
	w->ops->boolean(w, key, strlen(key), v);
}

static inline void nm_w_null(struct nm_writer *w, const char *key)
{
	w->ops->null(w, key, strlen(key));
}

/*
 * Kernel strings need not be UTF-8. Both encoders emit valid UTF-8: valid
 * sequences pass through, and each byte that is not part of one becomes the
 * code point of the same value (U+0080..U+00FF), so every byte is represented.
 * Returns the length of the valid UTF-8 sequence at @s (1..4), or 0 if the
 * byte at @s starts none.
 */
size_t nm_utf8_valid_seq(const uint8_t *s, size_t len);

#endif

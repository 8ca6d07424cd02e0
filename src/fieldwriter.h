/* fieldwriter.h - the programs' fields written straight as JSON or MessagePack bytes, else through any writer. */
#ifndef NM_FIELDWRITER_H
#define NM_FIELDWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "encode.h"
#include "writer.h"

/*
 * A writer operation costs an indirect call, the nesting checks and a key
 * copy of unknown length; most event fields are top-level fields of an
 * encoder's map with literal keys. Inlined here, a field is a room check,
 * the key as constant stores, and its value. The bytes are the encoders'
 * (tests/unit/test_golden.c holds them); any other writer gets the same
 * calls as before. Agent-internal: not part of the sink contract.
 */

enum nm_fw_mode {
	NM_FW_WRITER = 0, /* through w->ops */
	NM_FW_JSON,
	NM_FW_MSGPACK,
	NM_FW_LOST, /* out of memory: the buffer is marked, the rest is dropped */
};

struct nm_fw {
	struct nm_writer *w;
	uint8_t *p, *end; /* JSON, MessagePack: where the next byte goes, the end of the room */
	uint32_t n;	  /* fields not yet counted in w */
	uint8_t mode;	  /* enum nm_fw_mode */
	uint8_t comma;	  /* JSON: 1 once a field precedes */
};

/* Room for @need more bytes; false (and NM_FW_LOST) when out of memory. */
bool nm_fw_grow(struct nm_fw *f, size_t need);

#define NM_FW_HOT static inline __attribute__((always_inline))

/* Start writing top-level fields into @w. */
NM_FW_HOT void nm_fw_begin(struct nm_fw *f, struct nm_writer *w)
{
	f->w = w;
	f->p = f->end = NULL;
	f->n = 0;
	f->comma = 0;
	f->mode = NM_FW_WRITER;
	if (w->depth != 1 || w->in_array[0] || !w->out)
		return;
	if (w->ops == &nm_json_writer_ops)
		f->mode = NM_FW_JSON;
	else if (w->ops == &nm_msgpack_writer_ops)
		f->mode = NM_FW_MSGPACK;
	else
		return;
	if (nm_buf_reserve(w->out, 256)) {
		f->mode = NM_FW_LOST;
		return;
	}
	f->comma = w->count[0] > 0;
	f->p = w->out->data + w->out->len;
	f->end = w->out->data + w->out->cap;
}

/* Count the fields written in @w; @f is done. */
NM_FW_HOT void nm_fw_end(struct nm_fw *f)
{
	if (f->mode == NM_FW_JSON || f->mode == NM_FW_MSGPACK)
		f->w->out->len = (size_t)(f->p - f->w->out->data);
	if (f->mode != NM_FW_WRITER)
		f->w->count[0] += f->n;
	f->n = 0;
}

NM_FW_HOT bool nm_fw_room(struct nm_fw *f, size_t need)
{
	return __builtin_expect((size_t)(f->end - f->p) >= need, 1) || nm_fw_grow(f, need);
}

/* The key of the next field, then room for @need bytes of value; NULL when out of memory. */
NM_FW_HOT uint8_t *nm_fw_key(struct nm_fw *f, const char *key, size_t klen, size_t need)
{
	uint8_t *p;

	if (!nm_fw_room(f, klen + 5 + need))
		return NULL;
	p = f->p;
	f->n++;
	if (f->mode == NM_FW_JSON) {
		*p = ',';
		p += f->comma;
		f->comma = 1;
		*p++ = '"';
		memcpy(p, key, klen); /* literal keys: constant stores once inlined */
		p += klen;
		*p++ = '"';
		*p++ = ':';
		return p;
	}
	if (__builtin_expect(klen < 32, 1)) {
		*p++ = (uint8_t)(0xa0 | klen); /* fixstr */
	} else if (klen < 256) {
		*p++ = 0xd9;
		*p++ = (uint8_t)klen;
	} else if (klen < 65536) {
		*p++ = 0xda;
		*p++ = (uint8_t)(klen >> 8);
		*p++ = (uint8_t)klen;
	} else {
		*p++ = 0xdb;
		*p++ = (uint8_t)(klen >> 24);
		*p++ = (uint8_t)(klen >> 16);
		*p++ = (uint8_t)(klen >> 8);
		*p++ = (uint8_t)klen;
	}
	memcpy(p, key, klen);
	return p + klen;
}

/* Whether @f writes the bytes itself (else through the writer, or not at all when lost). */
NM_FW_HOT bool nm_fw_direct(const struct nm_fw *f)
{
	return f->mode == NM_FW_JSON || f->mode == NM_FW_MSGPACK;
}

NM_FW_HOT void nm_fw_u64(struct nm_fw *f, const char *key, uint64_t v)
{
	size_t klen = strlen(key);
	uint8_t *p;

	if (!nm_fw_direct(f)) {
		if (f->mode == NM_FW_WRITER)
			nm_w_u64(f->w, key, v);
		return;
	}
	if ((p = nm_fw_key(f, key, klen, 20)))
		f->p = f->mode == NM_FW_JSON ? nm_json_u64_at(p, v) : nm_mp_u64_at(p, v);
}

NM_FW_HOT void nm_fw_i64(struct nm_fw *f, const char *key, int64_t v)
{
	size_t klen = strlen(key);
	uint8_t *p;

	if (!nm_fw_direct(f)) {
		if (f->mode == NM_FW_WRITER)
			nm_w_i64(f->w, key, v);
		return;
	}
	if (!(p = nm_fw_key(f, key, klen, 21)))
		return;
	if (f->mode == NM_FW_MSGPACK) {
		f->p = nm_mp_i64_at(p, v);
	} else if (v < 0) {
		*p++ = '-';
		f->p = nm_json_u64_at(p, (uint64_t)0 - (uint64_t)v);
	} else {
		f->p = nm_json_u64_at(p, (uint64_t)v);
	}
}

NM_FW_HOT void nm_fw_null(struct nm_fw *f, const char *key)
{
	size_t klen = strlen(key);
	uint8_t *p;

	if (!nm_fw_direct(f)) {
		if (f->mode == NM_FW_WRITER)
			nm_w_null(f->w, key);
		return;
	}
	if (!(p = nm_fw_key(f, key, klen, 4)))
		return;
	if (f->mode == NM_FW_JSON) {
		memcpy(p, "null", 4);
		f->p = p + 4;
	} else {
		*p = 0xc0;
		f->p = p + 1;
	}
}

NM_FW_HOT void nm_fw_bool(struct nm_fw *f, const char *key, bool v)
{
	size_t klen = strlen(key);
	uint8_t *p;

	if (!nm_fw_direct(f)) {
		if (f->mode == NM_FW_WRITER)
			nm_w_bool(f->w, key, v);
		return;
	}
	if (!(p = nm_fw_key(f, key, klen, 5)))
		return;
	if (f->mode == NM_FW_MSGPACK) {
		*p = v ? 0xc3 : 0xc2;
		f->p = p + 1;
	} else if (v) {
		memcpy(p, "true", 4);
		f->p = p + 4;
	} else {
		memcpy(p, "false", 5);
		f->p = p + 5;
	}
}

NM_FW_HOT void nm_fw_str(struct nm_fw *f, const char *key, const char *val, size_t len)
{
	size_t klen = strlen(key);
	uint8_t *p;

	if (!nm_fw_direct(f)) {
		if (f->mode == NM_FW_WRITER)
			nm_w_str(f->w, key, val, len);
		return;
	}
	if (!(p = nm_fw_key(f, key, klen, NM_MP_STR_MAX(len) + 2)))
		return;
	if (f->mode == NM_FW_JSON) {
		*p++ = '"';
		p = nm_json_text_at(p, val, len);
		*p++ = '"';
		f->p = p;
	} else {
		f->p = nm_mp_str_at(p, val, len);
	}
}

NM_FW_HOT void nm_fw_cstr(struct nm_fw *f, const char *key, const char *val)
{
	nm_fw_str(f, key, val, strlen(val));
}

/* A fixed-size kernel char array: stops at the first NUL or at @cap. */
NM_FW_HOT void nm_fw_kstr(struct nm_fw *f, const char *key, const char *val, size_t cap)
{
	nm_fw_str(f, key, val, strnlen(val, cap));
}

#endif

/* encode.c - the JSON and MessagePack implementations of the field-writer interface. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "encode.h"
#include "fieldwriter.h"
#include "writer.h"

/* The per-field helpers: inlined into each writer operation, where most arguments are known. */
#define HOT NM_ENC_HOT

const char *nm_format_name(enum nm_format f)
{
	return f == NM_FORMAT_MSGPACK ? "msgpack" : "json";
}

size_t nm_utf8_valid_seq(const uint8_t *s, size_t len)
{
	uint8_t c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates and code points past U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Worst case output of nm_text_at() for @len input bytes: \u00XX for a control byte. */
#define TEXT_MAX(len) NM_TEXT_MAX(len)

/*
 * Write @len bytes of @s at @p as UTF-8, mapping stray bytes to U+0080..U+00FF,
 * JSON-escaped if @json. @p has room for TEXT_MAX(len). Returns the new end.
 */
uint8_t *nm_text_at(uint8_t *p, const uint8_t *s, size_t len, bool json)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t stop = json ? 1 : 2;
	size_t i = 0, n;

	while (i < len) {
		uint8_t c;

		/* the common case: plain ASCII, checked and copied 8 bytes at a time */
		while (i + 8 <= len && !nm_enc_needs_care(s + i)) {
			memcpy(p, s + i, 8);
			p += 8;
			i += 8;
		}
		while (i < len && nm_enc_special()[s[i]] < stop)
			*p++ = s[i++];
		if (i == len)
			break;
		c = s[i];
		if (c >= 0x80) {
			if ((n = nm_utf8_valid_seq(s + i, len - i))) {
				memcpy(p, s + i, n);
				p += n;
				i += n;
				continue;
			}
			*p++ = (uint8_t)(0xc0 | (c >> 6));
			*p++ = (uint8_t)(0x80 | (c & 0x3f));
		} else if (!json) {
			*p++ = c;
		} else if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = c;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			*p++ = '\\';
			*p++ = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else {
			memcpy(p, "\\u00", 4);
			p[4] = (uint8_t)hex[c >> 4];
			p[5] = (uint8_t)hex[c & 15];
			p += 6;
		}
		i++;
	}
	return p;
}

/* ---- nesting, shared by both encoders ------------------------------------ */

/*
 * The open container the next value goes into. A value outside any container,
 * a key inside an array, or no key inside a map is the caller's bug: flagged
 * in w->error, and written so that the bytes still parse.
 */
HOT uint32_t value_slot(struct nm_writer *w, const char **key, size_t *klen)
{
	uint32_t d = w->depth ? w->depth - 1 : 0;

	if (__builtin_expect(!w->depth || w->in_array[d] != !*key, 0))
		w->error = true;
	if (!*key) {
		*key = "";
		*klen = 0;
	}
	return d;
}

/* Where a container opened at the current position is tracked; false when too deep. */
static bool push(struct nm_writer *w, bool array)
{
	if (w->depth > NM_WRITER_DEPTH_MAX) {
		w->error = true;
		return false;
	}
	w->start[w->depth] = w->out ? w->out->len : 0;
	w->count[w->depth] = 0;
	w->in_array[w->depth] = array;
	w->depth++;
	return true;
}

/* The container being closed, or -1 when nothing is open (unbalanced). */
static int pop(struct nm_writer *w)
{
	if (!w->depth) {
		w->error = true;
		return -1;
	}
	return (int)--w->depth;
}

/* Room for @extra more bytes: the buffer grows only when an event is larger than any before. */
HOT bool room(struct nm_buf *b, size_t extra)
{
	return __builtin_expect(b->len + extra <= b->cap, 1) || !nm_buf_reserve(b, extra);
}

/* ---- JSON -------------------------------------------------------------- */

/*
 * Make room for a key and @value_max bytes of value; returns where to write,
 * after the key, or NULL (the buffer is marked oom).
 */
HOT uint8_t *json_key(struct nm_writer *w, const char *key, size_t klen, size_t value_max)
{
	struct nm_buf *b = w->out;
	uint32_t d = value_slot(w, &key, &klen);
	uint8_t *p;

	if (!room(b, klen + 4 + value_max))
		return NULL;
	p = b->data + b->len;
	if (w->count[d]++)
		*p++ = ',';
	if (w->in_array[d])
		return p; /* array elements have no key */
	*p++ = '"';
	nm_fw_copy(p, key, klen); /* keys are literals, never escaped */
	p += klen;
	*p++ = '"';
	*p++ = ':';
	return p;
}

HOT void json_done(struct nm_writer *w, uint8_t *p)
{
	w->out->len = (size_t)(p - w->out->data);
}

uint8_t *nm_json_reserve(struct nm_writer *w, size_t max)
{
	if (w->ops != &nm_json_writer_ops || w->depth != 1 || w->in_array[0] ||
	    !room(w->out, max + 1))
		return NULL;
	return w->out->data + w->out->len;
}

void nm_json_commit(struct nm_writer *w, uint8_t *end, uint32_t nfields)
{
	w->count[0] += nfields;
	json_done(w, end);
}

static void json_begin(struct nm_writer *w)
{
	w->depth = 0;
	w->error = false;
	push(w, false);
	nm_buf_putc(w->out, '{');
}

static void json_end(struct nm_writer *w)
{
	if (pop(w) != 0)
		w->error = true;
	nm_buf_putc(w->out, '}');
}

static void json_open(struct nm_writer *w, const char *key, size_t klen, bool array)
{
	uint8_t *p = json_key(w, key, klen, 1);

	if (p) {
		*p++ = array ? '[' : '{';
		json_done(w, p);
	}
	push(w, array); /* even out of memory, so that the closes still pair up */
}

static void json_begin_map(struct nm_writer *w, const char *key, size_t klen)
{
	json_open(w, key, klen, false);
}

static void json_begin_array(struct nm_writer *w, const char *key, size_t klen)
{
	json_open(w, key, klen, true);
}

static void json_end_nested(struct nm_writer *w)
{
	int d = pop(w);

	if (d <= 0) {
		w->error = true;
		return;
	}
	nm_buf_putc(w->out, w->in_array[d] ? ']' : '}');
}

static void json_str(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len)
{
	uint8_t *p = json_key(w, key, klen, TEXT_MAX(len) + 2);

	if (!p)
		return;
	*p++ = '"';
	p = nm_enc_text_at(p, (const uint8_t *)val, len, true);
	*p++ = '"';
	json_done(w, p);
}

static void json_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	uint8_t *p = json_key(w, key, klen, 20);

	if (p)
		json_done(w, nm_json_u64_at(p, v));
}

static void json_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	uint8_t *p = json_key(w, key, klen, 21);

	if (!p)
		return;
	if (v < 0) {
		*p++ = '-';
		p = nm_json_u64_at(p, (uint64_t)0 - (uint64_t)v);
	} else {
		p = nm_json_u64_at(p, (uint64_t)v);
	}
	json_done(w, p);
}

HOT void json_literal(struct nm_writer *w, const char *key, size_t klen, const char *lit, size_t n)
{
	uint8_t *p = json_key(w, key, klen, n);

	if (!p)
		return;
	memcpy(p, lit, n);
	json_done(w, p + n);
}

static void json_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
	if (v)
		json_literal(w, key, klen, "true", 4);
	else
		json_literal(w, key, klen, "false", 5);
}

static void json_null(struct nm_writer *w, const char *key, size_t klen)
{
	json_literal(w, key, klen, "null", 4);
}

static void json_double(struct nm_writer *w, const char *key, size_t klen, double v)
{
	char num[32];
	int n;

	if (!isfinite(v)) {
		json_literal(w, key, klen, "null", 4); /* JSON has no NaN or infinity */
		return;
	}
	/* not on the event path: only stats carry reals */
	n = snprintf(num, sizeof(num), "%.17g", v);
	json_literal(w, key, klen, num, (size_t)n);
}

const struct nm_writer_ops nm_json_writer_ops = {
	.begin = json_begin,
	.end = json_end,
	.str = json_str,
	.u64 = json_u64,
	.i64 = json_i64,
	.boolean = json_bool,
	.null = json_null,
	.dbl = json_double,
	.begin_map = json_begin_map,
	.begin_array = json_begin_array,
	.end_nested = json_end_nested,
};

/* ---- MessagePack ----------------------------------------------------------
 * Written byte by byte with the headers msgpack-c's packer would choose (the
 * smallest form; str8 for 32..255 bytes), so the bytes are the packer's.
 */

/* Make room for a key and @value_max bytes of value; returns where the value goes, or NULL. */
HOT uint8_t *mp_key(struct nm_writer *w, const char *key, size_t klen, size_t value_max)
{
	uint32_t d = value_slot(w, &key, &klen);
	uint8_t *p;

	w->count[d]++;
	if (!room(w->out, NM_MP_STR_HDR_MAX + klen + value_max))
		return NULL;
	p = w->out->data + w->out->len;
	if (w->in_array[d])
		return p; /* array elements have no key */
	p = nm_mp_str_hdr(p, klen);
	nm_fw_copy(p, key, klen);
	return p + klen;
}

HOT void mp_done(struct nm_writer *w, uint8_t *p)
{
	w->out->len = (size_t)(p - w->out->data);
}

#define MP_HDR32 5 /* map32/array32: the type byte, then the count big-endian */

/*
 * Fields are streamed, so a container's count is known only when it closes:
 * open it with a 32-bit header and patch the count in at the close.
 */
static void mp_open(struct nm_writer *w, bool array)
{
	if (!push(w, array) || !room(w->out, MP_HDR32))
		return;
	w->out->data[w->out->len] = array ? 0xdd : 0xdf;
	memset(w->out->data + w->out->len + 1, 0xff, 4);
	w->out->len += MP_HDR32;
}

static void mp_close(struct nm_writer *w, int d)
{
	if (d < 0 || w->out->oom || w->out->len < w->start[d] + MP_HDR32)
		return;
	nm_be32_at(w->out->data + w->start[d] + 1, w->count[d]);
}

static void mp_begin(struct nm_writer *w)
{
	w->depth = 0;
	w->error = false;
	mp_open(w, false);
}

static void mp_end(struct nm_writer *w)
{
	int d = pop(w);

	if (d != 0)
		w->error = true;
	mp_close(w, d);
}

static void mp_begin_nested(struct nm_writer *w, const char *key, size_t klen, bool array)
{
	uint8_t *p = mp_key(w, key, klen, 0);

	if (p)
		mp_done(w, p);
	mp_open(w, array);
}

static void mp_begin_map(struct nm_writer *w, const char *key, size_t klen)
{
	mp_begin_nested(w, key, klen, false);
}

static void mp_begin_array(struct nm_writer *w, const char *key, size_t klen)
{
	mp_begin_nested(w, key, klen, true);
}

static void mp_end_nested(struct nm_writer *w)
{
	int d = pop(w);

	if (d <= 0) {
		w->error = true;
		return;
	}
	mp_close(w, d);
}

static void mp_double(struct nm_writer *w, const char *key, size_t klen, double v)
{
	uint8_t *p = mp_key(w, key, klen, 9);
	uint64_t bits;

	if (!p)
		return;
	memcpy(&bits, &v, sizeof(bits));
	*p++ = 0xcb;
	mp_done(w, nm_be64_at(p, bits));
}

static void mp_str(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len)
{
	uint8_t *p = mp_key(w, key, klen, NM_MP_STR_HDR_MAX + TEXT_MAX(len));

	if (p)
		mp_done(w, nm_mp_str_at(p, (const uint8_t *)val, len));
}

uint8_t *nm_mp_reserve(struct nm_writer *w, size_t max)
{
	if (w->ops != &nm_msgpack_writer_ops || w->depth != 1 || w->in_array[0] ||
	    !room(w->out, max))
		return NULL;
	return w->out->data + w->out->len;
}

void nm_mp_commit(struct nm_writer *w, uint8_t *end, uint32_t nfields)
{
	w->count[0] += nfields;
	mp_done(w, end);
}

/* ---- the programs' direct field writer (fieldwriter.h) ------------------- */

bool nm_fw_grow(struct nm_fw *f, size_t need)
{
	struct nm_buf *b = f->w->out;

	b->len = (size_t)(f->p - b->data);
	if (nm_buf_reserve(b, need)) {
		f->mode = NM_FW_LOST;
		return false;
	}
	f->p = b->data + b->len;
	f->end = b->data + b->cap;
	return true;
}

static void mp_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	uint8_t *p = mp_key(w, key, klen, 9);

	if (p)
		mp_done(w, nm_mp_u64_at(p, v));
}

static void mp_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	uint8_t *p = mp_key(w, key, klen, 9);

	if (p)
		mp_done(w, nm_mp_i64_at(p, v));
}

static void mp_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
	uint8_t *p = mp_key(w, key, klen, 1);

	if (!p)
		return;
	*p++ = v ? 0xc3 : 0xc2;
	mp_done(w, p);
}

static void mp_null(struct nm_writer *w, const char *key, size_t klen)
{
	uint8_t *p = mp_key(w, key, klen, 1);

	if (!p)
		return;
	*p++ = 0xc0;
	mp_done(w, p);
}

const struct nm_writer_ops nm_msgpack_writer_ops = {
	.begin = mp_begin,
	.end = mp_end,
	.str = mp_str,
	.u64 = mp_u64,
	.i64 = mp_i64,
	.boolean = mp_bool,
	.null = mp_null,
	.dbl = mp_double,
	.begin_map = mp_begin_map,
	.begin_array = mp_begin_array,
	.end_nested = mp_end_nested,
};

void nm_writer_init(struct nm_writer *w, enum nm_format format, struct nm_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->ops = format == NM_FORMAT_MSGPACK ? &nm_msgpack_writer_ops : &nm_json_writer_ops;
	w->out = out;
}

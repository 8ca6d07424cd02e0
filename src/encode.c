/* encode.c - the JSON and MessagePack implementations of the field-writer interface. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <msgpack.h>

#include "writer.h"

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

/* Bytes that need more than a copy: 1 for JSON only ('"', '\\'), 2 for both (controls, >= 0x80). */
static const uint8_t special[256] = {
	[0 ... 0x1f] = 2,
	['"'] = 1,
	['\\'] = 1,
	[0x80 ... 0xff] = 2,
};

/*
 * Whether any of the 8 bytes at @s is special to either encoder: below 0x20,
 * 0x80 or above, '"' or '\\' (SWAR: one test per word instead of per byte).
 */
static inline bool needs_care(const uint8_t *s)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x, quote, slash;

	memcpy(&x, s, sizeof(x));
	quote = x ^ (ones * '"');
	slash = x ^ (ones * '\\');
	return ((x - ones * 0x20) | (quote - ones) | (slash - ones) | x) & highs;
}

/* Worst case output of text_at() for @len input bytes: \u00XX for a control byte. */
#define TEXT_MAX(len) ((len)*6)

/*
 * Write @len bytes of @s at @p as UTF-8, mapping stray bytes to U+0080..U+00FF,
 * JSON-escaped if @json. @p has room for TEXT_MAX(len). Returns the new end.
 */
static uint8_t *text_at(uint8_t *p, const uint8_t *s, size_t len, bool json)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t stop = json ? 1 : 2;
	size_t i = 0, n;

	while (i < len) {
		uint8_t c;

		/* the common case: plain ASCII, checked and copied 8 bytes at a time */
		while (i + 8 <= len && !needs_care(s + i)) {
			memcpy(p, s + i, 8);
			p += 8;
			i += 8;
		}
		while (i < len && special[s[i]] < stop)
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

static uint8_t *u64_at(uint8_t *p, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	char tmp[20];
	int n = 20;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		tmp[--n] = pairs[2 * r + 1];
		tmp[--n] = pairs[2 * r];
	}
	if (v >= 10) {
		tmp[--n] = pairs[2 * v + 1];
		tmp[--n] = pairs[2 * v];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(p, tmp + n, (size_t)(20 - n));
	return p + (20 - n);
}

/* ---- nesting, shared by both encoders ------------------------------------ */

/*
 * The open container the next value goes into. A value outside any container,
 * a key inside an array, or no key inside a map is the caller's bug: flagged
 * in w->error, and written so that the bytes still parse.
 */
static uint32_t value_slot(struct nm_writer *w, const char **key, size_t *klen)
{
	uint32_t d = w->depth ? w->depth - 1 : 0;

	if (!w->depth || w->in_array[d] != !*key)
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

/* ---- JSON -------------------------------------------------------------- */

/*
 * Make room for a key and @value_max bytes of value; returns where to write,
 * after the key, or NULL (the buffer is marked oom).
 */
static uint8_t *json_key(struct nm_writer *w, const char *key, size_t klen, size_t value_max)
{
	struct nm_buf *b = w->out;
	uint32_t d = value_slot(w, &key, &klen);
	uint8_t *p;

	if (nm_buf_reserve(b, klen + 4 + value_max))
		return NULL;
	p = b->data + b->len;
	if (w->count[d]++)
		*p++ = ',';
	if (w->in_array[d])
		return p; /* array elements have no key */
	*p++ = '"';
	memcpy(p, key, klen); /* keys are literals, never escaped */
	p += klen;
	*p++ = '"';
	*p++ = ':';
	return p;
}

static void json_done(struct nm_writer *w, uint8_t *p)
{
	if (p)
		w->out->len = (size_t)(p - w->out->data);
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
	p = text_at(p, (const uint8_t *)val, len, true);
	*p++ = '"';
	json_done(w, p);
}

static void json_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	uint8_t *p = json_key(w, key, klen, 20);

	if (p)
		json_done(w, u64_at(p, v));
}

static void json_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	uint8_t *p = json_key(w, key, klen, 21);

	if (!p)
		return;
	if (v < 0) {
		*p++ = '-';
		p = u64_at(p, (uint64_t)0 - (uint64_t)v);
	} else {
		p = u64_at(p, (uint64_t)v);
	}
	json_done(w, p);
}

static void json_literal(struct nm_writer *w, const char *key, size_t klen, const char *lit,
			 size_t n)
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

/* ---- MessagePack (msgpack-c packer over our buffer) --------------------- */

static int mp_write(void *data, const char *buf, size_t len)
{
	nm_buf_append(data, buf, len);
	return 0;
}

#define MP_PACKER(w) msgpack_packer pk = {.data = (w)->out, .callback = mp_write}

static void mp_key(struct nm_writer *w, msgpack_packer *pk, const char *key, size_t klen)
{
	uint32_t d = value_slot(w, &key, &klen);

	w->count[d]++;
	if (w->in_array[d])
		return; /* array elements have no key */
	msgpack_pack_str(pk, klen);
	msgpack_pack_str_body(pk, key, klen);
}

/*
 * Fields are streamed, so a container's count is known only when it closes:
 * open it with the packer's 32-bit header (a count past 65535 selects it) and
 * patch the count in at the close.
 */
static void mp_open(struct nm_writer *w, bool array)
{
	MP_PACKER(w);

	if (!push(w, array))
		return;
	if (array)
		msgpack_pack_array(&pk, UINT32_MAX);
	else
		msgpack_pack_map(&pk, UINT32_MAX);
}

#define MP_HDR32 5 /* map32/array32: the type byte, then the count big-endian */

static void mp_close(struct nm_writer *w, int d)
{
	uint32_t n;
	uint8_t *h;

	if (d < 0 || w->out->oom || w->out->len < w->start[d] + MP_HDR32)
		return;
	n = w->count[d];
	h = w->out->data + w->start[d] + 1;
	h[0] = n >> 24;
	h[1] = n >> 16;
	h[2] = n >> 8;
	h[3] = n;
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

static void mp_begin_map(struct nm_writer *w, const char *key, size_t klen)
{
	MP_PACKER(w);

	mp_key(w, &pk, key, klen);
	mp_open(w, false);
}

static void mp_begin_array(struct nm_writer *w, const char *key, size_t klen)
{
	MP_PACKER(w);

	mp_key(w, &pk, key, klen);
	mp_open(w, true);
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
	MP_PACKER(w);

	mp_key(w, &pk, key, klen);
	msgpack_pack_double(&pk, v);
}

static void mp_str(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len)
{
	MP_PACKER(w);
	size_t i, at;
	bool ascii = true;

	mp_key(w, &pk, key, klen);
	for (i = 0; i < len; i++) {
		if (special[(uint8_t)val[i]] == 2 && (uint8_t)val[i] >= 0x80) {
			ascii = false;
			break;
		}
	}
	if (ascii) {
		msgpack_pack_str(&pk, len);
		msgpack_pack_str_body(&pk, val, len);
		return;
	}
	/* Re-encode into UTF-8 first: the str header needs the final length. */
	msgpack_pack_str(&pk, 0xffffffff); /* str32 header, length patched below */
	at = w->out->len;
	if (!nm_buf_reserve(w->out, TEXT_MAX(len)))
		w->out->len =
			(size_t)(text_at(w->out->data + at, (const uint8_t *)val, len, false) -
				 w->out->data);
	if (!w->out->oom) {
		uint32_t n = (uint32_t)(w->out->len - at);
		uint8_t *h = w->out->data + at - 4;

		h[0] = n >> 24;
		h[1] = n >> 16;
		h[2] = n >> 8;
		h[3] = n;
	}
}

static void mp_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	MP_PACKER(w);

	mp_key(w, &pk, key, klen);
	msgpack_pack_uint64(&pk, v);
}

static void mp_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	MP_PACKER(w);

	mp_key(w, &pk, key, klen);
	msgpack_pack_int64(&pk, v);
}

static void mp_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
	MP_PACKER(w);

	mp_key(w, &pk, key, klen);
	if (v)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
}

static void mp_null(struct nm_writer *w, const char *key, size_t klen)
{
	MP_PACKER(w);

	mp_key(w, &pk, key, klen);
	msgpack_pack_nil(&pk);
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

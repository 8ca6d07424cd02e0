/* encode.h - the encoders' byte-level primitives, inlined wherever fields are written. */
#ifndef NM_ENCODE_H
#define NM_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "writer.h"

/*
 * Agent-internal (src/encode.c, src/event.c, src/programs/): not part of the
 * sink contract. Each writes at @p, which has room for what it says, and
 * returns the new end; the bytes are exactly those of the encoders' ops.
 */

#define NM_ENC_HOT static inline __attribute__((always_inline))

/*
 * Write @len bytes of @s at @p as UTF-8, mapping stray bytes to U+0080..U+00FF,
 * JSON-escaped if @json. @p has room for NM_TEXT_MAX(len). The general case,
 * out of line.
 */
uint8_t *nm_text_at(uint8_t *p, const uint8_t *s, size_t len, bool json);

/* Bytes that need more than a copy: 1 for JSON only ('"', '\\'), 2 for both (controls, >= 0x80). */
NM_ENC_HOT const uint8_t *nm_enc_special(void)
{
	static const uint8_t special[256] = {
		[0 ... 0x1f] = 2,
		['"'] = 1,
		['\\'] = 1,
		[0x80 ... 0xff] = 2,
	};

	return special;
}

/*
 * Whether any of the 8 bytes at @s is special to either encoder: below 0x20,
 * 0x80 or above, '"' or '\\' (SWAR: one test per word instead of per byte).
 */
NM_ENC_HOT bool nm_enc_needs_care(const uint8_t *s)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x, quote, slash;

	memcpy(&x, s, sizeof(x));
	quote = x ^ (ones * '"');
	slash = x ^ (ones * '\\');
	return ((x - ones * 0x20) | (quote - ones) | (slash - ones) | x) & highs;
}

/* Whether any of the 4 bytes at @s is special to either encoder: nm_enc_needs_care() on half a word. */
NM_ENC_HOT bool nm_enc_needs_care4(const uint8_t *s)
{
	const uint32_t ones = 0x01010101u, highs = 0x80808080u;
	uint32_t x, quote, slash;

	memcpy(&x, s, sizeof(x));
	quote = x ^ (ones * '"');
	slash = x ^ (ones * '\\');
	return ((x - ones * 0x20) | (quote - ones) | (slash - ones) | x) & highs;
}

/* Copy @n bytes, few enough to be a key, an address or a short string, without a call to memcpy. */
NM_ENC_HOT void nm_fw_copy(uint8_t *p, const void *src, size_t n)
{
	const uint8_t *s = src;

	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8)
			memcpy(p + i, s + i, 8);
		memcpy(p + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(p, s, 4);
		memcpy(p + n - 4, s + n - 4, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			p[i] = s[i];
	}
}

/*
 * nm_text_at() for strings that are usually plain: whole words are checked and
 * copied, the tail as one overlapping word, so a short clean string costs a
 * few instructions and no call. Anything special goes to nm_text_at() from the
 * word it is in, whose output for the plain bytes before it is the same copy.
 */
NM_ENC_HOT uint8_t *nm_enc_text_at(uint8_t *p, const uint8_t *s, size_t len, bool json)
{
	size_t i = 0;

	if (len >= 8) {
		for (; i + 8 <= len; i += 8) {
			if (nm_enc_needs_care(s + i))
				goto slow;
			memcpy(p + i, s + i, 8);
		}
		if (i == len)
			return p + len;
		if (nm_enc_needs_care(s + len - 8))
			goto slow;
		memcpy(p + len - 8, s + len - 8, 8);
		return p + len;
	}
	if (len >= 4) {
		if (nm_enc_needs_care4(s) || nm_enc_needs_care4(s + len - 4))
			goto slow;
		memcpy(p, s, 4);
		memcpy(p + len - 4, s + len - 4, 4);
		return p + len;
	}
	for (; i < len; i++) {
		if (nm_enc_special()[s[i]])
			goto slow;
		p[i] = s[i];
	}
	return p + len;
slow:
	return nm_text_at(p + i, s + i, len - i, json);
}

/* "00".."99" */
/* @len bytes of @s JSON-escaped, no quotes (room: NM_TEXT_MAX(len)). */
NM_ENC_HOT uint8_t *nm_json_text_at(uint8_t *p, const char *s, size_t len)
{
	return nm_enc_text_at(p, (const uint8_t *)s, len, true);
}

/* "00".."99" */
NM_ENC_HOT const char *nm_enc_pairs(void)
{
	return "00010203040506070809101112131415161718192021222324"
	       "25262728293031323334353637383940414243444546474849"
	       "50515253545556575859606162636465666768697071727374"
	       "75767778798081828384858687888990919293949596979899";
}

/* Decimal digits of @v >= 10: the bit length gives log10 within one. */
NM_ENC_HOT unsigned nm_enc_dec_len(uint64_t v)
{
	static const uint64_t pow10[20] = {
		1ULL,
		10ULL,
		100ULL,
		1000ULL,
		10000ULL,
		100000ULL,
		1000000ULL,
		10000000ULL,
		100000000ULL,
		1000000000ULL,
		10000000000ULL,
		100000000000ULL,
		1000000000000ULL,
		10000000000000ULL,
		100000000000000ULL,
		1000000000000000ULL,
		10000000000000000ULL,
		100000000000000000ULL,
		1000000000000000000ULL,
		10000000000000000000ULL,
	};
	unsigned t = ((64 - (unsigned)__builtin_clzll(v)) * 1233) >> 12;

	return t + (v >= pow10[t]);
}

/* Exactly 8 digits of @v < 10^8 at @p, leading zeros included. */
NM_ENC_HOT void nm_enc_dec8_at(uint8_t *p, uint32_t v)
{
	uint32_t hi = v / 10000, lo = v % 10000;

	memcpy(p, nm_enc_pairs() + 2 * (hi / 100), 2);
	memcpy(p + 2, nm_enc_pairs() + 2 * (hi % 100), 2);
	memcpy(p + 4, nm_enc_pairs() + 2 * (lo / 100), 2);
	memcpy(p + 6, nm_enc_pairs() + 2 * (lo % 100), 2);
}

/* @v < 10^8 in decimal at @p, written from its last digit backwards, two at a time. */
NM_ENC_HOT uint8_t *nm_enc_dec_small_at(uint8_t *p, uint32_t v)
{
	uint8_t *end, *q;

	if (v < 10) {
		*p = (uint8_t)('0' + v);
		return p + 1;
	}
	end = q = p + nm_enc_dec_len(v);
	while (v >= 100) {
		unsigned r = v % 100;

		v /= 100;
		q -= 2;
		memcpy(q, nm_enc_pairs() + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(q - 2, nm_enc_pairs() + 2 * v, 2);
	else
		q[-1] = (uint8_t)('0' + v);
	return end;
}

/* @v in decimal at @p: the leading digits, then blocks of eight (timestamps have 19). */
NM_ENC_HOT uint8_t *nm_json_u64_at(uint8_t *p, uint64_t v)
{
	uint32_t low, mid;

	if (v < 100000000)
		return nm_enc_dec_small_at(p, (uint32_t)v);
	low = (uint32_t)(v % 100000000);
	v /= 100000000;
	if (v < 100000000) {
		p = nm_enc_dec_small_at(p, (uint32_t)v);
	} else {
		mid = (uint32_t)(v % 100000000);
		p = nm_enc_dec_small_at(p, (uint32_t)(v / 100000000));
		nm_enc_dec8_at(p, mid);
		p += 8;
	}
	nm_enc_dec8_at(p, low);
	return p + 8;
}

NM_ENC_HOT uint8_t *nm_be16_at(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

NM_ENC_HOT uint8_t *nm_be32_at(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

NM_ENC_HOT uint8_t *nm_be64_at(uint8_t *p, uint64_t v)
{
	nm_be32_at(p, (uint32_t)(v >> 32));
	return nm_be32_at(p + 4, (uint32_t)v);
}

#define NM_MP_STR_HDR_MAX 5

NM_ENC_HOT uint8_t *nm_mp_str_hdr(uint8_t *p, size_t len)
{
	if (len < 32) {
		*p++ = (uint8_t)(0xa0 | len);
	} else if (len < 256) {
		*p++ = 0xd9;
		*p++ = (uint8_t)len;
	} else if (len < 65536) {
		*p++ = 0xda;
		p = nm_be16_at(p, (uint16_t)len);
	} else {
		*p++ = 0xdb;
		p = nm_be32_at(p, (uint32_t)len);
	}
	return p;
}

NM_ENC_HOT uint8_t *nm_mp_u64_at(uint8_t *p, uint64_t v)
{
	if (v < 0x80) {
		*p++ = (uint8_t)v;
	} else if (v < 0x100) {
		*p++ = 0xcc;
		*p++ = (uint8_t)v;
	} else if (v < 0x10000) {
		*p++ = 0xcd;
		p = nm_be16_at(p, (uint16_t)v);
	} else if (v <= UINT32_MAX) {
		*p++ = 0xce;
		p = nm_be32_at(p, (uint32_t)v);
	} else {
		*p++ = 0xcf;
		p = nm_be64_at(p, v);
	}
	return p;
}

NM_ENC_HOT uint8_t *nm_mp_i64_at(uint8_t *p, int64_t v)
{
	if (v >= -32)
		return v < 0x80 ? (*p = (uint8_t)v, p + 1) : nm_mp_u64_at(p, (uint64_t)v);
	if (v >= -128) {
		*p++ = 0xd0;
		*p++ = (uint8_t)v;
	} else if (v >= -32768) {
		*p++ = 0xd1;
		p = nm_be16_at(p, (uint16_t)v);
	} else if (v >= INT32_MIN) {
		*p++ = 0xd2;
		p = nm_be32_at(p, (uint32_t)v);
	} else {
		*p++ = 0xd3;
		p = nm_be64_at(p, (uint64_t)v);
	}
	return p;
}

/*
 * A string's header and bytes at @p, which has room for NM_MP_STR_HDR_MAX +
 * NM_TEXT_MAX(len): ASCII (every byte below 0x80) under its exact length, else
 * re-encoded into UTF-8 first under a str32 header patched after.
 */
NM_ENC_HOT uint8_t *nm_mp_str_at(uint8_t *p, const void *src, size_t len)
{
	const uint8_t *s = src;
	uint8_t *at;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t x;

		memcpy(&x, s + i, 8);
		if (x & 0x8080808080808080ULL)
			break;
	}
	while (i < len && s[i] < 0x80)
		i++;
	if (i == len) {
		p = nm_mp_str_hdr(p, len);
		nm_fw_copy(p, s, len);
		return p + len;
	}
	*p++ = 0xdb;
	at = p + 4;
	p = nm_text_at(at, s, len, false);
	nm_be32_at(at - 4, (uint32_t)(p - at));
	return p;
}

#endif

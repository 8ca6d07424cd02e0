/* buf.h - a growable byte buffer, reused across events so the hot path rarely allocates. */
#ifndef NM_BUF_H
#define NM_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct nm_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int oom; /* an append failed: the content is incomplete */
};

static inline int nm_buf_reserve(struct nm_buf *b, size_t extra)
{
	size_t want = b->len + extra;
	size_t cap = b->cap ? b->cap : 256;
	uint8_t *p;

	if (want <= b->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static inline void nm_buf_append(struct nm_buf *b, const void *src, size_t n)
{
	if (nm_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, src, n);
	b->len += n;
}

static inline void nm_buf_putc(struct nm_buf *b, uint8_t c)
{
	if (b->len == b->cap && nm_buf_reserve(b, 1))
		return;
	b->data[b->len++] = c;
}

static inline void nm_buf_reset(struct nm_buf *b)
{
	b->len = 0;
	b->oom = 0;
}

static inline void nm_buf_free(struct nm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

#endif

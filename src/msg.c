/* msg.c - builds the shared encoded-event allocation. */
#include <string.h>

#include "msg.h"

struct nm_msg *nm_msg_new(const struct nm_event *ev, struct nm_buf *const enc[NM_FORMAT_COUNT],
			  unsigned refs)
{
	size_t total = 0, at = 0;
	struct nm_msg *m;
	int f;

	for (f = 0; f < NM_FORMAT_COUNT; f++)
		if (enc[f])
			total += enc[f]->len;
	m = malloc(sizeof(*m) + total);
	if (!m)
		return NULL;
	atomic_init(&m->refs, refs);
	memcpy(&m->event, ev, sizeof(*ev));
	for (f = 0; f < NM_FORMAT_COUNT; f++) {
		m->len[f] = enc[f] ? (uint32_t)enc[f]->len : 0;
		m->data[f] = m->bytes + at;
		if (enc[f]) {
			memcpy(m->bytes + at, enc[f]->data, enc[f]->len);
			at += enc[f]->len;
		}
	}
	return m;
}

/* msg.h - an encoded event shared by every sink: one allocation, reference counted. */
#ifndef NM_MSG_H
#define NM_MSG_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"
#include "writer.h"

struct nm_msg {
	atomic_uint refs;
	uint32_t len[NM_FORMAT_COUNT]; /* 0 when that format is not in use */
	uint8_t *data[NM_FORMAT_COUNT];
	struct nm_event event;
	uint8_t bytes[];
};

/*
 * Copy @ev and the encodings in @enc (NULL where a format is not in use) into
 * one allocation holding @refs references. NULL on allocation failure.
 */
struct nm_msg *nm_msg_new(const struct nm_event *ev, struct nm_buf *const enc[NM_FORMAT_COUNT],
			  unsigned refs);

static inline void nm_msg_unref(struct nm_msg *m)
{
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		free(m);
}

#endif

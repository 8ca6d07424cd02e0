/* msg.c - builds the shared message allocation, for live events and for replayed records. */
#include <string.h>

#include "msg.h"
#include "program.h"

void nm_msg_encode(const struct nm_event *ev, unsigned enc, struct nm_buf *out)
{
	if (nm_encoding_schema(enc) == NM_SCHEMA_NATIVE)
		nm_event_encode(ev, nm_encoding_format(enc), out);
	else
		nm_siem_encode(nm_encoding_schema(enc), nm_event_write_fields, ev,
			       nm_encoding_format(enc), out);
}

struct nm_msg *nm_msg_new(const struct nm_event *ev, struct nm_buf *const enc[NM_FORMAT_COUNT],
			  unsigned refs)
{
	struct nm_buf *all[NM_ENCODING_COUNT] = {NULL};

	for (int f = 0; f < NM_FORMAT_COUNT; f++)
		all[nm_encoding(f, NM_SCHEMA_NATIVE)] = enc[f];
	return nm_msg_new_enc(ev, all, refs);
}

struct nm_msg *nm_msg_new_enc(const struct nm_event *ev,
			      struct nm_buf *const enc[NM_ENCODING_COUNT], unsigned refs)
{
	size_t total = 0, at = 0;
	struct nm_msg *m;
	int f;

	for (f = 0; f < NM_ENCODING_COUNT; f++)
		if (enc[f])
			total += enc[f]->len;
	m = malloc(sizeof(*m) + total);
	if (!m)
		return NULL;
	atomic_init(&m->refs, refs);
	memcpy(&m->event, ev, sizeof(*ev));
	m->type = ev->type->name;
	m->write_fields = nm_event_write_fields;
	m->fields_ctx = &m->event;
	for (f = 0; f < NM_ENCODING_COUNT; f++) {
		m->len[f] = enc[f] ? (uint32_t)enc[f]->len : 0;
		m->data[f] = m->bytes + at;
		if (enc[f]) {
			memcpy(m->bytes + at, enc[f]->data, enc[f]->len);
			at += enc[f]->len;
		}
	}
	return m;
}

struct nm_msg *nm_msg_new_stored(const char *type, size_t type_len, const uint8_t *fields,
				 size_t fields_len, unsigned enc, const uint8_t *data,
				 size_t data_len,
				 void (*write_fields)(const void *ctx, struct nm_writer *w))
{
	bool shared = data == fields && data_len == fields_len;
	struct nm_msg *m = malloc(sizeof(*m) + type_len + 1 + fields_len + (shared ? 0 : data_len));
	uint8_t *p;

	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	atomic_init(&m->refs, 1);
	p = m->bytes;
	memcpy(p, fields, fields_len);
	m->stored = (struct nm_msg_fields){p, (uint32_t)fields_len};
	p += fields_len;
	if (!shared) {
		memcpy(p, data, data_len);
		m->data[enc] = p;
		p += data_len;
	} else {
		m->data[enc] = (uint8_t *)m->stored.data;
	}
	m->len[enc] = (uint32_t)data_len;
	memcpy(p, type, type_len);
	p[type_len] = '\0';
	m->type = (const char *)p;
	m->write_fields = write_fields;
	m->fields_ctx = &m->stored;
	return m;
}

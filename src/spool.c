/* spool.c - a spool record (the event as encoded, its encoding, type, fields) and its replay. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>

#include "spool.h"

#define RECORD_VERSION 2
#define TYPE_MAX       255 /* a type name: a program's name, or "loss" */
#define KEY_MAX	       255 /* a field name; ours are short snake_case literals */

/* The record's encoding is MessagePack: it is the fields map too, stored once. */
#define REC_DATA_IS_FIELDS 0x01

/*
 * A record body: this head, then the type name, the fields (a MessagePack
 * map; absent with REC_DATA_IS_FIELDS) and the encoded event. Host byte order:
 * a spool is replayed by the machine that wrote it.
 */
struct record_head {
	uint8_t version; /* RECORD_VERSION; version 1 bodies are not read */
	uint8_t format;	 /* enum nm_format of the encoded event */
	uint8_t flags;
	uint8_t type_len;
	uint8_t schema; /* enum nm_schema of the encoded event; 0 (native) in older records */
	uint8_t reserved[3];
	uint32_t fields_len;
	uint32_t data_len;
};
_Static_assert(sizeof(struct record_head) == 16, "record head is 16 bytes on disk");

struct nm_spool {
	struct nm_segstore *store;
	uint64_t not_records;  /* checksum fine, but not a record we can read */
	struct nm_buf fields;  /* append: a JSON sink's event as MessagePack */
	struct nm_buf convert; /* read: a record re-encoded in the sink's format */
	msgpack_unpacked parsed;
};

struct nm_spool *nm_spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct nm_spool *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->store = nm_segstore_open(dir, max_bytes, err, errlen);
	if (!s->store) {
		free(s);
		return NULL;
	}
	msgpack_unpacked_init(&s->parsed);
	return s;
}

void nm_spool_close(struct nm_spool *s)
{
	if (!s)
		return;
	nm_segstore_close(s->store);
	msgpack_unpacked_destroy(&s->parsed);
	nm_buf_free(&s->fields);
	nm_buf_free(&s->convert);
	free(s);
}

int nm_spool_append(struct nm_spool *s, const struct nm_msg *m, unsigned enc, bool front)
{
	struct record_head head = {.version = RECORD_VERSION,
				   .format = (uint8_t)nm_encoding_format(enc),
				   .schema = (uint8_t)nm_encoding_schema(enc)};
	size_t type_len = strlen(m->type);
	const uint8_t *fields = NULL;
	struct iovec iov[4];

	if (!type_len || type_len > TYPE_MAX || enc >= NM_ENCODING_COUNT)
		return -EINVAL;
	if (enc == nm_encoding(NM_FORMAT_MSGPACK, NM_SCHEMA_NATIVE)) {
		head.flags = REC_DATA_IS_FIELDS;
	} else if (m->len[NM_FORMAT_MSGPACK]) {
		/* Another sink wants MessagePack: the pipeline encoded it already. */
		fields = m->data[NM_FORMAT_MSGPACK];
		head.fields_len = m->len[NM_FORMAT_MSGPACK];
	} else {
		struct nm_writer w;

		nm_buf_reset(&s->fields);
		nm_writer_init(&w, NM_FORMAT_MSGPACK, &s->fields);
		m->write_fields(m->fields_ctx, &w);
		if (s->fields.oom)
			return -ENOMEM;
		if (w.error)
			return -EINVAL;
		fields = s->fields.data;
		head.fields_len = (uint32_t)s->fields.len;
	}
	head.type_len = (uint8_t)type_len;
	head.data_len = m->len[enc];
	iov[0] = (struct iovec){&head, sizeof(head)};
	iov[1] = (struct iovec){(void *)m->type, type_len};
	iov[2] = (struct iovec){(void *)fields, head.fields_len};
	iov[3] = (struct iovec){m->data[enc], head.data_len};
	return nm_segstore_append(s->store, iov, 4, front);
}

/* ---- replay: the stored MessagePack map, walked into any writer ---------------- */

static void walk_value(const msgpack_object *v, const char *key, size_t klen, struct nm_writer *w,
		       unsigned depth);

/*
 * A key the writers can take as it is: they never escape keys (ours are
 * literals), so a stored key with a NUL, a quote or a control byte (a record
 * with a valid checksum we did not write) would break the JSON it is put in.
 */
static bool plain_key(const char *k, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (k[i] < 0x20 || k[i] > 0x7e || k[i] == '"' || k[i] == '\\')
			return false;
	return true;
}

/* The entries of @map with string keys, each key NUL-terminated as writers expect. */
static void walk_entries(const msgpack_object_map *map, struct nm_writer *w, unsigned depth)
{
	for (uint32_t i = 0; i < map->size; i++) {
		const msgpack_object_kv *kv = &map->ptr[i];
		char key[KEY_MAX + 1];
		uint32_t klen;

		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size > KEY_MAX ||
		    !plain_key(kv->key.via.str.ptr, kv->key.via.str.size))
			continue; /* never written by our encoder */
		klen = kv->key.via.str.size;
		if (klen) /* an empty string may have no pointer at all */
			memcpy(key, kv->key.via.str.ptr, klen);
		key[klen] = '\0';
		walk_value(&kv->val, key, klen, w, depth);
	}
}

static void walk_value(const msgpack_object *v, const char *key, size_t klen, struct nm_writer *w,
		       unsigned depth)
{
	switch (v->type) {
	case MSGPACK_OBJECT_NIL:
		w->ops->null(w, key, klen);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		w->ops->boolean(w, key, klen, v->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		w->ops->u64(w, key, klen, v->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		w->ops->i64(w, key, klen, v->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		w->ops->dbl(w, key, klen, v->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		w->ops->str(w, key, klen, v->via.str.size ? v->via.str.ptr : "", v->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		w->ops->str(w, key, klen, v->via.bin.size ? v->via.bin.ptr : "", v->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		if (depth >= NM_WRITER_DEPTH_MAX)
			break;
		w->ops->begin_array(w, key, klen);
		for (uint32_t i = 0; i < v->via.array.size; i++)
			walk_value(&v->via.array.ptr[i], NULL, 0, w, depth + 1);
		w->ops->end_nested(w);
		break;
	case MSGPACK_OBJECT_MAP:
		if (depth >= NM_WRITER_DEPTH_MAX)
			break;
		w->ops->begin_map(w, key, klen);
		walk_entries(&v->via.map, w, depth + 1);
		w->ops->end_nested(w);
		break;
	default:
		break; /* ext: never written by our encoder */
	}
}

/* Write the top-level map @top as one document into @w. */
static void walk_document(const msgpack_object *top, struct nm_writer *w)
{
	nm_w_begin(w);
	if (top->type == MSGPACK_OBJECT_MAP)
		walk_entries(&top->via.map, w, 0);
	nm_w_end(w);
}

/*
 * Parse @len bytes at @data as exactly one MessagePack map into @out. msgpack-c
 * allocates the parsed objects in @out's zone.
 */
static bool parse_map(msgpack_unpacked *out, const uint8_t *data, size_t len)
{
	size_t off = 0;

	return msgpack_unpack_next(out, (const char *)data, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	       off == len && out->data.type == MSGPACK_OBJECT_MAP;
}

/* A replayed message's field walk (struct nm_sink_msg): any thread, any number of times. */
static void stored_write_fields(const void *ctx, struct nm_writer *w)
{
	const struct nm_msg_fields *f = ctx;
	msgpack_unpacked parsed;

	msgpack_unpacked_init(&parsed);
	if (parse_map(&parsed, f->data, f->len)) {
		walk_document(&parsed.data, w);
	} else {
		/* Checked when the record was read: only out of memory gets here. */
		nm_w_begin(w);
		nm_w_end(w);
		w->error = true;
	}
	msgpack_unpacked_destroy(&parsed);
}

/* Rebuild a message from a record body; -EINVAL when it is not a record, -ENOMEM. */
static int decode_record(struct nm_spool *s, const uint8_t *body, size_t len, unsigned enc,
			 struct nm_msg **out)
{
	struct record_head head;
	const uint8_t *type, *fields, *data;
	size_t data_len;

	if (len < sizeof(head) || enc >= NM_ENCODING_COUNT)
		return -EINVAL;
	memcpy(&head, body, sizeof(head));
	if (head.version != RECORD_VERSION || head.format >= NM_FORMAT_COUNT ||
	    head.schema >= NM_SCHEMA_COUNT || !head.type_len ||
	    sizeof(head) + head.type_len + (uint64_t)head.fields_len + head.data_len != len)
		return -EINVAL;
	type = body + sizeof(head);
	fields = type + head.type_len;
	data = fields + head.fields_len;
	data_len = head.data_len;
	if (memchr(type, '\0', head.type_len))
		return -EINVAL;
	if (head.flags & REC_DATA_IS_FIELDS) {
		if (head.format != NM_FORMAT_MSGPACK || head.schema != NM_SCHEMA_NATIVE ||
		    head.fields_len)
			return -EINVAL;
		fields = data;
		head.fields_len = head.data_len;
	}
	if (!parse_map(&s->parsed, fields, head.fields_len))
		return -EINVAL;
	if (nm_encoding(head.format, head.schema) != enc) {
		/*
		 * Written in another format or schema (config changed between runs):
		 * encode it anew from its native fields, as the live event was.
		 */
		struct nm_msg_fields native = {fields, head.fields_len};
		struct nm_writer w;

		nm_buf_reset(&s->convert);
		nm_writer_init(&w, nm_encoding_format(enc), &s->convert);
		if (nm_encoding_schema(enc) == NM_SCHEMA_NATIVE)
			walk_document(&s->parsed.data, &w);
		else
			nm_siem_write(nm_encoding_schema(enc), stored_write_fields, &native, &w);
		if (s->convert.oom)
			return -ENOMEM;
		if (w.error)
			return -EINVAL;
		data = s->convert.data;
		data_len = s->convert.len;
	}
	*out = nm_msg_new_stored((const char *)type, head.type_len, fields, head.fields_len, enc,
				 data, data_len, stored_write_fields);
	return *out ? 0 : -ENOMEM;
}

int nm_spool_read(struct nm_spool *s, unsigned enc, struct nm_msg **m, nm_spool_pos *pos,
		  uint64_t *corrupt)
{
	const uint8_t *body;
	size_t len;

	*m = NULL;
	while (nm_segstore_next(s->store, &body, &len, pos, corrupt)) {
		int rc = decode_record(s, body, len, enc, m);

		if (rc != -EINVAL)
			return rc ? rc : 1;
		/* Checksum fine but not a record of ours (an older layout, a bug): corrupt. */
		s->not_records++;
		(*corrupt)++;
	}
	return 0;
}

void nm_spool_ack(struct nm_spool *s, nm_spool_pos pos)
{
	nm_segstore_ack(s->store, pos);
}

void nm_spool_tick(struct nm_spool *s)
{
	nm_segstore_tick(s->store);
}

void nm_spool_set_durable(struct nm_spool *s)
{
	nm_segstore_set_durable(s->store);
}

int nm_spool_sync(struct nm_spool *s)
{
	return nm_segstore_sync(s->store);
}

uint64_t nm_spool_unread(const struct nm_spool *s)
{
	return nm_segstore_unread(s->store);
}

void nm_spool_get_stats(const struct nm_spool *s, struct nm_segstore_stats *st)
{
	nm_segstore_get_stats(s->store, st);
	st->corrupt += s->not_records;
}

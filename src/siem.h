/* siem.h - the SIEM schemas a sink may ask for: ECS 8.11 and OCSF 1.1, mapped from native fields. */
#ifndef NM_SIEM_H
#define NM_SIEM_H

#include "writer.h"

enum nm_schema {
	NM_SCHEMA_NATIVE = 0, /* the agent's own flat documents (docs/schema.md) */
	NM_SCHEMA_ECS,	      /* Elastic Common Schema, nested objects */
	NM_SCHEMA_OCSF,	      /* OCSF Network Activity (4001); Base Event for loss reports */
	NM_SCHEMA_COUNT,
};

#define NM_ECS_VERSION	"8.11.0"
#define NM_OCSF_VERSION "1.1.0"

/* "native", "ecs", "ocsf", NULL: the choices of the sink key `schema`. */
extern const char *const nm_schema_names[NM_SCHEMA_COUNT + 1];

/* Writes an event's native document, one map, into @w (nm_event_write_fields, a replay walk). */
typedef void (*nm_fields_fn)(const void *ctx, struct nm_writer *w);

/*
 * Write the document of @schema for the event whose native document @native
 * writes from @ctx. The mapping reads native fields only, so a live event and
 * one replayed from a spool (its stored MessagePack fields) map alike; native
 * fields the schema has no place for go under `ebpf_netmon` (ECS) or
 * `unmapped` (OCSF). Any thread; nothing is allocated.
 */
void nm_siem_write(enum nm_schema schema, nm_fields_fn native, const void *ctx,
		   struct nm_writer *w);

/* The same, encoded in @format into @out (reset first). */
void nm_siem_encode(enum nm_schema schema, nm_fields_fn native, const void *ctx,
		    enum nm_format format, struct nm_buf *out);

#endif

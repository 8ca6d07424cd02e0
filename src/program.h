/* program.h - a monitoring program: BPF object, ring, counters, and its user-space half. */
#ifndef NM_PROGRAM_H
#define NM_PROGRAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "schema.h"

struct bpf_object;
struct bpf_link;
struct nm_filter;
struct nm_program;

/* Keys every program takes, whatever its own options. */
struct nm_program_common_config {
	bool enabled;
	long long ring_size;
	long long wakeup_bytes;
	struct nm_filter *filter; /* `filter = { ... }` (src/filter.h), owned; NULL: none */
};

/*
 * What a program's user-space half (src/programs/NAME.c) provides. It knows
 * its record layout and its fields, never formats or sinks.
 */
struct nm_program_type {
	const char *name;
	const char *description;
	uint16_t record_type; /* enum nm_record_type */
	uint32_t record_size; /* exact nm_record_hdr.len expected */
	/* Bytes of nm_event.body that decode fills, the part the store keeps; 0: all of it. */
	uint32_t body_size;

	/* Attaches classic tracepoints, which need tracefs mounted (the agent mounts it). */
	bool needs_tracefs;
	/* "enabled" when the configuration does not say; the built-in default says this too. */
	bool enabled_by_default;
	/* `ring_size` when the configuration does not say, from the program's event rate; 0: 2 MiB. */
	uint32_t ring_size;
	/* Control API routes GET /api/LIST_ROUTE and /api/SUMMARY_ROUTE; NULL = none. */
	const char *list_route;	   /* e.g. "list-connections" */
	const char *summary_route; /* e.g. "connection-summary" */

	/* Program-specific config keys; parsed into a struct of config_size bytes. */
	const struct nm_option *options;
	size_t config_size;

	/* Open the skeleton and apply @config (borrowed) to .rodata; set p->obj. */
	int (*open)(struct nm_program *p, const void *config, char *err, size_t errlen);
	/*
	 * Check a parsed config (borrowed) against this host beyond what the option
	 * table can, so --check-config refuses what a load would. Optional.
	 */
	int (*validate)(const void *config, char *err, size_t errlen);
	/* After load: fill maps. Optional. */
	int (*loaded)(struct nm_program *p, const void *config, char *err, size_t errlen);
	/* Fill ev->body (and the common task fields are already set) from a checked record. */
	int (*decode)(struct nm_program *p, const void *record, struct nm_event *ev);
	/* Write the program's own fields. */
	void (*write_fields)(const struct nm_event *ev, struct nm_writer *w);
	void (*close)(struct nm_program *p);
	/*
	 * Drop reason names (as in drop_reason, or the kernel's enum name) to
	 * their codes, for the filter's drop_reasons; NULL: the program has none.
	 * 0, or -EINVAL with the first unknown name in @err.
	 */
	int (*resolve_reasons)(const char *const *names, size_t n, uint32_t *codes, char *err,
			       size_t errlen);
};

/*
 * A loaded instance. Attaching is generic: tracepoints, tp_btf and the like
 * attach from their section names; cgroup programs (e.g. cgroup/sendmsg4)
 * attach to the root of the cgroup v2 hierarchy found in /proc/self/mountinfo.
 */
struct nm_program {
	const struct nm_program_type *type;
	void *skel;		 /* owned by the program's open/close */
	void *priv;		 /* the program's own state */
	void *reader_ctx;	 /* set by whoever drains its ring */
	struct bpf_object *obj;	 /* borrowed from skel */
	struct bpf_link **links; /* owned; one per BPF program in obj while attached */
	size_t nlinks;
	pthread_mutex_t lock; /* serializes attach/detach against readers of the state */
	bool loaded;
	bool attached;
	struct nm_filter *filter; /* in force; owned, under lock; NULL: none */
	uint64_t *filter_state;	  /* nm_filter_state, in state_map */
	void *state_map;	  /* the object's .bss, mapped shared with the kernel; owned */
	size_t state_map_len;
	atomic_uint_fast64_t decoded;	    /* records turned into events */
	atomic_uint_fast64_t decode_errors; /* records refused (length, version, type) */
};

struct nm_program_counters {
	uint64_t emitted;
	uint64_t ring_full;
	uint64_t read_error;
	uint64_t suppressed; /* repeats aggregated in the kernel by design, not a loss */
	uint64_t filtered;   /* refused by the program's filter, not a loss */
};

/* The registry: every program type compiled in, NULL-terminated. */
extern const struct nm_program_type *const nm_program_types[];
const struct nm_program_type *nm_program_type_find(const char *name);

/*
 * Open and load @type with @common and @config (both borrowed). Returns a
 * program or NULL with the reason in @err.
 */
struct nm_program *nm_program_load(const struct nm_program_type *type,
				   const struct nm_program_common_config *common,
				   const void *config, char *err, size_t errlen);
int nm_program_attach(struct nm_program *p);
void nm_program_detach(struct nm_program *p);
void nm_program_destroy(struct nm_program *p);

/*
 * Make @f (borrowed; NULL or empty: none) the filter of the loaded program @p,
 * at any time while it runs: an event sees the old filter or the new one,
 * never a mix (src/filter.h nm_filter_apply). 0, or a negative errno with
 * @err set, the old filter still in force.
 */
int nm_program_set_filter(struct nm_program *p, const struct nm_filter *f, char *err,
			  size_t errlen);
/* The filter in force as keys of @w's open map (none for no filter). */
void nm_program_write_filter(struct nm_program *p, struct nm_writer *w);

/* The ring buffer map's fd, for the reader. */
int nm_program_ring_fd(const struct nm_program *p);
/* Sum of the per-CPU kernel counters. */
int nm_program_read_counters(const struct nm_program *p, struct nm_program_counters *out);

/*
 * Check a raw ring record (length, version, type) and decode it into @ev.
 * Returns 0, or -EBADMSG (counted in p->decode_errors).
 */
int nm_program_decode(struct nm_program *p, const void *data, size_t size, struct nm_event *ev);

#endif

/* reload.h - hot reload: re-read the config file, refuse it whole or apply it without a gap. */
#ifndef NM_RELOAD_H
#define NM_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pipeline.h"

struct nm_reload;
struct nm_store;

/* How a reload ended, for the log and for POST /api/reload. */
struct nm_reload_result {
	/*
	 * 0 applied; -ENOENT no file to re-read (the built-in default runs);
	 * -EINVAL refused: invalid, or a key that cannot change at run time;
	 * -ETIMEDOUT the reader thread did not get to it; other: could not apply.
	 * Whatever the failure, the running configuration stays as it was.
	 */
	int status;
	uint64_t generation; /* the running configuration's, after the attempt */
	char errors[4096];   /* one "file:line: message" per line */
	char warnings[1024];
	unsigned sinks_added, sinks_removed, sinks_changed, sinks_unchanged;
	unsigned programs_enabled, programs_disabled;
};

struct nm_reload_info {
	uint64_t generation;  /* 1 at start, +1 per applied reload */
	int64_t loaded_at_ns; /* CLOCK_REALTIME when it was read */
	uint64_t applied;
	uint64_t refused;   /* refused or failed: the running one stayed */
	bool reloadable;    /* started with -c: there is a file to re-read */
	const char *source; /* the running configuration's file, valid until destroy */
};

/*
 * Reloads of @pipeline from @path (NULL: the built-in default, nothing to
 * re-read). Takes @cfg, the running configuration, and keeps every one it
 * applies until destroyed: running parts borrow from them. With
 * @log_level_from_config a reload applies log_level too (not when -v or -q
 * set it). NULL when out of memory or when @path has no absolute name.
 */
struct nm_reload *nm_reload_create(const char *path, struct nm_config *cfg,
				   struct nm_pipeline *pipeline, bool log_level_from_config);
/* Frees every configuration it kept: after the pipeline and control are gone. Accepts NULL. */
void nm_reload_destroy(struct nm_reload *r);
/* The running configuration; on the reader thread (others: nm_reload_get_info). */
const struct nm_config *nm_reload_config(const struct nm_reload *r);
/* The event store, so that store.capacity can change (the control server owns it). */
void nm_reload_set_store(struct nm_reload *r, struct nm_store *store);

/* On the reader thread: re-read the file and apply it, or refuse it. 0 or res->status. */
int nm_reload_apply(struct nm_reload *r, struct nm_reload_result *res);
/* On the reader thread, once per loop: serve what nm_reload_request asked for. */
void nm_reload_serve(struct nm_reload *r);
/* Before the control server stops: requests waiting now or later end with -ECANCELED. */
void nm_reload_close(struct nm_reload *r);
/*
 * On any other thread: have the reader thread reload, and wait (at most 60 s)
 * for its result. 0 or res->status.
 */
int nm_reload_request(struct nm_reload *r, struct nm_reload_result *res);

void nm_reload_get_info(struct nm_reload *r, struct nm_reload_info *info);

#endif

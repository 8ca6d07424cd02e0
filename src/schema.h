/* schema.h - declarative config keys: programs and sinks describe their options as tables. */
#ifndef NM_SCHEMA_H
#define NM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "../sinks/sink.h" /* struct nm_option: sinks declare their keys too */

struct config_setting_t;

/* Set every option of @opts in @base to its default. */
int nm_options_defaults(const struct nm_option *opts, void *base, char *err, size_t errlen);

/*
 * Apply the members of @group to @base. A member named in @skip (NULL-
 * terminated, may be NULL) is left to the caller; any other member that is
 * not in @opts, or has the wrong type or range, is an error reported as
 * "file:line: message" in @err.
 */
int nm_options_parse(const struct nm_option *opts, void *base, const struct config_setting_t *group,
		     const char *const *skip, char *err, size_t errlen);

/* Free what the options of @opts own in @base. */
void nm_options_free(const struct nm_option *opts, void *base);

/* "file:line: " for a setting, for callers' own messages. */
int nm_setting_where(const struct config_setting_t *s, char *buf, size_t len);

#endif

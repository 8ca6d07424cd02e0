/* schema.h - declarative config keys: programs and sinks describe their options as tables. */
#ifndef NM_SCHEMA_H
#define NM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "../sinks/sink.h" /* struct nm_option: sinks declare their keys too */

struct config_setting_t;
struct config_t;

/* Largest configuration file (with each include) read, in bytes. */
#define NM_CONFIG_MAX_BYTES (16u << 20)

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

/*
 * Re-read every integer of @cf as written in @text (what was parsed from
 * memory; included files are read by name) and attach it to its setting, so
 * nm_options_parse sees 64-bit values and reports them as the user wrote them.
 * Keep the result until the settings are no longer parsed; NULL with "file:line:
 * message" (or "out of memory") in @err.
 */
struct nm_int_literals *nm_int_literals_attach(struct config_t *cf, const char *text, char *err,
					       size_t errlen);
void nm_int_literals_free(struct nm_int_literals *l);

/* "file:line: " for a setting, for callers' own messages. */
int nm_setting_where(const struct config_setting_t *s, char *buf, size_t len);
/* Prefix @err, a bare message (e.g. from a validate hook), with the location of @s. */
void nm_setting_locate(const struct config_setting_t *s, char *err, size_t errlen);

#endif

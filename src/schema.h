/* schema.h - declarative config keys: programs and sinks describe their options as tables. */
#ifndef NM_SCHEMA_H
#define NM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

struct config_setting_t;

enum nm_option_type {
	NM_OPT_BOOL = 1, /* bool */
	NM_OPT_INT,	 /* long long, within [min, max] */
	NM_OPT_STRING,	 /* char *, owned by the config */
	NM_OPT_STRINGS,	 /* struct nm_strings: a list or array of strings */
	NM_OPT_ENUM,	 /* int: index into choices */
};

struct nm_strings {
	char **v;
	size_t n;
};

struct nm_option {
	const char *name;
	enum nm_option_type type;
	size_t offset;
	const char *def; /* default as config text: "true", "1024", "json", "a,b"; NULL = empty */
	long long min;
	long long max;
	const char *const *choices; /* NM_OPT_ENUM, NULL-terminated */
	const char *help;
};

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

/* schema.c - applies declarative option tables to libconfig groups, with file:line errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconfig.h>

#include "schema.h"

#define FIELD(base, opt, type) ((type *)((char *)(base) + (opt)->offset))

int nm_setting_where(const config_setting_t *s, char *buf, size_t len)
{
	const char *file = config_setting_source_file(s);

	return snprintf(buf, len, "%s:%u: ", file ? file : "<config>", config_setting_source_line(s));
}

static void strings_free(struct nm_strings *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int strings_push(struct nm_strings *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	if (!(v[l->n] = strdup(s)))
		return -ENOMEM;
	l->n++;
	return 0;
}

static int enum_index(const struct nm_option *o, const char *s)
{
	for (int i = 0; o->choices[i]; i++)
		if (!strcmp(o->choices[i], s))
			return i;
	return -1;
}

static void choices_text(const struct nm_option *o, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; o->choices[i] && at < len; i++)
		at += snprintf(buf + at, len - at, "%s\"%s\"", i ? ", " : "", o->choices[i]);
}

int nm_options_defaults(const struct nm_option *opts, void *base, char *err, size_t errlen)
{
	for (const struct nm_option *o = opts; o && o->name; o++) {
		const char *d = o->def;

		switch (o->type) {
		case NM_OPT_BOOL:
			*FIELD(base, o, bool) = d && !strcmp(d, "true");
			break;
		case NM_OPT_INT:
			*FIELD(base, o, long long) = d ? strtoll(d, NULL, 0) : 0;
			break;
		case NM_OPT_STRING:
			free(*FIELD(base, o, char *));
			*FIELD(base, o, char *) = d ? strdup(d) : NULL;
			if (d && !*FIELD(base, o, char *))
				return -ENOMEM;
			break;
		case NM_OPT_STRINGS: {
			struct nm_strings *l = FIELD(base, o, struct nm_strings);
			char *copy, *tok, *save = NULL;

			strings_free(l);
			if (!d)
				break;
			if (!(copy = strdup(d)))
				return -ENOMEM;
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (strings_push(l, tok)) {
					free(copy);
					return -ENOMEM;
				}
			}
			free(copy);
			break;
		}
		case NM_OPT_ENUM:
			*FIELD(base, o, int) = d ? enum_index(o, d) : 0;
			break;
		}
	}
	(void)err;
	(void)errlen;
	return 0;
}

static const struct nm_option *find_option(const struct nm_option *opts, const char *name)
{
	for (const struct nm_option *o = opts; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static bool skipped(const char *const *skip, const char *name)
{
	for (; skip && *skip; skip++)
		if (!strcmp(*skip, name))
			return true;
	return false;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		int __n = nm_setting_where(s, err, errlen);                                        \
		if (__n >= 0 && (size_t)__n < errlen)                                              \
			snprintf(err + __n, errlen - __n, __VA_ARGS__);                            \
		return -EINVAL;                                                                    \
	} while (0)

static int apply_one(const struct nm_option *o, void *base, const config_setting_t *s, char *err,
		     size_t errlen)
{
	int t = config_setting_type(s);
	const char *name = config_setting_name(s);

	switch (o->type) {
	case NM_OPT_BOOL:
		if (t != CONFIG_TYPE_BOOL)
			FAIL("'%s' must be true or false", name);
		*FIELD(base, o, bool) = config_setting_get_bool(s);
		return 0;
	case NM_OPT_INT: {
		long long v;

		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			FAIL("'%s' must be an integer", name);
		v = config_setting_get_int64(s);
		if (v < o->min || v > o->max)
			FAIL("'%s' = %lld is out of range [%lld, %lld]", name, v, o->min, o->max);
		*FIELD(base, o, long long) = v;
		return 0;
	}
	case NM_OPT_STRING: {
		char *copy;

		if (t != CONFIG_TYPE_STRING)
			FAIL("'%s' must be a string", name);
		if (!(copy = strdup(config_setting_get_string(s))))
			return -ENOMEM;
		free(*FIELD(base, o, char *));
		*FIELD(base, o, char *) = copy;
		return 0;
	}
	case NM_OPT_STRINGS: {
		struct nm_strings *l = FIELD(base, o, struct nm_strings);

		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
			FAIL("'%s' must be a list of strings, like [ \"a\", \"b\" ]", name);
		strings_free(l);
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e = config_setting_get_elem(s, i);

			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				FAIL("'%s' must be a list of strings, like [ \"a\", \"b\" ]", name);
			if (strings_push(l, config_setting_get_string(e)))
				return -ENOMEM;
		}
		return 0;
	}
	case NM_OPT_ENUM: {
		char choices[256];
		int idx;

		choices_text(o, choices, sizeof(choices));
		if (t != CONFIG_TYPE_STRING)
			FAIL("'%s' must be one of %s", name, choices);
		idx = enum_index(o, config_setting_get_string(s));
		if (idx < 0)
			FAIL("'%s' = \"%s\" is not one of %s", name, config_setting_get_string(s),
			     choices);
		*FIELD(base, o, int) = idx;
		return 0;
	}
	}
	return -EINVAL;
}

int nm_options_parse(const struct nm_option *opts, void *base, const config_setting_t *group,
		     const char *const *skip, char *err, size_t errlen)
{
	int rc;

	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, i);
		const char *name = config_setting_name(s);
		const struct nm_option *o;

		if (!name || skipped(skip, name))
			continue;
		o = find_option(opts, name);
		if (!o)
			FAIL("unknown key '%s'", name);
		rc = apply_one(o, base, s, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void nm_options_free(const struct nm_option *opts, void *base)
{
	for (const struct nm_option *o = opts; o && o->name; o++) {
		if (o->type == NM_OPT_STRING) {
			free(*FIELD(base, o, char *));
			*FIELD(base, o, char *) = NULL;
		} else if (o->type == NM_OPT_STRINGS) {
			strings_free(FIELD(base, o, struct nm_strings));
		}
	}
}

/* schema.c - applies declarative option tables to libconfig groups, with file:line errors. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconfig.h>

#include "schema.h"

#define FIELD(base, opt, type) ((type *)((char *)(base) + (opt)->offset))

int nm_setting_where(const config_setting_t *s, char *buf, size_t len)
{
	const char *file = config_setting_source_file(s);

	/* Settings of text read from memory have no file; the loader names it on the root. */
	if (!file && s->config)
		file = config_setting_get_hook(config_root_setting(s->config));
	return snprintf(buf, len, "%s:%u: ", file ? file : "<config>",
			config_setting_source_line(s));
}

void nm_setting_locate(const config_setting_t *s, char *err, size_t errlen)
{
	char msg[512];
	int n;

	snprintf(msg, sizeof(msg), "%s", err);
	n = nm_setting_where(s, err, errlen);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - n, "%s", msg);
}

/* ---- integers as written ----------------------------------------------------------------- */

/*
 * libconfig 1.5 reads an integer without the L suffix with atoi(), so
 * 4294967306 arrives as 10. The literals are read again from the text: every
 * integer token becomes exactly one setting, in token order, so the n-th
 * integer setting (depth first) from a source is its n-th integer token.
 * Each match is checked against the value libconfig made of that token.
 */
struct int_literal {
	long long value;   /* as written */
	long long stored;  /* what libconfig 1.5 made of it: atoi, strtoul, atoll, strtoull */
	bool out_of_range; /* as written, beyond 64 bits */
	char text[40];	   /* as written, cut with "..." when longer */
};

struct int_source {
	const char *file; /* borrowed from libconfig; NULL = the text read from memory */
	struct int_literal *lits;
	size_t n, next;
};

struct nm_int_literals {
	struct int_source *sources;
	size_t nsources;
};

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '*';
}

static void read_literal(const char *tok, size_t len, struct int_literal *lit)
{
	bool neg = tok[0] == '-', hex, wide = tok[len - 1] == 'L';
	const char *d = tok + (tok[0] == '-' || tok[0] == '+');
	unsigned long long mag = 0;
	char copy[len + 1];

	memcpy(copy, tok, len);
	copy[len] = '\0';
	snprintf(lit->text, sizeof(lit->text), "%s", copy);
	if (len >= sizeof(lit->text))
		memcpy(lit->text + sizeof(lit->text) - 4, "...", 4);
	hex = d[0] == '0' && (d[1] == 'x' || d[1] == 'X');
	for (const char *p = hex ? d + 2 : d; p < tok + len && *p != 'L'; p++) {
		unsigned digit =
			*p <= '9' ? (unsigned)(*p - '0') : (unsigned)((*p | 0x20) - 'a' + 10);

		if (__builtin_mul_overflow(mag, hex ? 16u : 10u, &mag) ||
		    __builtin_add_overflow(mag, digit, &mag))
			lit->out_of_range = true;
	}
	if (mag > (unsigned long long)LLONG_MAX + neg)
		lit->out_of_range = true;
	lit->value = neg ? (long long)(0 - mag) : (long long)mag;
	if (hex)
		lit->stored =
			wide ? (long long)strtoull(copy, NULL, 16) : (int)strtoul(copy, NULL, 16);
	else
		lit->stored = wide ? strtoll(copy, NULL, 10) : (int)strtol(copy, NULL, 10);
}

/* The integer tokens of libconfig text, in order. */
static int scan_literals(const char *t, struct int_source *src)
{
	size_t cap = 0;

	while (*t) {
		const char *start = t;
		bool num;

		if (*t == '#' || (t[0] == '/' && t[1] == '/') || *t == '@') {
			t += strcspn(t,
				     "\n"); /* comments, and @include: its file is its own source */
			continue;
		}
		if (t[0] == '/' && t[1] == '*') {
			const char *e = strstr(t + 2, "*/");

			t = e ? e + 2 : t + strlen(t);
			continue;
		}
		if (*t == '"') {
			for (t++; *t && *t != '"'; t++)
				if (*t == '\\' && t[1])
					t++;
			t += *t == '"';
			continue;
		}
		if ((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') || *t == '*') {
			while (name_char(*t))
				t++;
			continue;
		}
		num = (*t >= '0' && *t <= '9') || *t == '.' ||
		      ((*t == '-' || *t == '+') && ((t[1] >= '0' && t[1] <= '9') || t[1] == '.'));
		if (!num) {
			t++;
			continue;
		}
		{
			bool hex, real = false;
			const char *d;

			t += *t == '-' || *t == '+';
			d = t;
			hex = d[0] == '0' && (d[1] == 'x' || d[1] == 'X');
			t += hex ? 2 : 0;
			for (;; t++) {
				if ((*t >= '0' && *t <= '9') ||
				    (hex && *t && strchr("abcdefABCDEF", *t)))
					continue;
				if (!hex && *t == '.') {
					real = true;
					continue;
				}
				if (!hex && (*t == 'e' || *t == 'E')) {
					real = true;
					t += t[1] == '-' || t[1] == '+';
					continue;
				}
				break;
			}
			while (*t == 'L')
				t++;
			if (real)
				continue;
		}
		if (src->n == cap) {
			struct int_literal *v;

			cap = cap ? cap * 2 : 16;
			v = realloc(src->lits, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			src->lits = v;
		}
		src->lits[src->n] = (struct int_literal){0};
		read_literal(start, (size_t)(t - start), &src->lits[src->n]);
		src->n++;
	}
	return 0;
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
			for (tok = strtok_r(copy, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
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

/* A whole included file, NUL-terminated; NULL when it cannot be read (then nothing matches). */
static char *read_source(const char *file)
{
	FILE *f = fopen(file, "re");
	char *text = NULL;
	size_t len = 0, n;
	char chunk[4096];

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *grown = len + n < NM_CONFIG_MAX_BYTES ? realloc(text, len + n + 1) : NULL;

		if (!grown) {
			free(text);
			text = NULL;
			break;
		}
		text = grown;
		memcpy(text + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (text)
		text[len] = '\0';
	return text;
}

static struct int_source *source_of(struct nm_int_literals *l, const char *file, const char *text)
{
	struct int_source *v;
	char *owned = NULL;
	int rc;

	for (size_t i = 0; i < l->nsources; i++)
		if (file == l->sources[i].file ||
		    (file && l->sources[i].file && !strcmp(file, l->sources[i].file)))
			return &l->sources[i];
	v = realloc(l->sources, (l->nsources + 1) * sizeof(*v));
	if (!v)
		return NULL;
	l->sources = v;
	v = &l->sources[l->nsources++];
	*v = (struct int_source){.file = file};
	if (file && !(text = owned = read_source(file)))
		return v;
	rc = scan_literals(text, v);
	free(owned);
	return rc ? NULL : v;
}

static int attach_walk(struct nm_int_literals *l, config_setting_t *s, const char *text, char *err,
		       size_t errlen)
{
	int t = config_setting_type(s);
	struct int_source *src;
	struct int_literal *lit;

	if (t == CONFIG_TYPE_GROUP || t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY) {
		for (int i = 0; i < config_setting_length(s); i++) {
			int rc = attach_walk(l, config_setting_get_elem(s, i), text, err, errlen);

			if (rc)
				return rc;
		}
		return 0;
	}
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return 0;
	src = source_of(l, config_setting_source_file(s), text);
	if (!src)
		return -ENOMEM;
	/* a file included twice yields its tokens twice */
	lit = src->n ? &src->lits[src->next++ % src->n] : NULL;
	if (!lit || lit->stored != config_setting_get_int64(s)) {
		int n = nm_setting_where(s, err, errlen);

		if (n >= 0 && (size_t)n < errlen)
			snprintf(
				err + n, errlen - n,
				"cannot read this integer as written (did the file change while it "
				"was read?)");
		return -EINVAL;
	}
	config_setting_set_hook(s, lit);
	return 0;
}

struct nm_int_literals *nm_int_literals_attach(struct config_t *cf, const char *text, char *err,
					       size_t errlen)
{
	struct nm_int_literals *l = calloc(1, sizeof(*l));
	int rc;

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = attach_walk(l, config_root_setting(cf), text, err, errlen);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		nm_int_literals_free(l);
		return NULL;
	}
	return l;
}

void nm_int_literals_free(struct nm_int_literals *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nsources; i++)
		free(l->sources[i].lits);
	free(l->sources);
	free(l);
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
		const struct int_literal *lit;
		long long v;

		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			FAIL("'%s' must be an integer", name);
		lit = config_setting_get_hook(s);
		v = lit ? lit->value : config_setting_get_int64(s);
		if ((lit && lit->out_of_range) || v < o->min || v > o->max) {
			char as_written[40];

			if (lit)
				snprintf(as_written, sizeof(as_written), "%s", lit->text);
			else
				snprintf(as_written, sizeof(as_written), "%lld", v);
			FAIL("'%s' = %s is out of range [%lld, %lld]", name, as_written, o->min,
			     o->max);
		}
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

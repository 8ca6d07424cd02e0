/* template.c - compiles and renders topic/key templates; sanitizes attacker-controlled values. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

#define MAX_PARTS 16
#define MAX_VARS  8

enum part_kind { PART_LITERAL, PART_VAR };

struct part {
	enum part_kind kind;
	char *text;   /* literal text, or the variable's name */
	bool is_type; /* PART_VAR ${type}: the message's type, never walked for */
	bool is_host; /* PART_VAR ${host}: the message's host when it has one, else walked for */
	int var;      /* PART_VAR but ${type}: index into the capture */
};

struct nm_template {
	enum nm_tpl_kind kind;
	char *prefix;
	struct part parts[MAX_PARTS];
	int nparts;
	const char *vars[MAX_VARS]; /* event fields wanted, borrowed from parts */
	int nvars;
};

static size_t kind_max(enum nm_tpl_kind kind)
{
	return kind == NM_TPL_KAFKA_TOPIC ? 249 : NM_TPL_OUT_MAX;
}

static bool kafka_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* MQTT: printable ASCII without the separator and wildcards; the broker wants UTF-8 anyway. */
static bool mqtt_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '/' && c != '+' && c != '#';
}

static bool alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int check_literal(const char *s, size_t n, enum nm_tpl_kind kind, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (kind == NM_TPL_KAFKA_TOPIC && !kafka_char(c)) {
			snprintf(err, errlen,
				 "Kafka topic text may only use letters, digits, '.', '_' and '-' "
				 "(found '%c')",
				 c);
			return -EINVAL;
		}
		if (kind == NM_TPL_MQTT_TOPIC && (c == '+' || c == '#' || c < 0x20 || c == 0x7f)) {
			snprintf(err, errlen,
				 "MQTT topic text may not contain '+', '#' or control "
				 "characters");
			return -EINVAL;
		}
	}
	return 0;
}

int nm_topic_check(const char *topic, enum nm_tpl_kind kind, char *err, size_t errlen)
{
	size_t n = strlen(topic);

	if (!n) {
		snprintf(err, errlen, "empty topic");
		return -EINVAL;
	}
	if (n > kind_max(kind)) {
		snprintf(err, errlen, "topic longer than %zu bytes", kind_max(kind));
		return -EINVAL;
	}
	if (kind == NM_TPL_MQTT_TOPIC && topic[0] == '$') {
		snprintf(err, errlen, "MQTT topics starting with '$' are reserved for the broker");
		return -EINVAL;
	}
	if (kind == NM_TPL_KAFKA_TOPIC && (!strcmp(topic, ".") || !strcmp(topic, ".."))) {
		snprintf(err, errlen, "'.' and '..' are not Kafka topic names");
		return -EINVAL;
	}
	return check_literal(topic, n, kind, err, errlen);
}

static int add_part(struct nm_template *t, enum part_kind kind, const char *s, size_t n, char *err,
		    size_t errlen)
{
	struct part *p;

	if (t->nparts == MAX_PARTS) {
		snprintf(err, errlen, "template has more than %d parts", MAX_PARTS);
		return -EINVAL;
	}
	p = &t->parts[t->nparts];
	p->kind = kind;
	p->text = strndup(s, n);
	if (!p->text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->nparts++;
	if (kind == PART_LITERAL)
		return check_literal(s, n, t->kind, err, errlen);
	p->is_type = !strcmp(p->text, "type");
	if (p->is_type)
		return 0;
	p->is_host = !strcmp(p->text, "host");
	for (int i = 0; i < t->nvars; i++) {
		if (!strcmp(t->vars[i], p->text)) {
			p->var = i;
			return 0;
		}
	}
	if (t->nvars == MAX_VARS) {
		snprintf(err, errlen, "template uses more than %d distinct event fields", MAX_VARS);
		return -EINVAL;
	}
	p->var = t->nvars;
	t->vars[t->nvars++] = p->text;
	return 0;
}

static bool ident_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

struct nm_template *nm_template_new(const char *text, enum nm_tpl_kind kind, char *err,
				    size_t errlen)
{
	struct nm_template *t = calloc(1, sizeof(*t));
	const char *s = text, *lit = text;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->kind = kind;
	while (*s) {
		const char *name, *end;

		if (s[0] != '$' || s[1] != '{') {
			s++;
			continue;
		}
		if (s > lit && add_part(t, PART_LITERAL, lit, (size_t)(s - lit), err, errlen))
			goto fail;
		name = s + 2;
		for (end = name; ident_char(*end, end == name); end++)
			;
		if (*end != '}' || end == name) {
			snprintf(err, errlen,
				 "bad variable at \"%.20s\": use ${field}, e.g. ${host}", s);
			goto fail;
		}
		if (add_part(t, PART_VAR, name, (size_t)(end - name), err, errlen))
			goto fail;
		s = lit = end + 1;
	}
	if (s > lit && add_part(t, PART_LITERAL, lit, (size_t)(s - lit), err, errlen))
		goto fail;
	if (!t->nparts && kind != NM_TPL_KAFKA_KEY) {
		snprintf(err, errlen, "empty topic");
		goto fail;
	}
	t->prefix = strdup(t->nparts && t->parts[0].kind == PART_LITERAL ? t->parts[0].text : "");
	if (!t->prefix) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (kind != NM_TPL_KAFKA_KEY) {
		/* Literal text first, so no event can pick a topic outside the operator's tree. */
		if (!t->prefix[0]) {
			snprintf(err, errlen,
				 "topic \"%s\" must start with literal text, e.g. "
				 "\"netmon/${type}\"",
				 text);
			goto fail;
		}
		if (kind == NM_TPL_MQTT_TOPIC && t->prefix[0] == '$') {
			snprintf(err, errlen, "MQTT topics starting with '$' are reserved");
			goto fail;
		}
	}
	return t;
fail:
	nm_template_free(t);
	return NULL;
}

void nm_template_free(struct nm_template *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nparts; i++)
		free(t->parts[i].text);
	free(t->prefix);
	free(t);
}

const char *nm_template_prefix(const struct nm_template *t)
{
	return t->prefix;
}

bool nm_template_is_static(const struct nm_template *t)
{
	return t->nparts <= 1 && (!t->nparts || t->parts[0].kind == PART_LITERAL);
}

/* ---- capturing program fields through the writer interface ---------------- */

struct capture {
	struct nm_writer w; /* first: the ops get this pointer */
	const struct nm_template *t;
	char val[MAX_VARS][NM_TPL_VALUE_MAX + 1];
	size_t len[MAX_VARS];
	bool found[MAX_VARS];
};

/* The capture slot @key fills, or -1: most fields of a walk are not wanted, so ask first. */
static int capture_slot(struct nm_writer *w, const char *key)
{
	struct capture *c = (struct capture *)w;

	if (w->depth)
		return -1; /* only top-level fields are template values */
	for (int i = 0; i < c->t->nvars; i++)
		if (!c->found[i] && !strcmp(c->t->vars[i], key))
			return i;
	return -1;
}

static void cap_set(struct nm_writer *w, int i, const char *val, size_t len)
{
	struct capture *c = (struct capture *)w;

	if (len > NM_TPL_VALUE_MAX)
		len = NM_TPL_VALUE_MAX;
	memcpy(c->val[i], val, len);
	c->len[i] = len;
	c->found[i] = true;
}

static void cap_nop(struct nm_writer *w)
{
}

/* Nested values are never template values: capture_slot skips them by depth. */
static void cap_open(struct nm_writer *w, const char *key, size_t klen)
{
	w->depth++;
}

static void cap_close(struct nm_writer *w)
{
	if (w->depth)
		w->depth--;
}

static void cap_str(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len)
{
	int i = capture_slot(w, key);

	if (i >= 0)
		cap_set(w, i, val, len);
}

static void cap_u64(struct nm_writer *w, const char *key, size_t klen, uint64_t v)
{
	int i = capture_slot(w, key);
	char b[24];

	if (i >= 0)
		cap_set(w, i, b, (size_t)snprintf(b, sizeof(b), "%" PRIu64, v));
}

static void cap_i64(struct nm_writer *w, const char *key, size_t klen, int64_t v)
{
	int i = capture_slot(w, key);
	char b[24];

	if (i >= 0)
		cap_set(w, i, b, (size_t)snprintf(b, sizeof(b), "%" PRId64, v));
}

static void cap_bool(struct nm_writer *w, const char *key, size_t klen, bool v)
{
	int i = capture_slot(w, key);

	if (i >= 0)
		cap_set(w, i, v ? "true" : "false", v ? 4 : 5);
}

static void cap_null(struct nm_writer *w, const char *key, size_t klen)
{
	/* A null value is a missing one: left unfound. */
}

static void cap_double(struct nm_writer *w, const char *key, size_t klen, double v)
{
	int i = capture_slot(w, key);
	char b[32];

	if (i >= 0)
		cap_set(w, i, b, (size_t)snprintf(b, sizeof(b), "%.17g", v));
}

static const struct nm_writer_ops capture_ops = {
	.begin = cap_nop,
	.end = cap_nop,
	.str = cap_str,
	.u64 = cap_u64,
	.i64 = cap_i64,
	.boolean = cap_bool,
	.null = cap_null,
	.dbl = cap_double,
	.begin_map = cap_open,
	.begin_array = cap_open,
	.end_nested = cap_close,
};

/* Append @v sanitized for @kind; false when nothing safe is left of it. */
static bool put_value(enum nm_tpl_kind kind, const char *v, size_t n, char *out, size_t *pos,
		      size_t max)
{
	bool meaningful = false;

	if (n > NM_TPL_VALUE_MAX)
		n = NM_TPL_VALUE_MAX;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (kind == NM_TPL_MQTT_TOPIC && !mqtt_char(c))
			c = '_';
		else if (kind == NM_TPL_KAFKA_TOPIC && !kafka_char(c))
			c = '_';
		if (alnum(c) || kind == NM_TPL_KAFKA_KEY)
			meaningful = true;
		if (*pos >= max)
			return false;
		out[(*pos)++] = (char)c;
	}
	/* "..", "___" from "///" or 0xff bytes: a topic level nobody could have meant. */
	return meaningful || kind == NM_TPL_KAFKA_KEY;
}

/* A variable's value from the message itself, or NULL when only the field walk has it. */
static const char *from_message(const struct part *p, const struct nm_sink_msg *msg)
{
	return p->is_type ? msg->type : p->is_host ? msg->host : NULL;
}

static bool needs_walk(const struct nm_template *t, const struct nm_sink_msg *msg)
{
	for (int i = 0; i < t->nparts; i++)
		if (t->parts[i].kind == PART_VAR && !from_message(&t->parts[i], msg))
			return true;
	return false;
}

int nm_template_render(const struct nm_template *t, const struct nm_sink_msg *msg, char *out,
		       size_t *len)
{
	size_t max = kind_max(t->kind), pos = 0;
	struct capture cap;

	/* the field walk formats every field to find a few: only when the message lacks one */
	if (needs_walk(t, msg)) {
		memset(&cap, 0, sizeof(cap));
		cap.w.ops = &capture_ops;
		cap.t = t;
		if (msg->write_fields)
			msg->write_fields(msg->event, &cap.w);
	}
	for (int i = 0; i < t->nparts; i++) {
		const struct part *p = &t->parts[i];
		const char *v;
		size_t n = 0;

		if (p->kind == PART_LITERAL) {
			n = strlen(p->text);
			if (pos + n > max)
				return -ENAMETOOLONG;
			memcpy(out + pos, p->text, n);
			pos += n;
			continue;
		}
		v = from_message(p, msg);
		if (v) {
			n = strlen(v);
		} else {
			v = cap.found[p->var] ? cap.val[p->var] : NULL;
			n = cap.len[p->var];
		}
		if (!v)
			return -EINVAL;
		if (!put_value(t->kind, v, n, out, &pos, max))
			return pos >= max ? -ENAMETOOLONG : -EINVAL;
	}
	out[pos] = '\0';
	*len = pos;
	return 0;
}

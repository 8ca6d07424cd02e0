/* template.h - topic and key templates (${host}, ${type}, any event field) with per-broker sanitizing. */
#ifndef NM_TEMPLATE_H
#define NM_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../sink.h"

/* Part of the sink helper library: no agent symbol, event fields come from the message's field walk. */

enum nm_tpl_kind {
	NM_TPL_MQTT_TOPIC,  /* values lose / + # NUL and anything not printable ASCII */
	NM_TPL_KAFKA_TOPIC, /* values keep [A-Za-z0-9._-] only; 249 bytes at most */
	NM_TPL_KAFKA_KEY,   /* raw bytes, 1024 at most */
};

#define NM_TPL_VALUE_MAX 64   /* a substituted value is cut to this many bytes */
#define NM_TPL_OUT_MAX	 1024 /* the longest rendered string, any kind */

struct nm_template;

/*
 * Compile @text. Topics must start with literal text that is itself a valid
 * topic fragment. NULL with the reason in @err.
 */
struct nm_template *nm_template_new(const char *text, enum nm_tpl_kind kind, char *err,
				    size_t errlen);
void nm_template_free(struct nm_template *t);

/* The literal text before the first variable. */
const char *nm_template_prefix(const struct nm_template *t);
bool nm_template_is_static(const struct nm_template *t);

/*
 * Render for @msg into @out (NM_TPL_OUT_MAX + 1 bytes), NUL-terminated; *@len
 * gets the length (keys may hold NUL bytes). Returns 0, or -EINVAL when a
 * value is missing or nothing safe is left of it, -ENAMETOOLONG when the result
 * is too long for the kind: the caller then uses its fallback and counts it.
 */
int nm_template_render(const struct nm_template *t, const struct nm_sink_msg *msg, char *out,
		       size_t *len);

/* Check a fixed topic (e.g. a configured fallback) against @kind's rules. */
int nm_topic_check(const char *topic, enum nm_tpl_kind kind, char *err, size_t errlen);

#endif

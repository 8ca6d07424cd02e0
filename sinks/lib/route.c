/* route.c - picks each event's topic: the rendered template, or the fallback when it cannot be used. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

/* ---- bounded set of distinct topics: an event storm cannot open topics without end ---- */

struct nm_topic_set {
	char **slots;
	size_t nslots; /* a power of two, at least twice max */
	size_t count;
	size_t max;
};

struct nm_topic_set *nm_topic_set_new(size_t max)
{
	struct nm_topic_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->max = max ? max : 1;
	s->nslots = 16;
	while (s->nslots < 2 * s->max)
		s->nslots *= 2;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	return s;
}

void nm_topic_set_free(struct nm_topic_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nslots; i++)
		free(s->slots[i]);
	free(s->slots);
	free(s);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

bool nm_topic_set_admit(struct nm_topic_set *s, const char *topic)
{
	size_t i = (size_t)fnv1a(topic) & (s->nslots - 1);

	for (; s->slots[i]; i = (i + 1) & (s->nslots - 1))
		if (!strcmp(s->slots[i], topic))
			return true;
	if (s->count >= s->max)
		return false;
	s->slots[i] = strdup(topic);
	if (!s->slots[i])
		return false;
	s->count++;
	return true;
}

size_t nm_topic_set_count(const struct nm_topic_set *s)
{
	return s->count;
}

/* ---- the router ---- */

int nm_route_validate(const struct nm_route_config *c, enum nm_tpl_kind kind, char *err,
		      size_t errlen)
{
	struct nm_template *t = nm_template_new(c->topic, kind, err, errlen);

	if (!t)
		return -EINVAL;
	nm_template_free(t);
	if (c->fallback_topic && c->fallback_topic[0] &&
	    nm_topic_check(c->fallback_topic, kind, err, errlen))
		return -EINVAL;
	return 0;
}

int nm_route_init(struct nm_route *r, const struct nm_route_config *c, enum nm_tpl_kind kind,
		  char *err, size_t errlen)
{
	char fallback[NM_TPL_OUT_MAX + 1];

	memset(r, 0, sizeof(*r));
	r->topic = nm_template_new(c->topic, kind, err, errlen);
	if (!r->topic)
		return -EINVAL;
	if (c->fallback_topic && c->fallback_topic[0])
		snprintf(fallback, sizeof(fallback), "%s", c->fallback_topic);
	else
		snprintf(fallback, sizeof(fallback), "%sunroutable", nm_template_prefix(r->topic));
	if (nm_topic_check(fallback, kind, err, errlen))
		return -EINVAL;
	r->fallback = strdup(fallback);
	r->topics = nm_topic_set_new((size_t)c->max_topics);
	if (!r->fallback || !r->topics) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void nm_route_free(struct nm_route *r)
{
	nm_template_free(r->topic);
	nm_topic_set_free(r->topics);
	free(r->fallback);
	memset(r, 0, sizeof(*r));
}

const char *nm_route_prefix(const struct nm_route *r)
{
	return nm_template_prefix(r->topic);
}

void nm_route_pick(struct nm_route *r, const struct nm_sink_msg *msg, char *topic)
{
	size_t len;

	if (nm_template_render(r->topic, msg, topic, &len)) {
		r->topic_fallback++;
		strcpy(topic, r->fallback);
	} else if (!nm_topic_set_admit(r->topics, topic)) {
		r->topics_over_limit++;
		strcpy(topic, r->fallback);
	}
}

void nm_route_stats(const struct nm_route *r, struct nm_writer *w)
{
	nm_w_u64(w, "topic_fallback", r->topic_fallback);
	nm_w_u64(w, "topics_over_limit", r->topics_over_limit);
	nm_w_u64(w, "topics", nm_topic_set_count(r->topics));
}

/* route.h - topic routing shared by the broker sinks: template, fallback topic, bounded topic set. */
#ifndef NM_ROUTE_H
#define NM_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../sink.h"
#include "template.h"

/* The routing keys of a broker sink's config; embed it and list NM_ROUTE_OPTIONS in the table. */
struct nm_route_config {
	char *topic;
	char *fallback_topic;
	long long max_topics;
};

/* the routing rows of an option table */
// clang-format off
#define NM_ROUTE_OPTIONS(config_type, member, default_topic)					\
	{ "topic", NM_OPT_STRING, offsetof(config_type, member.topic), default_topic, 0, 0,	\
	  NULL, "topic template; starts with literal text" },					\
	{ "fallback_topic", NM_OPT_STRING, offsetof(config_type, member.fallback_topic), NULL,	\
	  0, 0, NULL,										\
	  "topic for events the template cannot route (default: prefix + unroutable)" },	\
	{ "max_topics", NM_OPT_INT, offsetof(config_type, member.max_topics), "1000", 1,	\
	  1000000, NULL, "distinct topics before events go to the fallback topic" }
// clang-format on

/* Check the routing keys of a parsed config for @kind (a topic kind). */
int nm_route_validate(const struct nm_route_config *c, enum nm_tpl_kind kind, char *err,
		      size_t errlen);

/* A bounded set of distinct strings (topics). Not thread-safe: one per sink, used from its worker. */
struct nm_topic_set;

struct nm_topic_set *nm_topic_set_new(size_t max);
void nm_topic_set_free(struct nm_topic_set *s);
/* True if @topic is in the set or was added now; false when the set is full. */
bool nm_topic_set_admit(struct nm_topic_set *s, const char *topic);
size_t nm_topic_set_count(const struct nm_topic_set *s);

/* One sink's router. Not thread-safe: used from the sink's worker. */
struct nm_route {
	struct nm_template *topic;
	char *fallback;		     /* owned */
	struct nm_topic_set *topics; /* distinct topics used so far, at most max_topics */
	uint64_t topic_fallback;     /* the template could not route an event */
	uint64_t topics_over_limit;  /* an event would have opened one topic too many */
};

/* Compile @c (borrowed) into @r. 0, or a negative errno with the reason in @err. */
int nm_route_init(struct nm_route *r, const struct nm_route_config *c, enum nm_tpl_kind kind,
		  char *err, size_t errlen);
/* Release what init built; a zeroed or half-built @r is fine. */
void nm_route_free(struct nm_route *r);

/* The literal text before the template's first variable. */
const char *nm_route_prefix(const struct nm_route *r);

/* The topic for @msg into @topic (NM_TPL_OUT_MAX + 1 bytes): rendered, or the fallback (counted). */
void nm_route_pick(struct nm_route *r, const struct nm_sink_msg *msg, char *topic);

/* topic_fallback, topics_over_limit and topics as fields. */
void nm_route_stats(const struct nm_route *r, struct nm_writer *w);

#endif

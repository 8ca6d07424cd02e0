/* kafka.c - the Kafka sink (librdkafka): delivered only on delivery report, re-sent after faults. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>

#include "../sink.h"
#include "../lib/ratelimit.h"
#include "../lib/route.h"
#include "../lib/sinkutil.h"
#include "../lib/template.h"

/*
 * Messages accepted and not yet reported. librdkafka's own queue is kept at
 * this bound too, so the backlog of an outage waits in the agent's queue and
 * spool, where it is counted, and not inside the library. It must cover what
 * is in flight to the broker at full speed — a full window while the
 * delivery reports of a linger.ms batch come back — or the producer idles
 * (4096 held delivered events/s near 100 k on the mock cluster, see
 * docs/performance.md).
 */
#define KAFKA_MAX_INFLIGHT 32768

struct kafka_config {
	char *brokers;
	struct nm_route_config route;
	char *key;
	struct nm_strings properties;
};

enum slot_state {
	SLOT_FREE = 0,
	SLOT_SENT,   /* in librdkafka, a delivery report will come */
	SLOT_RESEND, /* came back undelivered but retriable: produce again, in order */
};

struct slot {
	enum slot_state state;
	struct nm_sink_msg msg; /* borrowed until reported */
	const char *topic;	/* interned: one copy per distinct topic, not one per slot */
};

/*
 * Every topic used so far, each stored once (the router bounds how many:
 * max_topics, and the fallback). Open addressing over a power-of-two table.
 */
struct topic_names {
	char **slot;
	size_t cap, count;
};

struct kafka_sink {
	const struct kafka_config *cfg;
	const struct nm_sink_env *env;
	rd_kafka_t *rk;
	struct nm_route route;
	struct nm_template *key;
	struct topic_names topics;

	struct slot slots[KAFKA_MAX_INFLIGHT]; /* by token % KAFKA_MAX_INFLIGHT */
	uint64_t low_token;		       /* every token below is reported */
	uint64_t high_token;		       /* one past the newest accepted */
	size_t outstanding;
	size_t resend_count;
	struct nm_report_run run; /* delivered, not yet told to the outlet */
	bool closing; /* destroy: purged messages stay unreported, the outlet keeps them */
	_Atomic bool fatal;
	_Atomic bool healthy;

	uint64_t delivered;
	uint64_t failed;
	uint64_t resent;
	uint64_t queue_full;
	uint64_t key_fallback;
	uint64_t recreated;
	_Atomic uint64_t errors;
	struct nm_ratelimit rl; /* librdkafka's threads log too */
	struct nm_ratelimit
		fatal_rl; /* its own: the chatter around a fatal error must not hide it */
};

#define rl_log(s, level, ...) nm_sink_log((s)->env, "kafka", &(s)->rl, level, __VA_ARGS__)

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct kafka_sink *s = rd_kafka_opaque(rk);
	int nm = level <= 3   ? NM_LOG_ERR
		 : level == 4 ? NM_LOG_WARN
		 : level <= 6 ? NM_LOG_INFO
			      : NM_LOG_DEBUG;

	rl_log(s, nm, "librdkafka %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_sink *s = opaque;
	char why[512];

	s->errors++;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, why, sizeof(why));
		s->fatal = true;
		s->healthy = false;
		nm_sink_log(s->env, "kafka", &s->fatal_rl, NM_LOG_ERR,
			    "fatal producer error, recreating the producer: %s", why);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
	    err == RD_KAFKA_RESP_ERR__RESOLVE || err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
		s->healthy = false;
	rl_log(s, NM_LOG_WARN, "%s: %s", rd_kafka_err2name(err), reason);
}

/* Errors after which the same message can never succeed; anything else is tried again. */
static bool permanent(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
		return true;
	default:
		return false;
	}
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *s = opaque;
	uint64_t token = (uint64_t)(uintptr_t)m->_private;
	struct slot *sl = &s->slots[token % KAFKA_MAX_INFLIGHT];

	if (sl->state != SLOT_SENT || sl->msg.token != token)
		return;
	if (!m->err) {
		s->healthy = true;
		sl->state = SLOT_FREE;
		s->outstanding--;
		s->delivered++;
		nm_report_run_add(&s->run, s->env, token);
		return;
	}
	if (s->closing && (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
			   m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)) {
		sl->state = SLOT_FREE;
		s->outstanding--;
		return; /* never reported: the outlet spools or counts it */
	}
	if (permanent(m->err)) {
		rl_log(s, NM_LOG_ERR, "message to %s refused for good: %s", sl->topic,
		       rd_kafka_err2str(m->err));
		sl->state = SLOT_FREE;
		s->outstanding--;
		s->failed++;
		s->env->report(s->env->ctx, token, -EIO);
		return;
	}
	rl_log(s, NM_LOG_WARN, "delivery to %s failed, will send again: %s", sl->topic,
	       rd_kafka_err2str(m->err));
	sl->state = SLOT_RESEND;
	s->resend_count++;
}

/*
 * The producer's librdkafka configuration: safe defaults, then the brokers, then
 * the operator's properties. NULL with librdkafka's reason in @err. Validation
 * builds it too, so --check-config refuses what librdkafka would.
 */
static rd_kafka_conf_t *build_conf(const struct kafka_config *cfg, char *err, size_t errlen)
{
	/* Safe defaults first; the operator's properties override them. */
	static const char *const defaults[][2] = {
		{"enable.idempotence", "true"}, /* acks=all, no duplicates or reordering */
		{"compression.codec", "lz4"},
		{"linger.ms", "20"},
		{"queue.buffering.max.messages", "32768"},
		{"queue.buffering.max.kbytes", "65536"},
		/* Never give up inside the library: the outlet holds or spools the backlog. */
		{"message.timeout.ms", "0"},
		{"socket.keepalive.enable", "true"},
		/*
		 * Back within 1 s of the broker. A sparse (on-demand) connection is
		 * retried only on librdkafka's 1 s broker timer, whatever the backoff;
		 * kept up, it is retried by the backoff: with librdkafka's jitter (up to
		 * +50 %) an attempt at most every 375 ms while the broker is away. No
		 * call says "try now", so the capped backoff is the probe.
		 */
		{"enable.sparse.connections", "false"},
		{"reconnect.backoff.ms", "100"},
		{"reconnect.backoff.max.ms", "250"},
		{"client.id", "ebpf-netmon"},
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr,
				      sizeof(errstr)) != RD_KAFKA_CONF_OK)
			goto bad;
	if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK)
		goto bad;
	for (size_t i = 0; i < cfg->properties.n; i++) {
		char *kv = strdup(cfg->properties.v[i]);
		char *eq = kv ? strchr(kv, '=') : NULL;
		rd_kafka_conf_res_t r;

		if (!eq) {
			snprintf(errstr, sizeof(errstr), "property \"%s\" is not \"name=value\"",
				 cfg->properties.v[i]);
			free(kv);
			goto bad;
		}
		*eq = '\0';
		r = rd_kafka_conf_set(conf, kv, eq + 1, errstr, sizeof(errstr));
		free(kv);
		if (r != RD_KAFKA_CONF_OK)
			goto bad;
	}
	return conf;
bad:
	snprintf(err, errlen, "%s", errstr);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static rd_kafka_t *new_producer(struct kafka_sink *s, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = build_conf(s->cfg, err, errlen);
	rd_kafka_t *rk;
	char errstr[512];

	if (!conf)
		return NULL;
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		snprintf(err, errlen, "cannot create the producer: %s", errstr);
		rd_kafka_conf_destroy(conf); /* rd_kafka_new failed: conf is still ours */
		return NULL;
	}
	return rk; /* conf now owned by rk */
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* The one stored copy of @name, added if new; NULL when out of memory. */
static const char *intern_topic(struct topic_names *t, const char *name)
{
	size_t i;

	if (2 * (t->count + 1) > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **slot = calloc(cap, sizeof(*slot));

		if (!slot)
			return NULL;
		for (size_t j = 0; j < t->cap; j++) {
			if (!t->slot[j])
				continue;
			for (i = name_hash(t->slot[j]) & (cap - 1); slot[i];
			     i = (i + 1) & (cap - 1))
				;
			slot[i] = t->slot[j];
		}
		free(t->slot);
		t->slot = slot;
		t->cap = cap;
	}
	for (i = name_hash(name) & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1))
		if (!strcmp(t->slot[i], name))
			return t->slot[i];
	t->slot[i] = strdup(name);
	if (t->slot[i])
		t->count++;
	return t->slot[i];
}

static void free_topics(struct topic_names *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slot[i]);
	free(t->slot);
}

/* Hand one slot's message to librdkafka. 0, -EAGAIN (queue full) or another error. */
static int produce(struct kafka_sink *s, struct slot *sl)
{
	const struct nm_sink_msg *msg = &sl->msg;
	const char *type = msg->type;
	const char *ctype =
		s->env->format == NM_FORMAT_MSGPACK ? "application/msgpack" : "application/json";
	char key[NM_TPL_OUT_MAX + 1];
	size_t keylen = 0;
	rd_kafka_resp_err_t err;

	if (s->key && nm_template_render(s->key, msg, key, &keylen)) {
		s->key_fallback++;
		keylen = 0;
	}
	/* No copy of the payload: the outlet keeps it until the token is reported. */
	err = rd_kafka_producev(
		s->rk, RD_KAFKA_V_TOPIC(sl->topic), RD_KAFKA_V_VALUE((void *)msg->data, msg->len),
		RD_KAFKA_V_KEY(keylen ? key : NULL, keylen), RD_KAFKA_V_MSGFLAGS(0),
		RD_KAFKA_V_OPAQUE((void *)(uintptr_t)msg->token),
		RD_KAFKA_V_HEADER("content-type", ctype, -1), RD_KAFKA_V_HEADER("type", type, -1),
		RD_KAFKA_V_HEADER("host", s->env->host, -1), RD_KAFKA_V_END);
	if (!err)
		return 0;
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		s->queue_full++;
		return -EAGAIN;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		/* error_cb may not have run yet: the next poll recreates the producer */
		s->fatal = true;
		return -EAGAIN;
	}
	rl_log(s, NM_LOG_ERR, "cannot produce to %s: %s", sl->topic, rd_kafka_err2str(err));
	return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? -EMSGSIZE : -EINVAL;
}

/* Produce again, in token order, what came back retriable. Stops at the first "not now". */
static void resend(struct kafka_sink *s)
{
	for (uint64_t t = s->low_token; t < s->high_token && s->resend_count; t++) {
		struct slot *sl = &s->slots[t % KAFKA_MAX_INFLIGHT];
		int rc;

		if (sl->state != SLOT_RESEND || sl->msg.token != t)
			continue;
		rc = produce(s, sl);
		if (rc == -EAGAIN)
			return;
		s->resend_count--;
		if (rc) {
			sl->state = SLOT_FREE;
			s->outstanding--;
			s->failed++;
			s->env->report(s->env->ctx, t, rc);
			continue;
		}
		sl->state = SLOT_SENT;
		s->resent++;
	}
}

/* Advance low_token past reported slots so the resend scan stays short. */
static void advance_low(struct kafka_sink *s)
{
	while (s->low_token < s->high_token &&
	       s->slots[s->low_token % KAFKA_MAX_INFLIGHT].state == SLOT_FREE)
		s->low_token++;
}

/*
 * A fatal (idempotence) error leaves the producer unusable: collect what it
 * still holds, start a new one, and send the undelivered again in order.
 */
static void recreate(struct kafka_sink *s)
{
	char err[512];
	rd_kafka_t *rk;

	rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(s->rk, 0); /* purged messages come back retriable: SLOT_RESEND */
	nm_report_run_flush(&s->run, s->env);
	rd_kafka_destroy(s->rk);
	s->rk = NULL;
	for (uint64_t t = s->low_token; t < s->high_token; t++) {
		struct slot *sl = &s->slots[t % KAFKA_MAX_INFLIGHT];

		if (sl->state == SLOT_SENT && sl->msg.token == t) {
			sl->state = SLOT_RESEND;
			s->resend_count++;
		}
	}
	rk = new_producer(s, err, sizeof(err));
	if (!rk) {
		rl_log(s, NM_LOG_ERR, "%s", err);
		return; /* tried again on the next poll */
	}
	s->rk = rk;
	s->fatal = false;
	s->recreated++;
}

static void kafka_destroy(void *sink);

static void *kafka_create(const void *config, const struct nm_sink_env *env, char *err,
			  size_t errlen)
{
	const struct kafka_config *cfg = config;
	struct kafka_sink *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->env = env;
	s->healthy = true;
	if (nm_route_init(&s->route, &cfg->route, NM_TPL_KAFKA_TOPIC, err, errlen))
		goto fail;
	if (cfg->key && cfg->key[0]) {
		s->key = nm_template_new(cfg->key, NM_TPL_KAFKA_KEY, err, errlen);
		if (!s->key)
			goto fail;
	}
	s->rk = new_producer(s, err, errlen);
	if (!s->rk)
		goto fail;
	env->log(NM_LOG_INFO, "kafka sink %s: producing to %s, topic %s (librdkafka %s)", env->name,
		 cfg->brokers, cfg->route.topic, rd_kafka_version_str());
	return s;
fail:
	kafka_destroy(s); /* no producer yet: it only frees */
	return NULL;
}

static int kafka_write(void *sink, const struct nm_sink_msg *msg)
{
	struct kafka_sink *s = sink;
	struct slot *sl = &s->slots[msg->token % KAFKA_MAX_INFLIGHT];
	char topic[NM_TPL_OUT_MAX + 1];
	int rc;

	/* Retries go first, or newer events would overtake them. */
	if (s->resend_count || !s->rk || s->fatal)
		return -EAGAIN;
	if (sl->state != SLOT_FREE)
		return -EAGAIN; /* cannot happen while the outlet honours max_inflight */
	sl->msg = *msg;
	nm_route_pick(&s->route, msg, topic);
	sl->topic = intern_topic(&s->topics, topic);
	if (!sl->topic)
		return -EAGAIN; /* out of memory: later */
	rc = produce(s, sl);
	if (rc)
		return rc;
	sl->state = SLOT_SENT;
	s->outstanding++;
	if (msg->token + 1 > s->high_token)
		s->high_token = msg->token + 1;
	if (s->outstanding == 1)
		s->low_token = msg->token;
	return 0;
}

static void kafka_poll(void *sink, int timeout_ms)
{
	struct kafka_sink *s = sink;

	if (s->fatal || !s->rk)
		recreate(s);
	if (!s->rk)
		return;
	rd_kafka_poll(s->rk, timeout_ms);
	nm_report_run_flush(&s->run, s->env);
	if (s->fatal)
		return; /* a dead producer takes nothing: the new one sends everything again */
	if (s->resend_count)
		resend(s);
	advance_low(s);
}

static size_t kafka_outstanding(void *sink)
{
	return ((struct kafka_sink *)sink)->outstanding;
}

static int kafka_flush(void *sink, int timeout_ms)
{
	return nm_flush_by_polling(sink, kafka_poll, kafka_outstanding, timeout_ms);
}

static void kafka_stats(void *sink, struct nm_writer *w)
{
	struct kafka_sink *s = sink;

	nm_w_cstr(w, "brokers", s->cfg->brokers);
	nm_w_u64(w, "kafka_delivered", s->delivered);
	nm_w_u64(w, "kafka_failed", s->failed);
	nm_w_u64(w, "kafka_resent", s->resent);
	nm_w_u64(w, "kafka_queue_full", s->queue_full);
	nm_w_u64(w, "kafka_errors", s->errors);
	nm_w_u64(w, "producer_recreated", s->recreated);
	nm_w_u64(w, "key_fallback", s->key_fallback);
	nm_route_stats(&s->route, w);
}

static bool kafka_healthy(void *sink)
{
	struct kafka_sink *s = sink;

	return s->rk && s->healthy;
}

static void kafka_destroy(void *sink)
{
	struct kafka_sink *s = sink;

	if (!s)
		return;
	if (s->rk) {
		/* Whatever librdkafka still holds is left unreported: the outlet keeps it. */
		s->closing = true;
		rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(s->rk, 0);
		nm_report_run_flush(&s->run, s->env); /* what was delivered before the purge */
		rd_kafka_destroy(s->rk);
	}
	nm_route_free(&s->route);
	nm_template_free(s->key);
	free_topics(&s->topics);
	free(s);
}

static int kafka_validate(const void *config, char *err, size_t errlen)
{
	const struct kafka_config *c = config;
	rd_kafka_conf_t *conf;
	struct nm_template *t;

	if (!c->brokers || !c->brokers[0]) {
		snprintf(err, errlen, "a kafka sink needs 'brokers', e.g. \"10.0.0.5:9092\"");
		return -EINVAL;
	}
	if (nm_route_validate(&c->route, NM_TPL_KAFKA_TOPIC, err, errlen))
		return -EINVAL;
	if (c->key && c->key[0]) {
		t = nm_template_new(c->key, NM_TPL_KAFKA_KEY, err, errlen);
		if (!t)
			return -EINVAL;
		nm_template_free(t);
	}
	conf = build_conf(c, err, errlen);
	if (!conf)
		return -EINVAL;
	rd_kafka_conf_destroy(conf);
	return 0;
}

static const struct nm_option kafka_options[] = {
	{"brokers", NM_OPT_STRING, offsetof(struct kafka_config, brokers), NULL, 0, 0, NULL,
	 "bootstrap brokers, host:port[,host:port...]"},
	NM_ROUTE_OPTIONS(struct kafka_config, route, "netmon.${type}"),
	{"key", NM_OPT_STRING, offsetof(struct kafka_config, key), "${host}", 0, 0, NULL,
	 "message key template; \"\" = no key"},
	{"properties", NM_OPT_STRINGS, offsetof(struct kafka_config, properties), NULL, 0, 0, NULL,
	 "librdkafka properties as \"name=value\""},
	{NULL},
};

const struct nm_sink_type nm_sink_kafka = {
	.api_version = NM_SINK_API_VERSION,
	.name = "kafka",
	.description = "produce to Kafka (librdkafka), released on delivery report",
	.options = kafka_options,
	.config_size = sizeof(struct kafka_config),
	.validate = kafka_validate,
	.create = kafka_create,
	.write = kafka_write,
	.poll = kafka_poll,
	.flush = kafka_flush,
	.stats = kafka_stats,
	.healthy = kafka_healthy,
	.destroy = kafka_destroy,
	.max_inflight = KAFKA_MAX_INFLIGHT,
};

NM_SINK_EXPORT(nm_sink_kafka);

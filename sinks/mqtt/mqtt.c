/* mqtt.c - the MQTT sink (libmosquitto): QoS 1 released on PUBACK, bounded in flight, reconnects. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mosquitto.h>

#include "../sink.h"
#include "../lib/clock.h"
#include "../lib/ratelimit.h"
#include "../lib/route.h"
#include "../lib/sinkutil.h"
#include "../lib/template.h"

/*
 * libmosquitto queues whatever it is given, without bound; this is the bound:
 * messages accepted and not yet acknowledged. Past it the outlet is told "not
 * now" and the backlog stays in its queue. Of these, at most MQTT_WINDOW are
 * on the wire unacknowledged (max_inflight_messages); the rest wait inside
 * libmosquitto, which sends the next one as a PUBACK frees a place, within
 * the same mosquitto_loop() call.
 */
#define MQTT_MAX_INFLIGHT 4096
#define MQTT_WINDOW	  256
#define MID_SLOTS	  65536 /* message ids are 16 bits */
#define BACKOFF_MIN_MS	  250

struct mqtt_config {
	char *host;
	long long port;
	struct nm_route_config route;
	char *status_topic;
	long long qos;
	bool retain;
	char *client_id;
	char *username;
	char *password;
	char *ca_file;
	char *cert_file;
	char *key_file;
	bool tls_insecure;
	long long keepalive;
	long long reconnect_max_ms;
};

enum conn_state { DISCONNECTED, CONNECTING, CONNECTED };

struct mqtt_sink {
	const struct mqtt_config *cfg;
	const struct nm_sink_env *env;
	struct mosquitto *m;
	struct nm_route route;
	char *status;
	char *client_id;

	enum conn_state state;
	bool ever_connected;
	int64_t retry_at_ms;
	int backoff_ms;

	/* QoS 1/2: message id -> token until the broker acknowledges */
	uint64_t *mid_token;
	bool *mid_used;
	size_t outstanding;
	struct nm_report_run run; /* acknowledged, not yet told to the outlet */

	uint64_t delivered;
	uint64_t connects;
	uint64_t disconnects;
	uint64_t publish_errors;
	struct nm_ratelimit rl;
	/* its own: reconnect chatter must not hide why a publish failed */
	struct nm_ratelimit publish_rl;
};

#define rl_log(s, level, ...) nm_sink_log((s)->env, "mqtt", &(s)->rl, level, __VA_ARGS__)

static void schedule_reconnect(struct mqtt_sink *s)
{
	s->state = DISCONNECTED;
	s->retry_at_ms = nm_mono_ms() + s->backoff_ms;
	s->backoff_ms *= 2;
	if (s->backoff_ms > s->cfg->reconnect_max_ms)
		s->backoff_ms = (int)s->cfg->reconnect_max_ms;
}

static void on_log(struct mosquitto *m, void *ctx, int level, const char *msg)
{
	struct mqtt_sink *s = ctx;

	/* Its notices and debug chatter (every PUBLISH/PUBACK) stay out of the agent's log. */
	if (level & MOSQ_LOG_ERR)
		rl_log(s, NM_LOG_ERR, "libmosquitto: %s", msg);
	else if (level & MOSQ_LOG_WARNING)
		rl_log(s, NM_LOG_WARN, "libmosquitto: %s", msg);
}

static void publish_status(struct mqtt_sink *s, const char *what)
{
	int rc = mosquitto_publish(s->m, NULL, s->status, (int)strlen(what), what, 1, true);

	if (rc != MOSQ_ERR_SUCCESS)
		rl_log(s, NM_LOG_WARN, "cannot publish status to %s: %s", s->status,
		       mosquitto_strerror(rc));
}

static void on_connect(struct mosquitto *m, void *ctx, int rc)
{
	struct mqtt_sink *s = ctx;

	if (rc) {
		rl_log(s, NM_LOG_ERR, "broker %s:%lld refused the connection: %s", s->cfg->host,
		       s->cfg->port, mosquitto_connack_string(rc));
		mosquitto_disconnect(m);
		schedule_reconnect(s);
		return;
	}
	s->state = CONNECTED;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->connects++;
	s->env->log(NM_LOG_INFO, "mqtt sink %s: connected to %s:%lld as %s", s->env->name,
		    s->cfg->host, s->cfg->port, s->client_id);
	s->ever_connected = true;
	publish_status(s, "online");
}

static void on_disconnect(struct mosquitto *m, void *ctx, int rc)
{
	struct mqtt_sink *s = ctx;

	if (s->state == CONNECTED) {
		s->disconnects++;
		rl_log(s, NM_LOG_WARN, "disconnected from %s:%lld: %s", s->cfg->host, s->cfg->port,
		       rc ? mosquitto_strerror(rc) : "by request");
	}
	schedule_reconnect(s);
}

/* QoS 1: PUBACK; QoS 2: PUBCOMP. Unacknowledged messages are resent by libmosquitto. */
static void on_publish(struct mosquitto *m, void *ctx, int mid)
{
	struct mqtt_sink *s = ctx;
	uint16_t i = (uint16_t)mid;

	if (!s->mid_used[i])
		return; /* the status message, or QoS 0 (reported when written) */
	s->mid_used[i] = false;
	s->outstanding--;
	s->delivered++;
	/* PUBACKs come in order: one report per mosquitto_loop(), not per message */
	nm_report_run_add(&s->run, s->env, s->mid_token[i]);
}

static int start_connect(struct mqtt_sink *s)
{
	int rc = s->ever_connected ? mosquitto_reconnect_async(s->m)
				   : mosquitto_connect_async(s->m, s->cfg->host, (int)s->cfg->port,
							     (int)s->cfg->keepalive);

	if (rc != MOSQ_ERR_SUCCESS) {
		rl_log(s, NM_LOG_ERR, "cannot connect to %s:%lld: %s", s->cfg->host, s->cfg->port,
		       rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		schedule_reconnect(s);
		return -ECONNREFUSED;
	}
	/* connect_async before the first CONNACK: reconnect_async needs it done once. */
	s->ever_connected = true;
	s->state = CONNECTING;
	return 0;
}

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	mosquitto_lib_init();
}

/* Free what create built, however far it got. */
static void release(struct mqtt_sink *s)
{
	if (s->m)
		mosquitto_destroy(s->m);
	nm_route_free(&s->route);
	free(s->status);
	free(s->client_id);
	free(s->mid_token);
	free(s->mid_used);
	free(s);
}

static void *mqtt_create(const void *config, const struct nm_sink_env *env, char *err,
			 size_t errlen)
{
	const struct mqtt_config *cfg = config;
	struct mqtt_sink *s = calloc(1, sizeof(*s));
	char buf[NM_TPL_OUT_MAX + 256];
	const char *prefix, *slash;
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_once(&lib_once, lib_init);
	s->cfg = cfg;
	s->env = env;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->mid_token = calloc(MID_SLOTS, sizeof(*s->mid_token));
	s->mid_used = calloc(MID_SLOTS, sizeof(*s->mid_used));
	if (!s->mid_token || !s->mid_used)
		goto oom;
	if (nm_route_init(&s->route, &cfg->route, NM_TPL_MQTT_TOPIC, err, errlen))
		goto fail;
	prefix = nm_route_prefix(&s->route);

	/* The status topic's default derives from the topic's literal prefix up to its last '/'. */
	slash = strrchr(prefix, '/');
	if (cfg->client_id && cfg->client_id[0]) {
		snprintf(buf, sizeof(buf), "%s", cfg->client_id);
	} else {
		/* Stable across restarts, so the broker keeps this agent's session. */
		snprintf(buf, sizeof(buf), "ebpf-netmon-%.200s", env->host);
		for (char *c = buf; *c; c++)
			if (*c == '/' || *c == '+' || *c == '#' || (unsigned char)*c <= ' ')
				*c = '_';
	}
	s->client_id = strdup(buf);
	if (cfg->status_topic && cfg->status_topic[0]) {
		snprintf(buf, sizeof(buf), "%s", cfg->status_topic);
	} else {
		int n = slash ? (int)(slash - prefix) + 1 : 0;

		snprintf(buf, sizeof(buf), "%.*s%s%.200s/status", n, prefix, slash ? "" : "netmon/",
			 env->host);
		for (char *c = buf + n; *c; c++)
			if (*c == '+' || *c == '#' || (unsigned char)*c <= ' ')
				*c = '_';
	}
	if (nm_topic_check(buf, NM_TPL_MQTT_TOPIC, err, errlen))
		goto fail;
	s->status = strdup(buf);
	if (!s->client_id || !s->status)
		goto oom;

	s->m = mosquitto_new(s->client_id, false /* persistent session */, s);
	if (!s->m) {
		snprintf(err, errlen, "cannot create the MQTT client: %s", strerror(errno));
		goto fail;
	}
	mosquitto_int_option(s->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_max_inflight_messages_set(s->m, MQTT_WINDOW);
	mosquitto_connect_callback_set(s->m, on_connect);
	mosquitto_disconnect_callback_set(s->m, on_disconnect);
	mosquitto_publish_callback_set(s->m, on_publish);
	mosquitto_log_callback_set(s->m, on_log);
	rc = mosquitto_will_set(s->m, s->status, 7, "offline", 1, true);
	if (rc == MOSQ_ERR_SUCCESS && cfg->username)
		rc = mosquitto_username_pw_set(s->m, cfg->username, cfg->password);
	if (rc == MOSQ_ERR_SUCCESS && (cfg->ca_file || cfg->cert_file)) {
		rc = mosquitto_tls_set(s->m, cfg->ca_file, NULL, cfg->cert_file, cfg->key_file,
				       NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(s->m, 1 /* verify the peer */, NULL, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_insecure_set(s->m, cfg->tls_insecure);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "MQTT client setup: %s", mosquitto_strerror(rc));
		goto fail;
	}
	if (cfg->tls_insecure)
		env->log(NM_LOG_WARN,
			 "mqtt sink %s: tls_insecure = true: the broker's name is not "
			 "checked against its certificate",
			 env->name);
	/* A broker that is down at start is retried, never fatal. */
	start_connect(s);
	env->log(NM_LOG_INFO, "mqtt sink %s: publishing to %s:%lld, topic %s, status %s", env->name,
		 cfg->host, cfg->port, cfg->route.topic, s->status);
	return s;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	release(s);
	return NULL;
}

static int mqtt_write(void *sink, const struct nm_sink_msg *msg)
{
	struct mqtt_sink *s = sink;
	char topic[NM_TPL_OUT_MAX + 1];
	int mid = 0, rc;

	if (s->state != CONNECTED || s->outstanding >= MQTT_MAX_INFLIGHT)
		return -EAGAIN;
	nm_route_pick(&s->route, msg, topic);
	rc = mosquitto_publish(s->m, &mid, topic, (int)msg->len, msg->data, (int)s->cfg->qos,
			       s->cfg->retain);
	/*
	 * QoS 1 and 2: libmosquitto queued the message (with its mid) before the
	 * write that failed, and sends it again after the reconnect: it is accepted,
	 * and its PUBACK reports it then. Offering it again would send it twice;
	 * counting it failed would call a delivered event lost.
	 */
	if (s->cfg->qos > 0 && mid &&
	    (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO ||
	     rc == MOSQ_ERR_TLS))
		rc = MOSQ_ERR_SUCCESS;
	if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_NOMEM) {
		return -EAGAIN;
	} else if (rc != MOSQ_ERR_SUCCESS) {
		s->publish_errors++;
		nm_sink_log(s->env, "mqtt", &s->publish_rl, NM_LOG_ERR,
			    "cannot publish to %s: %s (%d)", topic, mosquitto_strerror(rc), rc);
		return rc == MOSQ_ERR_PAYLOAD_SIZE ? -EMSGSIZE : -EINVAL;
	}
	if (s->cfg->qos == 0) {
		/* QoS 0 has no acknowledgement: written is all there will be. */
		s->delivered++;
		s->env->report(s->env->ctx, msg->token, 0);
		return 0;
	}
	s->mid_token[(uint16_t)mid] = msg->token;
	s->mid_used[(uint16_t)mid] = true;
	s->outstanding++;
	return 0;
}

static void mqtt_poll(void *sink, int timeout_ms)
{
	struct mqtt_sink *s = sink;
	int rc;

	if (s->state == DISCONNECTED) {
		int64_t wait = s->retry_at_ms - nm_mono_ms();

		if (wait > 0) {
			if (timeout_ms > 0)
				usleep((useconds_t)(wait < timeout_ms ? wait : timeout_ms) * 1000);
			return;
		}
		if (start_connect(s))
			return;
	}
	rc = mosquitto_loop(s->m, timeout_ms, 1);
	nm_report_run_flush(&s->run, s->env);
	if (rc != MOSQ_ERR_SUCCESS && s->state != DISCONNECTED) {
		if (s->state == CONNECTED)
			s->disconnects++;
		rl_log(s, NM_LOG_WARN, "connection to %s:%lld lost: %s", s->cfg->host, s->cfg->port,
		       rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		schedule_reconnect(s);
	}
}

static size_t mqtt_outstanding(void *sink)
{
	return ((struct mqtt_sink *)sink)->outstanding;
}

static int mqtt_flush(void *sink, int timeout_ms)
{
	return nm_flush_by_polling(sink, mqtt_poll, mqtt_outstanding, timeout_ms);
}

static void mqtt_stats(void *sink, struct nm_writer *w)
{
	struct mqtt_sink *s = sink;

	nm_w_cstr(w, "broker", s->cfg->host);
	nm_w_bool(w, "connected", s->state == CONNECTED);
	nm_w_u64(w, "mqtt_delivered", s->delivered);
	nm_w_u64(w, "mqtt_in_flight", s->outstanding);
	nm_w_u64(w, "connects", s->connects);
	nm_w_u64(w, "disconnects", s->disconnects);
	nm_w_u64(w, "publish_errors", s->publish_errors);
	nm_route_stats(&s->route, w);
	nm_w_cstr(w, "status_topic", s->status);
}

static bool mqtt_healthy(void *sink)
{
	return ((struct mqtt_sink *)sink)->state == CONNECTED;
}

static void mqtt_destroy(void *sink)
{
	struct mqtt_sink *s = sink;

	if (!s)
		return;
	if (s->state == CONNECTED) {
		int64_t until = nm_mono_ms() + 500;

		/* A clean disconnect cancels the will, so say "offline" ourselves. */
		publish_status(s, "offline");
		while (nm_mono_ms() < until && mosquitto_want_write(s->m) &&
		       mosquitto_loop(s->m, 50, 1) == MOSQ_ERR_SUCCESS)
			;
		mosquitto_disconnect(s->m);
		mosquitto_loop(s->m, 50, 1);
		nm_report_run_flush(&s->run, s->env); /* PUBACKs that came in meanwhile */
	}
	/* Unacknowledged messages stay unreported: the outlet spools or counts them. */
	release(s);
}

static int mqtt_validate(const void *config, char *err, size_t errlen)
{
	const struct mqtt_config *c = config;

	if (!c->host || !c->host[0]) {
		snprintf(err, errlen, "an mqtt sink needs 'host'");
		return -EINVAL;
	}
	if (nm_route_validate(&c->route, NM_TPL_MQTT_TOPIC, err, errlen))
		return -EINVAL;
	if (c->status_topic && c->status_topic[0] &&
	    nm_topic_check(c->status_topic, NM_TPL_MQTT_TOPIC, err, errlen))
		return -EINVAL;
	if (!!c->cert_file != !!c->key_file) {
		snprintf(err, errlen, "'cert_file' and 'key_file' go together");
		return -EINVAL;
	}
	if (c->cert_file && !c->ca_file) {
		snprintf(err, errlen, "a client certificate needs 'ca_file' to check the broker");
		return -EINVAL;
	}
	if (c->password && !c->username) {
		snprintf(err, errlen, "'password' needs 'username'");
		return -EINVAL;
	}
	/* libmosquitto only looks at them when the sink is created: say it now, at --check-config */
	const char *const tls_files[][2] = {
		{"ca_file", c->ca_file}, {"cert_file", c->cert_file}, {"key_file", c->key_file}};
	for (size_t i = 0; i < sizeof(tls_files) / sizeof(tls_files[0]); i++) {
		if (tls_files[i][1] && access(tls_files[i][1], R_OK)) {
			snprintf(err, errlen, "'%s' = \"%.200s\": %s", tls_files[i][0],
				 tls_files[i][1], strerror(errno));
			return -EINVAL;
		}
	}
	return 0;
}

static const struct nm_option mqtt_options[] = {
	{"host", NM_OPT_STRING, offsetof(struct mqtt_config, host), NULL, 0, 0, NULL,
	 "broker host"},
	{"port", NM_OPT_INT, offsetof(struct mqtt_config, port), "1883", 1, 65535, NULL,
	 "broker port (8883 is the usual TLS port)"},
	NM_ROUTE_OPTIONS(struct mqtt_config, route, "netmon/${host}/${type}"),
	{"status_topic", NM_OPT_STRING, offsetof(struct mqtt_config, status_topic), NULL, 0, 0,
	 NULL, "retained online/offline topic (default: prefix up to its last '/' + host/status)"},
	{"qos", NM_OPT_INT, offsetof(struct mqtt_config, qos), "1", 0, 2, NULL,
	 "0 = delivered when written, 1/2 = delivered on acknowledgement"},
	{"retain", NM_OPT_BOOL, offsetof(struct mqtt_config, retain), "false", 0, 0, NULL,
	 "publish events retained"},
	{"client_id", NM_OPT_STRING, offsetof(struct mqtt_config, client_id), NULL, 0, 0, NULL,
	 "session identity (default: ebpf-netmon-HOST)"},
	{"username", NM_OPT_STRING, offsetof(struct mqtt_config, username), NULL, 0, 0, NULL,
	 "user name"},
	{"password", NM_OPT_STRING, offsetof(struct mqtt_config, password), NULL, 0, 0, NULL,
	 "password"},
	{"ca_file", NM_OPT_STRING, offsetof(struct mqtt_config, ca_file), NULL, 0, 0, NULL,
	 "CA certificates (PEM): enables TLS"},
	{"cert_file", NM_OPT_STRING, offsetof(struct mqtt_config, cert_file), NULL, 0, 0, NULL,
	 "client certificate (PEM)"},
	{"key_file", NM_OPT_STRING, offsetof(struct mqtt_config, key_file), NULL, 0, 0, NULL,
	 "client key (PEM)"},
	{"tls_insecure", NM_OPT_BOOL, offsetof(struct mqtt_config, tls_insecure), "false", 0, 0,
	 NULL, "skip the broker host name check (never in production)"},
	{"keepalive", NM_OPT_INT, offsetof(struct mqtt_config, keepalive), "30", 5, 3600, NULL,
	 "seconds between pings"},
	{"reconnect_max_ms", NM_OPT_INT, offsetof(struct mqtt_config, reconnect_max_ms), "500",
	 BACKOFF_MIN_MS, 600000, NULL,
	 "reconnect backoff ceiling (500: back within 1 s of the broker)"},
	{NULL},
};

const struct nm_sink_type nm_sink_mqtt = {
	.api_version = NM_SINK_API_VERSION,
	.name = "mqtt",
	.description = "publish to an MQTT broker (libmosquitto), QoS 1 released on PUBACK",
	.options = mqtt_options,
	.config_size = sizeof(struct mqtt_config),
	.validate = mqtt_validate,
	.create = mqtt_create,
	.write = mqtt_write,
	.poll = mqtt_poll,
	.flush = mqtt_flush,
	.stats = mqtt_stats,
	.healthy = mqtt_healthy,
	.destroy = mqtt_destroy,
	.max_inflight = MQTT_MAX_INFLIGHT,
};

NM_SINK_EXPORT(nm_sink_mqtt);

/* test_template.c - topic/key templates: parsing, substitution, sanitizing hostile values, bounds. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "src/program.h"
#include "sinks/lib/route.h"

static void fake_fields(const struct nm_event *ev, struct nm_writer *w)
{
	nm_w_cstr(w, "protocol", "TCP");
	nm_w_u64(w, "destination_port", 443);
	nm_w_i64(w, "return_code", -111);
	nm_w_null(w, "interface");
}

static const struct nm_program_type fake_type = {
	.name = "connection",
	.write_fields = fake_fields,
};

static void make_event(struct nm_event *ev, const char *comm, size_t comm_len)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = &fake_type;
	ev->host = "edge-17";
	ev->has_task = true;
	ev->pid = 4242;
	ev->uid = 1000;
	ev->seq = 7;
	memcpy(ev->command, comm, comm_len);
	ev->run_id = 0x0123456789abcdefULL; /* id 0123456789abcdef-0000000000000007 */
}

static int render(const char *tpl, enum nm_tpl_kind kind, const struct nm_event *ev, char *out)
{
	char err[256];
	struct nm_template *t = nm_template_new(tpl, kind, err, sizeof(err));
	size_t len = 0;
	int rc;

	if (!t) {
		fprintf(stderr, "template %s: %s\n", tpl, err);
		return -1000;
	}
	struct nm_sink_msg msg = {
		.type = ev->type->name,
		.write_fields = nm_event_write_fields,
		.event = ev,
	};

	rc = nm_template_render(t, &msg, out, &len);
	if (!rc)
		CHECK_EQ_INT(len, strlen(out));
	nm_template_free(t);
	return rc;
}

static bool compiles(const char *tpl, enum nm_tpl_kind kind)
{
	char err[256];
	struct nm_template *t = nm_template_new(tpl, kind, err, sizeof(err));

	nm_template_free(t);
	return t != NULL;
}

int main(void)
{
	char out[NM_TPL_OUT_MAX + 1];
	struct nm_event ev;
	char big[80];

	/* plain substitution */
	make_event(&ev, "curl", 4);
	CHECK_EQ_INT(render("netmon/${host}/${type}", NM_TPL_MQTT_TOPIC, &ev, out), 0);
	CHECK_EQ_STR(out, "netmon/edge-17/connection");
	CHECK_EQ_INT(render("netmon.${type}", NM_TPL_KAFKA_TOPIC, &ev, out), 0);
	CHECK_EQ_STR(out, "netmon.connection");
	CHECK_EQ_INT(render("${host}:${pid}", NM_TPL_KAFKA_KEY, &ev, out), 0);
	CHECK_EQ_STR(out, "edge-17:4242");
	CHECK_EQ_INT(render("n/${command}/${protocol}/${destination_port}/${return_code}",
			    NM_TPL_MQTT_TOPIC, &ev, out),
		     0);
	CHECK_EQ_STR(out, "n/curl/TCP/443/-111");
	CHECK_EQ_INT(render("n/${uid}/${seq}/${id}", NM_TPL_MQTT_TOPIC, &ev, out), 0);
	CHECK_EQ_STR(out, "n/1000/7/0123456789abcdef-0000000000000007");
	CHECK_EQ_INT(render("static.topic", NM_TPL_KAFKA_TOPIC, &ev, out), 0);
	CHECK_EQ_STR(out, "static.topic");

	/* missing or null fields cannot be routed */
	CHECK_EQ_INT(render("n/${interface}", NM_TPL_MQTT_TOPIC, &ev, out), -EINVAL);
	CHECK_EQ_INT(render("n/${no_such_field}", NM_TPL_MQTT_TOPIC, &ev, out), -EINVAL);
	ev.has_task = false;
	CHECK_EQ_INT(render("n/${command}", NM_TPL_MQTT_TOPIC, &ev, out), -EINVAL);
	CHECK_EQ_INT(render("n/${pid}", NM_TPL_MQTT_TOPIC, &ev, out), -EINVAL);

	/* hostile process names: slashes, wildcards, spaces, 0xff, '..' */
	make_event(&ev, "a/b#c+d e", 9);
	CHECK_EQ_INT(render("n/${command}", NM_TPL_MQTT_TOPIC, &ev, out), 0);
	CHECK_EQ_STR(out, "n/a_b_c_d_e");
	CHECK_EQ_INT(render("n.${command}", NM_TPL_KAFKA_TOPIC, &ev, out), 0);
	CHECK_EQ_STR(out, "n.a_b_c_d_e");
	make_event(&ev, "x\xff\xfe\x01y", 5);
	CHECK_EQ_INT(render("n/${command}", NM_TPL_MQTT_TOPIC, &ev, out), 0);
	CHECK_EQ_STR(out, "n/x___y");
	make_event(&ev, "..", 2);
	CHECK_EQ_INT(render("n.${command}", NM_TPL_KAFKA_TOPIC, &ev, out), -EINVAL);
	CHECK_EQ_INT(render("n/${command}", NM_TPL_MQTT_TOPIC, &ev, out), -EINVAL);
	make_event(&ev, "///###+++", 9);
	CHECK_EQ_INT(render("n/${command}", NM_TPL_MQTT_TOPIC, &ev, out), -EINVAL);
	make_event(&ev, "\xff\xff\xff\xff", 4);
	CHECK_EQ_INT(render("n.${command}", NM_TPL_KAFKA_TOPIC, &ev, out), -EINVAL);
	/* a full 16-byte command (not NUL-terminated) is read to its end only */
	make_event(&ev, "abcdefghijklmnop", 16);
	CHECK_EQ_INT(render("n/${command}/x", NM_TPL_MQTT_TOPIC, &ev, out), 0);
	CHECK_EQ_STR(out, "n/abcdefghijklmnop/x");
	/* keys keep raw bytes */
	make_event(&ev, "a/b", 3);
	CHECK_EQ_INT(render("${command}", NM_TPL_KAFKA_KEY, &ev, out), 0);
	CHECK_EQ_STR(out, "a/b");

	/* length limits: a Kafka topic is at most 249 bytes */
	memset(big, 'a', 70);
	big[70] = '\0';
	{
		char tpl[400];

		make_event(&ev, "curl", 4);
		snprintf(tpl, sizeof(tpl), "%s%s%s%s.${host}", big, big, big, big);
		CHECK_EQ_INT(render(tpl, NM_TPL_KAFKA_TOPIC, &ev, out), -ENAMETOOLONG);
		snprintf(tpl, sizeof(tpl), "%s%s%s.${host}", big, big, big);
		CHECK_EQ_INT(render(tpl, NM_TPL_KAFKA_TOPIC, &ev, out), 0);
	}

	/* what does not compile */
	CHECK(!compiles("${host}/x", NM_TPL_MQTT_TOPIC));
	CHECK(!compiles("${type}", NM_TPL_KAFKA_TOPIC));
	CHECK(!compiles("", NM_TPL_MQTT_TOPIC));
	CHECK(!compiles("a/#", NM_TPL_MQTT_TOPIC));
	CHECK(!compiles("a/+/b", NM_TPL_MQTT_TOPIC));
	CHECK(!compiles("$SYS/${host}", NM_TPL_MQTT_TOPIC));
	CHECK(!compiles("net/mon", NM_TPL_KAFKA_TOPIC));
	CHECK(!compiles("n.${", NM_TPL_KAFKA_TOPIC));
	CHECK(!compiles("n.${}", NM_TPL_KAFKA_TOPIC));
	CHECK(!compiles("n.${a b}", NM_TPL_KAFKA_TOPIC));
	CHECK(compiles("${host}", NM_TPL_KAFKA_KEY));
	CHECK(compiles("", NM_TPL_KAFKA_KEY));

	/* fixed topics */
	{
		char err[128];

		CHECK_EQ_INT(nm_topic_check("netmon.unroutable", NM_TPL_KAFKA_TOPIC, err, 128), 0);
		CHECK(nm_topic_check("..", NM_TPL_KAFKA_TOPIC, err, 128) < 0);
		CHECK(nm_topic_check("a/#", NM_TPL_MQTT_TOPIC, err, 128) < 0);
		CHECK(nm_topic_check("$SYS/x", NM_TPL_MQTT_TOPIC, err, 128) < 0);
	}

	/* the topic set is bounded */
	{
		struct nm_topic_set *s = nm_topic_set_new(3);
		char name[32];

		CHECK(s != NULL);
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof(name), "t%d", i);
			CHECK(nm_topic_set_admit(s, name));
		}
		CHECK(nm_topic_set_admit(s, "t1"));
		CHECK(!nm_topic_set_admit(s, "t3"));
		CHECK_EQ_INT(nm_topic_set_count(s), 3);
		nm_topic_set_free(s);
	}

	/* ${host} from the message itself, with no field walk; the walk when it has none */
	{
		char err[256];
		struct nm_template *t =
			nm_template_new("${host}", NM_TPL_KAFKA_KEY, err, sizeof(err));
		struct nm_template *t2 =
			nm_template_new("${host}-${pid}", NM_TPL_KAFKA_KEY, err, sizeof(err));
		struct nm_sink_msg no_walk = {.type = "connection", .host = "fast-host"};
		struct nm_sink_msg walk = {
			.type = "connection", .write_fields = nm_event_write_fields, .event = &ev};
		struct nm_sink_msg both = walk;
		size_t len;

		make_event(&ev, "curl", 4);
		both.host = "fast-host"; /* the message's host wins; pid comes from the walk */
		CHECK(t && t2);
		CHECK_EQ_INT(nm_template_render(t, &no_walk, out, &len), 0);
		CHECK_EQ_STR(out, "fast-host");
		CHECK_EQ_INT(nm_template_render(t, &walk, out, &len), 0);
		CHECK_EQ_STR(out, "edge-17");
		CHECK_EQ_INT(nm_template_render(t2, &both, out, &len), 0);
		CHECK_EQ_STR(out, "fast-host-4242");
		nm_template_free(t);
		nm_template_free(t2);
	}

	/* routing: the default fallback is the prefix + unroutable; both fallbacks are counted */
	{
		struct nm_route_config rc = {.topic = "netmon.${command}", .max_topics = 2};
		struct nm_route r;
		char err[256];
		struct nm_sink_msg msg = {
			.type = "connection", .write_fields = nm_event_write_fields, .event = &ev};

		CHECK_EQ_INT(nm_route_init(&r, &rc, NM_TPL_KAFKA_TOPIC, err, sizeof(err)), 0);
		CHECK_EQ_STR(nm_route_prefix(&r), "netmon.");
		make_event(&ev, "curl", 4);
		nm_route_pick(&r, &msg, out);
		CHECK_EQ_STR(out, "netmon.curl");
		make_event(&ev, "///", 3); /* nothing meaningful left of it */
		nm_route_pick(&r, &msg, out);
		CHECK_EQ_STR(out, "netmon.unroutable");
		CHECK_EQ_INT(r.topic_fallback, 1);
		make_event(&ev, "wget", 4);
		nm_route_pick(&r, &msg, out);
		CHECK_EQ_STR(out, "netmon.wget");
		make_event(&ev, "nc", 2); /* a third topic: over max_topics */
		nm_route_pick(&r, &msg, out);
		CHECK_EQ_STR(out, "netmon.unroutable");
		CHECK_EQ_INT(r.topics_over_limit, 1);
		nm_route_free(&r);

		rc.fallback_topic = "bad/topic";
		CHECK(nm_route_validate(&rc, NM_TPL_KAFKA_TOPIC, err, sizeof(err)) < 0);
		CHECK(nm_route_init(&r, &rc, NM_TPL_KAFKA_TOPIC, err, sizeof(err)) < 0);
		nm_route_free(&r);
		rc.topic = "netmon/${command}";
		rc.fallback_topic = "netmon/+";
		CHECK_EQ_INT(nm_route_validate(&rc, NM_TPL_MQTT_TOPIC, err, sizeof(err)), -EINVAL);
		rc.fallback_topic = "netmon/other";
		CHECK_EQ_INT(nm_route_validate(&rc, NM_TPL_MQTT_TOPIC, err, sizeof(err)), 0);
	}
	CHECK_DONE();
}

/* bench_mqtt_pub.c - the MQTT reference: libmosquitto alone publishing lines at QoS 1, PUBACKs counted. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mosquitto.h>

/*
 * libmosquitto alone, one thread: mosquitto_loop() between publishes, at most
 * INFLIGHT messages on the wire unacknowledged (max_inflight_messages) and at
 * most QUEUE published and not yet acknowledged (the rest wait in the
 * library) — the MQTT sink's two bounds, given on the command line — a
 * message counted once its PUBACK is in.
 */

struct pub {
	long acked;
	long outstanding;
	bool connected;
	int connack;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_connect(struct mosquitto *m, void *ctx, int rc)
{
	struct pub *p = ctx;

	(void)m;
	p->connack = rc;
	p->connected = rc == 0;
}

static void on_publish(struct mosquitto *m, void *ctx, int mid)
{
	struct pub *p = ctx;

	(void)m;
	(void)mid;
	p->acked++;
	p->outstanding--;
}

/* Read every line of @path into *@lines (pointers into *@text, newlines cut). Count or -errno. */
static long read_lines(const char *path, char **text, char ***lines, size_t **lens)
{
	FILE *f = fopen(path, "r");
	long n = 0, cap = 0;
	size_t size = 0;
	char *t, *s, *end;

	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	size = (size_t)ftell(f);
	rewind(f);
	t = malloc(size + 1);
	if (!t || fread(t, 1, size, f) != size) {
		fclose(f);
		free(t);
		return -EIO;
	}
	fclose(f);
	t[size] = '\0';
	*lines = NULL;
	*lens = NULL;
	for (s = t; s < t + size; s = end + 1) {
		end = memchr(s, '\n', (size_t)(t + size - s));
		if (!end)
			end = t + size;
		if (n == cap) {
			cap = cap ? 2 * cap : 65536;
			*lines = realloc(*lines, (size_t)cap * sizeof(**lines));
			*lens = realloc(*lens, (size_t)cap * sizeof(**lens));
			if (!*lines || !*lens)
				return -ENOMEM;
		}
		(*lines)[n] = s;
		(*lens)[n++] = (size_t)(end - s);
	}
	*text = t;
	return n;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *topic, *path;
	int port, inflight, queue;
	struct pub p = {0};
	struct mosquitto *m;
	char **lines = NULL, *text = NULL;
	size_t *lens = NULL;
	double t0, wall;
	long n, sent = 0;
	int rc;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: bench_mqtt_pub PORT TOPIC INFLIGHT FILE [QUEUE]\n");
		return 64;
	}
	port = atoi(argv[1]);
	topic = argv[2];
	inflight = atoi(argv[3]);
	path = argv[4];
	queue = argc == 6 ? atoi(argv[5]) : inflight;
	n = read_lines(path, &text, &lines, &lens);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror((int)-n));
		return 1;
	}
	mosquitto_lib_init();
	m = mosquitto_new("nm-bench-pub", true, &p);
	if (!m)
		return 1;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_max_inflight_messages_set(m, (unsigned)inflight);
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_publish_callback_set(m, on_publish);
	if (mosquitto_connect(m, host, port, 30) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "cannot connect to %s:%d\n", host, port);
		return 1;
	}
	while (!p.connected && p.connack == 0)
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
			return 1;
	t0 = now_s();
	while (p.acked < n) {
		while (sent < n && p.outstanding < queue) {
			rc = mosquitto_publish(m, NULL, topic, (int)lens[sent], lines[sent], 1,
					       false);
			if (rc != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "publish: %s\n", mosquitto_strerror(rc));
				return 1;
			}
			sent++;
			p.outstanding++;
		}
		rc = mosquitto_loop(m, sent < n && p.outstanding < queue ? 0 : 5, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "loop: %s\n", mosquitto_strerror(rc));
			return 1;
		}
	}
	wall = now_s() - t0;
	printf("libmosquitto qos 1 inflight %d queue %d: %ld messages acknowledged in %.3f s = "
	       "%.0f messages/s\n",
	       inflight, queue, p.acked, wall, p.acked / wall);
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	free(text);
	free(lines);
	free(lens);
	return 0;
}

/* nm-kafka-mock.c - a Kafka cluster for tests (librdkafka's mock brokers) with outages on signals. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t want_down, want_up, want_exit;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_down = 1;
	else if (sig == SIGUSR2)
		want_up = 1;
	else
		want_exit = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: nm-kafka-mock [-b BROKERS] [-p PARTITIONS] [-t TOPIC]...\n"
		"  starts a mock Kafka cluster on 127.0.0.1, prints its bootstrap servers on\n"
		"  stdout, and runs until SIGTERM/SIGINT. SIGUSR1 takes every broker down,\n"
		"  SIGUSR2 brings them back. Topics named with -t are created up front.\n");
	exit(64);
}

static void set_all(rd_kafka_mock_cluster_t *mc, int nbrokers, int up)
{
	for (int i = 1; i <= nbrokers; i++) {
		rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mc, i)
					     : rd_kafka_mock_broker_set_down(mc, i);

		if (err)
			fprintf(stderr, "nm-kafka-mock: broker %d: %s\n", i, rd_kafka_err2str(err));
	}
	fprintf(stderr, "nm-kafka-mock: brokers %s\n", up ? "up" : "down");
}

int main(int argc, char **argv)
{
	int nbrokers = 1, partitions = 1, opt, rc = 1;
	const char *topics[32];
	int ntopics = 0;
	rd_kafka_mock_cluster_t *mc = NULL;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char errstr[256];
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "b:p:t:")) != -1) {
		switch (opt) {
		case 'b':
			nbrokers = atoi(optarg);
			break;
		case 'p':
			partitions = atoi(optarg);
			break;
		case 't':
			if (ntopics < 32)
				topics[ntopics++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (nbrokers < 1 || partitions < 1)
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* The mock cluster lives inside a client instance; nothing is produced with it. */
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "nm-kafka-mock: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, nbrokers);
	if (!mc) {
		fprintf(stderr, "nm-kafka-mock: cannot create the mock cluster\n");
		goto out;
	}
	for (int i = 0; i < ntopics; i++)
		if (rd_kafka_mock_topic_create(mc, topics[i], partitions, 1))
			fprintf(stderr, "nm-kafka-mock: cannot create topic %s\n", topics[i]);
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (!want_exit) {
		if (want_down) {
			want_down = 0;
			set_all(mc, nbrokers, 0);
		}
		if (want_up) {
			want_up = 0;
			set_all(mc, nbrokers, 1);
		}
		usleep(20 * 1000);
	}
	rc = 0;
out:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return rc;
}

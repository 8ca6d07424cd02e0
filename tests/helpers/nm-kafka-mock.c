/* nm-kafka-mock.c - a Kafka cluster for tests (librdkafka's mock brokers): outages and errors on command. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
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
		"usage: nm-kafka-mock [-b BROKERS] [-p PARTITIONS] [-t TOPIC]... [-c FIFO]\n"
		"  starts a mock Kafka cluster on 127.0.0.1, prints its bootstrap servers on\n"
		"  stdout, and runs until SIGTERM/SIGINT. SIGUSR1 takes every broker down,\n"
		"  SIGUSR2 brings them back. Topics named with -t are created up front.\n"
		"  -c reads commands, one a line, from the named pipe FIFO:\n"
		"    down | up                      every broker down or up\n"
		"    produce-error NAME [COUNT]     the next COUNT (1) ProduceRequests fail with\n"
		"                                   the broker error NAME, e.g.\n"
		"                                   OUT_OF_ORDER_SEQUENCE_NUMBER (see rd_kafka_err2name)\n");
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

/* The error code whose rd_kafka_err2name() is @name, or RD_KAFKA_RESP_ERR_NO_ERROR. */
static rd_kafka_resp_err_t error_named(const char *name)
{
	const struct rd_kafka_err_desc *descs;
	size_t n;

	rd_kafka_get_err_descs(&descs, &n);
	for (size_t i = 0; i < n; i++)
		if (descs[i].name && descs[i].code && !strcmp(descs[i].name, name))
			return descs[i].code;
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static void run_command(rd_kafka_mock_cluster_t *mc, int nbrokers, char *line)
{
	char *save = NULL, *verb = strtok_r(line, " \t", &save);
	char *arg = verb ? strtok_r(NULL, " \t", &save) : NULL;
	char *count = arg ? strtok_r(NULL, " \t", &save) : NULL;

	if (!verb)
		return;
	if (!strcmp(verb, "down") || !strcmp(verb, "up")) {
		set_all(mc, nbrokers, !strcmp(verb, "up"));
	} else if (!strcmp(verb, "produce-error") && arg && error_named(arg)) {
		rd_kafka_resp_err_t err = error_named(arg);
		int cnt = count ? atoi(count) : 1;

		for (int i = 0; i < cnt; i++)
			rd_kafka_mock_push_request_errors(mc, 0 /* ProduceRequest */, 1, err);
		fprintf(stderr, "nm-kafka-mock: the next %d ProduceRequest(s) fail with %s\n", cnt,
			arg);
	} else {
		fprintf(stderr, "nm-kafka-mock: unknown command \"%s\"\n", verb);
	}
}

/* Run every complete line the pipe has for us; a partial one waits in @pending. */
static void read_commands(int fd, rd_kafka_mock_cluster_t *mc, int nbrokers, char *pending,
			  size_t cap, size_t *len)
{
	ssize_t n = read(fd, pending + *len, cap - 1 - *len);
	char *line = pending, *nl;

	if (n <= 0)
		return;
	*len += (size_t)n;
	pending[*len] = '\0';
	while ((nl = strchr(line, '\n'))) {
		*nl = '\0';
		run_command(mc, nbrokers, line);
		line = nl + 1;
	}
	*len -= (size_t)(line - pending);
	memmove(pending, line, *len);
	if (*len == cap - 1)
		*len = 0; /* a line longer than the buffer: dropped */
}

int main(int argc, char **argv)
{
	int nbrokers = 1, partitions = 1, opt, rc = 1, cmd_fd = -1;
	const char *cmd_path = NULL;
	char pending[1024];
	size_t pending_len = 0;
	const char *topics[32];
	int ntopics = 0;
	rd_kafka_mock_cluster_t *mc = NULL;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char errstr[256];
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "b:p:t:c:")) != -1) {
		switch (opt) {
		case 'c':
			cmd_path = optarg;
			break;
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
	if (cmd_path) {
		struct stat st;

		/* Read and write: the pipe never reports end of file between two writers. */
		cmd_fd = open(cmd_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (cmd_fd < 0 || fstat(cmd_fd, &st) || !S_ISFIFO(st.st_mode)) {
			fprintf(stderr, "nm-kafka-mock: %s is not a named pipe I can open: %s\n",
				cmd_path, cmd_fd < 0 ? strerror(errno) : "not a FIFO");
			return 1;
		}
	}
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
		if (cmd_fd >= 0)
			read_commands(cmd_fd, mc, nbrokers, pending, sizeof(pending), &pending_len);
		usleep(20 * 1000);
	}
	rc = 0;
out:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	if (cmd_fd >= 0)
		close(cmd_fd);
	return rc;
}

/* nm-connect.c - test traffic: N connect() calls to a loopback port, under a chosen process name. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr,
		"usage: nm-connect [-4|-6] [-u] [-n COUNT] [-p PORT] [-c COMM] [-d SECONDS] [-r RATE]\n"
		"  connect() COUNT times (or for SECONDS) to 127.0.0.1 / ::1 PORT over TCP\n"
		"  (or UDP with -u), naming the process COMM, at most RATE per second (default:\n"
		"  as fast as it can); prints the count and rate.\n");
	exit(64);
}

int main(int argc, char **argv)
{
	int family = AF_INET, type = SOCK_STREAM, port = 9, opt;
	long count = 1, done = 0, failed = 0;
	double seconds = 0, rate = 0;
	const char *comm = NULL;
	struct sockaddr_storage ss = {0};
	socklen_t sslen;
	struct timespec t0, t1;
	double elapsed;

	while ((opt = getopt(argc, argv, "46un:p:c:d:r:")) != -1) {
		switch (opt) {
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'u':
			type = SOCK_DGRAM;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			comm = optarg;
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (comm)
		prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		sslen = sizeof(*sin6);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int fd;

		if (seconds > 0) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
				break;
		} else if (done >= count) {
			break;
		}
		if (rate > 0) {
			/* paced against the start, so a late wake-up is caught up, not lost */
			double due = done / rate, now;

			clock_gettime(CLOCK_MONOTONIC, &t1);
			now = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
			if (due > now + 0.0005)
				usleep((useconds_t)((due - now) * 1e6));
		}
		fd = socket(family, type, 0);
		if (fd < 0) {
			perror("socket");
			return 1;
		}
		if (connect(fd, (struct sockaddr *)&ss, sslen))
			failed++;
		close(fd);
		done++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("connects=%ld failed=%ld seconds=%.3f rate=%.0f\n", done, failed, elapsed,
	       elapsed > 0 ? done / elapsed : 0.0);
	return 0;
}

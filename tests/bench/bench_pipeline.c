/* bench_pipeline.c - user-space cost per event: decode -> enrich -> encode -> file sink (memory or disk durability). */
/*
 *   bench_pipeline [N [json|msgpack [memory|disk [sync_ms] | PATH]]]   events/s and CPU per event
 *   bench_pipeline --instructions [json|msgpack]                        instructions per event
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "src/config.h"
#include "src/log.h"
#include "src/pipeline.h"
#include "storm_records.h"

/* The instructions callgrind counted in the whole run of its output file @path, or -1. */
static long long callgrind_total(const char *path)
{
	char line[256];
	long long ir = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "totals:", 7) || !strncmp(line, "summary:", 8))
			ir = atoll(strchr(line, ':') + 1);
	if (f)
		fclose(f);
	return ir;
}

/* This bench under callgrind for @n events; its instruction count, or -1. */
static long long run_callgrind(const char *self, long n, const char *format, const char *dir)
{
	char out[256], arg[300], count[32];
	int status;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/callgrind.%ld", dir, n);
	snprintf(arg, sizeof(arg), "--callgrind-out-file=%s", out);
	snprintf(count, sizeof(count), "%ld", n);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execlp("valgrind", "valgrind", "--tool=callgrind", arg, self, count, format,
		       (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "valgrind --tool=callgrind %s %ld %s failed\n", self, n, format);
		return -1;
	}
	return callgrind_total(out);
}

/*
 * Instructions per event, all threads: the difference between two runs of
 * different lengths, so start-up (BTF, skeletons, the sink) cancels out. Both
 * runs are longer than the sink's queue (max_events, 100 000): under callgrind
 * the threads take turns and the reader fills the queue first; past that the
 * reader waits for room as the bench does at full speed, and both runs are in
 * that steady state.
 */
static int instructions(const char *format)
{
	const long n1 = 200000, n2 = 280000;
	char dir[] = "/tmp/nm-bench-callgrind.XXXXXX", self[4096], path[300];
	long long ir1, ir2;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (len < 0 || !mkdtemp(dir)) {
		perror("bench_pipeline");
		return 1;
	}
	self[len] = '\0';
	ir1 = run_callgrind(self, n1, format, dir);
	ir2 = ir1 < 0 ? -1 : run_callgrind(self, n2, format, dir);
	for (long n = n1; n <= n2; n += n2 - n1) {
		snprintf(path, sizeof(path), "%s/callgrind.%ld", dir, n);
		unlink(path);
	}
	rmdir(dir);
	if (ir2 < 0)
		return 1;
	printf("pipeline %s: %.0f instructions per event (callgrind, (Ir(%ld) - Ir(%ld)) / %ld; "
	       "start-up %.1f M)\n",
	       format, (double)(ir2 - ir1) / (double)(n2 - n1), n2, n1, n2 - n1,
	       (ir1 - (ir2 - ir1) * (double)n1 / (double)(n2 - n1)) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	const char *format = argc > 2 ? argv[2] : "json";
	/* a private directory: the file sink refuses one that others can write, such as /tmp */
	char dir[] = "/tmp/nm-bench-pipeline.XXXXXX", own[sizeof(dir) + 16];
	/* argv[3]: memory | disk (then argv[4]: durability_sync_ms), or an output path */
	bool mode = argc > 3 && (!strcmp(argv[3], "memory") || !strcmp(argv[3], "disk"));
	const char *durability = mode ? argv[3] : "memory";
	const char *sync_ms = mode && argc > 4 ? argv[4] : "20";
	const char *path = argc > 3 && !mode ? argv[3] : NULL;
	char spool[sizeof(dir) + 16];
	struct nm_connection_record conn;
	struct nm_packet_drop_record drop;
	struct nm_pipeline_stats ps;
	struct nm_outlet_stats os;
	struct nm_pipeline *p;
	struct nm_config *cfg;
	char conf[1024], err[1024];
	double t0, c0, wall, cpu;

	if (argc > 1 && !strcmp(argv[1], "--instructions"))
		return instructions(argc > 2 ? argv[2] : "json");
	nm_log_set_level(NM_LOG_WARN);
	if (!path) {
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		snprintf(own, sizeof(own), "%s/events.out", dir);
		path = own;
	}
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(conf, sizeof(conf),
		 "sinks = ( { name = \"f\"; type = \"file\"; format = \"%s\"; path = \"%s\";"
		 " rotate_bytes = 0; durability = \"%s\"; durability_sync_ms = %s;"
		 " queue = { when_full = \"block\"; spool_dir = \"%s\"; }; } );\n"
		 "control = { enabled = false; };\n",
		 format, path, durability, sync_ms, spool);
	unlink(path);
	cfg = nm_config_load_string(conf, "bench", err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	/* Loads the BPF objects (for the packet_drop reason names and symbols) but attaches nothing. */
	p = nm_pipeline_create(cfg, err, sizeof(err));
	if (!p || nm_pipeline_start_sinks(p, err, sizeof(err))) {
		fprintf(stderr, "%s (needs root)\n", err);
		return 1;
	}
	make_records(&conn, &drop);

	t0 = now_s();
	c0 = cpu_s();
	for (long i = 0; i < n / 2; i++) {
		conn.hdr.timestamp_ns += 1000;
		drop.hdr.timestamp_ns += 1000;
		nm_pipeline_ingest(p, nm_pipeline_program(p, 0), &conn, sizeof(conn));
		nm_pipeline_ingest(p, nm_pipeline_program(p, 1), &drop, sizeof(drop));
		if (i % 512 == 511)
			nm_pipeline_flush(p); /* as the reader does after each ring drain */
	}
	nm_pipeline_flush(p);
	/* Until the sink has everything (durable: it comes back from the spool), 60 s at most. */
	for (int i = 0; i < 6000; i++) {
		nm_outlet_get_stats(nm_pipeline_outlet(p, 0), &os);
		if (os.delivered >= (uint64_t)n)
			break;
		usleep(10000);
	}
	nm_pipeline_shutdown(p);
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	nm_pipeline_get_stats(p, &ps);
	nm_outlet_get_stats(nm_pipeline_outlet(p, 0), &os);
	printf("pipeline %s %s: %ld events in %.3f s = %.0f events/s; cpu %.3f s (%.0f ns/event); "
	       "delivered %llu, dropped %llu",
	       format, durability, n, wall, n / wall, cpu, cpu * 1e9 / n,
	       (unsigned long long)os.delivered, (unsigned long long)(os.received - os.delivered));
	if (os.durable)
		printf("; persisted %llu (%.1f MB) in %llu fdatasyncs (sync_ms %s)",
		       (unsigned long long)os.persisted, os.persisted_bytes / 1e6,
		       (unsigned long long)os.syncs, sync_ms);
	printf("\n");
	nm_pipeline_destroy(p);
	nm_config_free(cfg);
	unlink(path);
	if (path == own) {
		DIR *d = opendir(spool);
		struct dirent *de;

		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		if (d)
			closedir(d);
		rmdir(spool);
		rmdir(dir);
	}
	return os.delivered == (unsigned long long)n ? 0 : 1;
}

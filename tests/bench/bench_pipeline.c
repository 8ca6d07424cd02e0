/* bench_pipeline.c - user-space cost per event: decode -> enrich -> encode -> file sink (memory or disk durability). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "bpf/connection.h"
#include "bpf/packet_drop.h"
#include "src/config.h"
#include "src/log.h"
#include "src/pipeline.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* Records shaped like the storm's: a refused loopback connect and its NO_SOCKET drop. */
static void make_records(struct nm_connection_record *c, struct nm_packet_drop_record *d)
{
	memset(c, 0, sizeof(*c));
	c->hdr.version = NM_RECORD_VERSION;
	c->hdr.type = NM_REC_CONNECTION;
	c->hdr.len = sizeof(*c);
	c->hdr.timestamp_ns = 1000;
	c->hdr.pid = c->hdr.tid = 4242;
	c->hdr.flags = NM_REC_F_TASK;
	c->hdr.cgroup_id = 1;
	memcpy(c->hdr.comm, "nm-connect", 10);
	c->c.family = AF_INET;
	c->c.protocol = 6;
	c->c.sock_type = SOCK_STREAM;
	c->c.dport = 9;
	c->c.ret = -111;
	c->c.conn_flags = NM_CONN_F_PROTO_KNOWN;
	c->c.daddr[0] = 127;
	c->c.daddr[3] = 1;
	c->c.netns = 4026531833u;

	memset(d, 0, sizeof(*d));
	d->hdr.version = NM_RECORD_VERSION;
	d->hdr.type = NM_REC_PACKET_DROP;
	d->hdr.len = sizeof(*d);
	d->hdr.timestamp_ns = 1000;
	d->d.reason = 3;
	d->d.len = 40;
	d->d.l3_proto = 0x0800;
	d->d.l4_proto = 6;
	d->d.family = AF_INET;
	d->d.sport = 52236;
	d->d.dport = 9;
	d->d.ifindex = 1;
	d->d.netns = 4026531833u;
	d->d.drop_flags = NM_DROP_F_L3_PARSED | NM_DROP_F_L4_PARSED | NM_DROP_F_SOFTIRQ;
	d->d.saddr[0] = d->d.daddr[0] = 127;
	d->d.saddr[3] = d->d.daddr[3] = 1;
	memcpy(d->d.ifname, "lo", 2);
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

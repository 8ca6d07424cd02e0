/* storm_records.h - what the benchmarks share: clocks, and records shaped like the storm's. */
#ifndef NM_BENCH_STORM_RECORDS_H
#define NM_BENCH_STORM_RECORDS_H

#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "bpf/connection.h"
#include "bpf/packet_drop.h"

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* Records shaped like the storm's: a refused loopback connect and its NO_SOCKET drop. */
static inline void make_records(struct nm_connection_record *c, struct nm_packet_drop_record *d)
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

#endif

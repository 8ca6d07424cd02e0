/* tcp_retransmit.c - user-space half of bpf/tcp_retransmit.bpf.c: TCP retransmissions per flow. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "../program.h"
#include "tcp_retransmit.skel.h"
#include "../../bpf/tcp_retransmit.h"
#include "common.h"

_Static_assert(sizeof(struct nm_tcp_retransmit_fields) <= NM_EVENT_BODY_MAX,
	       "record fits the event");

struct tcp_retransmit_config {
	long long aggregate_ms;
	long long max_flows;
};

static const struct nm_option tcp_retransmit_options[] = {
	{"aggregate_ms", NM_OPT_INT, offsetof(struct tcp_retransmit_config, aggregate_ms), "1000",
	 0, 3600000, NULL,
	 "a flow's first retransmission is reported at once, later ones at most once per this "
	 "many milliseconds with their count (and the rest when the socket goes away); 0 = one "
	 "event per retransmission"},
	{"max_flows", NM_OPT_INT, offsetof(struct tcp_retransmit_config, max_flows), "16384", 64,
	 1LL << 24, NULL,
	 "flows whose retransmissions are being aggregated at once (an LRU table in the kernel)"},
	{NULL},
};

static int tcp_retransmit_open(struct nm_program *p, const void *config, char *err, size_t errlen)
{
	const struct tcp_retransmit_config *cfg = config;
	struct nm_tcp_retransmit *skel = nm_tcp_retransmit__open();
	int rc;

	if (!skel) {
		rc = -errno;
		snprintf(err, errlen, "tcp_retransmit: cannot open BPF object: %s", strerror(-rc));
		return rc;
	}
	p->skel = skel;
	p->obj = skel->obj;
	skel->rodata->nm_aggregate_ns = (uint64_t)cfg->aggregate_ms * 1000000ULL;
	rc = bpf_map__set_max_entries(skel->maps.flows, (uint32_t)cfg->max_flows);
	if (rc)
		snprintf(err, errlen, "tcp_retransmit: cannot size the flow map: %s",
			 strerror(-rc));
	return rc;
}

static void tcp_retransmit_close(struct nm_program *p)
{
	nm_tcp_retransmit__destroy(p->skel);
}

static int tcp_retransmit_decode(struct nm_program *p, const void *record, struct nm_event *ev)
{
	/* the header's fields are in the event already */
	memcpy(ev->body, &((const struct nm_tcp_retransmit_record *)record)->t,
	       sizeof(struct nm_tcp_retransmit_fields));
	return 0;
}

static void tcp_retransmit_write(const struct nm_event *ev, struct nm_writer *w)
{
	const struct nm_tcp_retransmit_fields *r = (const void *)ev->body;
	struct nm_fw f;

	nm_fw_begin(&f, w);
	nm_fw_cstr(&f, "family", nm_family_name(r->family));
	nm_fw_cstr(&f, "protocol", "tcp");
	nm_fw_endpoint(&f, NM_ENDPOINT_SOURCE, r->family, r->saddr, r->sport, true, true);
	nm_fw_endpoint(&f, NM_ENDPOINT_DESTINATION, r->family, r->daddr, r->dport, true, true);
	nm_fw_cstr(&f, "state", nm_tcp_state_name(r->state));
	nm_fw_u64(&f, "retransmits", r->retransmits);
	nm_fw_u64(&f, "interval_ns", r->interval_ns);
	nm_fw_u64(&f, "total_retransmits", r->total_retransmits);
	nm_fw_bool(&f, "final", r->rt_flags & NM_TCPR_F_FINAL);
	nm_fw_u64(&f, "socket_cookie", r->socket_cookie);
	nm_fw_u64(&f, "netns", r->netns);
	nm_fw_end(&f);
}

const struct nm_program_type nm_program_tcp_retransmit = {
	.name = "tcp_retransmit",
	.description = "TCP retransmissions per flow, aggregated per interval",
	.record_type = NM_REC_TCP_RETRANSMIT,
	.record_size = sizeof(struct nm_tcp_retransmit_record),
	.body_size = sizeof(struct nm_tcp_retransmit_fields),
	.enabled_by_default = true,
	.ring_size =
		262144, /* at most one event per flow per aggregate_ms: see docs/performance.md */
	.list_route = "list-tcp-retransmits",
	.summary_route = "tcp-retransmit-summary",
	.options = tcp_retransmit_options,
	.config_size = sizeof(struct tcp_retransmit_config),
	.open = tcp_retransmit_open,
	.decode = tcp_retransmit_decode,
	.write_fields = tcp_retransmit_write,
	.close = tcp_retransmit_close,
};

/* udp_send.c - user-space half of bpf/udp_send.bpf.c: destinations of unconnected UDP sends. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "../program.h"
#include "udp_send.skel.h"
#include "../../bpf/udp_send.h"
#include "common.h"

_Static_assert(sizeof(struct nm_udp_send_fields) <= NM_EVENT_BODY_MAX, "record fits the event");

struct udp_send_config {
	long long dedup_entries;
};

static const struct nm_option udp_send_options[] = {
	{"dedup_entries", NM_OPT_INT, offsetof(struct udp_send_config, dedup_entries), "16384", 64,
	 1LL << 24, NULL,
	 "(socket, destination) pairs remembered in the kernel; repeats to one are not reported"},
	{NULL},
};

static int udp_send_open(struct nm_program *p, const void *config, char *err, size_t errlen)
{
	const struct udp_send_config *cfg = config;
	struct nm_udp_send *skel = nm_udp_send__open();
	int rc;

	if (!skel) {
		rc = -errno;
		snprintf(err, errlen, "udp_send: cannot open BPF object: %s", strerror(-rc));
		return rc;
	}
	p->skel = skel;
	p->obj = skel->obj;
	rc = bpf_map__set_max_entries(skel->maps.reported, (uint32_t)cfg->dedup_entries);
	if (rc)
		snprintf(err, errlen, "udp_send: cannot size the destination map: %s",
			 strerror(-rc));
	return rc;
}

static void udp_send_close(struct nm_program *p)
{
	nm_udp_send__destroy(p->skel);
}

static int udp_send_decode(struct nm_program *p, const void *record, struct nm_event *ev)
{
	/* the header's fields are in the event already */
	memcpy(ev->body, &((const struct nm_udp_send_record *)record)->u,
	       sizeof(struct nm_udp_send_fields));
	return 0;
}

static void udp_send_write(const struct nm_event *ev, struct nm_writer *w)
{
	const struct nm_udp_send_fields *r = (const void *)ev->body;
	bool src = r->send_flags & NM_UDP_F_SOURCE_KNOWN;
	struct nm_fw f;

	nm_fw_begin(&f, w);
	nm_fw_cstr(&f, "family", nm_family_name(r->family));
	nm_fw_cstr(&f, "protocol", nm_ipproto_name(r->protocol, r->family));
	nm_fw_endpoint(&f, NM_ENDPOINT_DESTINATION, r->family, r->daddr, r->dport, true, true);
	nm_fw_endpoint(&f, NM_ENDPOINT_SOURCE, r->family, r->saddr, r->sport, src, src);
	nm_fw_u64(&f, "socket_cookie", r->socket_cookie);
	nm_fw_u64(&f, "netns", r->netns);
	nm_fw_end(&f);
}

const struct nm_program_type nm_program_udp_send = {
	.name = "udp_send",
	.description = "first datagram from each unconnected UDP socket to each destination",
	.record_type = NM_REC_UDP_SEND,
	.record_size = sizeof(struct nm_udp_send_record),
	.body_size = sizeof(struct nm_udp_send_fields),
	.enabled_by_default = true,
	.ring_size = 262144, /* one event per new (socket, destination): see docs/performance.md */
	.list_route = "list-udp-sends",
	.summary_route = "udp-send-summary",
	.options = udp_send_options,
	.config_size = sizeof(struct udp_send_config),
	.open = udp_send_open,
	.decode = udp_send_decode,
	.write_fields = udp_send_write,
	.close = udp_send_close,
};

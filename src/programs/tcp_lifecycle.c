/* tcp_lifecycle.c - user-space half of bpf/tcp_lifecycle.bpf.c: TCP opens, failures and closes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "../program.h"
#include "tcp_lifecycle.skel.h"
#include "../../bpf/tcp_lifecycle.h"
#include "common.h"

_Static_assert(sizeof(struct nm_tcp_lifecycle_fields) <= NM_EVENT_BODY_MAX,
	       "record fits the event");

struct tcp_lifecycle_config {
	long long max_connections;
	long long max_listeners;
};

static const struct nm_option tcp_lifecycle_options[] = {
	{"max_connections", NM_OPT_INT, offsetof(struct tcp_lifecycle_config, max_connections),
	 "16384", 64, 1LL << 24, NULL,
	 "connections followed from open to close at once (an LRU table, 144 bytes of kernel "
	 "memory each, allocated at load); past it the oldest are forgotten and close without "
	 "owner, duration or bytes_sent"},
	{"max_listeners", NM_OPT_INT, offsetof(struct tcp_lifecycle_config, max_listeners), "4096",
	 16, 1LL << 20, NULL,
	 "listening (netns, port) pairs whose listen() caller is remembered for inbound connections"},
	{NULL},
};

static int tcp_lifecycle_open(struct nm_program *p, const void *config, char *err, size_t errlen)
{
	const struct tcp_lifecycle_config *cfg = config;
	struct nm_tcp_lifecycle *skel = nm_tcp_lifecycle__open();
	int rc;

	if (!skel) {
		rc = -errno;
		snprintf(err, errlen, "tcp_lifecycle: cannot open BPF object: %s", strerror(-rc));
		return rc;
	}
	p->skel = skel;
	p->obj = skel->obj;
	rc = bpf_map__set_max_entries(skel->maps.flows, (uint32_t)cfg->max_connections);
	if (!rc)
		rc = bpf_map__set_max_entries(skel->maps.listeners, (uint32_t)cfg->max_listeners);
	if (rc)
		snprintf(err, errlen, "tcp_lifecycle: cannot size the connection maps: %s",
			 strerror(-rc));
	return rc;
}

static void tcp_lifecycle_close(struct nm_program *p)
{
	nm_tcp_lifecycle__destroy(p->skel);
}

static int tcp_lifecycle_decode(struct nm_program *p, const void *record, struct nm_event *ev)
{
	/* the header's fields are in the event already */
	memcpy(ev->body, &((const struct nm_tcp_lifecycle_record *)record)->t,
	       sizeof(struct nm_tcp_lifecycle_fields));
	return 0;
}

static const char *outcome_name(uint8_t outcome)
{
	switch (outcome) {
	case NM_TCPL_ESTABLISHED:
		return "established";
	case NM_TCPL_REFUSED:
		return "refused";
	case NM_TCPL_TIMEOUT:
		return "timeout";
	case NM_TCPL_RESET:
		return "reset";
	case NM_TCPL_CLOSED:
		return "closed";
	default:
		return "error";
	}
}

static inline void fw_opt_u64(struct nm_fw *f, const char *key, uint64_t v, bool known)
{
	if (known)
		nm_fw_u64(f, key, v);
	else
		nm_fw_null(f, key);
}

static void tcp_lifecycle_write(const struct nm_event *ev, struct nm_writer *w)
{
	const struct nm_tcp_lifecycle_fields *r = (const void *)ev->body;
	bool close = r->phase == NM_TCPL_PHASE_CLOSE;
	bool bytes = close && (r->lc_flags & NM_TCPL_F_BYTES);
	struct nm_fw f;

	nm_fw_begin(&f, w);
	nm_fw_cstr(&f, "phase", close ? "close" : "open");
	nm_fw_cstr(&f, "outcome", outcome_name(r->outcome));
	/* sk_err is a positive errno; the helper names negative syscall returns */
	nm_fw_errno(&f, "error", -(int64_t)r->sk_err);
	if (r->lc_flags & NM_TCPL_F_RESET_LOCAL)
		nm_fw_cstr(&f, "reset_by", "local");
	else if (r->lc_flags & NM_TCPL_F_RESET_PEER)
		nm_fw_cstr(&f, "reset_by", "peer");
	else
		nm_fw_null(&f, "reset_by");
	if (r->direction == NM_TCPL_DIR_OUTBOUND)
		nm_fw_cstr(&f, "direction", "outbound");
	else if (r->direction == NM_TCPL_DIR_INBOUND)
		nm_fw_cstr(&f, "direction", "inbound");
	else
		nm_fw_null(&f, "direction");
	nm_fw_cstr(&f, "family", nm_family_name(r->family));
	nm_fw_cstr(&f, "protocol", "tcp");
	nm_fw_endpoint(&f, NM_ENDPOINT_DESTINATION, r->family, r->daddr, r->dport, true, true);
	nm_fw_endpoint(&f, NM_ENDPOINT_SOURCE, r->family, r->saddr, r->sport, true, true);
	fw_opt_u64(&f, "latency_ns", r->latency_ns, r->lc_flags & NM_TCPL_F_LATENCY);
	fw_opt_u64(&f, "duration_ns", r->duration_ns, close && (r->lc_flags & NM_TCPL_F_DURATION));
	fw_opt_u64(&f, "bytes_sent", r->bytes_sent, bytes && (r->lc_flags & NM_TCPL_F_SENT_KNOWN));
	fw_opt_u64(&f, "bytes_received", r->bytes_received, bytes);
	nm_fw_cstr(&f, "previous_state", nm_tcp_state_name(r->old_state));
	nm_fw_u64(&f, "socket_cookie", r->socket_cookie);
	nm_fw_u64(&f, "netns", r->netns);
	nm_fw_end(&f);
}

const struct nm_program_type nm_program_tcp_lifecycle = {
	.name = "tcp_lifecycle",
	.description = "TCP connections: outcome and latency of each connect, accepts, closes with "
		       "duration and bytes",
	.record_type = NM_REC_TCP_LIFECYCLE,
	.record_size = sizeof(struct nm_tcp_lifecycle_record),
	.body_size = sizeof(struct nm_tcp_lifecycle_fields),
	.enabled_by_default = true,
	.list_route = "list-tcp-lifecycle",
	.summary_route = "tcp-lifecycle-summary",
	.options = tcp_lifecycle_options,
	.config_size = sizeof(struct tcp_lifecycle_config),
	.open = tcp_lifecycle_open,
	.decode = tcp_lifecycle_decode,
	.write_fields = tcp_lifecycle_write,
	.close = tcp_lifecycle_close,
};

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

static void w_opt_u64(struct nm_writer *w, const char *key, uint64_t v, bool known)
{
	if (known)
		nm_w_u64(w, key, v);
	else
		nm_w_null(w, key);
}

static void tcp_lifecycle_write(const struct nm_event *ev, struct nm_writer *w)
{
	const struct nm_tcp_lifecycle_fields *r = (const void *)ev->body;
	bool close = r->phase == NM_TCPL_PHASE_CLOSE;
	bool bytes = close && (r->lc_flags & NM_TCPL_F_BYTES);

	nm_w_cstr(w, "phase", close ? "close" : "open");
	nm_w_cstr(w, "outcome", outcome_name(r->outcome));
	/* sk_err is a positive errno; the helper names negative syscall returns */
	nm_write_errno(w, "error", -(int64_t)r->sk_err);
	if (r->lc_flags & NM_TCPL_F_RESET_LOCAL)
		nm_w_cstr(w, "reset_by", "local");
	else if (r->lc_flags & NM_TCPL_F_RESET_PEER)
		nm_w_cstr(w, "reset_by", "peer");
	else
		nm_w_null(w, "reset_by");
	if (r->direction == NM_TCPL_DIR_OUTBOUND)
		nm_w_cstr(w, "direction", "outbound");
	else if (r->direction == NM_TCPL_DIR_INBOUND)
		nm_w_cstr(w, "direction", "inbound");
	else
		nm_w_null(w, "direction");
	nm_w_cstr(w, "family", nm_family_name(r->family));
	nm_w_cstr(w, "protocol", "tcp");
	nm_write_endpoint(w, NM_ENDPOINT_DESTINATION, r->family, r->daddr, r->dport, true, true);
	nm_write_endpoint(w, NM_ENDPOINT_SOURCE, r->family, r->saddr, r->sport, true, true);
	w_opt_u64(w, "latency_ns", r->latency_ns, r->lc_flags & NM_TCPL_F_LATENCY);
	w_opt_u64(w, "duration_ns", r->duration_ns, close && (r->lc_flags & NM_TCPL_F_DURATION));
	w_opt_u64(w, "bytes_sent", r->bytes_sent, bytes && (r->lc_flags & NM_TCPL_F_SENT_KNOWN));
	w_opt_u64(w, "bytes_received", r->bytes_received, bytes);
	nm_w_cstr(w, "previous_state", nm_tcp_state_name(r->old_state));
	nm_w_u64(w, "socket_cookie", r->socket_cookie);
	nm_w_u64(w, "netns", r->netns);
}

const struct nm_program_type nm_program_tcp_lifecycle = {
	.name = "tcp_lifecycle",
	.description = "TCP connections: outcome and latency of each connect, accepts, closes with "
		       "duration and bytes",
	.record_type = NM_REC_TCP_LIFECYCLE,
	.record_size = sizeof(struct nm_tcp_lifecycle_record),
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

/* connection.c - user-space half of bpf/connection.bpf.c: outbound connect() events. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "../program.h"
#include "connection.skel.h"
#include "../../bpf/connection.h"
#include "common.h"

_Static_assert(sizeof(struct nm_connection_fields) <= NM_EVENT_BODY_MAX, "record fits the event");

struct connection_config {
	bool trace_unix;
};

static const struct nm_option connection_options[] = {
	{"trace_unix", NM_OPT_BOOL, offsetof(struct connection_config, trace_unix), "false", 0, 0,
	 NULL, "also report AF_UNIX connect() calls"},
	{NULL},
};

static int connection_open(struct nm_program *p, const void *config, char *err, size_t errlen)
{
	const struct connection_config *cfg = config;
	struct nm_connection *skel = nm_connection__open();

	if (!skel) {
		snprintf(err, errlen, "connection: cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->nm_trace_unix = cfg->trace_unix;
	p->skel = skel;
	p->obj = skel->obj;
	return 0;
}

static void connection_close(struct nm_program *p)
{
	nm_connection__destroy(p->skel);
}

static int connection_decode(struct nm_program *p, const void *record, struct nm_event *ev)
{
	/* the header's fields are in the event already */
	memcpy(ev->body, &((const struct nm_connection_record *)record)->c,
	       sizeof(struct nm_connection_fields));
	return 0;
}

static void connection_write(const struct nm_event *ev, struct nm_writer *w)
{
	const struct nm_connection_fields *r = (const void *)ev->body;
	bool proto_known = r->conn_flags & NM_CONN_F_PROTO_KNOWN;
	struct nm_fw f;

	nm_fw_begin(&f, w);
	nm_fw_cstr(&f, "family", nm_family_name(r->family));
	if (proto_known) {
		nm_fw_cstr(&f, "protocol", nm_ipproto_name(r->protocol, r->family));
		nm_fw_cstr(&f, "socket_type", nm_socktype_name(r->sock_type));
	} else {
		nm_fw_null(&f, "protocol");
		nm_fw_null(&f, "socket_type");
	}
	if (r->family == AF_UNIX) {
		size_t len = r->unix_path_len < sizeof(r->unix_path) ? r->unix_path_len
								     : sizeof(r->unix_path);
		char path[NM_UNIX_PATH_LEN + 1];
		size_t n;

		/* An abstract address starts with NUL; show it as '@' like ss(8). */
		if (len && r->unix_path[0] == '\0') {
			path[0] = '@';
			memcpy(path + 1, r->unix_path + 1, len - 1);
			n = len;
		} else {
			n = strnlen(r->unix_path, len);
			memcpy(path, r->unix_path, n);
		}
		nm_fw_str(&f, "destination", path, n);
	} else {
		nm_fw_endpoint(&f, NM_ENDPOINT_DESTINATION, r->family, r->daddr, r->dport, true,
			       true);
		bool src = r->conn_flags & NM_CONN_F_SOURCE_KNOWN;

		nm_fw_endpoint(&f, NM_ENDPOINT_SOURCE, r->family, r->saddr, r->sport, src, src);
	}
	nm_fw_i64(&f, "return_code", r->ret);
	nm_fw_errno(&f, "error", r->ret);
	nm_fw_u64(&f, "latency_ns", r->latency_ns);
	nm_fw_u64(&f, "fd", r->fd);
	nm_fw_u64(&f, "netns", r->netns);
	if (r->socket_cookie)
		nm_fw_u64(&f, "socket_cookie", r->socket_cookie);
	else
		nm_fw_null(&f, "socket_cookie");
	nm_fw_end(&f);
}

const struct nm_program_type nm_program_connection = {
	.name = "connection",
	.description = "outbound connect() calls: destination, source, protocol, result",
	.record_type = NM_REC_CONNECTION,
	.record_size = sizeof(struct nm_connection_record),
	.body_size = sizeof(struct nm_connection_fields),
	.needs_tracefs = true,
	.enabled_by_default = true,
	.list_route = "list-connections",
	.summary_route = "connection-summary",
	.options = connection_options,
	.config_size = sizeof(struct connection_config),
	.open = connection_open,
	.decode = connection_decode,
	.write_fields = connection_write,
	.close = connection_close,
};

/* tcp_reset.c - user-space half of bpf/tcp_reset.bpf.c: TCP resets sent and received. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "../program.h"
#include "tcp_reset.skel.h"
#include "../../bpf/tcp_reset.h"
#include "common.h"

#define REASON_PREFIX "SK_RST_REASON_"
#define REASON_MAX    64
#define REASON_NAME   40

/* The event body: the record's fields and the reason's name, resolved at decode. */
struct tcp_reset_body {
	struct nm_tcp_reset_fields t;
	char reason_name[REASON_NAME]; /* "" when unknown */
};

_Static_assert(sizeof(struct tcp_reset_body) <= NM_EVENT_BODY_MAX, "record fits the event");

/* enum sk_rst_reason of the running kernel, by value; names copied out of its BTF. */
struct tcp_reset_state {
	char names[REASON_MAX][REASON_NAME];
};

static int load_reason_names(struct tcp_reset_state *st, char *err, size_t errlen)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	int id, rc = 0;

	if (!btf) {
		rc = -errno;
		snprintf(err, errlen, "tcp_reset: cannot read the kernel's BTF: %s", strerror(-rc));
		return rc;
	}
	id = btf__find_by_name_kind(btf, "sk_rst_reason", BTF_KIND_ENUM);
	if (id < 0) {
		snprintf(err, errlen, "tcp_reset: the kernel's BTF has no enum sk_rst_reason");
		rc = -ENOENT;
		goto out;
	}
	t = btf__type_by_id(btf, id);
	for (int i = 0; i < btf_vlen(t); i++) {
		const struct btf_enum *e = btf_enum(t) + i;
		const char *name = btf__name_by_offset(btf, e->name_off);

		if (!name || e->val < 0 || e->val >= REASON_MAX)
			continue;
		if (!strncmp(name, REASON_PREFIX, strlen(REASON_PREFIX)))
			name += strlen(REASON_PREFIX);
		snprintf(st->names[e->val], sizeof(st->names[e->val]), "%s", name);
	}
out:
	btf__free(btf);
	return rc;
}

static int tcp_reset_open(struct nm_program *p, const void *config, char *err, size_t errlen)
{
	struct tcp_reset_state *st = calloc(1, sizeof(*st));
	struct nm_tcp_reset *skel;
	int rc;

	(void)config;
	if (!st)
		return -ENOMEM;
	p->priv = st;
	rc = load_reason_names(st, err, errlen);
	if (rc)
		return rc;
	skel = nm_tcp_reset__open();
	if (!skel) {
		rc = -errno;
		snprintf(err, errlen, "tcp_reset: cannot open BPF object: %s", strerror(-rc));
		return rc;
	}
	p->skel = skel;
	p->obj = skel->obj;
	return 0;
}

static void tcp_reset_close(struct nm_program *p)
{
	nm_tcp_reset__destroy(p->skel);
	free(p->priv);
	p->priv = NULL;
}

static int tcp_reset_decode(struct nm_program *p, const void *record, struct nm_event *ev)
{
	const struct tcp_reset_state *st = p->priv;
	struct tcp_reset_body *b = (void *)ev->body;

	/* the header's fields are in the event already */
	memcpy(&b->t, &((const struct nm_tcp_reset_record *)record)->t, sizeof(b->t));
	b->reason_name[0] = '\0';
	if ((b->t.rst_flags & NM_TCPRST_F_REASON) && b->t.reason < REASON_MAX)
		memcpy(b->reason_name, st->names[b->t.reason], sizeof(b->reason_name));
	return 0;
}

static void tcp_reset_write(const struct nm_event *ev, struct nm_writer *w)
{
	const struct tcp_reset_body *b = (const void *)ev->body;
	const struct nm_tcp_reset_fields *r = &b->t;
	bool sock = r->rst_flags & NM_TCPRST_F_SOCKET;
	bool addr = r->rst_flags & NM_TCPRST_F_ADDR;
	struct nm_fw f;

	nm_fw_begin(&f, w);
	nm_fw_cstr(&f, "direction", r->direction == NM_TCPRST_SENT ? "sent" : "received");
	if (addr)
		nm_fw_cstr(&f, "family", nm_family_name(r->family));
	else
		nm_fw_null(&f, "family");
	nm_fw_cstr(&f, "protocol", "tcp");
	nm_fw_endpoint(&f, NM_ENDPOINT_SOURCE, r->family, r->saddr, r->sport, addr, addr);
	nm_fw_endpoint(&f, NM_ENDPOINT_DESTINATION, r->family, r->daddr, r->dport, addr, addr);
	if (sock)
		nm_fw_cstr(&f, "state", nm_tcp_state_name(r->state));
	else
		nm_fw_null(&f, "state");
	if (b->reason_name[0])
		nm_fw_kstr(&f, "reason", b->reason_name, sizeof(b->reason_name));
	else
		nm_fw_null(&f, "reason");
	if (r->rst_flags & NM_TCPRST_F_REASON)
		nm_fw_u64(&f, "reason_code", r->reason);
	else
		nm_fw_null(&f, "reason_code");
	if (sock)
		nm_fw_u64(&f, "socket_cookie", r->socket_cookie);
	else
		nm_fw_null(&f, "socket_cookie");
	nm_fw_u64(&f, "netns", r->netns);
	nm_fw_end(&f);
}

const struct nm_program_type nm_program_tcp_reset = {
	.name = "tcp_reset",
	.description =
		"TCP resets sent and received, with endpoints, state and the kernel's reason",
	.record_type = NM_REC_TCP_RESET,
	.record_size = sizeof(struct nm_tcp_reset_record),
	.body_size = sizeof(struct tcp_reset_body),
	/* a connect to a closed port costs two: off by default, so the connect storm pays nothing */
	.enabled_by_default = false,
	.list_route = "list-tcp-resets",
	.summary_route = "tcp-reset-summary",
	.open = tcp_reset_open,
	.decode = tcp_reset_decode,
	.write_fields = tcp_reset_write,
	.close = tcp_reset_close,
};

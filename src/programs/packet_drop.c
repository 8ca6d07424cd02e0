/* packet_drop.c - user-space half of bpf/packet_drop.bpf.c: drops named from the kernel's own BTF. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "../ksyms.h"
#include "../log.h"
#include "../program.h"
#include "packet_drop.skel.h"
#include "../../bpf/packet_drop.h"
#include "common.h"

#define CORE_PREFIX "SKB_DROP_REASON_"

struct packet_drop_config {
	struct nm_strings ignore_reasons;
};

static const struct nm_option packet_drop_options[] = {
	{"ignore_reasons", NM_OPT_STRINGS, offsetof(struct packet_drop_config, ignore_reasons),
	 "SKB_CONSUMED,NOT_SPECIFIED", 0, 0, NULL,
	 "drop reasons not reported, by name (as in drop_reason, or the kernel's enum name)"},
	{NULL},
};

struct reason_name {
	uint32_t code;
	const char *name; /* borrowed from the state's names */
};

struct packet_drop_state {
	char *names; /* the reason names, copied out of the kernel's BTF, which is then freed */
	struct reason_name *reasons;
	size_t nreasons;
	struct nm_ksyms *ksyms;
};

/* What decode adds after the record in the event body. */
struct packet_drop_body {
	struct nm_packet_drop_fields
		rec;		 /* the record after its header, whose fields are in the event */
	const char *reason_name; /* borrowed from the program's state */
	const char *symbol;	 /* borrowed from the program's state */
	uint64_t symbol_offset;
};

_Static_assert(sizeof(struct packet_drop_body) <= NM_EVENT_BODY_MAX, "record fits the event");

static int cmp_reason(const void *a, const void *b)
{
	const struct reason_name *x = a, *y = b;

	return x->code < y->code ? -1 : x->code > y->code;
}

static const char *short_name(const char *name)
{
	return strncmp(name, CORE_PREFIX, strlen(CORE_PREFIX)) ? name : name + strlen(CORE_PREFIX);
}

static bool is_reason_enum(const char *name)
{
	size_t n = strlen(name);

	return n >= 11 && !strcmp(name + n - 11, "drop_reason");
}

/*
 * Every value of every enum *drop_reason in the running kernel's BTF. The
 * names are copied out so the BTF (megabytes) need not stay in memory.
 */
static int load_reason_names(struct packet_drop_state *st, char *err, size_t errlen)
{
	struct btf *btf = btf__load_vmlinux_btf();
	size_t cap = 0, total = 0, at = 0;
	int rc = 0;
	uint32_t n;

	if (!btf) {
		snprintf(err, errlen, "packet_drop: cannot read the kernel's BTF: %s",
			 strerror(errno));
		return -errno;
	}
	n = btf__type_cnt(btf);
	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *ename = btf__name_by_offset(btf, t->name_off);

		if (!btf_is_enum(t) || !ename || !is_reason_enum(ename))
			continue;
		for (int i = 0; i < btf_vlen(t); i++) {
			const struct btf_enum *e = btf_enum(t) + i;
			const char *vname = btf__name_by_offset(btf, e->name_off);
			size_t vlen = strlen(vname);

			if ((vlen > 4 && !strcmp(vname + vlen - 4, "_MAX")) ||
			    strstr(vname, "SUBSYS_MASK"))
				continue;
			if (st->nreasons == cap) {
				struct reason_name *r = realloc(
					st->reasons, (cap = cap ? cap * 2 : 256) * sizeof(*r));

				if (!r) {
					rc = -ENOMEM;
					goto out;
				}
				st->reasons = r;
			}
			st->reasons[st->nreasons].code = (uint32_t)e->val;
			st->reasons[st->nreasons].name = short_name(vname);
			total += strlen(st->reasons[st->nreasons].name) + 1;
			st->nreasons++;
		}
	}
	if (!st->nreasons) {
		snprintf(err, errlen, "packet_drop: the kernel's BTF has no enum skb_drop_reason");
		rc = -ENOENT;
		goto out;
	}
	st->names = malloc(total);
	if (!st->names) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < st->nreasons; i++) {
		size_t len = strlen(st->reasons[i].name) + 1;

		memcpy(st->names + at, st->reasons[i].name, len);
		st->reasons[i].name = st->names + at;
		at += len;
	}
	qsort(st->reasons, st->nreasons, sizeof(*st->reasons), cmp_reason);
out:
	btf__free(btf);
	return rc;
}

static const char *reason_name(const struct packet_drop_state *st, uint32_t code)
{
	struct reason_name key = {.code = code};
	const struct reason_name *r =
		bsearch(&key, st->reasons, st->nreasons, sizeof(*st->reasons), cmp_reason);

	return r ? r->name : NULL;
}

/* The filter's drop_reasons: each name as ignore_reasons takes it. */
static int packet_drop_resolve_reasons(const char *const *names, size_t n, uint32_t *codes,
				       char *err, size_t errlen)
{
	struct packet_drop_state st = {0};
	int rc = load_reason_names(&st, err, errlen);

	for (size_t i = 0; !rc && i < n; i++) {
		const char *want = short_name(names[i]);
		size_t j = 0;

		while (j < st.nreasons && strcmp(st.reasons[j].name, want))
			j++;
		if (j == st.nreasons) {
			snprintf(err, errlen, "this kernel has no drop reason \"%.64s\"", names[i]);
			rc = -EINVAL;
		} else {
			codes[i] = st.reasons[j].code;
		}
	}
	free(st.names);
	free(st.reasons);
	return rc;
}

static int packet_drop_open(struct nm_program *p, const void *config, char *err, size_t errlen)
{
	struct packet_drop_state *st = calloc(1, sizeof(*st));
	struct nm_packet_drop *skel;
	int rc;

	if (!st)
		return -ENOMEM;
	p->priv = st;
	rc = load_reason_names(st, err, errlen);
	if (rc)
		return rc;
	st->ksyms = nm_ksyms_load("/proc/kallsyms");
	if (!st->ksyms)
		nm_warn("packet_drop: cannot read /proc/kallsyms; locations will be addresses");
	skel = nm_packet_drop__open();
	if (!skel) {
		snprintf(err, errlen, "packet_drop: cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	p->skel = skel;
	p->obj = skel->obj;
	return 0;
}

/* Every name in ignore_reasons is one of this kernel's drop reasons: known at --check-config. */
static int packet_drop_validate(const void *config, char *err, size_t errlen)
{
	const struct packet_drop_config *cfg = config;
	struct packet_drop_state st = {0};
	int rc;

	if (!cfg->ignore_reasons.n)
		return 0;
	rc = load_reason_names(&st, err, errlen);
	for (size_t i = 0; !rc && i < cfg->ignore_reasons.n; i++) {
		const char *want = short_name(cfg->ignore_reasons.v[i]);
		size_t j = 0;

		while (j < st.nreasons && strcmp(st.reasons[j].name, want))
			j++;
		if (j == st.nreasons) {
			snprintf(err, errlen,
				 "'ignore_reasons': this kernel has no drop reason \"%.64s\"",
				 cfg->ignore_reasons.v[i]);
			rc = -EINVAL;
		}
	}
	free(st.names);
	free(st.reasons);
	return rc;
}

/* Resolve ignore_reasons against the kernel's names and fill the filter map. */
static int packet_drop_loaded(struct nm_program *p, const void *config, char *err, size_t errlen)
{
	const struct packet_drop_config *cfg = config;
	const struct packet_drop_state *st = p->priv;
	struct nm_packet_drop *skel = p->skel;
	int fd = bpf_map__fd(skel->maps.ignored_reasons);

	for (size_t i = 0; i < cfg->ignore_reasons.n; i++) {
		const char *want = short_name(cfg->ignore_reasons.v[i]);
		bool found = false;

		for (size_t j = 0; j < st->nreasons; j++) {
			uint8_t one = 1;

			if (strcmp(st->reasons[j].name, want))
				continue;
			found = true;
			if (bpf_map_update_elem(fd, &st->reasons[j].code, &one, BPF_ANY)) {
				snprintf(err, errlen,
					 "packet_drop: cannot set the reason filter: %s",
					 strerror(errno));
				return -errno;
			}
		}
		if (!found) {
			snprintf(
				err, errlen,
				"packet_drop: ignore_reasons: this kernel has no drop reason \"%s\"",
				cfg->ignore_reasons.v[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static void packet_drop_close(struct nm_program *p)
{
	struct packet_drop_state *st = p->priv;

	nm_packet_drop__destroy(p->skel);
	if (st) {
		free(st->names);
		free(st->reasons);
		nm_ksyms_free(st->ksyms);
		free(st);
	}
}

static int packet_drop_decode(struct nm_program *p, const void *record, struct nm_event *ev)
{
	const struct packet_drop_state *st = p->priv;
	struct packet_drop_body *b = (void *)ev->body;

	memcpy(&b->rec, &((const struct nm_packet_drop_record *)record)->d, sizeof(b->rec));
	b->reason_name = reason_name(st, b->rec.reason);
	b->symbol_offset = 0;
	b->symbol = nm_ksyms_lookup(st->ksyms, b->rec.location, &b->symbol_offset);
	return 0;
}

static size_t put_hex(char *out, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		out[i++] = tmp[--n];
	return i;
}

/* "symbol+0xoff", or "0xaddr" when no symbol covers it; @len >= 40. */
static size_t format_location(const struct packet_drop_body *b, char *out, size_t len)
{
	size_t n = 0;

	if (b->symbol) {
		n = strnlen(b->symbol, len - 24);
		memcpy(out, b->symbol, n);
		out[n++] = '+';
	}
	out[n++] = '0';
	out[n++] = 'x';
	n += put_hex(out + n, b->symbol ? b->symbol_offset : b->rec.location);
	return n;
}

static void packet_drop_write(const struct nm_event *ev, struct nm_writer *w)
{
	const struct packet_drop_body *b = (const void *)ev->body;
	const struct nm_packet_drop_fields *r = &b->rec;
	bool l3 = r->drop_flags & NM_DROP_F_L3_PARSED;
	bool l4 = r->drop_flags & NM_DROP_F_L4_PARSED;
	char loc[160];
	struct nm_fw f;
	size_t n;

	nm_fw_begin(&f, w);
	if (b->reason_name)
		nm_fw_cstr(&f, "drop_reason", b->reason_name);
	else
		nm_fw_cstr(&f, "drop_reason", "UNKNOWN");
	nm_fw_u64(&f, "drop_reason_code", r->reason);
	nm_fw_u64(&f, "drop_reason_subsystem", r->reason >> 16);
	n = format_location(b, loc, sizeof(loc));
	nm_fw_str(&f, "location", loc, n);
	nm_fw_cstr(&f, "context", (r->drop_flags & NM_DROP_F_SOFTIRQ) ? "softirq" : "process");
	if (l3) {
		nm_fw_cstr(&f, "family", nm_family_name(r->family));
		nm_fw_cstr(&f, "protocol", nm_ipproto_name(r->l4_proto, r->family));
	} else {
		nm_fw_null(&f, "family");
		nm_fw_null(&f, "protocol");
	}
	nm_fw_u64(&f, "ethertype", r->l3_proto);
	nm_fw_endpoint(&f, NM_ENDPOINT_SOURCE, r->family, r->saddr, r->sport, l3, l4);
	nm_fw_endpoint(&f, NM_ENDPOINT_DESTINATION, r->family, r->daddr, r->dport, l3, l4);
	nm_fw_u64(&f, "ifindex", r->ifindex);
	if (r->ifname[0])
		nm_fw_kstr(&f, "interface", r->ifname, sizeof(r->ifname));
	else
		nm_fw_null(&f, "interface");
	nm_fw_u64(&f, "netns", r->netns);
	nm_fw_u64(&f, "length", r->len);
	nm_fw_end(&f);
}

const struct nm_program_type nm_program_packet_drop = {
	.name = "packet_drop",
	.description = "packets freed by the kernel with a drop reason (skb:kfree_skb)",
	.record_type = NM_REC_PACKET_DROP,
	.record_size = sizeof(struct nm_packet_drop_record),
	.body_size = sizeof(struct packet_drop_body),
	.needs_tracefs = false,
	.enabled_by_default = true,
	.list_route = "list-packet-drops",
	.summary_route = "packet-drop-summary",
	.options = packet_drop_options,
	.config_size = sizeof(struct packet_drop_config),
	.open = packet_drop_open,
	.validate = packet_drop_validate,
	.loaded = packet_drop_loaded,
	.decode = packet_drop_decode,
	.write_fields = packet_drop_write,
	.close = packet_drop_close,
	.resolve_reasons = packet_drop_resolve_reasons,
};

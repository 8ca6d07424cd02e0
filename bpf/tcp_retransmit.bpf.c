// SPDX-License-Identifier: GPL-2.0
/* tcp_retransmit.bpf.c - retransmitted TCP segments, aggregated per flow and interval. */
#include "common.bpf.h"
#include "tcp_retransmit.h"

char LICENSE[] SEC("license") = "GPL";

NM_DECLARE_RING();

/* Set from user space (aggregate_ms) before load; 0 = one event per retransmission. */
const volatile __u64 nm_aggregate_ns = 1000000000ULL;

/* What an event says of its flow, as the socket was at its latest retransmission. */
struct flow_id {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 total_retrans;
	__u32 netns;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 state;
	__u8 pad;
};

/*
 * A flow's retransmits not reported yet, when it was last reported, and its
 * identity: an abort (tcp_disconnect) wipes the socket's addresses and counts
 * before it is destroyed, where the rest is reported.
 */
struct pending {
	__u64 last_ns;
	__u64 count;
	struct flow_id id;
};

/*
 * Keyed by socket cookie; sized from user space (max_flows) before load. A
 * flow the LRU forgets while it has a count pending loses that count from
 * the events (it stays in the suppressed counter).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pending);
} flows SEC(".maps");

/*
 * How many flows may have a count pending: raised when a flow's count leaves
 * 0, lowered when an event takes it back to 0. A flow the LRU evicts with a
 * count leaves it raised, which costs only lookups. While it is 0, the socket
 * destructions of a connect storm cost one load each, not a map lookup.
 */
__u64 nm_pending_flows;

static __always_inline void pending_add(struct pending *p, __u64 segs)
{
	if (!p->count)
		__sync_fetch_and_add(&nm_pending_flows, 1);
	p->count += segs;
}

static __always_inline void pending_clear(struct pending *p)
{
	if (p->count)
		__sync_fetch_and_add(&nm_pending_flows, -1);
	p->count = 0;
}

/* The local end as source. inet_sport, not skc_num: a socket moving to CLOSE loses skc_num first. */
static __always_inline void read_id(struct flow_id *id, const struct sock *sk,
				    const struct tcp_sock *tp)
{
	id->family = sk->__sk_common.skc_family;
	if (id->family == AF_INET) {
		__u32 l = sk->__sk_common.skc_rcv_saddr, d = sk->__sk_common.skc_daddr;

		__builtin_memcpy(id->saddr, &l, 4);
		__builtin_memcpy(id->daddr, &d, 4);
	} else {
		struct in6_addr l = sk->__sk_common.skc_v6_rcv_saddr,
				d = sk->__sk_common.skc_v6_daddr;

		__builtin_memcpy(id->saddr, &l, 16);
		__builtin_memcpy(id->daddr, &d, 16);
	}
	id->sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	id->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	id->total_retrans = tp->total_retrans;
	id->netns = sk->__sk_common.skc_net.net->ns.inum;
	id->state = sk->__sk_common.skc_state;
}

/*
 * One event carrying @count segments. The task fields stay null: a
 * retransmission runs from the retransmit timer or from ACK processing in
 * softirq, where the current task is not the socket's owner (the cookie joins
 * the connection and tcp_lifecycle events that name it).
 */
static __always_inline int emit(const struct flow_id *id, __u64 cookie, __u64 count,
				__u64 interval_ns, __u8 flags)
{
	struct nm_tcp_retransmit_record *r;
	__u64 st = nm_filter_load();

	/* refused, not lost: the count is not carried to a later event */
	if ((st & NM_FILTER_ACTIVE) &&
	    (nm_filter_no_task(st) || nm_filter_dest(st, id->family, id->daddr, id->dport, true))) {
		nm_count(&counters, NM_CNT_FILTERED);
		return 0;
	}
	r = nm_reserve(&events, &counters, struct nm_tcp_retransmit_record, NM_REC_TCP_RETRANSMIT);
	if (!r)
		return -1;
	__builtin_memset(&r->hdr.pid, 0,
			 sizeof(*r) - __builtin_offsetof(struct nm_tcp_retransmit_record, hdr.pid));
	r->t.socket_cookie = cookie;
	r->t.retransmits = count;
	r->t.interval_ns = interval_ns;
	r->t.total_retransmits = id->total_retrans;
	r->t.netns = id->netns;
	r->t.state = id->state;
	r->t.rt_flags = flags;
	r->t.family = id->family;
	r->t.sport = id->sport;
	r->t.dport = id->dport;
	__builtin_memcpy(r->t.saddr, id->saddr, sizeof(r->t.saddr));
	__builtin_memcpy(r->t.daddr, id->daddr, sizeof(r->t.daddr));
	nm_submit(&events, &counters, r);
	return 0;
}

/*
 * A flow's first retransmission is reported at once; later ones at most once
 * per interval, carrying the count since the previous event. What is still
 * pending when the socket goes away is reported then (tcp_destroy_sock).
 * Calls for one socket are serialized by its lock, so the entry needs no
 * atomics.
 */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(nm_tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb, int err)
{
	struct tcp_skb_cb *cb = (struct tcp_skb_cb *)skb->cb;
	struct pending *p, fresh = {};
	struct tcp_sock *tp;
	__u64 cookie, now, segs;

	/* a retransmission that was not sent (-EBUSY, -ENOMEM ...) is not one */
	if (err)
		return 0;
	tp = bpf_skc_to_tcp_sock((void *)sk);
	if (!tp)
		return 0;
	/* as the kernel counts TcpRetransSegs: a TSO segment counts its parts */
	segs = cb->tcp_gso_segs;
	if (!segs)
		segs = 1;
	cookie = bpf_get_socket_cookie((void *)sk);
	if (!nm_aggregate_ns) {
		read_id(&fresh.id, sk, tp);
		emit(&fresh.id, cookie, segs, 0, 0);
		return 0;
	}
	now = bpf_ktime_get_boot_ns();
	p = bpf_map_lookup_elem(&flows, &cookie);
	if (!p) {
		fresh.last_ns = now;
		read_id(&fresh.id, sk, tp);
		bpf_map_update_elem(&flows, &cookie, &fresh, BPF_ANY);
		p = bpf_map_lookup_elem(&flows, &cookie);
		/* the ring was full: carried by the next event */
		if (emit(&fresh.id, cookie, segs, 0, 0) && p)
			pending_add(p, segs);
		return 0;
	}
	read_id(&p->id, sk, tp);
	if (now - p->last_ns < nm_aggregate_ns) {
		pending_add(p, segs);
		nm_count(&counters, NM_CNT_SUPPRESSED);
		return 0;
	}
	if (emit(&p->id, cookie, p->count + segs, now - p->last_ns, 0)) {
		pending_add(p, segs);
		return 0;
	}
	pending_clear(p);
	p->last_ns = now;
	return 0;
}

/* The socket is going away: report what its flow has pending, and forget it. */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(nm_tcp_retransmit_destroy, struct sock *sk)
{
	/* read, not bpf_get_socket_cookie(), which would give every socket a cookie */
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	struct pending *p;

	if (!cookie || !nm_aggregate_ns || !nm_pending_flows)
		return 0;
	p = bpf_map_lookup_elem(&flows, &cookie);
	if (!p)
		return 0;
	if (p->count)
		emit(&p->id, cookie, p->count, bpf_ktime_get_boot_ns() - p->last_ns,
		     NM_TCPR_F_FINAL);
	pending_clear(p);
	bpf_map_delete_elem(&flows, &cookie);
	return 0;
}

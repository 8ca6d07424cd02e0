// SPDX-License-Identifier: GPL-2.0
/* tcp_reset.bpf.c - TCP resets sent and received, with endpoints, state and the kernel's reason. */
#include "common.bpf.h"
#include "tcp_reset.h"

char LICENSE[] SEC("license") = "GPL";

NM_DECLARE_RING();

#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD

/*
 * The local end as source, from the socket. A full socket's port is
 * inet_sport (moving to CLOSE, as an abort does before its reset, zeroes
 * skc_num); a time-wait or request socket has only skc_num.
 */
static __always_inline void from_sock(struct nm_tcp_reset_fields *t, const struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	t->rst_flags |= NM_TCPRST_F_SOCKET | NM_TCPRST_F_ADDR;
	t->socket_cookie = bpf_get_socket_cookie((void *)sk);
	t->netns = sk->__sk_common.skc_net.net->ns.inum;
	t->state = sk->__sk_common.skc_state;
	t->family = sk->__sk_common.skc_family;
	if (t->family == AF_INET) {
		__u32 l = sk->__sk_common.skc_rcv_saddr, d = sk->__sk_common.skc_daddr;

		__builtin_memcpy(t->saddr, &l, 4);
		__builtin_memcpy(t->daddr, &d, 4);
	} else {
		struct in6_addr l = sk->__sk_common.skc_v6_rcv_saddr,
				d = sk->__sk_common.skc_v6_daddr;

		__builtin_memcpy(t->saddr, &l, 16);
		__builtin_memcpy(t->daddr, &d, 16);
	}
	t->sport = tp ? bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport) : sk->__sk_common.skc_num;
	t->dport = bpf_ntohs(sk->__sk_common.skc_dport);
}

/*
 * No socket (a segment to a closed port): the endpoints from the segment the
 * reset answers, whose destination is the local end.
 */
static __always_inline void from_segment(struct nm_tcp_reset_fields *t, const struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header, th = skb->transport_header;
	__u16 l3 = bpf_ntohs(skb->protocol);
	struct net_device *dev = skb->dev;
	__be16 ports[2];

	if (dev)
		t->netns = dev->nd_net.net->ns.inum;
	if (nh == (__u16)~0U || th == (__u16)~0U)
		return;
	if (l3 == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		t->family = AF_INET;
		__builtin_memcpy(t->saddr, &ip.daddr, 4);
		__builtin_memcpy(t->daddr, &ip.saddr, 4);
	} else if (l3 == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		t->family = AF_INET6;
		__builtin_memcpy(t->saddr, &ip6.daddr, 16);
		__builtin_memcpy(t->daddr, &ip6.saddr, 16);
	} else {
		return;
	}
	if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
		return;
	t->sport = bpf_ntohs(ports[1]);
	t->dport = bpf_ntohs(ports[0]);
	t->rst_flags |= NM_TCPRST_F_ADDR;
}

/*
 * Report a reset, its fields gathered on the stack first so that the filter
 * sees them before a reservation. The task fields stay null: resets are sent
 * and received mostly in softirq, where the current task is not the socket's
 * owner; the socket cookie joins the connection and tcp_lifecycle events
 * that name it. @sk is NULL for a segment no socket wanted; @skb is NULL for
 * an abort (close, SO_LINGER 0).
 */
static __always_inline void report(__u8 direction, const struct sock *sk, const struct sk_buff *skb,
				   __u32 reason, bool has_reason)
{
	struct nm_tcp_reset_fields t = {.direction = direction};
	struct nm_tcp_reset_record *r;
	__u64 st;

	if (has_reason) {
		t.reason = reason;
		t.rst_flags |= NM_TCPRST_F_REASON;
	}
	if (sk)
		from_sock(&t, sk);
	else if (skb)
		from_segment(&t, skb);
	st = nm_filter_load();
	if ((st & NM_FILTER_ACTIVE) &&
	    (nm_filter_no_task(st) ||
	     nm_filter_dest(st, t.family, t.daddr, t.dport, t.rst_flags & NM_TCPRST_F_ADDR))) {
		nm_count(&counters, NM_CNT_FILTERED);
		return;
	}
	r = nm_reserve(&events, &counters, struct nm_tcp_reset_record, NM_REC_TCP_RESET);
	if (!r)
		return;
	__builtin_memset(&r->hdr.pid, 0,
			 sizeof(r->hdr) - __builtin_offsetof(struct nm_record_hdr, pid));
	__builtin_memcpy(&r->t, &t, sizeof(t));
	nm_submit(&events, &counters, r);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(nm_tcp_send_reset, const struct sock *sk, const struct sk_buff *skb,
	     enum sk_rst_reason reason)
{
	report(NM_TCPRST_SENT, sk, skb, (__u32)reason, true);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(nm_tcp_receive_reset, struct sock *sk)
{
	report(NM_TCPRST_RECEIVED, sk, NULL, 0, false);
	return 0;
}

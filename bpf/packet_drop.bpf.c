// SPDX-License-Identifier: GPL-2.0
/* packet_drop.bpf.c - skb:kfree_skb drops with reason, location and parsed headers. */
#include "common.bpf.h"
#include "packet_drop.h"

char LICENSE[] SEC("license") = "GPL";

NM_DECLARE_RING();

#define ETH_P_IP    0x0800
#define ETH_P_IPV6  0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

/*
 * Whether this CPU is serving a softirq or a hard interrupt. preempt_count is
 * a per-CPU variable that kallsyms does not list on these kernels, so the
 * irq tracepoints keep the state instead: a packet freed there does not
 * belong to whichever task happened to be current.
 */
struct irq_state {
	__u32 softirq;
	__u32 hardirq;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct irq_state);
} irq_state SEC(".maps");

/*
 * Drop reasons not to report (SKB_CONSUMED, NOT_SPECIFIED by default); filled
 * from user space by name, resolved against the running kernel's BTF.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} ignored_reasons SEC(".maps");

static __always_inline struct irq_state *this_cpu_irq(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&irq_state, &zero);
}

static __always_inline bool in_irq_context(void)
{
	struct irq_state *s = this_cpu_irq();

	return s && (s->softirq || s->hardirq);
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(nm_softirq_entry, unsigned int vec_nr)
{
	struct irq_state *s = this_cpu_irq();

	if (s)
		s->softirq = 1;
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(nm_softirq_exit, unsigned int vec_nr)
{
	struct irq_state *s = this_cpu_irq();

	if (s)
		s->softirq = 0;
	return 0;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(nm_irq_entry, int irq, struct irqaction *action)
{
	struct irq_state *s = this_cpu_irq();

	if (s)
		s->hardirq++;
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(nm_irq_exit, int irq, struct irqaction *action, int ret)
{
	struct irq_state *s = this_cpu_irq();

	if (s && s->hardirq)
		s->hardirq--;
	return 0;
}

static __always_inline void parse_headers(struct sk_buff *skb, struct nm_packet_drop_record *r)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	__u16 th = skb->transport_header;
	__u8 l4 = 0;

	if (nh == (__u16)~0U)
		return;
	if (r->d.l3_proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		r->d.family = AF_INET;
		__builtin_memcpy(r->d.saddr, &ip.saddr, 4);
		__builtin_memcpy(r->d.daddr, &ip.daddr, 4);
		l4 = ip.protocol;
		if (th == (__u16)~0U || th <= nh)
			th = nh + ip.ihl * 4;
	} else if (r->d.l3_proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		r->d.family = AF_INET6;
		__builtin_memcpy(r->d.saddr, &ip6.saddr, 16);
		__builtin_memcpy(r->d.daddr, &ip6.daddr, 16);
		l4 = ip6.nexthdr; /* extension headers are not walked */
		if (th == (__u16)~0U || th <= nh)
			th = nh + sizeof(ip6);
	} else {
		return;
	}
	r->d.drop_flags |= NM_DROP_F_L3_PARSED;
	r->d.l4_proto = l4;
	if (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP) {
		__be16 ports[2];

		if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
			return;
		r->d.sport = bpf_ntohs(ports[0]);
		r->d.dport = bpf_ntohs(ports[1]);
		r->d.drop_flags |= NM_DROP_F_L4_PARSED;
	}
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(nm_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
	     struct sock *rx_sk)
{
	__u32 key = (__u32)reason;
	struct nm_packet_drop_record *r;
	struct net_device *dev;

	if (bpf_map_lookup_elem(&ignored_reasons, &key))
		return 0;

	r = nm_reserve(&events, &counters, struct nm_packet_drop_record, NM_REC_PACKET_DROP);
	if (!r)
		return 0;

	__builtin_memset(&r->hdr.pid, 0,
			 sizeof(*r) - __builtin_offsetof(struct nm_packet_drop_record, hdr.pid));
	if (in_irq_context())
		r->d.drop_flags |= NM_DROP_F_SOFTIRQ;
	else
		nm_fill_task(&r->hdr);

	r->d.location = (__u64)location;
	r->d.reason = (__u32)reason;
	r->d.len = skb->len;
	r->d.l3_proto = bpf_ntohs(skb->protocol);
	dev = skb->dev;
	if (dev) {
		r->d.ifindex = dev->ifindex;
		bpf_probe_read_kernel_str(r->d.ifname, sizeof(r->d.ifname), dev->name);
		r->d.netns = dev->nd_net.net->ns.inum;
	} else {
		struct sock *sk = rx_sk ? rx_sk : skb->sk;

		if (sk)
			r->d.netns = sk->__sk_common.skc_net.net->ns.inum;
	}
	parse_headers(skb, r);
	nm_submit(&events, &counters, r);
	return 0;
}

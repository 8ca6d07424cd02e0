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
 * Whether the packet is freed in interrupt context (a softirq, or the rare
 * hard interrupt), where the current task does not own it. preempt_count is a
 * per-CPU variable that kallsyms does not list on these kernels, so the stack
 * tells instead: x86-64 runs softirqs and interrupts on the CPU's own irq
 * stack, so a local variable outside the current task's stack means interrupt
 * context; ksoftirqd runs them on its own stack, and is told by its name. No
 * program on the irq hooks, which fire on every interrupt of the host.
 *
 * A subprogram of its own, with a few bytes of stack: since 6.13 the kernel
 * gives a tracing program that needs 64 bytes of stack or more a per-CPU
 * private stack, where the address would say nothing (tests/integration/
 * drop_context.sh checks both contexts).
 */
#define PF_KTHREAD 0x00200000

extern bool CONFIG_KASAN __kconfig __weak;

static __noinline bool in_irq_context(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 thread_size = CONFIG_KASAN ? 32768 : 16384;
	__u64 here = (__u64)&thread_size, base = (__u64)task->stack;
	static const char ksoftirqd[] = "ksoftirqd";
	char comm[sizeof(ksoftirqd)];

	if (here - base >= thread_size)
		return true;
	if (!(task->flags & PF_KTHREAD))
		return false;
	bpf_get_current_comm(comm, sizeof(comm));
	for (int i = 0; i < (int)sizeof(ksoftirqd) - 1; i++)
		if (comm[i] != ksoftirqd[i])
			return false;
	return true;
}

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

/* What the headers say, parsed before a reservation so that the filter can see the destination. */
struct headers {
	__u32 flags; /* NM_DROP_F_L3_PARSED, NM_DROP_F_L4_PARSED */
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 l4_proto;
	__u8 pad[2];
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline void parse_headers(struct sk_buff *skb, __u16 l3_proto, struct headers *h)
{
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header;
	__u16 th = skb->transport_header;
	__u8 l4 = 0;

	if (nh == (__u16)~0U)
		return;
	if (l3_proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		h->family = AF_INET;
		__builtin_memcpy(h->saddr, &ip.saddr, 4);
		__builtin_memcpy(h->daddr, &ip.daddr, 4);
		l4 = ip.protocol;
		if (th == (__u16)~0U || th <= nh)
			th = nh + ip.ihl * 4;
	} else if (l3_proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		h->family = AF_INET6;
		__builtin_memcpy(h->saddr, &ip6.saddr, 16);
		__builtin_memcpy(h->daddr, &ip6.daddr, 16);
		l4 = ip6.nexthdr; /* extension headers are not walked */
		if (th == (__u16)~0U || th <= nh)
			th = nh + sizeof(ip6);
	} else {
		return;
	}
	h->flags |= NM_DROP_F_L3_PARSED;
	h->l4_proto = l4;
	if (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP) {
		__be16 ports[2];

		if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
			return;
		h->sport = bpf_ntohs(ports[0]);
		h->dport = bpf_ntohs(ports[1]);
		h->flags |= NM_DROP_F_L4_PARSED;
	}
}

/*
 * The filter's reason and task lists, before the headers are read: a drop in
 * interrupt context has no task (its task dimensions match no list).
 */
static __always_inline bool filtered_early(__u64 st, bool irq, __u32 reason)
{
	if (nm_filter_reason(st, reason))
		return true;
	return irq ? nm_filter_no_task(st) : nm_filter_current(st);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(nm_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
	     struct sock *rx_sk)
{
	__u32 key = (__u32)reason;
	struct nm_packet_drop_record *r;
	struct headers h = {};
	struct net_device *dev;
	__u16 l3_proto;
	__u64 st;
	bool irq;

	if (bpf_map_lookup_elem(&ignored_reasons, &key))
		return 0;

	irq = in_irq_context();
	st = nm_filter_load();
	if ((st & NM_FILTER_ACTIVE) && filtered_early(st, irq, key))
		goto filtered;
	l3_proto = bpf_ntohs(skb->protocol);
	parse_headers(skb, l3_proto, &h);
	/* a packet that is not IP, or whose ports were not read, has no destination address or port */
	if ((st & NM_FILTER_ADDR) &&
	    nm_filter_dest(st, h.family, h.daddr, h.dport, h.flags & NM_DROP_F_L4_PARSED))
		goto filtered;

	r = nm_reserve(&events, &counters, struct nm_packet_drop_record, NM_REC_PACKET_DROP);
	if (!r)
		return 0;

	__builtin_memset(&r->hdr.pid, 0,
			 sizeof(*r) - __builtin_offsetof(struct nm_packet_drop_record, hdr.pid));
	if (irq)
		r->d.drop_flags |= NM_DROP_F_SOFTIRQ;
	else
		nm_fill_task(&r->hdr);

	r->d.location = (__u64)location;
	r->d.reason = (__u32)reason;
	r->d.len = skb->len;
	r->d.l3_proto = l3_proto;
	r->d.drop_flags |= h.flags;
	r->d.family = h.family;
	r->d.l4_proto = h.l4_proto;
	r->d.sport = h.sport;
	r->d.dport = h.dport;
	__builtin_memcpy(r->d.saddr, h.saddr, sizeof(r->d.saddr));
	__builtin_memcpy(r->d.daddr, h.daddr, sizeof(r->d.daddr));
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
	nm_submit(&events, &counters, r);
	return 0;
filtered:
	nm_count(&counters, NM_CNT_FILTERED);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/* floor.bpf.c - the storm's do-nothing floor: the agent's hooks, each only counting, no ring. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* runs per hook: [0] sys_enter_connect, [1] sys_exit_connect, [2] kfree_skb */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &k);

	if (v)
		(*v)++;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int floor_connect_enter(void *ctx)
{
	count(0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int floor_connect_exit(void *ctx)
{
	count(1);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(floor_kfree_skb, struct sk_buff *skb)
{
	count(2);
	return 0;
}

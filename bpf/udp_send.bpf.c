// SPDX-License-Identifier: GPL-2.0
/* udp_send.bpf.c - unconnected UDP destinations, from cgroup sendmsg4/6 on the cgroup2 root. */
#include "common.bpf.h"
#include "udp_send.h"

char LICENSE[] SEC("license") = "GPL";

NM_DECLARE_RING();

/* cgroup sock_addr programs must allow (1) or refuse (0): this one only watches. */
#define NM_SOCK_ADDR_ALLOW 1
#define NM_EEXIST	   17

/* The kernel's own context behind the UAPI one: its sock, for the namespace. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* One destination of one socket: reported once while it stays in the LRU. */
struct destination_key {
	__u64 socket_cookie;
	__u8 daddr[16];
	__u16 dport; /* network byte order */
	__u16 family;
	__u32 pad;
};

/* Sized from user space (dedup_entries) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct destination_key);
	__type(value, __u8);
} reported SEC(".maps");

/*
 * The first datagram from a socket to a destination is reported; repeats are
 * counted as suppressed, and each datagram the filter refuses as filtered. A
 * record the ring had no room for is forgotten again, so the next datagram to
 * that destination retries it.
 */
static __always_inline void report(struct bpf_sock_addr *ctx, struct destination_key *key,
				   const __u16 family)
{
	struct bpf_sock_addr_kern *kctx = bpf_cast_to_kern_ctx(ctx);
	struct nm_udp_send_record *r;
	struct bpf_sock *bsk = ctx->sk;
	struct sock *sk = kctx->sk;
	__u64 st = nm_filter_load();
	__u8 seen = 1;

	/* before the repeat test: a destination refused is not remembered as reported */
	if ((st & NM_FILTER_ACTIVE) &&
	    (nm_filter_current(st) ||
	     nm_filter_dest(st, family, key->daddr, bpf_ntohs(key->dport), true))) {
		nm_count(&counters, NM_CNT_FILTERED);
		return;
	}
	key->socket_cookie = bpf_get_socket_cookie(ctx);
	if (bpf_map_update_elem(&reported, key, &seen, BPF_NOEXIST) == -NM_EEXIST) {
		nm_count(&counters, NM_CNT_SUPPRESSED);
		return;
	}
	r = nm_reserve(&events, &counters, struct nm_udp_send_record, NM_REC_UDP_SEND);
	if (!r) {
		bpf_map_delete_elem(&reported, key);
		return;
	}
	__builtin_memset(&r->hdr.pid, 0,
			 sizeof(*r) - __builtin_offsetof(struct nm_udp_send_record, hdr.pid));
	nm_fill_task(&r->hdr);
	r->u.socket_cookie = key->socket_cookie;
	r->u.family = family;
	r->u.protocol = ctx->protocol;
	r->u.dport = bpf_ntohs(key->dport);
	__builtin_memcpy(r->u.daddr, key->daddr, sizeof(r->u.daddr));
	if (sk)
		r->u.netns = sk->__sk_common.skc_net.net->ns.inum;
	if (bsk && bsk->src_port) {
		r->u.send_flags |= NM_UDP_F_SOURCE_KNOWN;
		r->u.sport = (__u16)bsk->src_port;
		/*
		 * The IP_PKTINFO source, else the bound address. Both are loaded first
		 * (barrier_var): the verifier refuses one load through a pointer the
		 * compiler chose between ctx and the sock. @family is a constant, so
		 * each program reads only its own msg_src field.
		 */
		if (family == AF_INET) {
			__u32 msg_src = ctx->msg_src_ip4, bound = bsk->src_ip4;

			barrier_var(bound);
			if (!msg_src)
				msg_src = bound;
			__builtin_memcpy(r->u.saddr, &msg_src, 4);
		} else {
			__u32 w[4] = {ctx->msg_src_ip6[0], ctx->msg_src_ip6[1], ctx->msg_src_ip6[2],
				      ctx->msg_src_ip6[3]};
			__u32 b[4] = {bsk->src_ip6[0], bsk->src_ip6[1], bsk->src_ip6[2],
				      bsk->src_ip6[3]};

			barrier_var(b[0]);
			barrier_var(b[1]);
			barrier_var(b[2]);
			barrier_var(b[3]);
			__builtin_memcpy(r->u.saddr, (w[0] | w[1] | w[2] | w[3]) ? w : b, 16);
		}
	}
	nm_submit(&events, &counters, r);
}

SEC("cgroup/sendmsg4")
int nm_udp_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct destination_key key = {.family = AF_INET};
	__u32 ip = ctx->user_ip4;

	__builtin_memcpy(key.daddr, &ip, 4);
	key.dport = (__u16)ctx->user_port;
	report(ctx, &key, AF_INET);
	return NM_SOCK_ADDR_ALLOW;
}

SEC("cgroup/sendmsg6")
int nm_udp_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct destination_key key = {.family = AF_INET6};
	__u32 ip[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};

	__builtin_memcpy(key.daddr, ip, sizeof(ip));
	key.dport = (__u16)ctx->user_port;
	report(ctx, &key, AF_INET6);
	return NM_SOCK_ADDR_ALLOW;
}

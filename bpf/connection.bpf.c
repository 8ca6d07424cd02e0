// SPDX-License-Identifier: GPL-2.0
/* connection.bpf.c - outbound connect() calls, paired enter/exit, from syscall tracepoints. */
#include "common.bpf.h"
#include "connection.h"

char LICENSE[] SEC("license") = "GPL";

NM_DECLARE_RING();

/* Set from user space before load. */
const volatile bool nm_trace_unix = false;

struct pending_connect {
	__u64 start_ns;
	__u32 fd;
	__u16 family;
	__u16 port; /* network byte order as read from the sockaddr */
	__u16 unix_path_len;
	__u8 addr[16];
	char unix_path[NM_UNIX_PATH_LEN];
};

/*
 * Keyed by thread id: a thread is in at most one connect() at a time. LRU, so
 * entries of threads killed inside connect() cannot fill it up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_connect);
} pending SEC(".maps");

/* Scratch for building a pending entry: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending_connect);
} scratch SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_connect")
int nm_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	const void *uaddr = (const void *)ctx->args[1];
	__u32 addrlen = (__u32)ctx->args[2];
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct pending_connect *p;
	__u16 family = 0;

	if (!uaddr || addrlen < sizeof(family))
		return 0;
	if (bpf_probe_read_user(&family, sizeof(family), uaddr))
		return 0;
	if (family != AF_INET && family != AF_INET6 && !(family == AF_UNIX && nm_trace_unix))
		return 0;

	p = bpf_map_lookup_elem(&scratch, &zero);
	if (!p)
		return 0;
	__builtin_memset(p, 0, sizeof(*p));
	p->start_ns = bpf_ktime_get_boot_ns();
	p->fd = (__u32)ctx->args[0];
	p->family = family;
	if (family == AF_INET && addrlen >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;

		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		p->port = sin.sin_port;
		__builtin_memcpy(p->addr, &sin.sin_addr, 4);
	} else if (family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;

		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		p->port = sin6.sin6_port;
		__builtin_memcpy(p->addr, &sin6.sin6_addr, 16);
	} else if (family == AF_UNIX) {
		__u32 n = addrlen - sizeof(family);

		p->unix_path_len = n > NM_UNIX_PATH_LEN ? NM_UNIX_PATH_LEN : n;
		/* A fixed-size read keeps the verifier simple; user space trims to the length. */
		if (bpf_probe_read_user(p->unix_path, NM_UNIX_PATH_LEN, uaddr + sizeof(family)))
			bpf_probe_read_user_str(p->unix_path, NM_UNIX_PATH_LEN,
						uaddr + sizeof(family));
	} else {
		return 0; /* too short for its family: the kernel fails it with EINVAL */
	}
	bpf_map_update_elem(&pending, &tid, p, BPF_ANY);
	return 0;
}

/* The socket behind @fd in the current task, or NULL when @fd is not a socket. */
static __always_inline struct socket *fd_to_socket(__u32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *file = NULL;
	struct socket *sock;

	if (fd >= max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return sock;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int nm_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct nm_connection_record *r;
	struct pending_connect *p;
	struct socket *sock;
	struct sock *sk = NULL;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;

	r = nm_reserve(&events, &counters, struct nm_connection_record, NM_REC_CONNECTION);
	if (!r)
		goto out;

	nm_fill_task(&r->hdr);
	r->c.ret = (__s32)ctx->ret;
	r->c.latency_ns = r->hdr.timestamp_ns - p->start_ns;
	r->c.fd = p->fd;
	r->c.family = p->family;
	r->c.dport = bpf_ntohs(p->port);
	r->c.sport = 0;
	r->c.conn_flags = 0;
	r->c.protocol = 0;
	r->c.sock_type = 0;
	__builtin_memcpy(r->c.daddr, p->addr, sizeof(r->c.daddr));
	__builtin_memset(r->c.saddr, 0, sizeof(r->c.saddr));
	__builtin_memcpy(r->c.unix_path, p->unix_path, sizeof(r->c.unix_path));
	r->c.unix_path_len = p->unix_path_len;
	r->c.reserved = 0;

	sock = fd_to_socket(p->fd);
	if (sock)
		sk = BPF_CORE_READ(sock, sk);
	if (sk) {
		r->c.conn_flags |= NM_CONN_F_PROTO_KNOWN;
		r->c.protocol = BPF_CORE_READ(sk, sk_protocol);
		r->c.sock_type = BPF_CORE_READ(sk, sk_type);
		r->c.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		r->c.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (r->c.sport) {
			r->c.conn_flags |= NM_CONN_F_SOURCE_KNOWN;
			if (p->family == AF_INET) {
				__be32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

				__builtin_memcpy(r->c.saddr, &s, 4);
			} else if (p->family == AF_INET6) {
				BPF_CORE_READ_INTO(r->c.saddr, sk, __sk_common.skc_v6_rcv_saddr);
			}
		}
	} else {
		struct task_struct *task = bpf_get_current_task_btf();

		r->c.netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	}
	nm_submit(&events, &counters, r);
out:
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/* connection.bpf.c - outbound connect() calls, paired enter/exit, from syscall tracepoints. */
#include "common.bpf.h"
#include "connection.h"

char LICENSE[] SEC("license") = "GPL";

NM_DECLARE_RING();

/* Turns a pointer read from kernel memory back into a typed, directly loadable one. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Set from user space before load. */
const volatile bool nm_trace_unix = false;

struct pending_connect {
	__u64 start_ns;
	__u64 uaddr; /* the sockaddr in user memory: AF_UNIX paths are read at exit */
	__u32 fd;
	__u16 family;
	__u16 port; /* network byte order as read from the sockaddr */
	__u16 unix_path_len;
	__u16 active;
	__u8 addr[16];
};

/*
 * The connect() a thread is in, kept in the thread's own storage: cheaper
 * than a hash keyed by tid, and freed with the thread.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending_connect);
} pending SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_connect")
int nm_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	const void *uaddr = (const void *)ctx->args[1];
	__u32 addrlen = (__u32)ctx->args[2];
	struct pending_connect *p;
	union {
		__u16 family;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} sa;
	__u64 st;
	int rc;

	/* One user-memory read of the largest address the length allows. */
	if (!uaddr || addrlen < sizeof(sa.family))
		return 0;
	if (addrlen >= sizeof(sa.sin6))
		rc = bpf_probe_read_user(&sa.sin6, sizeof(sa.sin6), uaddr);
	else if (addrlen >= sizeof(sa.sin))
		rc = bpf_probe_read_user(&sa.sin, sizeof(sa.sin), uaddr);
	else
		rc = bpf_probe_read_user(&sa.family, sizeof(sa.family), uaddr);
	if (rc)
		return 0;
	if (sa.family == AF_INET    ? addrlen < sizeof(sa.sin)
	    : sa.family == AF_INET6 ? addrlen < sizeof(sa.sin6)
				    : sa.family != AF_UNIX || !nm_trace_unix)
		return 0; /* another family, or too short for its own: EINVAL from the kernel */

	/*
	 * Filtered here, at the enter: everything the filter looks at is known,
	 * and the exit of a filtered call then finds no pending entry. sin_port
	 * and sin6_port share their offset; an AF_UNIX address has no port.
	 */
	st = nm_filter_load();
	if ((st & NM_FILTER_ACTIVE) &&
	    (nm_filter_current(st) ||
	     nm_filter_dest(st, sa.family,
			    sa.family == AF_INET ? (const __u8 *)&sa.sin.sin_addr
						 : (const __u8 *)&sa.sin6.sin6_addr,
			    bpf_ntohs(sa.sin.sin_port), sa.family != AF_UNIX))) {
		nm_count(&counters, NM_CNT_FILTERED);
		return 0;
	}

	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	__builtin_memset(p->addr, 0, sizeof(p->addr));
	p->port = 0;
	p->unix_path_len = 0;
	if (sa.family == AF_INET) {
		p->port = sa.sin.sin_port;
		__builtin_memcpy(p->addr, &sa.sin.sin_addr, 4);
	} else if (sa.family == AF_INET6) {
		p->port = sa.sin6.sin6_port;
		__builtin_memcpy(p->addr, &sa.sin6.sin6_addr, 16);
	} else {
		__u32 n = addrlen - sizeof(sa.family);

		p->unix_path_len = n > NM_UNIX_PATH_LEN ? NM_UNIX_PATH_LEN : n;
	}
	p->start_ns = bpf_ktime_get_boot_ns();
	p->uaddr = (__u64)uaddr;
	p->fd = (__u32)ctx->args[0];
	p->family = sa.family;
	p->active = 1;
	return 0;
}

static __always_inline struct socket *fd_to_socket(__u32 fd)
{
	/*
	 * Direct loads through the BTF task pointer: the verifier turns them
	 * into fault-safe loads, much cheaper than a probe-read helper each.
	 */
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *file;
	struct socket *sock;

	if (fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return NULL;
	file = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
	/* private_data is a void *: give it its type before loading through it */
	sock = bpf_rdonly_cast(file->private_data, bpf_core_type_id_kernel(struct socket));
	if (!sock || sock->file != file)
		return NULL;
	return sock;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int nm_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct nm_connection_record *r;
	struct pending_connect *p;
	struct socket *sock;
	struct sock *sk = NULL;

	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->active)
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
	__builtin_memset(r->c.unix_path, 0, sizeof(r->c.unix_path));
	if (p->family == AF_UNIX) {
		const void *path = (const void *)(p->uaddr + sizeof(__u16));

		/* A fixed-size read keeps the verifier simple; user space trims to the length. */
		if (bpf_probe_read_user(r->c.unix_path, NM_UNIX_PATH_LEN, path))
			bpf_probe_read_user_str(r->c.unix_path, NM_UNIX_PATH_LEN, path);
	}
	r->c.unix_path_len = p->unix_path_len;
	r->c.reserved = 0;
	r->c.socket_cookie = 0;

	sock = fd_to_socket(p->fd);
	if (sock)
		sk = sock->sk;
	if (sk) {
		r->c.conn_flags |= NM_CONN_F_PROTO_KNOWN;
		r->c.protocol = sk->sk_protocol;
		r->c.sock_type = sk->sk_type;
		r->c.netns = sk->__sk_common.skc_net.net->ns.inum;
		/* read, not generated: tracepoint programs may not call bpf_get_socket_cookie() */
		r->c.socket_cookie = sk->__sk_common.skc_cookie.counter;
		r->c.sport = sk->__sk_common.skc_num;
		if (r->c.sport) {
			r->c.conn_flags |= NM_CONN_F_SOURCE_KNOWN;
			if (p->family == AF_INET) {
				__be32 s = sk->__sk_common.skc_rcv_saddr;

				__builtin_memcpy(r->c.saddr, &s, 4);
			} else if (p->family == AF_INET6) {
				BPF_CORE_READ_INTO(r->c.saddr, sk, __sk_common.skc_v6_rcv_saddr);
			}
		}
	} else {
		struct task_struct *task = bpf_get_current_task_btf();

		r->c.netns = task->nsproxy->net_ns->ns.inum;
	}
	nm_submit(&events, &counters, r);
out:
	p->active = 0;
	return 0;
}

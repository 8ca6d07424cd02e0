// SPDX-License-Identifier: GPL-2.0
/* tcp_lifecycle.bpf.c - TCP connects, accepts and closes with outcome, latency, duration, bytes. */
#include "common.bpf.h"
#include "tcp_lifecycle.h"

char LICENSE[] SEC("license") = "GPL";

NM_DECLARE_RING();

#define NM_ETIMEDOUT	110
#define NM_ECONNRESET	104
#define NM_ECONNREFUSED 111
#define NM_EPIPE	32

/* The task a connection belongs to, taken where the current task is really it. */
struct owner {
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 known;
	__u64 cgroup_id;
	char comm[NM_COMM_LEN];
};

/* A connection between its opening and its close. */
struct flow {
	__u64 start_ns;	      /* SYN_SENT (outbound) or SYN_RECV (inbound) */
	__u64 established_ns; /* 0 until ESTABLISHED */
	__u64 acked_base;     /* bytes_acked at ESTABLISHED: the SYN, for an active open */
	struct owner owner;
	__u8 direction;
	__u8 start_known;
	__u8 pad[6];
};

/*
 * Keyed by socket cookie; sized from user space (max_connections) before load.
 * An LRU hash rather than socket storage (BPF_MAP_TYPE_SK_STORAGE, which needs
 * no sizing): that allocates and frees per connection, and costs twice as much
 * per state change in a connect storm (docs/performance.md). The LRU also
 * forgets by itself what connections closed while the program was detached.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct flow);
} flows SEC(".maps");

/* A zeroed entry for @cookie, replacing any earlier one, or NULL. */
static __always_inline struct flow *flow_new(__u64 cookie)
{
	struct flow zero = {};

	if (bpf_map_update_elem(&flows, &cookie, &zero, BPF_ANY))
		return NULL;
	return bpf_map_lookup_elem(&flows, &cookie);
}

/*
 * Listening sockets by (netns, port): the child of an accept is created in
 * softirq context, where the current task is whoever sent the packet, so an
 * inbound connection is credited to the task that called listen().
 */
struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 pad;
};

struct listen_owner {
	__u64 socket_cookie;
	struct owner owner;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct listener_key);
	__type(value, struct listen_owner);
} listeners SEC(".maps");

static __always_inline void current_owner(struct owner *o)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	o->pid = pid_tgid >> 32;
	o->tid = (__u32)pid_tgid;
	o->uid = (__u32)bpf_get_current_uid_gid();
	o->known = 1;
	o->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

static __always_inline __u32 sock_netns(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
}

/* inet_sport, not skc_num: moving to CLOSE releases the bound port and zeroes skc_num first. */
static __always_inline __u16 local_port(const struct tcp_sock *tp)
{
	return bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
}

/* Outcome of a failed handshake or of an ended connection, from the socket's error. */
static __always_inline __u8 failure_outcome(__u32 err)
{
	switch (err) {
	case NM_ECONNREFUSED:
		return NM_TCPL_REFUSED;
	case NM_ETIMEDOUT:
		return NM_TCPL_TIMEOUT;
	case NM_ECONNRESET:
	case NM_EPIPE:
		return NM_TCPL_RESET;
	default:
		return NM_TCPL_ERROR;
	}
}

/*
 * The endpoints, the initiator as source: an inbound connection's source is
 * its remote peer.
 */
static __always_inline void fill_endpoints(struct nm_tcp_lifecycle_record *r, const struct sock *sk,
					   const struct tcp_sock *tp, __u8 direction)
{
	__u8 *local = direction == NM_TCPL_DIR_INBOUND ? r->t.daddr : r->t.saddr;
	__u8 *remote = direction == NM_TCPL_DIR_INBOUND ? r->t.saddr : r->t.daddr;
	__u16 lport = local_port(tp);
	__u16 rport = bpf_ntohs(sk->__sk_common.skc_dport);

	r->t.family = sk->__sk_common.skc_family;
	if (r->t.family == AF_INET) {
		__u32 l = sk->__sk_common.skc_rcv_saddr, d = sk->__sk_common.skc_daddr;

		__builtin_memcpy(local, &l, 4);
		__builtin_memcpy(remote, &d, 4);
	} else {
		struct in6_addr l = sk->__sk_common.skc_v6_rcv_saddr,
				d = sk->__sk_common.skc_v6_daddr;

		__builtin_memcpy(local, &l, 16);
		__builtin_memcpy(remote, &d, 16);
	}
	r->t.sport = direction == NM_TCPL_DIR_INBOUND ? rport : lport;
	r->t.dport = direction == NM_TCPL_DIR_INBOUND ? lport : rport;
}

/*
 * The filter, on the owner the flow remembered (none: no task) and the
 * destination as the event names it (an inbound connection's is the local end).
 */
static __always_inline bool filtered(const struct sock *sk, const struct tcp_sock *tp,
				     const struct flow *f, __u8 direction)
{
	__u64 st = nm_filter_load();
	__u8 addr[16] = {};
	__u16 family, port;

	if (!(st & NM_FILTER_ACTIVE))
		return false;
	if (f && f->owner.known ? nm_filter_task(st, f->owner.pid, f->owner.uid, f->owner.cgroup_id,
						 f->owner.comm)
				: nm_filter_no_task(st))
		return true;
	if (!(st & NM_FILTER_ADDR))
		return false;
	family = sk->__sk_common.skc_family;
	if (direction == NM_TCPL_DIR_INBOUND) {
		port = local_port(tp);
		if (family == AF_INET) {
			__u32 a = sk->__sk_common.skc_rcv_saddr;

			__builtin_memcpy(addr, &a, 4);
		} else {
			struct in6_addr a = sk->__sk_common.skc_v6_rcv_saddr;

			__builtin_memcpy(addr, &a, 16);
		}
	} else {
		port = bpf_ntohs(sk->__sk_common.skc_dport);
		if (family == AF_INET) {
			__u32 a = sk->__sk_common.skc_daddr;

			__builtin_memcpy(addr, &a, 4);
		} else {
			struct in6_addr a = sk->__sk_common.skc_v6_daddr;

			__builtin_memcpy(addr, &a, 16);
		}
	}
	return nm_filter_dest(st, family, addr, port, true);
}

/* A reserved record with the common fields, or NULL: the ring was full, or the filter refused. */
static __always_inline struct nm_tcp_lifecycle_record *begin(const struct sock *sk,
							     const struct tcp_sock *tp,
							     __u64 cookie, const struct flow *f,
							     __u8 direction, int oldstate)
{
	struct nm_tcp_lifecycle_record *r;

	if (filtered(sk, tp, f, direction)) {
		nm_count(&counters, NM_CNT_FILTERED);
		return NULL;
	}
	r = nm_reserve(&events, &counters, struct nm_tcp_lifecycle_record, NM_REC_TCP_LIFECYCLE);
	if (!r)
		return NULL;
	__builtin_memset(&r->hdr.pid, 0,
			 sizeof(*r) - __builtin_offsetof(struct nm_tcp_lifecycle_record, hdr.pid));
	if (f && f->owner.known) {
		r->hdr.pid = f->owner.pid;
		r->hdr.tid = f->owner.tid;
		r->hdr.uid = f->owner.uid;
		r->hdr.cgroup_id = f->owner.cgroup_id;
		r->hdr.flags = NM_REC_F_TASK;
		__builtin_memcpy(r->hdr.comm, f->owner.comm, sizeof(r->hdr.comm));
	}
	r->t.socket_cookie = cookie;
	r->t.netns = sock_netns(sk);
	r->t.direction = direction;
	r->t.old_state = (__u8)oldstate;
	fill_endpoints(r, sk, tp, direction);
	return r;
}

/* A connect() started: remember when, and who, for the outcome and the close. */
static __always_inline void on_syn_sent(__u64 cookie)
{
	struct flow *f = flow_new(cookie);

	if (!f)
		return;
	f->direction = NM_TCPL_DIR_OUTBOUND;
	f->start_known = 1;
	f->start_ns = bpf_ktime_get_boot_ns();
	current_owner(&f->owner);
}

static __always_inline void on_listen(const struct sock *sk, const struct tcp_sock *tp,
				      __u64 cookie)
{
	struct listener_key k = {.netns = sock_netns(sk), .port = local_port(tp)};
	struct listen_owner l = {.socket_cookie = cookie};

	current_owner(&l.owner);
	bpf_map_update_elem(&listeners, &k, &l, BPF_ANY);
}

static __always_inline void on_unlisten(const struct sock *sk, const struct tcp_sock *tp,
					__u64 cookie)
{
	struct listener_key k = {.netns = sock_netns(sk), .port = local_port(tp)};
	struct listen_owner *l = bpf_map_lookup_elem(&listeners, &k);

	/* another socket may listen on the port too (SO_REUSEPORT, v4 and v6): keep its entry */
	if (l && l->socket_cookie == cookie)
		bpf_map_delete_elem(&listeners, &k);
}

/* The child of a listener, created when the handshake's last ACK arrived. */
static __always_inline void on_child(const struct sock *sk, const struct tcp_sock *tp, __u64 cookie)
{
	struct listener_key k = {.netns = sock_netns(sk), .port = local_port(tp)};
	struct listen_owner *l = bpf_map_lookup_elem(&listeners, &k);
	struct flow *f = flow_new(cookie);

	if (!f)
		return;
	f->direction = NM_TCPL_DIR_INBOUND;
	f->start_known = 1;
	f->start_ns = bpf_ktime_get_boot_ns();
	if (l)
		f->owner = l->owner;
}

static __always_inline void on_established(const struct sock *sk, const struct tcp_sock *tp,
					   __u64 cookie, int oldstate)
{
	struct flow *f = bpf_map_lookup_elem(&flows, &cookie);
	struct nm_tcp_lifecycle_record *r;
	__u64 now = bpf_ktime_get_boot_ns();

	if (!f) {
		/* the handshake began before the program was attached */
		f = flow_new(cookie);
		if (!f)
			return;
		f->direction =
			oldstate == TCP_SYN_SENT ? NM_TCPL_DIR_OUTBOUND : NM_TCPL_DIR_INBOUND;
	}
	f->established_ns = now;
	f->acked_base = tp->bytes_acked;
	r = begin(sk, tp, cookie, f, f->direction, oldstate);
	if (!r)
		return;
	r->t.phase = NM_TCPL_PHASE_OPEN;
	r->t.outcome = NM_TCPL_ESTABLISHED;
	/* an inbound child exists only from the last ACK: its handshake time is not known */
	if (f->start_known && f->direction == NM_TCPL_DIR_OUTBOUND) {
		r->t.latency_ns = now - f->start_ns;
		r->t.lc_flags |= NM_TCPL_F_LATENCY;
	}
	nm_submit(&events, &counters, r);
}

/* SYN_SENT -> CLOSE: the connect failed, and sk_err says why. */
static __always_inline void on_connect_failed(const struct sock *sk, const struct tcp_sock *tp,
					      __u64 cookie)
{
	struct flow *f = bpf_map_lookup_elem(&flows, &cookie);
	struct nm_tcp_lifecycle_record *r;

	r = begin(sk, tp, cookie, f, NM_TCPL_DIR_OUTBOUND, TCP_SYN_SENT);
	if (r) {
		r->t.phase = NM_TCPL_PHASE_OPEN;
		r->t.sk_err = (__u32)sk->sk_err;
		r->t.outcome = failure_outcome(r->t.sk_err);
		if (f && f->start_known) {
			r->t.latency_ns = r->hdr.timestamp_ns - f->start_ns;
			r->t.lc_flags |= NM_TCPL_F_LATENCY;
		}
		nm_submit(&events, &counters, r);
	}
	if (f)
		bpf_map_delete_elem(&flows, &cookie);
}

/*
 * An established connection reached CLOSE. The kernel's byte counters count
 * sequence space: bytes_acked includes the SYN of an active open and an
 * acknowledged FIN, bytes_received a received FIN. Both are taken out.
 */
static __always_inline void on_close(const struct sock *sk, const struct tcp_sock *tp, __u64 cookie,
				     int oldstate)
{
	struct flow *f = bpf_map_lookup_elem(&flows, &cookie);
	struct nm_tcp_lifecycle_record *r;
	__u64 sock_done = 1ULL << bpf_core_enum_value(enum sock_flags, SOCK_DONE);
	bool fin_sent = oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 ||
			oldstate == TCP_CLOSING || oldstate == TCP_LAST_ACK;
	__u8 direction = f ? f->direction : NM_TCPL_DIR_UNKNOWN;
	__u32 err = (__u32)sk->sk_err;
	__u64 acked, received;

	if (f && !f->established_ns) {
		/* an inbound child that never became established: no connection to report */
		bpf_map_delete_elem(&flows, &cookie);
		return;
	}
	r = begin(sk, tp, cookie, f, direction, oldstate);
	if (!r)
		goto out;
	r->t.phase = NM_TCPL_PHASE_CLOSE;
	r->t.sk_err = err;
	if (err) {
		r->t.outcome = failure_outcome(err);
		if (r->t.outcome == NM_TCPL_RESET)
			r->t.lc_flags |= NM_TCPL_F_RESET_PEER;
	} else if (oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) {
		/* straight to CLOSE without a FIN: an abort (SO_LINGER 0, unread data), a reset sent */
		r->t.outcome = NM_TCPL_RESET;
		r->t.lc_flags |= NM_TCPL_F_RESET_LOCAL;
	} else {
		r->t.outcome = NM_TCPL_CLOSED;
	}
	if (f) {
		r->t.duration_ns = r->hdr.timestamp_ns - f->established_ns;
		r->t.lc_flags |= NM_TCPL_F_DURATION;
	}
	acked = tp->bytes_acked;
	received = tp->bytes_received;
	if (fin_sent && tp->snd_una == tp->write_seq && acked)
		acked--;
	if ((sk->__sk_common.skc_flags & sock_done) && received)
		received--;
	r->t.bytes_received = received;
	r->t.lc_flags |= NM_TCPL_F_BYTES;
	if (f) {
		r->t.bytes_sent = acked > f->acked_base ? acked - f->acked_base : 0;
		r->t.lc_flags |= NM_TCPL_F_SENT_KNOWN;
	}
	nm_submit(&events, &counters, r);
out:
	if (f)
		bpf_map_delete_elem(&flows, &cookie);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nm_tcp_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct tcp_sock *tp;
	__u64 cookie;

	/* NULL for anything but a TCP socket (an MPTCP socket passes here too) */
	tp = bpf_skc_to_tcp_sock((void *)sk);
	if (!tp)
		return 0;
	/* the transitions that matter; the others (FIN_WAIT1 ...) cost only this test */
	if (newstate != TCP_SYN_SENT && newstate != TCP_SYN_RECV && newstate != TCP_ESTABLISHED &&
	    newstate != TCP_LISTEN && newstate != TCP_CLOSE)
		return 0;
	/*
	 * Assigns the cookie if the socket has none yet: at SYN_SENT, inside the
	 * connect() call, so the connection program's exit can read it.
	 */
	cookie = bpf_get_socket_cookie((void *)sk);
	switch (newstate) {
	case TCP_SYN_SENT:
		/* connect() or a fast-open sendmsg(): the current task is the owner */
		on_syn_sent(cookie);
		break;
	case TCP_LISTEN:
		on_listen(sk, tp, cookie);
		break;
	case TCP_SYN_RECV:
		if (oldstate == TCP_LISTEN)
			on_child(sk, tp, cookie);
		break;
	case TCP_ESTABLISHED:
		if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
			on_established(sk, tp, cookie, oldstate);
		break;
	case TCP_CLOSE:
		if (oldstate == TCP_SYN_SENT)
			on_connect_failed(sk, tp, cookie);
		else if (oldstate == TCP_LISTEN)
			on_unlisten(sk, tp, cookie);
		else if (oldstate == TCP_SYN_RECV)
			bpf_map_delete_elem(&flows, &cookie);
		else if (oldstate != TCP_CLOSE)
			on_close(sk, tp, cookie, oldstate);
		break;
	}
	return 0;
}

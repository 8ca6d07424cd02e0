/* common.bpf.h - helpers shared by every bpf/NAME.bpf.c program. */
#ifndef NM_COMMON_BPF_H
#define NM_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "record.h"

#define AF_UNIX	 1
#define AF_INET	 2
#define AF_INET6 10

/*
 * Wake-up batching: records are submitted without waking the reader, which
 * drains on a short timer; only a ring filling past this many bytes forces a
 * wake-up. Set from user space before load.
 */
const volatile __u64 nm_wakeup_bytes = 128 * 1024;

/* Every program declares its own ring and counters with these two macros. */
#define NM_DECLARE_RING()                                                                          \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, 2 * 1024 * 1024);                                              \
	} events SEC(".maps");                                                                     \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, NM_CNT_MAX);                                                   \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} counters SEC(".maps")

#define nm_count(map, idx)                                                                         \
	({                                                                                         \
		__u32 __k = (idx);                                                                 \
		__u64 *__v = bpf_map_lookup_elem(map, &__k);                                       \
		if (__v)                                                                           \
			(*__v)++;                                                                  \
	})

/* Reserve a record of @type in @ring, or count the loss and return NULL. */
#define nm_reserve(ring, ctrs, rtype, type_id)                                                     \
	({                                                                                         \
		rtype *__r = bpf_ringbuf_reserve(ring, sizeof(rtype), 0);                          \
		if (!__r)                                                                          \
			nm_count(ctrs, NM_CNT_RING_FULL);                                          \
		else {                                                                             \
			__r->hdr.version = NM_RECORD_VERSION;                                      \
			__r->hdr.type = (type_id);                                                 \
			__r->hdr.len = sizeof(rtype);                                              \
			__r->hdr.timestamp_ns = bpf_ktime_get_boot_ns();                           \
		}                                                                                  \
		__r;                                                                               \
	})

/*
 * The program's filter (record.h). A program without one pays the load of
 * nm_filter_state and a branch; src/filter.c fills the sets and switches the
 * state. Entries are allocated as they are added (BPF_F_NO_PREALLOC), so an
 * unused filter holds no memory.
 */
__u64 nm_filter_state;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NM_FILTER_SET_MAX);
	__type(key, struct nm_filter_key);
	__type(value, __u8);
} nm_filter_set SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NM_FILTER_CIDR_MAX);
	__type(key, struct nm_filter_cidr_key);
	__type(value, __u8);
} nm_filter_cidr SEC(".maps");

/* The state, read once per event so that every test of one event sees one generation. */
static __always_inline __u64 nm_filter_load(void)
{
	return *(volatile __u64 *)&nm_filter_state;
}

/*
 * Whether the entry @v (NULL: the value is not in any list, or the event has
 * no such value) refuses the event, for a dimension with the list bits @bits.
 */
static __always_inline bool nm_filter_verdict(__u64 bits, const __u8 *v)
{
	__u8 m = v ? *v : 0;

	if (m & NM_FILTER_V_EXCLUDE)
		return true;
	return (bits & 1) && !(m & NM_FILTER_V_INCLUDE);
}

static __always_inline __u64 nm_filter_bits(__u64 st, __u32 dim)
{
	return (st >> (2 * dim)) & 3;
}

static __always_inline __u32 nm_filter_gen_dim(__u64 st, __u32 dim)
{
	return (__u32)(st >> 63) << 8 | dim;
}

/* A number of any dimension (pid, uid, cgroup id, port, reason): keyed as 8 bytes, as src/filter.c writes it. */
static __always_inline bool nm_filter_num(__u64 st, __u32 dim, __u64 val)
{
	__u64 bits = nm_filter_bits(st, dim);
	struct nm_filter_key k = {.gen_dim = nm_filter_gen_dim(st, dim)};

	if (!bits)
		return false;
	__builtin_memcpy(k.v, &val, sizeof(val));
	return nm_filter_verdict(bits, bpf_map_lookup_elem(&nm_filter_set, &k));
}

static __always_inline bool nm_filter_comm(__u64 st, const char *comm)
{
	__u64 bits = nm_filter_bits(st, NM_FD_COMMAND);
	struct nm_filter_key k = {.gen_dim = nm_filter_gen_dim(st, NM_FD_COMMAND)};

	if (!bits)
		return false;
	if (comm)
		__builtin_memcpy(k.v, comm, NM_COMM_LEN);
	else
		bpf_get_current_comm(k.v, sizeof(k.v));
	return nm_filter_verdict(bits, bpf_map_lookup_elem(&nm_filter_set, &k));
}

/*
 * The task dimensions for an event with no task: it has no pid, uid, cgroup
 * or command, so it is in no list: an include list refuses it, an exclude
 * list lets it pass.
 */
static __always_inline bool nm_filter_no_task(__u64 st)
{
	for (__u32 d = NM_FD_PID; d <= NM_FD_COMMAND; d++)
		if (nm_filter_verdict(nm_filter_bits(st, d), NULL))
			return true;
	return false;
}

/* The task dimensions for the current task, each read only when its lists are set. */
static __always_inline bool nm_filter_current(__u64 st)
{
	if (!(st & NM_FILTER_TASK))
		return false;
	return nm_filter_num(st, NM_FD_PID, bpf_get_current_pid_tgid() >> 32) ||
	       nm_filter_num(st, NM_FD_UID, (__u32)bpf_get_current_uid_gid()) ||
	       ((st & (3ULL << (2 * NM_FD_CGROUP))) &&
		nm_filter_num(st, NM_FD_CGROUP, bpf_get_current_cgroup_id())) ||
	       nm_filter_comm(st, NULL);
}

/* The task dimensions for a task remembered by the program (@comm: NM_COMM_LEN bytes). */
static __always_inline bool nm_filter_task(__u64 st, __u32 pid, __u32 uid, __u64 cgroup_id,
					   const char *comm)
{
	if (!(st & NM_FILTER_TASK))
		return false;
	return nm_filter_num(st, NM_FD_PID, pid) || nm_filter_num(st, NM_FD_UID, uid) ||
	       nm_filter_num(st, NM_FD_CGROUP, cgroup_id) || nm_filter_comm(st, comm);
}

/*
 * The destination dimensions: @daddr is 16 bytes (an IPv4 address in the
 * first 4), @dport in host order. What the event does not know (@family not
 * IPv4/IPv6, !@port_known) is in no list.
 */
static __always_inline bool nm_filter_dest(__u64 st, __u16 family, const __u8 *daddr, __u16 dport,
					   bool port_known)
{
	struct nm_filter_cidr_key k = {};
	__u64 bits;

	if (!(st & NM_FILTER_ADDR))
		return false;
	bits = nm_filter_bits(st, NM_FD_PORT);
	if (bits &&
	    (port_known ? nm_filter_num(st, NM_FD_PORT, dport) : nm_filter_verdict(bits, NULL)))
		return true;
	bits = nm_filter_bits(st, NM_FD_CIDR);
	if (!bits)
		return false;
	if (family != AF_INET && family != AF_INET6)
		return nm_filter_verdict(bits, NULL);
	k.gen = (__u8)(st >> 63);
	if (family == AF_INET) {
		k.family = 4;
		k.prefixlen = 16 + 32;
		__builtin_memcpy(k.addr, daddr, 4);
	} else {
		k.family = 6;
		k.prefixlen = 16 + 128;
		__builtin_memcpy(k.addr, daddr, 16);
	}
	return nm_filter_verdict(bits, bpf_map_lookup_elem(&nm_filter_cidr, &k));
}

/* A drop reason, for packet_drop. */
static __always_inline bool nm_filter_reason(__u64 st, __u32 reason)
{
	return nm_filter_num(st, NM_FD_REASON, reason);
}

static __always_inline void nm_fill_task(struct nm_record_hdr *hdr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	hdr->pid = pid_tgid >> 32;
	hdr->tid = (__u32)pid_tgid;
	hdr->uid = (__u32)uid_gid;
	hdr->cgroup_id = bpf_get_current_cgroup_id();
	hdr->flags |= NM_REC_F_TASK;
	bpf_get_current_comm(hdr->comm, sizeof(hdr->comm));
}

/* Submit, waking the reader only when the ring has filled past nm_wakeup_bytes. */
static __always_inline void nm_submit(void *ring, void *ctrs, void *rec)
{
	__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(rec, avail >= nm_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	nm_count(ctrs, NM_CNT_EMITTED);
}

#endif

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

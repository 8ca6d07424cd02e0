/* record.h - the header every kernel record starts with, shared by BPF and user space. */
#ifndef NM_BPF_RECORD_H
#define NM_BPF_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h> /* user space; BPF gets the types from vmlinux.h */
#endif

/*
 * Fixed-width types only: this layout is an ABI between the BPF objects and
 * the daemon. Bump NM_RECORD_VERSION whenever any record layout changes; user
 * space refuses records whose version or length it does not expect.
 */
#define NM_RECORD_VERSION 2
#define NM_COMM_LEN	  16

/*
 * One record type per program, NM_REC_<NAME>, numbered in the order of the
 * program list in Makefile.am (bpf/programs.def is generated from it), so
 * both halves of every program are built with the same ids. 0 is never used:
 * a zeroed record is refused.
 */
enum nm_record_type {
	NM_REC_NONE = 0,
#define NM_PROGRAM(name, NAME) NM_REC_##NAME,
#include "programs.def"
#undef NM_PROGRAM
	NM_REC_COUNT,
};

/* Bits of nm_record_hdr.flags. */
#define NM_REC_F_TASK 0x1 /* pid/tid/uid/comm/cgroup belong to the event (process context) */

struct nm_record_hdr {
	__u16 version;
	__u16 type;	    /* enum nm_record_type */
	__u32 len;	    /* whole record, header included */
	__u64 timestamp_ns; /* bpf_ktime_get_boot_ns() */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 flags;
	__u64 cgroup_id;
	char comm[NM_COMM_LEN];
};

/* Indexes into each program's per-CPU "counters" array map. */
enum nm_counter {
	NM_CNT_EMITTED = 0, /* records submitted to the ring */
	NM_CNT_RING_FULL,   /* bpf_ringbuf_reserve() failed: the record is lost, counted here */
	NM_CNT_READ_ERROR, /* a kernel read failed; the record was still emitted with what was read */
	NM_CNT_SUPPRESSED, /* not reported by design: a repeat the program aggregates in the kernel */
	NM_CNT_MAX,
};

#endif

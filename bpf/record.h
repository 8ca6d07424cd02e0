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
	NM_CNT_FILTERED, /* refused by the program's filter before a ring reservation; not a loss */
	NM_CNT_MAX,
};

/*
 * The in-kernel filter (common.bpf.h tests it, src/filter.c fills it). Each
 * dimension has an include and an exclude bit in the state word, which the
 * programs read with one load; its high bit says which generation of the set
 * entries is current, so user space writes a new filter beside the old one
 * and switches with one store.
 */
enum nm_filter_dim {
	NM_FD_PID = 0,
	NM_FD_UID,
	NM_FD_CGROUP,
	NM_FD_COMMAND,
	NM_FD_PORT,
	NM_FD_CIDR,
	NM_FD_REASON,
	NM_FD_MAX,
};

#define NM_FILTER_INCLUDE(d) (1ULL << (2 * (d)))
#define NM_FILTER_EXCLUDE(d) (2ULL << (2 * (d)))
#define NM_FILTER_ACTIVE     ((1ULL << (2 * NM_FD_MAX)) - 1)
#define NM_FILTER_GEN	     (1ULL << 63)
#define NM_FILTER_TASK                                                                             \
	(3ULL << (2 * NM_FD_PID) | 3ULL << (2 * NM_FD_UID) | 3ULL << (2 * NM_FD_CGROUP) |          \
	 3ULL << (2 * NM_FD_COMMAND))
#define NM_FILTER_ADDR (3ULL << (2 * NM_FD_PORT) | 3ULL << (2 * NM_FD_CIDR))

/* Values of the set entries: a value in both lists is excluded. */
#define NM_FILTER_V_INCLUDE 1
#define NM_FILTER_V_EXCLUDE 2

#define NM_FILTER_LIST_MAX 256 /* entries per list (pids, exclude_pids, ...) */
/* both generations of every list of every dimension */
#define NM_FILTER_SET_MAX  (2 * 2 * NM_FD_MAX * NM_FILTER_LIST_MAX)
#define NM_FILTER_CIDR_MAX (2 * 2 * NM_FILTER_LIST_MAX)

/* pid, uid, port, reason (u32), cgroup id (u64) or command (16 bytes) in v, zero-padded. */
struct nm_filter_key {
	__u32 gen_dim; /* generation << 8 | dimension */
	__u32 pad;
	__u8 v[16];
};

/* An LPM trie key: prefixlen counts the generation and family bytes too (16 + CIDR length). */
struct nm_filter_cidr_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 family; /* 4 or 6 */
	__u8 addr[16];
};

#endif

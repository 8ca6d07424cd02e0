/* tcp_reset.h - the record bpf/tcp_reset.bpf.c emits for each TCP reset sent or received. */
#ifndef NM_BPF_TCP_RESET_H
#define NM_BPF_TCP_RESET_H

#include "record.h"

/* nm_tcp_reset_fields.direction */
#define NM_TCPRST_SENT	   1
#define NM_TCPRST_RECEIVED 2

/* Bits of nm_tcp_reset_fields.rst_flags. */
#define NM_TCPRST_F_SOCKET 0x1 /* a local socket is involved: socket_cookie and state are real */
#define NM_TCPRST_F_REASON 0x2 /* reason is the kernel's enum sk_rst_reason (sent resets) */
#define NM_TCPRST_F_ADDR   0x4 /* the endpoints are known */

/*
 * What follows the common header; user space keeps just this part of the
 * record. The source is the local end, the destination the peer, whichever
 * side sent the reset (direction says which).
 */
struct nm_tcp_reset_fields {
	__u64 socket_cookie; /* bpf_get_socket_cookie(), 0 without a socket */
	__u32 netns;	     /* network namespace inode */
	__u32 reason;	     /* enum sk_rst_reason */
	__u16 family;	     /* AF_INET, AF_INET6 */
	__u16 sport;	     /* host byte order */
	__u16 dport;	     /* host byte order */
	__u8 direction;
	__u8 state; /* TCP state of the socket at the event */
	__u8 rst_flags;
	__u8 reserved[7];
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

struct nm_tcp_reset_record {
	struct nm_record_hdr hdr;
	struct nm_tcp_reset_fields t;
};

#endif

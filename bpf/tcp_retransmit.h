/* tcp_retransmit.h - the record bpf/tcp_retransmit.bpf.c emits for retransmitted TCP segments. */
#ifndef NM_BPF_TCP_RETRANSMIT_H
#define NM_BPF_TCP_RETRANSMIT_H

#include "record.h"

/* Bits of nm_tcp_retransmit_fields.rt_flags. */
#define NM_TCPR_F_FINAL 0x1 /* the socket went away: the flow's retransmits not yet reported */

/*
 * What follows the common header; user space keeps just this part of the
 * record. The source is the local end (the sender of the retransmitted
 * segments), the destination the peer.
 */
struct nm_tcp_retransmit_fields {
	__u64 socket_cookie;	 /* bpf_get_socket_cookie(): unique per socket for the boot */
	__u64 retransmits;	 /* segments retransmitted since this flow's previous event */
	__u64 interval_ns;	 /* since this flow's previous event, 0 for its first */
	__u32 total_retransmits; /* the socket's own count over its life (tcp_sock total_retrans) */
	__u32 netns;		 /* network namespace inode of the socket */
	__u16 family;		 /* AF_INET, AF_INET6 */
	__u16 sport;		 /* host byte order */
	__u16 dport;		 /* host byte order */
	__u8 state;		 /* TCP state (TCP_ESTABLISHED ...) at the latest retransmission */
	__u8 rt_flags;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

struct nm_tcp_retransmit_record {
	struct nm_record_hdr hdr;
	struct nm_tcp_retransmit_fields t;
};

#endif

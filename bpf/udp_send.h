/* udp_send.h - the record bpf/udp_send.bpf.c emits for each new unconnected UDP destination. */
#ifndef NM_BPF_UDP_SEND_H
#define NM_BPF_UDP_SEND_H

#include "record.h"

/* Bits of nm_udp_send_fields.send_flags. */
#define NM_UDP_F_SOURCE_KNOWN 0x1 /* the socket had a local port: saddr/sport are real */

/* What follows the common header; user space keeps just this part of the record. */
struct nm_udp_send_fields {
	__u64 socket_cookie; /* bpf_get_socket_cookie(): unique per socket for the boot */
	__u32 netns;	     /* network namespace inode of the socket */
	__u16 family;	     /* AF_INET, AF_INET6: of the destination given to sendmsg() */
	__u16 protocol;	     /* IPPROTO_UDP or IPPROTO_UDPLITE, from the socket */
	__u16 dport;	     /* host byte order */
	__u16 sport;	     /* host byte order, 0 when unknown */
	__u16 send_flags;
	__u16 reserved;
	__u8 daddr[16]; /* IPv4 in the first 4 bytes */
	__u8 saddr[16]; /* the IP_PKTINFO source, else the socket's bound address */
};

struct nm_udp_send_record {
	struct nm_record_hdr hdr;
	struct nm_udp_send_fields u;
};

#endif

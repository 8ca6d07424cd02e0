/* packet_drop.h - the record bpf/packet_drop.bpf.c emits for each skb:kfree_skb drop. */
#ifndef NM_BPF_PACKET_DROP_H
#define NM_BPF_PACKET_DROP_H

#include "record.h"

#define NM_IFNAME_LEN 16

/* Bits of nm_packet_drop_record.drop_flags. */
#define NM_DROP_F_L3_PARSED 0x1 /* saddr/daddr are valid */
#define NM_DROP_F_L4_PARSED 0x2 /* sport/dport are valid */
#define NM_DROP_F_SOFTIRQ   0x4 /* dropped in softirq/hardirq context */

/* What follows the common header; user space keeps just this part of the record. */
struct nm_packet_drop_fields {
	__u64 location; /* kernel text address that freed the skb */
	__u32 reason;	/* enum skb_drop_reason, subsystem in the upper 16 bits */
	__u32 netns;
	__u32 ifindex;
	__u32 len;	/* skb->len */
	__u16 l3_proto; /* ETH_P_*, host byte order */
	__u8 l4_proto;	/* IPPROTO_* */
	__u8 family;	/* AF_INET, AF_INET6 or 0 */
	__u16 sport;	/* host byte order */
	__u16 dport;
	__u32 drop_flags;
	__u8 saddr[16];
	__u8 daddr[16];
	char ifname[NM_IFNAME_LEN];
};

struct nm_packet_drop_record {
	struct nm_record_hdr hdr;
	struct nm_packet_drop_fields d;
};

#endif

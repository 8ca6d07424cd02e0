/* tcp_lifecycle.h - the record bpf/tcp_lifecycle.bpf.c emits as TCP connections open and close. */
#ifndef NM_BPF_TCP_LIFECYCLE_H
#define NM_BPF_TCP_LIFECYCLE_H

#include "record.h"

/* nm_tcp_lifecycle_fields.phase */
#define NM_TCPL_PHASE_OPEN  1 /* the handshake ended: established, or the connect failed */
#define NM_TCPL_PHASE_CLOSE 2 /* an established connection ended */

/* nm_tcp_lifecycle_fields.outcome */
#define NM_TCPL_ESTABLISHED 1
#define NM_TCPL_REFUSED	    2
#define NM_TCPL_TIMEOUT	    3
#define NM_TCPL_RESET	    4
#define NM_TCPL_ERROR	    5
#define NM_TCPL_CLOSED	    6

/* nm_tcp_lifecycle_fields.direction */
#define NM_TCPL_DIR_UNKNOWN  0 /* opened before the program saw it */
#define NM_TCPL_DIR_OUTBOUND 1 /* a local connect() */
#define NM_TCPL_DIR_INBOUND  2 /* accepted by a local listener */

/* Bits of nm_tcp_lifecycle_fields.lc_flags: which of the optional fields are real. */
#define NM_TCPL_F_LATENCY     0x1  /* latency_ns */
#define NM_TCPL_F_DURATION    0x2  /* duration_ns */
#define NM_TCPL_F_BYTES	      0x4  /* bytes_sent, bytes_received (close events) */
#define NM_TCPL_F_SENT_KNOWN  0x8  /* bytes_sent: the open was seen, so the SYN is not counted */
#define NM_TCPL_F_RESET_LOCAL 0x10 /* this side aborted and sent the reset */
#define NM_TCPL_F_RESET_PEER  0x20 /* the peer's reset ended it */

/*
 * What follows the common header; user space keeps just this part of the
 * record. The source is the side that opened the connection: the local end
 * of an outbound connection, the remote peer of an inbound one (and the local
 * end when the direction is unknown).
 */
struct nm_tcp_lifecycle_fields {
	__u64 socket_cookie;  /* bpf_get_socket_cookie(): unique per socket for the boot */
	__u64 latency_ns;     /* SYN_SENT to ESTABLISHED, or to the failure */
	__u64 duration_ns;    /* ESTABLISHED to CLOSE */
	__u64 bytes_sent;     /* data bytes the peer acknowledged (SYN and FIN not counted) */
	__u64 bytes_received; /* data bytes received in sequence (FIN not counted) */
	__u32 netns;	      /* network namespace inode of the socket */
	__u32 sk_err;	      /* positive errno the socket failed with, 0 for none */
	__u16 family;	      /* AF_INET, AF_INET6 */
	__u16 sport;	      /* host byte order */
	__u16 dport;	      /* host byte order */
	__u16 lc_flags;
	__u8 phase;
	__u8 outcome;
	__u8 direction;
	__u8 old_state; /* TCP state (TCP_ESTABLISHED ...) the socket left for this event */
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u32 reserved;
};

struct nm_tcp_lifecycle_record {
	struct nm_record_hdr hdr;
	struct nm_tcp_lifecycle_fields t;
};

#endif

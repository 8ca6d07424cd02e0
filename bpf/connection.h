/* connection.h - the record bpf/connection.bpf.c emits for each outbound connect(). */
#ifndef NM_BPF_CONNECTION_H
#define NM_BPF_CONNECTION_H

#include "record.h"

#define NM_UNIX_PATH_LEN 108

/* Bits of nm_connection_record.conn_flags. */
#define NM_CONN_F_SOURCE_KNOWN	0x1 /* saddr/sport were read from the socket */
#define NM_CONN_F_PROTO_KNOWN	0x2 /* the fd resolved to a socket; protocol/sock_type are real */
#define NM_CONN_F_UNIX_ABSTRACT 0x4 /* AF_UNIX path is in the abstract namespace */

/* What follows the common header; user space keeps just this part of the record. */
struct nm_connection_fields {
	__u32 netns;	  /* network namespace inode */
	__s32 ret;	  /* connect() return value */
	__u64 latency_ns; /* syscall enter to exit */
	__u32 fd;
	__u16 family;	 /* AF_INET, AF_INET6, AF_UNIX */
	__u16 protocol;	 /* IPPROTO_* read from the socket */
	__u16 sock_type; /* SOCK_STREAM, SOCK_DGRAM, ... read from the socket */
	__u16 dport;	 /* host byte order */
	__u16 sport;	 /* host byte order, 0 when unknown */
	__u16 conn_flags;
	__u16 unix_path_len; /* bytes of unix_path given to connect() */
	__u16 reserved;
	__u8 daddr[16]; /* IPv4 in the first 4 bytes */
	__u8 saddr[16];
	char unix_path[NM_UNIX_PATH_LEN]; /* AF_UNIX only */
	/*
	 * The socket's cookie (SO_COOKIE), 0 while none has been assigned: the
	 * kernel assigns one on first request, and tcp_lifecycle requests it for
	 * every TCP connect, so its events of this socket carry the same value.
	 */
	__u64 socket_cookie;
};

struct nm_connection_record {
	struct nm_record_hdr hdr;
	struct nm_connection_fields c;
};

#endif

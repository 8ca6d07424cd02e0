/* common.c - names and endpoint formatting shared by the programs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common.h"

const struct nm_endpoint_keys NM_ENDPOINT_DESTINATION[1] = {
	{"destination_ip", "destination_port", "destination"}};
const struct nm_endpoint_keys NM_ENDPOINT_SOURCE[1] = {{"source_ip", "source_port", "source"}};

const char *nm_family_name(uint16_t family)
{
	switch (family) {
	case AF_INET:
		return "ipv4";
	case AF_INET6:
		return "ipv6";
	case AF_UNIX:
		return "unix";
	default:
		return "other";
	}
}

const char *nm_ipproto_name(uint16_t proto, uint16_t family)
{
	if (family == AF_UNIX)
		return "unix";
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_UDPLITE:
		return "udplite";
	case IPPROTO_MPTCP:
		return "mptcp";
	case IPPROTO_RAW:
		return "raw";
	case IPPROTO_IP:
		return "ip";
	case IPPROTO_GRE:
		return "gre";
	case IPPROTO_ESP:
		return "esp";
	default:
		return "other";
	}
}

const char *nm_socktype_name(uint16_t type)
{
	switch (type) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_RAW:
		return "raw";
	case SOCK_SEQPACKET:
		return "seqpacket";
	default:
		return "other";
	}
}

static size_t put_dec(char *out, unsigned v)
{
	char tmp[10];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out[i++] = tmp[--n];
	return i;
}

/* inet_ntop without its printf, for the common IPv4 case on the hot path. */
static size_t format_ip(uint16_t family, const uint8_t *addr, char *out)
{
	size_t n = 0;

	if (family == AF_INET6)
		return inet_ntop(AF_INET6, addr, out, INET6_ADDRSTRLEN) ? strlen(out) : 0;
	for (int i = 0; i < 4; i++) {
		if (i)
			out[n++] = '.';
		n += put_dec(out + n, addr[i]);
	}
	out[n] = '\0';
	return n;
}

void nm_write_endpoint(struct nm_writer *w, const struct nm_endpoint_keys *keys, uint16_t family,
		       const uint8_t *addr, uint16_t port, bool addr_known, bool port_known)
{
	char joined[INET6_ADDRSTRLEN + 10];
	size_t n, at = 0;

	if (!addr_known || (family != AF_INET && family != AF_INET6) ||
	    !(n = format_ip(family, addr, joined + 1))) {
		nm_w_null(w, keys->ip);
		nm_w_null(w, keys->port);
		nm_w_null(w, keys->joined);
		return;
	}
	nm_w_str(w, keys->ip, joined + 1, n);
	if (!port_known) {
		nm_w_null(w, keys->port);
		nm_w_str(w, keys->joined, joined + 1, n);
		return;
	}
	nm_w_u64(w, keys->port, port);
	/* "[ip6]:port" or "ip:port", built around the address already in place */
	if (family == AF_INET6) {
		joined[0] = '[';
		at = n + 1;
		joined[at++] = ']';
	} else {
		memmove(joined, joined + 1, n);
		at = n;
	}
	joined[at++] = ':';
	at += put_dec(joined + at, port);
	nm_w_str(w, keys->joined, joined, at);
}

void nm_write_errno(struct nm_writer *w, const char *key, int64_t ret)
{
	const char *name = ret < 0 ? strerrorname_np((int)-ret) : NULL;

	if (ret >= 0)
		nm_w_null(w, key);
	else if (name)
		nm_w_cstr(w, key, name);
	else
		nm_w_i64(w, key, ret);
}

const char *nm_tcp_state_name(uint8_t state)
{
	/* include/net/tcp_states.h */
	static const char *const names[] = {
		[1] = "ESTABLISHED", [2] = "SYN_SENT",	[3] = "SYN_RECV", [4] = "FIN_WAIT1",
		[5] = "FIN_WAIT2",   [6] = "TIME_WAIT", [7] = "CLOSE",	  [8] = "CLOSE_WAIT",
		[9] = "LAST_ACK",    [10] = "LISTEN",	[11] = "CLOSING", [12] = "NEW_SYN_RECV",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "UNKNOWN";
}

/* common.c - names and endpoint formatting shared by the programs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../encode.h"
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
	uint8_t *end = nm_json_u64_at((uint8_t *)out, v);

	return (size_t)(end - (uint8_t *)out);
}

/* Each byte value in decimal: up to three digits, NUL-padded, then the digit count. */
static const char octets[256 * 4 + 1] = "0\0\0\1"
					"1\0\0\1"
					"2\0\0\1"
					"3\0\0\1"
					"4\0\0\1"
					"5\0\0\1"
					"6\0\0\1"
					"7\0\0\1"
					"8\0\0\1"
					"9\0\0\1"
					"10\0\2"
					"11\0\2"
					"12\0\2"
					"13\0\2"
					"14\0\2"
					"15\0\2"
					"16\0\2"
					"17\0\2"
					"18\0\2"
					"19\0\2"
					"20\0\2"
					"21\0\2"
					"22\0\2"
					"23\0\2"
					"24\0\2"
					"25\0\2"
					"26\0\2"
					"27\0\2"
					"28\0\2"
					"29\0\2"
					"30\0\2"
					"31\0\2"
					"32\0\2"
					"33\0\2"
					"34\0\2"
					"35\0\2"
					"36\0\2"
					"37\0\2"
					"38\0\2"
					"39\0\2"
					"40\0\2"
					"41\0\2"
					"42\0\2"
					"43\0\2"
					"44\0\2"
					"45\0\2"
					"46\0\2"
					"47\0\2"
					"48\0\2"
					"49\0\2"
					"50\0\2"
					"51\0\2"
					"52\0\2"
					"53\0\2"
					"54\0\2"
					"55\0\2"
					"56\0\2"
					"57\0\2"
					"58\0\2"
					"59\0\2"
					"60\0\2"
					"61\0\2"
					"62\0\2"
					"63\0\2"
					"64\0\2"
					"65\0\2"
					"66\0\2"
					"67\0\2"
					"68\0\2"
					"69\0\2"
					"70\0\2"
					"71\0\2"
					"72\0\2"
					"73\0\2"
					"74\0\2"
					"75\0\2"
					"76\0\2"
					"77\0\2"
					"78\0\2"
					"79\0\2"
					"80\0\2"
					"81\0\2"
					"82\0\2"
					"83\0\2"
					"84\0\2"
					"85\0\2"
					"86\0\2"
					"87\0\2"
					"88\0\2"
					"89\0\2"
					"90\0\2"
					"91\0\2"
					"92\0\2"
					"93\0\2"
					"94\0\2"
					"95\0\2"
					"96\0\2"
					"97\0\2"
					"98\0\2"
					"99\0\2"
					"100\3"
					"101\3"
					"102\3"
					"103\3"
					"104\3"
					"105\3"
					"106\3"
					"107\3"
					"108\3"
					"109\3"
					"110\3"
					"111\3"
					"112\3"
					"113\3"
					"114\3"
					"115\3"
					"116\3"
					"117\3"
					"118\3"
					"119\3"
					"120\3"
					"121\3"
					"122\3"
					"123\3"
					"124\3"
					"125\3"
					"126\3"
					"127\3"
					"128\3"
					"129\3"
					"130\3"
					"131\3"
					"132\3"
					"133\3"
					"134\3"
					"135\3"
					"136\3"
					"137\3"
					"138\3"
					"139\3"
					"140\3"
					"141\3"
					"142\3"
					"143\3"
					"144\3"
					"145\3"
					"146\3"
					"147\3"
					"148\3"
					"149\3"
					"150\3"
					"151\3"
					"152\3"
					"153\3"
					"154\3"
					"155\3"
					"156\3"
					"157\3"
					"158\3"
					"159\3"
					"160\3"
					"161\3"
					"162\3"
					"163\3"
					"164\3"
					"165\3"
					"166\3"
					"167\3"
					"168\3"
					"169\3"
					"170\3"
					"171\3"
					"172\3"
					"173\3"
					"174\3"
					"175\3"
					"176\3"
					"177\3"
					"178\3"
					"179\3"
					"180\3"
					"181\3"
					"182\3"
					"183\3"
					"184\3"
					"185\3"
					"186\3"
					"187\3"
					"188\3"
					"189\3"
					"190\3"
					"191\3"
					"192\3"
					"193\3"
					"194\3"
					"195\3"
					"196\3"
					"197\3"
					"198\3"
					"199\3"
					"200\3"
					"201\3"
					"202\3"
					"203\3"
					"204\3"
					"205\3"
					"206\3"
					"207\3"
					"208\3"
					"209\3"
					"210\3"
					"211\3"
					"212\3"
					"213\3"
					"214\3"
					"215\3"
					"216\3"
					"217\3"
					"218\3"
					"219\3"
					"220\3"
					"221\3"
					"222\3"
					"223\3"
					"224\3"
					"225\3"
					"226\3"
					"227\3"
					"228\3"
					"229\3"
					"230\3"
					"231\3"
					"232\3"
					"233\3"
					"234\3"
					"235\3"
					"236\3"
					"237\3"
					"238\3"
					"239\3"
					"240\3"
					"241\3"
					"242\3"
					"243\3"
					"244\3"
					"245\3"
					"246\3"
					"247\3"
					"248\3"
					"249\3"
					"250\3"
					"251\3"
					"252\3"
					"253\3"
					"254\3"
					"255\3";

/*
 * inet_ntop without its printf, for the common IPv4 case on the hot path.
 * @out has room for INET6_ADDRSTRLEN: an octet is stored as four bytes at once.
 */
static size_t format_ip(uint16_t family, const uint8_t *addr, char *out)
{
	char *p = out;

	if (family == AF_INET6)
		return inet_ntop(AF_INET6, addr, out, INET6_ADDRSTRLEN) ? strlen(out) : 0;
	for (int i = 0; i < 4; i++) {
		const char *o = octets + 4 * addr[i];

		memcpy(p, o, 4);
		p += o[3];
		*p = '.';
		p += i < 3;
	}
	*p = '\0';
	return (size_t)(p - out);
}

/*
 * The three fields of an endpoint as JSON at @f, one room check for all, the
 * address formatted in place and copied for the joined form: the same bytes
 * as field by field. @port < 0: unknown. Inlined with literal keys, whose
 * copies become constant stores.
 */
static inline __attribute__((always_inline)) void
json_endpoint(struct nm_fw *f, const char *kip, size_t lip, const char *kport, size_t lport,
	      const char *kjoined, size_t ljoined, uint16_t family, const uint8_t *addr, int port,
	      bool known)
{
	uint8_t *p, *ip, *digits = NULL;
	size_t n = 0, nd = 0;

	if (!nm_fw_room(f, lip + lport + ljoined + 2 * INET6_ADDRSTRLEN + 2 * 6 + 16))
		return;
	p = f->p;
	*p = ',';
	p += f->comma;
	f->comma = 1;
	memcpy(p, kip, lip);
	p += lip;
	ip = p + 1;
	/* digits, dots, colons and hex: nothing to escape */
	if (known)
		n = format_ip(family, addr, (char *)ip);
	if (!n) {
		memcpy(p, "null", 4);
		p += 4;
		memcpy(p, kport, lport);
		p += lport;
		memcpy(p, "null", 4);
		p += 4;
		memcpy(p, kjoined, ljoined);
		p += ljoined;
		memcpy(p, "null", 4);
		f->p = p + 4;
		f->n += 3;
		return;
	}
	*p = '"';
	p = ip + n;
	*p++ = '"';
	memcpy(p, kport, lport);
	p += lport;
	if (port < 0) {
		memcpy(p, "null", 4);
		p += 4;
	} else {
		digits = p;
		p = nm_json_u64_at(p, (uint64_t)port);
		nd = (size_t)(p - digits);
	}
	memcpy(p, kjoined, ljoined);
	p += ljoined;
	*p++ = '"';
	if (family == AF_INET6 && digits)
		*p++ = '[';
	nm_fw_copy(p, ip, n);
	p += n;
	if (digits) {
		if (family == AF_INET6)
			*p++ = ']';
		*p++ = ':';
		nm_fw_copy(p, digits, nd);
		p += nd;
	}
	*p++ = '"';
	f->p = p;
	f->n += 3;
}

#define JSON_ENDPOINT(f, name, family, addr, port, known)                                          \
	json_endpoint(f, "\"" name "_ip\":", sizeof(name) + 5,                                     \
		      ",\"" name "_port\":", sizeof(name) + 8, ",\"" name "\":", sizeof(name) + 3, \
		      family, addr, port, known)

void nm_fw_endpoint(struct nm_fw *f, const struct nm_endpoint_keys *keys, uint16_t family,
		    const uint8_t *addr, uint16_t port, bool addr_known, bool port_known)
{
	char joined[INET6_ADDRSTRLEN + 10];
	size_t n, at = 0;
	bool known = addr_known && (family == AF_INET || family == AF_INET6);

	if (f->mode == NM_FW_JSON && keys == NM_ENDPOINT_DESTINATION) {
		JSON_ENDPOINT(f, "destination", family, addr, port_known ? port : -1, known);
		return;
	}
	if (f->mode == NM_FW_JSON && keys == NM_ENDPOINT_SOURCE) {
		JSON_ENDPOINT(f, "source", family, addr, port_known ? port : -1, known);
		return;
	}
	if (!known || !(n = format_ip(family, addr, joined + 1))) {
		nm_fw_null(f, keys->ip);
		nm_fw_null(f, keys->port);
		nm_fw_null(f, keys->joined);
		return;
	}
	nm_fw_str(f, keys->ip, joined + 1, n);
	if (!port_known) {
		nm_fw_null(f, keys->port);
		nm_fw_str(f, keys->joined, joined + 1, n);
		return;
	}
	nm_fw_u64(f, keys->port, port);
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
	nm_fw_str(f, keys->joined, joined, at);
}

void nm_write_endpoint(struct nm_writer *w, const struct nm_endpoint_keys *keys, uint16_t family,
		       const uint8_t *addr, uint16_t port, bool addr_known, bool port_known)
{
	struct nm_fw f;

	nm_fw_begin(&f, w);
	nm_fw_endpoint(&f, keys, family, addr, port, addr_known, port_known);
	nm_fw_end(&f);
}

void nm_fw_errno(struct nm_fw *f, const char *key, int64_t ret)
{
	const char *name = ret < 0 ? strerrorname_np((int)-ret) : NULL;

	if (ret >= 0)
		nm_fw_null(f, key);
	else if (name)
		nm_fw_cstr(f, key, name);
	else
		nm_fw_i64(f, key, ret);
}

void nm_write_errno(struct nm_writer *w, const char *key, int64_t ret)
{
	struct nm_fw f;

	nm_fw_begin(&f, w);
	nm_fw_errno(&f, key, ret);
	nm_fw_end(&f);
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

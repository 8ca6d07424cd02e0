/* common.h - field helpers shared by the programs' user-space halves. */
#ifndef NM_PROGRAMS_COMMON_H
#define NM_PROGRAMS_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "../fieldwriter.h"
#include "../writer.h"

/* The three keys an endpoint is written under. */
struct nm_endpoint_keys {
	const char *ip;
	const char *port;
	const char *joined; /* "ip:port", "[ip6]:port" */
};

extern const struct nm_endpoint_keys NM_ENDPOINT_DESTINATION[1];
extern const struct nm_endpoint_keys NM_ENDPOINT_SOURCE[1];

const char *nm_family_name(uint16_t family);
const char *nm_ipproto_name(uint16_t proto, uint16_t family);
const char *nm_socktype_name(uint16_t type);

/*
 * Address and port of @family from @addr (16 bytes). What is not known is
 * null; the joined form is "ip:port", or just "ip" when the port is unknown.
 */
void nm_write_endpoint(struct nm_writer *w, const struct nm_endpoint_keys *keys, uint16_t family,
		       const uint8_t *addr, uint16_t port, bool addr_known, bool port_known);
/* The errno name of a negative syscall return ("ECONNREFUSED"), or null for success. */
void nm_write_errno(struct nm_writer *w, const char *key, int64_t ret);
/* The same two at a direct field writer (fieldwriter.h). */
void nm_fw_endpoint(struct nm_fw *f, const struct nm_endpoint_keys *keys, uint16_t family,
		    const uint8_t *addr, uint16_t port, bool addr_known, bool port_known);
void nm_fw_errno(struct nm_fw *f, const char *key, int64_t ret);
/* The kernel's TCP state name ("ESTABLISHED"), as ss(8) spells it, or "UNKNOWN". */
const char *nm_tcp_state_name(uint8_t state);

#endif

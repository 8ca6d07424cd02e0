/* registry.c - every monitoring program compiled in; adding one adds one line here. */
#include <stddef.h>

#include "../program.h"

extern const struct nm_program_type nm_program_connection;
extern const struct nm_program_type nm_program_packet_drop;

const struct nm_program_type *const nm_program_types[] = {
	&nm_program_connection,
	&nm_program_packet_drop,
	NULL,
};

/* registry.c - every monitoring program compiled in, expanded from the list in Makefile.am. */
#include <stddef.h>

#include "../program.h"

#define NM_PROGRAM(name, NAME) extern const struct nm_program_type nm_program_##name;
#include "programs.def"
#undef NM_PROGRAM

/* In list order, so nm_program_types[i]->record_type == i + 1 (checked by test_decode). */
const struct nm_program_type *const nm_program_types[] = {
#define NM_PROGRAM(name, NAME) &nm_program_##name,
#include "programs.def"
#undef NM_PROGRAM
	NULL,
};

/* sinks.c - the sink type registry: built-in sinks, and the place shared modules are found. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static const struct nm_sink_type *const builtin_sinks[] = {
	&nm_sink_stdout,
	&nm_sink_file,
	NULL,
};

const struct nm_sink_type *nm_sink_type_find(const char *name, char *err, size_t errlen)
{
	for (const struct nm_sink_type *const *t = builtin_sinks; *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	snprintf(err, errlen, "unknown sink type \"%s\" (this build has: stdout, file)", name);
	return NULL;
}

/* tracefs.h - make sure tracefs is mounted where libbpf looks for tracepoint ids. */
#ifndef NM_TRACEFS_H
#define NM_TRACEFS_H

#include <stddef.h>

/* 0 when tracepoints are reachable (mounting tracefs if needed), else -errno with @err set. */
int nm_tracefs_ensure(char *err, size_t errlen);

#endif

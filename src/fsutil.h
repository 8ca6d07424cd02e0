/* fsutil.h - small file-system helpers shared by the control socket and the spool. */
#ifndef NM_FSUTIL_H
#define NM_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: create @dir and its missing parents with @mode. 0 or -errno. */
int nm_mkdir_p(const char *dir, mode_t mode);

#endif

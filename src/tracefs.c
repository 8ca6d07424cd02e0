/* tracefs.c - mounts tracefs at /sys/kernel/tracing when the system did not. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "log.h"
#include "tracefs.h"

#define TRACEFS		"/sys/kernel/tracing"
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"

int nm_tracefs_ensure(char *err, size_t errlen)
{
	/* libbpf prefers debugfs's tracing directory when it exists. */
	if (access(DEBUGFS_TRACING "/events", F_OK) == 0 || access(TRACEFS "/events", F_OK) == 0)
		return 0;
	if (mkdir(TRACEFS, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "tracefs is not mounted and %s cannot be created: %s",
			 TRACEFS, strerror(errno));
		return -errno;
	}
	if (mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		snprintf(err, errlen,
			 "tracefs is not mounted and mounting it at %s failed: %s "
			 "(mount it with: mount -t tracefs tracefs %s)",
			 TRACEFS, strerror(errno), TRACEFS);
		return -errno;
	}
	nm_info("mounted tracefs at %s (classic tracepoints need it)", TRACEFS);
	return 0;
}

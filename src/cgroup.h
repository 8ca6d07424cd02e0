/* cgroup.h - the cgroup v2 root, and cgroup ids resolved to paths, containers and units. */
#ifndef NM_CGROUP_H
#define NM_CGROUP_H

#include <stdint.h>
#include <sys/types.h>

#include "writer.h"

/*
 * Open the root of the cgroup v2 hierarchy wherever it is mounted (hybrid
 * hosts have it at /sys/fs/cgroup/unified), never following a symlink, and
 * check that it is cgroup2. Returns an fd or a negative errno, logged with
 * @who (a program's name) as the subject unless @who is NULL.
 */
int nm_cgroup2_open_root(const char *who);

/*
 * Start resolving cgroup ids for events (a process-wide cache, bounded). 0, or
 * a negative errno when there is no cgroup2 hierarchy: events then carry
 * nulls. nm_cgroups_stop() frees it; both run on the main thread, before and
 * after every other thread that writes events.
 */
int nm_cgroups_start(void);
void nm_cgroups_stop(void);

/*
 * Write "cgroup", "container_id", "container_runtime" and "systemd_unit" for
 * the cgroup @id of task @pid (0 if none known): from the cache, else from
 * /proc/PID/cgroup, else from a walk of the hierarchy at most once a second.
 * Nulls for what is not known. Thread-safe.
 */
void nm_cgroup_write(uint64_t id, pid_t pid, struct nm_writer *w);
/* The same four fields as nulls: an event with no task. */
void nm_cgroup_write_none(struct nm_writer *w);

/*
 * What a cgroup path says (pure, for tests): the container id (64 hex digits)
 * and runtime ("docker", "containerd", "cri-o", "podman", "kubernetes") of the
 * innermost container component, and the innermost systemd unit (a component
 * ending in .service). Each out-parameter is "" when the path does not show it.
 */
void nm_cgroup_parse(const char *path, char *container_id, size_t idlen, const char **runtime,
		     char *unit, size_t unitlen);

#endif

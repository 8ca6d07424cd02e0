/* privs.h - drops the agent's privileges to what loading, attaching and detaching need. */
#ifndef NM_PRIVS_H
#define NM_PRIVS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * The capabilities (a bit per CAP_* number) kept for @cfg: CAP_BPF,
 * CAP_PERFMON, CAP_NET_ADMIN and CAP_SYSLOG, and CAP_DAC_READ_SEARCH when a
 * non-root `user` runs a program that attaches classic tracepoints.
 * docs/security.md says which operation needs which.
 */
uint64_t nm_privs_kept(const struct nm_config *cfg);

/*
 * Once, as root, before any thread starts (every thread inherits what the
 * caller has then; capabilities are per thread): create the directories a
 * non-root `user` writes in, owned by it; drop every capability but
 * nm_privs_kept() from the bounding, permitted, effective, inheritable and
 * ambient sets; become `user`/`group` (supplementary groups: the control
 * socket's group only); set no_new_privs. 0, or a negative errno with the
 * reason in @err.
 */
int nm_privs_drop(const struct nm_config *cfg, char *err, size_t errlen);

#endif

/* control.h - the control and query API: HTTP/1.1 on a Unix socket, backed by the event store. */
#ifndef NM_CONTROL_H
#define NM_CONTROL_H

#include <stddef.h>

#include "config.h"
#include "pipeline.h"

struct nm_control;

/*
 * Bind cfg->control.socket, start serving, and tap @p to fill the store.
 * Call before nm_pipeline_start; @cfg and @p are borrowed and must outlive
 * the control server. NULL with the reason in @err.
 */
struct nm_control *nm_control_start(const struct nm_config *cfg, struct nm_pipeline *p, char *err,
				    size_t errlen);
/* End streams, stop serving, remove the socket. On the reader thread; accepts NULL. */
void nm_control_stop(struct nm_control *c);

#endif

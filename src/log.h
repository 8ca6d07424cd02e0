/* log.h - the one logging entry point: levels, rate limiting, library bridges. */
#ifndef NM_LOG_H
#define NM_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "../sinks/sink.h"	    /* enum nm_log_level: sinks log through env->log */
#include "../sinks/lib/ratelimit.h" /* struct nm_ratelimit, shared with the sinks */

void nm_log_set_level(enum nm_log_level level);
void nm_log(enum nm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define nm_err(...)   nm_log(NM_LOG_ERR, __VA_ARGS__)
#define nm_warn(...)  nm_log(NM_LOG_WARN, __VA_ARGS__)
#define nm_info(...)  nm_log(NM_LOG_INFO, __VA_ARGS__)
#define nm_debug(...) nm_log(NM_LOG_DEBUG, __VA_ARGS__)

/* nm_log, at most a burst per window of @rl (sinks/lib/ratelimit.h). */
void nm_log_ratelimited(struct nm_ratelimit *rl, enum nm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Route libbpf's own messages through nm_log. */
void nm_log_bridge_libbpf(void);

#endif

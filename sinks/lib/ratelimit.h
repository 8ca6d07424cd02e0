/* ratelimit.h - rate-limited logging: the agent's nm_log_ratelimited and the sinks' share it. */
#ifndef NM_RATELIMIT_H
#define NM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "../sink.h"

/*
 * A repeated failure logs at most NM_RATELIMIT_BURST times per
 * NM_RATELIMIT_WINDOW_S seconds; the next message that passes says how many
 * were suppressed. Zero-initialize; thread-safe.
 */
struct nm_ratelimit {
	uint64_t window_start_ns;
	uint32_t passed;
	uint32_t suppressed;
};

#define NM_RATELIMIT_BURST    5
#define NM_RATELIMIT_WINDOW_S 10

/* Whether a message may pass now; *@suppressed gets how many were held back before it. */
bool nm_ratelimit_pass(struct nm_ratelimit *rl, uint32_t *suppressed);

/* Appends " (N similar messages suppressed)" to @out (@len bytes) when @suppressed; "" if not. */
void nm_ratelimit_suffix(uint32_t suppressed, char *out, size_t len);

/*
 * Log "KIND sink NAME: message" through @env->log; at most a burst per window
 * of @rl (NULL: every message), since a broker outage repeats the same
 * failure endlessly. @env is borrowed.
 */
void nm_sink_log(const struct nm_sink_env *env, const char *kind, struct nm_ratelimit *rl,
		 int level, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif

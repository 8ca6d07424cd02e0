/* ratelimit.c - one burst-per-window limiter for every rate-limited log line of agent and sinks. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "clock.h"
#include "ratelimit.h"

/* One lock for every limiter: the state is three words, the critical section a few compares. */
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

bool nm_ratelimit_pass(struct nm_ratelimit *rl, uint32_t *suppressed)
{
	uint64_t now = nm_mono_ns();
	bool pass;

	pthread_mutex_lock(&ratelimit_lock);
	if (!rl->window_start_ns ||
	    now - rl->window_start_ns > (uint64_t)NM_RATELIMIT_WINDOW_S * 1000000000ull) {
		rl->window_start_ns = now;
		rl->passed = 0;
	}
	pass = rl->passed < NM_RATELIMIT_BURST;
	if (pass) {
		rl->passed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	return pass;
}

void nm_ratelimit_suffix(uint32_t suppressed, char *out, size_t len)
{
	if (suppressed)
		snprintf(out, len, " (%u similar messages suppressed)", suppressed);
	else if (len)
		out[0] = '\0';
}

void nm_sink_log(const struct nm_sink_env *env, const char *kind, struct nm_ratelimit *rl,
		 int level, const char *fmt, ...)
{
	uint32_t suppressed = 0;
	char line[1024], suffix[64];
	va_list ap;

	if (rl && !nm_ratelimit_pass(rl, &suppressed))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	nm_ratelimit_suffix(suppressed, suffix, sizeof(suffix));
	env->log(level, "%s sink %s: %s%s", kind, env->name, line, suffix);
}

/* sinkutil.h - what every sink would otherwise write again: the module entry point, flush by polling. */
#ifndef NM_SINKUTIL_H
#define NM_SINKUTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../sink.h"
#include "clock.h"

/*
 * NM_SINK_EXPORT(nm_sink_NAME); at the end of a sink's file: in a shared
 * module build (-DNM_SINK_MODULE) it defines the entry point the agent looks
 * up after dlopen, the module's only exported symbol; built in, nothing.
 */
#ifdef NM_SINK_MODULE
#define NM_SINK_EXPORT(type)                                                                       \
	__attribute__((visibility("default"))) const struct nm_sink_type *nm_sink_module(void)     \
	{                                                                                          \
		return &(type);                                                                    \
	}
#else
#define NM_SINK_EXPORT(type) extern const struct nm_sink_type type
#endif

/*
 * Delivered tokens gathered into runs of consecutive ones, so that a sink
 * whose library reports one message at a time (delivery reports, PUBACKs)
 * tells the outlet once per run — one lock there, one wake-up of a blocked
 * reader — instead of once per message. Add each delivered token, flush when
 * the library's callbacks are done (end of a poll) and before anything that
 * must see the outlet's books up to date. One thread.
 */
struct nm_report_run {
	uint64_t first, last;
	bool open;
};

static inline void nm_report_run_flush(struct nm_report_run *r, const struct nm_sink_env *env)
{
	if (!r->open)
		return;
	r->open = false;
	if (r->first == r->last)
		env->report(env->ctx, r->first, 0);
	else
		env->report_range(env->ctx, r->first, r->last, 0);
}

static inline void nm_report_run_add(struct nm_report_run *r, const struct nm_sink_env *env,
				     uint64_t token)
{
	if (r->open && token == r->last + 1) {
		r->last = token;
		return;
	}
	nm_report_run_flush(r, env);
	r->first = r->last = token;
	r->open = true;
}

/*
 * A flush for sinks whose poll does the work: poll @sink in slices of at most
 * 50 ms until @outstanding reports nothing left. 0, or -ETIMEDOUT after @timeout_ms.
 */
static inline int nm_flush_by_polling(void *sink, void (*poll)(void *sink, int timeout_ms),
				      size_t (*outstanding)(void *sink), int timeout_ms)
{
	int64_t deadline = nm_mono_ms() + timeout_ms;

	while (outstanding(sink)) {
		int64_t left = deadline - nm_mono_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		poll(sink, left < 50 ? (int)left : 50);
	}
	return 0;
}

#endif

/* clock.h - the monotonic clock in the units sinks and the agent count in. */
#ifndef NM_CLOCK_H
#define NM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t nm_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int64_t nm_mono_ms(void)
{
	return (int64_t)(nm_mono_ns() / 1000000ull);
}

#endif

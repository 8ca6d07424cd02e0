/* log.c - levelled, rate-limited logging to stderr (stdout may carry events). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "log.h"

static enum nm_log_level log_level = NM_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"error", "warning", "info", "debug"};

void nm_log_set_level(enum nm_log_level level)
{
	log_level = level;
}

static void log_va(enum nm_log_level level, const char *suffix, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	int saved_errno = errno;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ ebpf-netmon %s: ", stamp, ts.tv_nsec / 1000000,
		level_names[level]);
	vfprintf(stderr, fmt, ap);
	if (suffix)
		fputs(suffix, stderr);
	if (fmt[0] && fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}

void nm_log(enum nm_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(level, NULL, fmt, ap);
	va_end(ap);
}

void nm_log_ratelimited(struct nm_ratelimit *rl, enum nm_log_level level, const char *fmt, ...)
{
	uint32_t suppressed;
	char suffix[64];
	va_list ap;

	/* What the level hides is not counted as suppressed. */
	if (level > log_level || !nm_ratelimit_pass(rl, &suppressed))
		return;
	nm_ratelimit_suffix(suppressed, suffix, sizeof(suffix));
	va_start(ap, fmt);
	log_va(level, suffix[0] ? suffix : NULL, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum nm_log_level ours = level == LIBBPF_WARN	? NM_LOG_WARN
				 : level == LIBBPF_INFO ? NM_LOG_DEBUG
							: NM_LOG_DEBUG;
	static char line[65536]; /* verifier logs are long; libbpf calls under its own lock */
	size_t n;

	if (ours > log_level)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	nm_log(ours, "%s", line);
	return 0;
}

void nm_log_bridge_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

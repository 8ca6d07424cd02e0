/* stdout.c - the stdout sink: JSON lines or concatenated MessagePack on standard output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sink.h"
#include "../lib/ratelimit.h"
#include "../lib/recbuf.h"
#include "../lib/sinkutil.h"

struct stdout_sink {
	struct nm_recbuf rb;	       /* first: the nm_recbuf_sink_* operations get this */
	const struct nm_sink_env *env; /* borrowed */
	struct nm_ratelimit rl;
};

#define stdout_log(s, level, ...) nm_sink_log((s)->env, "stdout", &(s)->rl, level, __VA_ARGS__)

/* Write everything pending; a failure keeps it for a retry, a reader that went away fails it. */
static void write_out(void *sink)
{
	struct stdout_sink *s = sink;
	size_t pending = nm_recbuf_pending(&s->rb), len, done;
	int rc;

	if (!nm_recbuf_ready(&s->rb))
		return;
	len = nm_recbuf_span(&s->rb, pending);
	rc = nm_write_full(STDOUT_FILENO, nm_recbuf_data(&s->rb), len, &done);
	if (!rc || rc == -EPIPE) {
		if (rc) {
			s->rb.write_errors++;
			stdout_log(s, NM_LOG_ERR, "reader went away");
		}
		nm_recbuf_release(&s->rb, pending, rc, s->env);
		nm_recbuf_succeeded(&s->rb);
		return;
	}
	s->rb.write_errors++;
	stdout_log(s, NM_LOG_ERR, "write to stdout failed: %s", strerror(-rc));
	nm_recbuf_failed(&s->rb);
}

static void *stdout_create(const void *config, const struct nm_sink_env *env, char *err,
			   size_t errlen)
{
	struct stdout_sink *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nm_recbuf_init(&s->rb, write_out, env->format == NM_FORMAT_JSON);
	s->env = env;
	return s;
}

static void stdout_stats(void *sink, struct nm_writer *w)
{
	nm_recbuf_stats(&((struct stdout_sink *)sink)->rb, w);
}

static void stdout_destroy(void *sink)
{
	struct stdout_sink *s = sink;

	if (!s)
		return;
	nm_recbuf_free(&s->rb);
	free(s);
}

const struct nm_sink_type nm_sink_stdout = {
	.api_version = NM_SINK_API_VERSION,
	.name = "stdout",
	.description = "write to standard output",
	.create = stdout_create,
	.write = nm_recbuf_sink_write,
	.poll = nm_recbuf_sink_poll,
	.flush = nm_recbuf_sink_flush,
	.stats = stdout_stats,
	.healthy = nm_recbuf_sink_healthy,
	.destroy = stdout_destroy,
};

NM_SINK_EXPORT(nm_sink_stdout);

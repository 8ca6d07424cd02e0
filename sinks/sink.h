/* sink.h - the sink module interface: everything a sink (built in or dlopen'ed) sees of the agent. */
#ifndef NM_SINK_H
#define NM_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../src/schema.h"
#include "../src/writer.h"

/*
 * Bump on any change to the structs below. A shared sink module exports
 * `const struct nm_sink_type *nm_sink_module(void)`; the agent refuses one
 * whose api_version differs from its own.
 */
#define NM_SINK_API_VERSION 2

struct nm_event;

/* One message handed to a sink. Everything is borrowed until the sink reports the token. */
struct nm_sink_msg {
	uint64_t token;		      /* increases by one per message handed to this sink */
	const uint8_t *data;	      /* the event encoded in the sink's format */
	size_t len;
	const struct nm_event *event; /* the decoded event, for templates (topic, key) */
};

/* What the agent provides to a sink; borrowed for the sink's lifetime. */
struct nm_sink_env {
	const char *name; /* the sink's configured name */
	int format;	  /* enum nm_format */
	const char *host; /* the agent's host name */
	/*
	 * Outcome of an accepted message: status 0 = delivered, negative errno =
	 * failed for good (counted). Any thread may report; each token once.
	 */
	void (*report)(void *ctx, uint64_t token, int status);
	/* The same outcome for every token in [first, last]. */
	void (*report_range)(void *ctx, uint64_t first, uint64_t last, int status);
	void *ctx;
	void (*log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

struct nm_sink_type {
	uint32_t api_version; /* NM_SINK_API_VERSION */
	const char *name;     /* the config's type = "..." */
	const char *description;

	/* Keys of this sink's config section besides name, type, format, queue. */
	const struct nm_option *options;
	size_t config_size;
	/* Check a parsed config (borrowed) beyond what the option table can. Optional. */
	int (*validate)(const void *config, char *err, size_t errlen);

	/* Returns the sink, or NULL with the reason in @err. @config is borrowed for the sink's life. */
	void *(*create)(const void *config, const struct nm_sink_env *env, char *err, size_t errlen);
	/*
	 * Accept @msg: 0 = accepted (a report follows), -EAGAIN = not now (offer it
	 * again later), other negative errno = refused for good (counted as failed,
	 * no report follows). Must not block.
	 */
	int (*write)(void *sink, const struct nm_sink_msg *msg);
	/* Do I/O and emit reports, waiting at most @timeout_ms for something to happen. */
	void (*poll)(void *sink, int timeout_ms);
	/* Push out everything accepted; 0 once all is reported, -ETIMEDOUT after @timeout_ms. */
	int (*flush)(void *sink, int timeout_ms);
	/* Reopen files (SIGHUP). Optional. */
	void (*reopen)(void *sink);
	/* Write the sink's own counters and health as fields. Optional. */
	void (*stats)(void *sink, struct nm_writer *w);
	/* Whether the sink can deliver right now (connected, file open). Optional: true. */
	bool (*healthy)(void *sink);
	void (*destroy)(void *sink);
	/* At most this many accepted-but-unreported messages (0 = the agent's default). */
	uint32_t max_inflight;
};

/* Built-in sink types (sinks/file.c). */
extern const struct nm_sink_type nm_sink_file;
extern const struct nm_sink_type nm_sink_stdout;

#endif

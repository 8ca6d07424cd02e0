/* sink.h - the whole sink module contract: everything a sink (built in or dlopen'ed) sees of the agent. */
#ifndef NM_SINK_H
#define NM_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Bump on any change to the structs below. A shared sink module exports
 * `const struct nm_sink_type *nm_sink_module(void)`; the agent refuses one
 * whose api_version differs from its own.
 */
#define NM_SINK_API_VERSION 4

/* ---- log levels (the agent's one logging entry point, reached through env->log) ---- */

enum nm_log_level {
	NM_LOG_ERR = 0,
	NM_LOG_WARN,
	NM_LOG_INFO,
	NM_LOG_DEBUG,
};

/* ---- declarative config keys: sinks (and programs) describe their options as tables ---- */

enum nm_option_type {
	NM_OPT_BOOL = 1, /* bool */
	NM_OPT_INT,	 /* long long, within [min, max] */
	NM_OPT_STRING,	 /* char *, owned by the config */
	NM_OPT_STRINGS,	 /* struct nm_strings: a list or array of strings */
	NM_OPT_ENUM,	 /* int: index into choices */
};

struct nm_strings {
	char **v;
	size_t n;
};

struct nm_option {
	const char *name;
	enum nm_option_type type;
	size_t offset;
	const char *def; /* default as config text: "true", "1024", "json", "a,b"; NULL = empty */
	long long min;
	long long max;
	const char *const *choices; /* NM_OPT_ENUM, NULL-terminated */
	const char *help;
};

/* ---- the field writer: events and stats are written as fields, encoders make the bytes ---- */

enum nm_format {
	NM_FORMAT_JSON = 0,
	NM_FORMAT_MSGPACK,
	NM_FORMAT_COUNT,
};

struct nm_writer;
struct nm_buf;

/*
 * One map per document, which may hold nested maps and arrays. Keys are
 * snake_case literals; inside an array every key is NULL (klen 0). String
 * values are arbitrary bytes (kernel strings are attacker-controlled) and
 * every encoder must still produce a valid document from them.
 */
struct nm_writer_ops {
	void (*begin)(struct nm_writer *w);
	void (*end)(struct nm_writer *w);
	/* @klen is strlen(@key), folded at compile time by the inline wrappers below */
	void (*str)(struct nm_writer *w, const char *key, size_t klen, const char *val, size_t len);
	void (*u64)(struct nm_writer *w, const char *key, size_t klen, uint64_t v);
	void (*i64)(struct nm_writer *w, const char *key, size_t klen, int64_t v);
	void (*boolean)(struct nm_writer *w, const char *key, size_t klen, bool v);
	void (*null)(struct nm_writer *w, const char *key, size_t klen);
	void (*dbl)(struct nm_writer *w, const char *key, size_t klen, double v);
	/* Open a nested map or array under @key (NULL inside an array); close it with end_nested. */
	void (*begin_map)(struct nm_writer *w, const char *key, size_t klen);
	void (*begin_array)(struct nm_writer *w, const char *key, size_t klen);
	void (*end_nested)(struct nm_writer *w);
};

#define NM_WRITER_DEPTH_MAX 8 /* nesting below the top map; deeper opens are an encoder error */

struct nm_writer {
	const struct nm_writer_ops *ops;
	struct nm_buf *out; /* borrowed; NULL for writers that only capture */
	void *ctx;	    /* for writers that capture rather than encode */
	uint32_t depth;	    /* open containers, the top map included */
	/* per open container: where its header is patched (msgpack), its count, whether empty */
	size_t start[NM_WRITER_DEPTH_MAX + 1];
	uint32_t count[NM_WRITER_DEPTH_MAX + 1];
	bool in_array[NM_WRITER_DEPTH_MAX + 1];
	bool error; /* too deep, unbalanced, or out of memory: the document is not valid */
};

static inline void nm_w_begin(struct nm_writer *w)
{
	w->ops->begin(w);
}

static inline void nm_w_end(struct nm_writer *w)
{
	w->ops->end(w);
}

/* @key may be NULL: an element of the enclosing array. */
static inline size_t nm_w_klen(const char *key)
{
	return key ? strlen(key) : 0;
}

static inline void nm_w_str(struct nm_writer *w, const char *key, const char *val, size_t len)
{
	w->ops->str(w, key, nm_w_klen(key), val, len);
}

static inline void nm_w_cstr(struct nm_writer *w, const char *key, const char *val)
{
	w->ops->str(w, key, nm_w_klen(key), val, strlen(val));
}

/* A fixed-size kernel char array: stops at the first NUL or at @cap. */
static inline void nm_w_kstr(struct nm_writer *w, const char *key, const char *val, size_t cap)
{
	w->ops->str(w, key, nm_w_klen(key), val, strnlen(val, cap));
}

static inline void nm_w_u64(struct nm_writer *w, const char *key, uint64_t v)
{
	w->ops->u64(w, key, nm_w_klen(key), v);
}

static inline void nm_w_i64(struct nm_writer *w, const char *key, int64_t v)
{
	w->ops->i64(w, key, nm_w_klen(key), v);
}

static inline void nm_w_bool(struct nm_writer *w, const char *key, bool v)
{
	w->ops->boolean(w, key, nm_w_klen(key), v);
}

static inline void nm_w_null(struct nm_writer *w, const char *key)
{
	w->ops->null(w, key, nm_w_klen(key));
}

static inline void nm_w_double(struct nm_writer *w, const char *key, double v)
{
	w->ops->dbl(w, key, nm_w_klen(key), v);
}

static inline void nm_w_map(struct nm_writer *w, const char *key)
{
	w->ops->begin_map(w, key, nm_w_klen(key));
}

static inline void nm_w_array(struct nm_writer *w, const char *key)
{
	w->ops->begin_array(w, key, nm_w_klen(key));
}

static inline void nm_w_end_nested(struct nm_writer *w)
{
	w->ops->end_nested(w);
}

/* ---- messages, the agent's services, and the sink type ---- */

/* One message handed to a sink. Everything is borrowed until the sink reports the token. */
struct nm_sink_msg {
	uint64_t token;	     /* increases by one per message handed to this sink */
	const uint8_t *data; /* the event encoded in the sink's format */
	size_t len;
	const char *type; /* the event's type (program name, or "loss"); never NULL */
	/* The event's host field; NULL when only write_fields knows it (a replayed event). */
	const char *host;
	/*
	 * Write every field of the event, common ones first, as one map into @w:
	 * what templates (topic, key) read. @event is opaque to the sink.
	 */
	void (*write_fields)(const void *event, struct nm_writer *w);
	const void *event;
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
	void *(*create)(const void *config, const struct nm_sink_env *env, char *err,
			size_t errlen);
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

/* Always built in (sinks/stdout/, sinks/file/); the other built-in ones are listed by configure. */
extern const struct nm_sink_type nm_sink_file;
extern const struct nm_sink_type nm_sink_stdout;

#endif

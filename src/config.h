/* config.h - the agent's configuration: libconfig file or the built-in default. */
#ifndef NM_CONFIG_H
#define NM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "outlet.h"
#include "program.h"

#define NM_DEFAULT_SOCKET "/run/ebpf-netmon/control.sock"
#define NM_EX_CONFIG	  78 /* sysexits.h EX_CONFIG */

struct nm_program_config {
	const struct nm_program_type *type; /* static */
	struct nm_program_common_config common;
	void *options; /* type->config_size bytes, owned */
};

struct nm_sink_config {
	char *name;
	char *type_name;
	const struct nm_sink_type *type; /* static or from a loaded module */
	int format;			 /* enum nm_format */
	struct nm_queue_config queue;
	void *options; /* type->config_size bytes, owned */
};

struct nm_control_config {
	bool enabled;
	char *socket;
	char *mode;
	char *group;
	char *admin_group;
	long long max_clients;
	long long max_clients_per_uid;
	long long stream_queue_events;
	/* Resolved while validating, so a start cannot fail on them. */
	mode_t socket_mode;
	gid_t gid;
	gid_t admin_gid;
	bool has_admin_group;
};

struct nm_store_config {
	long long capacity;
};

/* /metrics on a TCP listener besides the control socket; off unless `listen` is set. */
struct nm_metrics_config {
	char *listen; /* "127.0.0.1:9464" or "[::1]:9464": literal addresses only */
	/* Resolved while validating. */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct nm_config {
	char *source; /* the file, or "<built-in default>" */
	char *host;
	int log_level; /* enum nm_log_level */
	long long drain_interval_ms;
	long long shutdown_timeout_ms;
	struct nm_program_config *programs; /* one per registered program type */
	size_t nprograms;
	struct nm_store_config store;
	struct nm_control_config control;
	struct nm_metrics_config metrics;
	struct nm_sink_config *sinks;
	size_t nsinks;
	/* `user` and `group` the agent runs as once loaded (src/privs.c); NULL: stay uid 0. */
	char *user;
	char *group;
	/* Resolved while validating; the group defaults to the user's primary one. */
	bool has_user, has_group;
	uid_t uid;
	gid_t gid;
	/* "file:line: warning: ..." for a valid but likely unintended config; "" if none. */
	char warning[256];
};

/*
 * The built-in default configuration, derived from the program registry:
 * every program with every key and its default. Owned by the caller (free),
 * NULL when out of memory.
 */
char *nm_config_default_text(void);

/*
 * Parse and validate everything a start depends on (values, modes, groups,
 * paths), so a config that loads starts; NULL with "file:line: message" in @err.
 */
struct nm_config *nm_config_load_file(const char *path, char *err, size_t errlen);
struct nm_config *nm_config_load_string(const char *text, const char *name, char *err,
					size_t errlen);
void nm_config_free(struct nm_config *c);

const struct nm_program_config *nm_config_program(const struct nm_config *c, const char *name);

/* The value of the string option @key of sink @sc (e.g. a file sink's "path"), or NULL. */
const char *nm_sink_string_option(const struct nm_sink_config *sc, const char *key);

/* Sink types: built in, or (where built so) shared modules. NULL with @err set. */
const struct nm_sink_type *nm_sink_type_find(const char *name, char *err, size_t errlen);

#endif

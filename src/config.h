/* config.h - the agent's configuration: libconfig file or the built-in default. */
#ifndef NM_CONFIG_H
#define NM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
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
	struct nm_sink_config *sinks;
	size_t nsinks;
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

/* Sink types: built in, or (where built so) shared modules. NULL with @err set. */
const struct nm_sink_type *nm_sink_type_find(const char *name, char *err, size_t errlen);

#endif

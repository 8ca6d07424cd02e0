/* filter.h - a program's in-kernel filter: parsed from the config or JSON, applied to its maps. */
#ifndef NM_FILTER_H
#define NM_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "writer.h"
#include "../bpf/record.h"

struct config_setting_t;
struct nm_program_type;

/* One value of a list; @text is what the user wrote where it is not a number (owned). */
struct nm_filter_item {
	uint64_t num;	/* pid, uid, port, cgroup id, drop reason code */
	char *text;	/* command, cgroup path, CIDR as given, drop reason name; else NULL */
	uint8_t family; /* CIDR: 4 or 6 */
	uint8_t prefix; /* CIDR: prefix length */
	uint8_t addr[16];
};

struct nm_filter_list {
	struct nm_filter_item *v;
	size_t n;
};

/* Per dimension (enum nm_filter_dim), [0] the include list, [1] the exclude list. */
struct nm_filter {
	struct nm_filter_list list[NM_FD_MAX][2];
};

/* The config and JSON key of list @dim/@exclude ("pids", "exclude_pids", ...). */
const char *nm_filter_key_name(int dim, bool exclude);

struct nm_filter *nm_filter_new(void);
void nm_filter_free(struct nm_filter *f);
/* A deep copy, or NULL when out of memory. */
struct nm_filter *nm_filter_dup(const struct nm_filter *f);
bool nm_filter_empty(const struct nm_filter *f);

/*
 * Parse the `filter = { ... }` group @s of program type @t. NULL with
 * "file:line: message" in @err. Cgroup paths are resolved to ids and drop
 * reason names to codes here, so a filter that parses applies.
 */
struct nm_filter *nm_filter_from_setting(const struct nm_program_type *t,
					 const struct config_setting_t *s, char *err,
					 size_t errlen);
/* The same from a JSON object of the same keys ("{}" is the empty filter). NULL with @err set. */
struct nm_filter *nm_filter_from_json(const struct nm_program_type *t, const char *text, size_t len,
				      char *err, size_t errlen);

/* Every non-empty list of @f (NULL: none) as a key of @w's open map. */
void nm_filter_write(const struct nm_filter *f, struct nm_writer *w);

/*
 * Make @f (NULL: none) the filter of a loaded program whose filter maps are
 * @set_fd and @cidr_fd and whose state word is @state (the mmapped .bss
 * variable nm_filter_state). The new entries are written under the other
 * generation, then one atomic store switches the state: an event sees the old
 * filter or the new one, never a mix. The generation being written is first
 * cleared of what an earlier switch left in it. Serialize calls per program.
 * 0, or a negative errno with @err set (the old filter then stays in force).
 */
int nm_filter_apply(const struct nm_filter *f, int set_fd, int cidr_fd, uint64_t *state, char *err,
		    size_t errlen);

#endif

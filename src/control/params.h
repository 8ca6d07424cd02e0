/* params.h - query parameters of the control API: names, numbers, RFC 3339 times, event types. */
#ifndef NM_CONTROL_PARAMS_H
#define NM_CONTROL_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "../store.h"

#define NM_PARAM_LIMIT_MAX	  10000
#define NM_PARAM_LIMIT_DEFAULT	  100
#define NM_PARAM_DURATION_DEFAULT 60
#define NM_PARAM_DURATION_MAX	  (366LL * 86400)

struct MHD_Connection;

/* The parameters an endpoint accepts, as a mask; any other is refused. */
enum nm_param {
	NM_P_TYPE = 1 << 0,
	NM_P_PID = 1 << 1,
	NM_P_COMMAND = 1 << 2,
	NM_P_SINCE = 1 << 3,
	NM_P_UNTIL = 1 << 4,
	NM_P_LIMIT = 1 << 5,
	NM_P_DURATION = 1 << 6,
};

struct nm_params {
	unsigned allowed; /* enum nm_param bits */
	unsigned seen;
	struct nm_store_filter f; /* f.type points to static storage: it may outlive the request */
	bool has_limit;
	uint64_t limit;
	bool has_duration;
	uint64_t duration_s;
	char error[256]; /* the first problem, as the 400 answer says it */
};

/* Plain decimal digits, nothing else, within [@min, @max]: 0, -EINVAL (not a number), -ERANGE. */
int nm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * RFC 3339, YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), as nanoseconds
 * since the epoch; 1970 and later. Returns 0, -EINVAL (not that shape) or
 * -ERANGE (a field out of range).
 */
int nm_parse_rfc3339(const char *s, int64_t *out_ns);

/* The static spelling of event type @name (a program in the registry, or "loss"), or NULL. */
const char *nm_param_event_type(const char *name);

/* Start collecting the parameters of one request, accepting those in @allowed. */
void nm_params_init(struct nm_params *ps, unsigned allowed);
/* One parameter (@value NULL when the query has no '='). 0, or -EINVAL with ps->error set. */
int nm_params_add(struct nm_params *ps, const char *key, const char *value);
/* Checks across parameters, once all are in. 0, or -EINVAL with ps->error set. */
int nm_params_finish(struct nm_params *ps);

/* All three over the query string of @conn. 0, or -EINVAL with ps->error set. */
int nm_params_parse(struct MHD_Connection *conn, unsigned allowed, struct nm_params *ps);

#endif

/* config_check.h - config.c's second step: everything a start would refuse, refused now. */
#ifndef NM_CONFIG_CHECK_H
#define NM_CONFIG_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "schema.h"

struct config_setting_t;

/*
 * In config.c and config_check.c: "file:line: " for setting @s, the message,
 * rc = -EINVAL, and on to the function's `out` label.
 */
#define ERR(s, ...)                                                                                \
	do {                                                                                       \
		int __n = nm_setting_where((s), err, errlen);                                      \
		if (__n >= 0 && (size_t)__n < errlen)                                              \
			snprintf(err + __n, errlen - __n, __VA_ARGS__);                            \
		rc = -EINVAL;                                                                      \
		goto out;                                                                          \
	} while (0)

/*
 * Check the parsed @c against the host (users, groups, modes, paths, their
 * owners, addresses) and resolve what a start needs, so that a start cannot
 * fail on them. @root is the file's root setting, for file:line. 0, or
 * -EINVAL with "file:line: message" in @err (-ENOMEM without one).
 */
int nm_config_validate(struct nm_config *c, const struct config_setting_t *root, char *err,
		       size_t errlen);

#endif

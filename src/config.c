/* config.c - reads the libconfig file against the option tables; errors as file:line: message. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <libconfig.h>

#include "config.h"
#include "fsutil.h"
#include "log.h"

static const char *const log_levels[] = {"error", "warning", "info", "debug", NULL};

static const struct nm_option top_options[] = {
	{"host", NM_OPT_STRING, offsetof(struct nm_config, host), NULL, 0, 0, NULL,
	 "host name stamped on events; default: the system's"},
	{"log_level", NM_OPT_ENUM, offsetof(struct nm_config, log_level), "info", 0, 0, log_levels,
	 "error | warning | info | debug"},
	{"drain_interval_ms", NM_OPT_INT, offsetof(struct nm_config, drain_interval_ms), "10", 1,
	 1000, NULL, "how often the rings are drained without a wake-up"},
	{"shutdown_timeout_ms", NM_OPT_INT, offsetof(struct nm_config, shutdown_timeout_ms), "5000",
	 0, 600000, NULL, "how long SIGTERM waits for sinks to deliver"},
	{NULL},
};

static const struct nm_option program_common_options[] = {
	{"enabled", NM_OPT_BOOL, offsetof(struct nm_program_common_config, enabled), "true", 0, 0,
	 NULL, "load and attach this program"},
	{"ring_size", NM_OPT_INT, offsetof(struct nm_program_common_config, ring_size), "2097152",
	 4096, 1LL << 30, NULL, "ring buffer bytes; a power of two"},
	{"wakeup_bytes", NM_OPT_INT, offsetof(struct nm_program_common_config, wakeup_bytes),
	 "131072", 0, 1LL << 30, NULL, "ring fill that wakes the reader early"},
	{NULL},
};

static const struct nm_option store_options[] = {
	{"capacity", NM_OPT_INT, offsetof(struct nm_store_config, capacity), "100000", 0, 100000000,
	 NULL, "events kept in memory for queries"},
	{NULL},
};

static const struct nm_option control_options[] = {
	{"enabled", NM_OPT_BOOL, offsetof(struct nm_control_config, enabled), "true", 0, 0, NULL,
	 "serve the control API"},
	{"socket", NM_OPT_STRING, offsetof(struct nm_control_config, socket), NM_DEFAULT_SOCKET, 0,
	 0, NULL, "Unix socket path"},
	{"mode", NM_OPT_STRING, offsetof(struct nm_control_config, mode), "0660", 0, 0, NULL,
	 "socket permissions, octal"},
	{"group", NM_OPT_STRING, offsetof(struct nm_control_config, group), "root", 0, 0, NULL,
	 "socket group"},
	{"admin_group", NM_OPT_STRING, offsetof(struct nm_control_config, admin_group), NULL, 0, 0,
	 NULL, "group allowed to change state besides uid 0"},
	{"max_clients", NM_OPT_INT, offsetof(struct nm_control_config, max_clients), "256", 1,
	 65536, NULL, "concurrent connections"},
	{"stream_queue_events", NM_OPT_INT, offsetof(struct nm_control_config, stream_queue_events),
	 "10000", 16, 10000000, NULL, "events buffered per stream client before drops are counted"},
	{NULL},
};

static const char *const format_names[] = {"json", "msgpack", NULL};

static const struct nm_option sink_common_options[] = {
	{"name", NM_OPT_STRING, offsetof(struct nm_sink_config, name), NULL, 0, 0, NULL,
	 "unique sink name"},
	{"type", NM_OPT_STRING, offsetof(struct nm_sink_config, type_name), NULL, 0, 0, NULL,
	 "sink type"},
	{"format", NM_OPT_ENUM, offsetof(struct nm_sink_config, format), "json", 0, 0, format_names,
	 "json | msgpack"},
	{NULL},
};

#define ERR(s, ...)                                                                                \
	do {                                                                                       \
		int __n = nm_setting_where((s), err, errlen);                                      \
		if (__n >= 0 && (size_t)__n < errlen)                                              \
			snprintf(err + __n, errlen - __n, __VA_ARGS__);                            \
		rc = -EINVAL;                                                                      \
		goto out;                                                                          \
	} while (0)

/* NULL-terminated list of the option names of @a and @b, for nm_options_parse's skip. */
static const char **names_of(const struct nm_option *a, const char *const *extra)
{
	size_t n = 0, i = 0;
	const char **v;

	for (const struct nm_option *o = a; o && o->name; o++)
		n++;
	for (const char *const *e = extra; e && *e; e++)
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (const struct nm_option *o = a; o && o->name; o++)
		v[i++] = o->name;
	for (const char *const *e = extra; e && *e; e++)
		v[i++] = *e;
	return v;
}

/* Prefix a bare message from a validate hook with the setting's location. */
static void locate(const config_setting_t *s, char *err, size_t errlen)
{
	char msg[512];
	int n;

	snprintf(msg, sizeof(msg), "%s", err);
	n = nm_setting_where(s, err, errlen);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - n, "%s", msg);
}

static int parse_programs(struct nm_config *c, const config_setting_t *group, char *err,
			  size_t errlen)
{
	const char **skip = NULL;
	int rc = 0;

	for (size_t i = 0; i < c->nprograms; i++) {
		struct nm_program_config *pc = &c->programs[i];

		rc = nm_options_defaults(program_common_options, &pc->common, err, errlen);
		if (!rc)
			rc = nm_options_defaults(pc->type->options, pc->options, err, errlen);
		if (rc)
			return rc;
		pc->common.enabled = pc->type->enabled_by_default;
	}
	if (!group)
		return 0;
	if (!config_setting_is_group(group))
		ERR(group, "'programs' must be a group: programs = { connection = { ... }; };");
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, i);
		const char *name = config_setting_name(s);
		struct nm_program_config *pc = NULL;

		for (size_t j = 0; j < c->nprograms; j++)
			if (!strcmp(c->programs[j].type->name, name))
				pc = &c->programs[j];
		if (!pc) {
			char known[256] = "";
			size_t at = 0;

			for (size_t j = 0; j < c->nprograms && at < sizeof(known); j++)
				at += snprintf(known + at, sizeof(known) - at, "%s%s",
					       j ? ", " : "", c->programs[j].type->name);
			ERR(s, "unknown program '%s' (known: %s)", name, known);
		}
		if (!config_setting_is_group(s))
			ERR(s, "'%s' must be a group: %s = { enabled = true; };", name, name);
		free(skip);
		skip = names_of(pc->type->options, NULL);
		rc = nm_options_parse(program_common_options, &pc->common, s, skip, err, errlen);
		if (rc)
			goto out;
		free(skip);
		skip = names_of(program_common_options, NULL);
		rc = nm_options_parse(pc->type->options, pc->options, s, skip, err, errlen);
		if (rc)
			goto out;
		if (pc->common.ring_size & (pc->common.ring_size - 1))
			ERR(s, "'ring_size' = %lld must be a power of two", pc->common.ring_size);
		if (pc->common.wakeup_bytes >= pc->common.ring_size)
			ERR(s, "'wakeup_bytes' must be smaller than 'ring_size'");
		if (pc->type->validate && (rc = pc->type->validate(pc->options, err, errlen))) {
			locate(s, err, errlen);
			goto out;
		}
	}
out:
	free(skip);
	return rc;
}

static bool valid_sink_name(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '_' || *n == '-' || *n == '.'))
			return false;
	return true;
}

static int parse_sink(struct nm_config *c, struct nm_sink_config *sc, const config_setting_t *s,
		      char *err, size_t errlen)
{
	static const char *const common_keys[] = {"name", "type", "format", "queue", NULL};
	const config_setting_t *q;
	const char **skip = NULL;
	const char *queue_key[] = {"queue", NULL};
	int rc;

	if (!config_setting_is_group(s))
		ERR(s, "each sink must be a group: { name = \"...\"; type = \"...\"; ... }");
	rc = nm_options_defaults(sink_common_options, sc, err, errlen);
	if (rc)
		goto out;
	/* Type first, so its keys can be told from unknown ones. */
	{
		const config_setting_t *t = config_setting_get_member(s, "type");
		const char *tname;

		if (!t)
			ERR(s, "sink has no 'type' (file, stdout, kafka, mqtt)");
		if (config_setting_type(t) != CONFIG_TYPE_STRING)
			ERR(t, "'type' must be a string");
		tname = config_setting_get_string(t);
		sc->type = nm_sink_type_find(tname, err, errlen);
		if (!sc->type) {
			locate(t, err, errlen);
			rc = -EINVAL;
			goto out;
		}
	}
	skip = names_of(sc->type->options, queue_key);
	rc = nm_options_parse(sink_common_options, sc, s, skip, err, errlen);
	if (rc)
		goto out;
	if (!sc->name)
		ERR(s, "sink has no 'name'");
	if (!valid_sink_name(sc->name))
		ERR(s, "sink name \"%s\" may only use letters, digits, '_', '-' and '.'", sc->name);
	for (size_t i = 0; i < c->nsinks; i++)
		if (&c->sinks[i] != sc && c->sinks[i].name && !strcmp(c->sinks[i].name, sc->name))
			ERR(s, "duplicate sink name \"%s\"", sc->name);

	sc->options = calloc(1, sc->type->config_size ? sc->type->config_size : 1);
	if (!sc->options)
		return -ENOMEM;
	rc = nm_options_defaults(sc->type->options, sc->options, err, errlen);
	if (!rc)
		rc = nm_options_parse(sc->type->options, sc->options, s, common_keys, err, errlen);
	if (rc)
		goto out;
	if (sc->type->validate && (rc = sc->type->validate(sc->options, err, errlen))) {
		locate(s, err, errlen);
		goto out;
	}

	rc = nm_options_defaults(nm_queue_options, &sc->queue, err, errlen);
	if (rc)
		goto out;
	q = config_setting_get_member(s, "queue");
	if (q) {
		if (!config_setting_is_group(q))
			ERR(q, "'queue' must be a group: queue = { max_events = 100000; };");
		rc = nm_options_parse(nm_queue_options, &sc->queue, q, NULL, err, errlen);
		if (rc)
			goto out;
		if (sc->queue.when_full == NM_WHEN_FULL_SPOOL && !sc->queue.spool_dir)
			ERR(q, "when_full = \"spool\" needs 'spool_dir'");
	}
out:
	free(skip);
	return rc;
}

static int parse_sinks(struct nm_config *c, const config_setting_t *list, char *err, size_t errlen)
{
	int rc = 0;

	if (!list) {
		/* No sinks key: events go to stdout, as without a config. */
		c->sinks = calloc(1, sizeof(*c->sinks));
		if (!c->sinks)
			return -ENOMEM;
		c->nsinks = 1;
		c->sinks[0].name = strdup("stdout");
		c->sinks[0].type = &nm_sink_stdout;
		c->sinks[0].format = NM_FORMAT_JSON;
		c->sinks[0].options = calloc(1, 1);
		if (!c->sinks[0].name || !c->sinks[0].options)
			return -ENOMEM;
		return nm_options_defaults(nm_queue_options, &c->sinks[0].queue, err, errlen);
	}
	if (!config_setting_is_list(list) && !config_setting_is_array(list))
		ERR(list, "'sinks' must be a list: sinks = ( { name = ...; type = ...; } );");
	c->nsinks = (size_t)config_setting_length(list);
	c->sinks = calloc(c->nsinks ? c->nsinks : 1, sizeof(*c->sinks));
	if (!c->sinks)
		return -ENOMEM;
	for (size_t i = 0; i < c->nsinks; i++) {
		rc = parse_sink(c, &c->sinks[i], config_setting_get_elem(list, (unsigned)i), err,
				errlen);
		if (rc)
			return rc;
	}
out:
	return rc;
}

static int parse_section(const config_setting_t *root, const char *key,
			 const struct nm_option *opts, void *base, char *err, size_t errlen)
{
	const config_setting_t *s = config_setting_get_member(root, key);
	int rc = nm_options_defaults(opts, base, err, errlen);

	if (rc || !s)
		return rc;
	if (!config_setting_is_group(s))
		ERR(s, "'%s' must be a group: %s = { ... };", key, key);
	rc = nm_options_parse(opts, base, s, NULL, err, errlen);
out:
	return rc;
}

/* ---- what a start would refuse, refused here ------------------------------------------- */

/* The member @key of @group if written, else @group, else @fallback: where a message goes. */
static const config_setting_t *where(const config_setting_t *group, const char *key,
				     const config_setting_t *fallback)
{
	const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;

	return s ? s : group ? group : fallback;
}

/* At most the first 48 bytes of @v, with anything not printable ASCII shown as '?'. */
static const char *shown(const char *v, char *buf, size_t len)
{
	size_t i = 0;

	for (; v[i] && i + 4 < len && i < 48; i++)
		buf[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	strcpy(buf + i, v[i] ? "..." : "");
	return buf;
}

/* Dot-separated labels of 1 to 63 letters, digits, '-' or '_', not starting or ending in '-'. */
static bool valid_hostname(const char *h)
{
	size_t label = 0;

	for (const char *p = h;; p++) {
		if (*p == '.' || !*p) {
			if (!label || p[-1] == '-')
				return false;
			if (!*p)
				return true;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || (*p == '-' && label)))
			return false;
		if (++label > 63)
			return false;
	}
}

/* "0660", "660", "0": octal digits only, at most 0777. */
static int parse_mode(const char *m, mode_t *mode)
{
	unsigned int v = 0;

	if (!*m)
		return -EINVAL;
	for (; *m; m++) {
		if (*m < '0' || *m > '7')
			return -EINVAL;
		v = v * 8 + (unsigned int)(*m - '0');
		if (v > 0777)
			return -ERANGE;
	}
	*mode = (mode_t)v;
	return 0;
}

/* A group by name (any size of group entry), or a numeric gid as the control server takes it. */
static int resolve_group(const char *name, gid_t *gid)
{
	struct group gr, *found = NULL;
	size_t size = 1024;
	char *buf = NULL, *end;
	unsigned long v;
	int rc;

	for (;;) {
		char *grown = realloc(buf, size);

		if (!grown) {
			free(buf);
			return -ENOMEM;
		}
		buf = grown;
		rc = getgrnam_r(name, &gr, buf, size, &found);
		if (rc != ERANGE || size >= (1u << 22))
			break;
		size *= 2;
	}
	if (!rc && found)
		*gid = gr.gr_gid;
	free(buf);
	if (!rc && found)
		return 0;
	if (rc && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM)
		return -rc;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end && !errno && v < (gid_t)-1) {
		*gid = (gid_t)v;
		return 0;
	}
	return -ENOENT;
}

static int check_group(const config_setting_t *s, const char *key, const char *name, gid_t *gid,
		       char *err, size_t errlen)
{
	char buf[64];
	int rc = resolve_group(name, gid);

	if (rc == -ENOENT)
		ERR(s,
		    "'%s' = \"%s\": no such group; name an existing group (getent group) or a "
		    "numeric gid",
		    key, shown(name, buf, sizeof(buf)));
	if (rc == -ENOMEM)
		goto out;
	if (rc)
		ERR(s, "'%s' = \"%s\": cannot look the group up: %s", key,
		    shown(name, buf, sizeof(buf)), strerror(-rc));
out:
	return rc;
}

/*
 * Whether @path could be created: the nearest ancestor that exists is a
 * directory. 0, or -errno with the reason in @why.
 */
static int check_ancestors(const char *path, char *why, size_t whylen)
{
	char *copy = strdup(path), *slash;
	struct stat st;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	while ((slash = strrchr(copy, '/'))) {
		slash[slash == copy] = '\0';
		if (!stat(copy, &st)) {
			if (!S_ISDIR(st.st_mode)) {
				snprintf(why, whylen, "%s is not a directory", copy);
				rc = -ENOTDIR;
			}
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			rc = -errno;
			snprintf(why, whylen, "%s: %s", copy, strerror(errno));
			break;
		}
		if (slash == copy)
			break;
	}
	free(copy);
	return rc;
}

enum path_kind { PATH_FILE, PATH_DIR, PATH_SOCKET };

/*
 * The directory a file or socket goes in, judged as a start judges it (sshd's
 * StrictModes: nobody but root or the agent can write it or an ancestor), so
 * --check-config refuses what a start would. A missing directory is fine.
 */
static int check_parent_trust(const config_setting_t *s, const char *key, const char *path,
			      char *err, size_t errlen)
{
	char dir[PATH_MAX], why[2 * PATH_MAX + 300];
	enum nm_fs_refusal refusal;
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (strlen(path) >= sizeof(dir))
		ERR(s, "'%s' is longer than %d bytes", key, PATH_MAX - 1);
	if (!slash)
		strcpy(dir, ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	rc = nm_fs_check_ancestors(dir, why, sizeof(why));
	if (!rc) {
		fd = nm_fs_open_dir(dir, false, 0, &refusal, why, sizeof(why));
		if (fd >= 0)
			close(fd);
		else if (fd != -ENOENT)
			rc = fd;
	}
	if (rc)
		ERR(s, "'%s': %s", key, why);
out:
	return rc;
}

/* A path the agent will create or open: what is there now must be of @kind or creatable. */
static int check_path(const config_setting_t *s, const char *key, const char *path,
		      enum path_kind kind, char *err, size_t errlen)
{
	static const char *const expected[] = {"a regular file", "a directory", "a socket"};
	char why[300], buf[64];
	struct stat st;
	bool ok;
	int rc = 0;

	if (!lstat(path, &st)) {
		ok = kind == PATH_FILE	? !S_ISDIR(st.st_mode)
		     : kind == PATH_DIR ? S_ISDIR(st.st_mode)
					: S_ISSOCK(st.st_mode);
		if (S_ISLNK(st.st_mode))
			ERR(s,
			    "'%s' = \"%s\" is a symbolic link, which the agent does not follow; "
			    "name the real path",
			    key, shown(path, buf, sizeof(buf)));
		if (!ok && kind == PATH_FILE)
			ERR(s, "'%s' = \"%s\" is a directory; name the file to write in it", key,
			    shown(path, buf, sizeof(buf)));
		if (!ok)
			ERR(s, "'%s' = \"%s\" exists and is not %s", key,
			    shown(path, buf, sizeof(buf)), expected[kind]);
		return kind == PATH_DIR ? 0 : check_parent_trust(s, key, path, err, errlen);
	}
	rc = check_ancestors(path, why, sizeof(why));
	if (rc == -ENOMEM)
		goto out;
	if (rc)
		ERR(s, "'%s' = \"%s\" cannot be created: %s", key, shown(path, buf, sizeof(buf)),
		    why);
	if (kind != PATH_DIR)
		rc = check_parent_trust(s, key, path, err, errlen);
out:
	return rc;
}

static int validate_control(struct nm_control_config *cc, const config_setting_t *root, char *err,
			    size_t errlen)
{
	const config_setting_t *group = config_setting_get_member(root, "control");
	const config_setting_t *s;
	char buf[64];
	int rc = 0;

	s = where(group, "mode", root);
	rc = parse_mode(cc->mode, &cc->socket_mode);
	if (rc)
		ERR(s,
		    "'mode' = \"%s\" is not an octal mode from \"0\" to \"0777\", such as \"0660\"",
		    shown(cc->mode, buf, sizeof(buf)));
	rc = check_group(where(group, "group", root), "group", cc->group, &cc->gid, err, errlen);
	if (rc)
		goto out;
	if (cc->admin_group && *cc->admin_group) {
		rc = check_group(where(group, "admin_group", root), "admin_group", cc->admin_group,
				 &cc->admin_gid, err, errlen);
		if (rc)
			goto out;
		cc->has_admin_group = true;
	}
	if (!cc->enabled)
		goto out;
	s = where(group, "socket", root);
	if (!*cc->socket || strlen(cc->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		ERR(s, "'socket' must be a path of 1 to %zu bytes",
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	rc = check_path(s, "socket", cc->socket, PATH_SOCKET, err, errlen);
out:
	return rc;
}

/* The file sink's output, and every sink's spool directory. */
static int validate_sink_paths(const struct nm_sink_config *sc, const config_setting_t *s,
			       char *err, size_t errlen)
{
	const config_setting_t *queue = config_setting_get_member(s, "queue");
	int rc = 0;

	if (sc->type == &nm_sink_file) {
		for (const struct nm_option *o = sc->type->options; o && o->name; o++) {
			const char *path;

			if (strcmp(o->name, "path") || o->type != NM_OPT_STRING)
				continue;
			path = *(char *const *)((const char *)sc->options + o->offset);
			if (path && (rc = check_path(where(s, "path", s), "path", path, PATH_FILE,
						     err, errlen)))
				return rc;
		}
	}
	if (sc->queue.spool_dir && *sc->queue.spool_dir)
		rc = check_path(where(queue, "spool_dir", s), "spool_dir", sc->queue.spool_dir,
				PATH_DIR, err, errlen);
	return rc;
}

static int validate(struct nm_config *c, const config_setting_t *root, char *err, size_t errlen)
{
	const config_setting_t *list = config_setting_get_member(root, "sinks");
	const config_setting_t *s = where(root, "host", root);
	char buf[64];
	int rc = 0;

	if (c->host && strlen(c->host) > 255)
		ERR(s, "'host' is %zu bytes; a host name has at most 255", strlen(c->host));
	if (c->host && !valid_hostname(c->host))
		ERR(s,
		    "'host' = \"%s\" is not a host name: dot-separated labels of 1 to 63 "
		    "letters, digits, '-' or '_'",
		    shown(c->host, buf, sizeof(buf)));
	rc = validate_control(&c->control, root, err, errlen);
	if (rc)
		goto out;
	for (size_t i = 0; list && i < c->nsinks; i++) {
		rc = validate_sink_paths(&c->sinks[i], config_setting_get_elem(list, (unsigned)i),
					 err, errlen);
		if (rc)
			goto out;
	}
	if (list && !c->nsinks) {
		int n = nm_setting_where(list, c->warning, sizeof(c->warning));

		if (n >= 0 && (size_t)n < sizeof(c->warning))
			snprintf(c->warning + n, sizeof(c->warning) - n,
				 "warning: 'sinks' is empty: events reach %s; add a sink, or leave "
				 "'sinks' out for JSON lines on stdout",
				 c->control.enabled ? "only the control API's in-memory store"
						    : "no one");
	}
out:
	return rc;
}

static struct nm_config *load(config_t *cf, const char *name, char *err, size_t errlen)
{
	static const char *const sections[] = {"programs", "store", "control", "sinks", NULL};
	const config_setting_t *root = config_root_setting(cf);
	struct nm_config *c = calloc(1, sizeof(*c));
	size_t n = 0;
	int rc;

	if (!c)
		goto oom;
	c->source = strdup(name);
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++)
		n++;
	c->programs = calloc(n, sizeof(*c->programs));
	if (!c->source || !c->programs)
		goto oom;
	c->nprograms = n;
	for (size_t i = 0; i < n; i++) {
		c->programs[i].type = nm_program_types[i];
		c->programs[i].options = calloc(1, nm_program_types[i]->config_size + 1);
		if (!c->programs[i].options)
			goto oom;
	}

	rc = nm_options_defaults(top_options, c, err, errlen);
	if (!rc)
		rc = nm_options_parse(top_options, c, root, sections, err, errlen);
	if (!rc)
		rc = parse_programs(c, config_setting_get_member(root, "programs"), err, errlen);
	if (!rc)
		rc = parse_section(root, "store", store_options, &c->store, err, errlen);
	if (!rc)
		rc = parse_section(root, "control", control_options, &c->control, err, errlen);
	if (!rc)
		rc = parse_sinks(c, config_setting_get_member(root, "sinks"), err, errlen);
	if (rc == -ENOMEM)
		goto oom;
	if (rc)
		goto fail;
	rc = validate(c, root, err, errlen);
	if (rc == -ENOMEM)
		goto oom;
	if (rc)
		goto fail;
	if (!c->host) {
		char h[256] = "";

		gethostname(h, sizeof(h) - 1);
		c->host = strdup(h[0] ? h : "localhost");
		if (!c->host)
			goto oom;
	}
	return c;
oom:
	snprintf(err, errlen, "%s: out of memory", name);
fail:
	nm_config_free(c);
	return NULL;
}

static void syntax_error(config_t *cf, const char *name, char *err, size_t errlen)
{
	const char *file = config_error_file(cf);

	snprintf(err, errlen, "%s:%d: %s", file ? file : name, config_error_line(cf),
		 config_error_text(cf));
}

/* Checks libconfig cannot make itself, then parse @text (@len bytes) named @name. */
static struct nm_config *load_text(const char *text, size_t len, const char *name, char *err,
				   size_t errlen)
{
	struct nm_int_literals *lits = NULL;
	struct nm_config *c = NULL;
	const char *nul = memchr(text, '\0', len);
	config_t cf;

	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		snprintf(
			err, errlen,
			"%s:1: starts with a UTF-8 byte order mark, which libconfig does not read; "
			"save the file without it (sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)",
			name);
		return NULL;
	}
	if (nul) {
		int line = 1;

		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		snprintf(err, errlen, "%s:%d: holds a NUL byte; a configuration is text", name,
			 line);
		return NULL;
	}
	config_init(&cf);
	if (!config_read_string(&cf, text)) {
		syntax_error(&cf, name, err, errlen);
		goto out;
	}
	/* borrowed by nm_setting_where for settings of this text, which have no file */
	config_setting_set_hook(config_root_setting(&cf), (void *)name);
	if (!config_setting_length(config_root_setting(&cf))) {
		snprintf(err, errlen,
			 "%s:1: holds no settings (empty, or only comments); to run the built-in "
			 "default, start without -c (--print-default shows it)",
			 name);
		goto out;
	}
	lits = nm_int_literals_attach(&cf, text, err, errlen);
	if (!lits) {
		if (!strcmp(err, "out of memory"))
			snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	c = load(&cf, name, err, errlen);
out:
	config_destroy(&cf);
	nm_int_literals_free(lits);
	return c;
}

struct nm_config *nm_config_load_file(const char *path, char *err, size_t errlen)
{
	struct nm_config *c = NULL;
	char *text = NULL;
	size_t len = 0, cap;
	struct stat st;
	ssize_t n;
	int fd;

	/* O_NONBLOCK: a FIFO named as the config must not hang the check */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st)) {
		snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "%s:0: is a directory; -c takes the configuration file itself, e.g. "
			 "%s/ebpf-netmon.conf",
			 path, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s:0: is not a regular file", path);
		goto out;
	}
	if ((unsigned long long)st.st_size > NM_CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s:0: is %lld bytes; a configuration has at most %u", path,
			 (long long)st.st_size, NM_CONFIG_MAX_BYTES);
		goto out;
	}
	cap = (size_t)st.st_size + 4096;
	while (len <= NM_CONFIG_MAX_BYTES) {
		if (len == cap || !text) {
			char *grown;

			cap = text ? cap * 2 : cap;
			grown = realloc(text, cap + 1);
			if (!grown) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			text = grown;
		}
		n = read(fd, text + len, cap - len);
		if (!n)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s:0: cannot read: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len > NM_CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s:0: grew past %u bytes while read", path,
			 NM_CONFIG_MAX_BYTES);
		goto out;
	}
	text[len] = '\0';
	c = load_text(text, len, path, err, errlen);
out:
	free(text);
	close(fd);
	return c;
}

struct nm_config *nm_config_load_string(const char *text, const char *name, char *err,
					size_t errlen)
{
	return load_text(text, strlen(text), name, err, errlen);
}

void nm_config_free(struct nm_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nprograms; i++) {
		if (c->programs[i].options)
			nm_options_free(c->programs[i].type->options, c->programs[i].options);
		free(c->programs[i].options);
	}
	free(c->programs);
	for (size_t i = 0; i < c->nsinks; i++) {
		struct nm_sink_config *sc = &c->sinks[i];

		if (sc->options && sc->type)
			nm_options_free(sc->type->options, sc->options);
		free(sc->options);
		nm_options_free(nm_queue_options, &sc->queue);
		nm_options_free(sink_common_options, sc);
	}
	free(c->sinks);
	nm_options_free(control_options, &c->control);
	nm_options_free(top_options, c);
	free(c->source);
	free(c);
}

/* One key with its default, in libconfig syntax, and its help as a comment. */
static void print_option(FILE *f, const struct nm_option *o)
{
	const char *def = o->def;

	switch (o->type) {
	case NM_OPT_STRINGS:
		fprintf(f, "    %s = [", o->name);
		for (const char *at = def; at && *at;) {
			size_t n = strcspn(at, ",");

			fprintf(f, "%s\"%.*s\"", at == def ? " " : ", ", (int)n, at);
			at += n + (at[n] == ',');
		}
		fprintf(f, " ];");
		break;
	case NM_OPT_STRING:
	case NM_OPT_ENUM:
		fprintf(f, def ? "    %s = \"%s\";" : "    #%s = \"\";", o->name, def);
		break;
	default:
		fprintf(f, def ? "    %s = %s;" : "    #%s = ;", o->name, def);
		break;
	}
	fprintf(f, "  # %s\n", o->help);
}

char *nm_config_default_text(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f,
		"# built-in default: every program with its keys and their defaults, JSON lines\n"
		"# to stdout, control socket at " NM_DEFAULT_SOCKET "\n"
		"programs = {\n");
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++) {
		fprintf(f, "  # %s\n  %s = {\n", (*t)->description, (*t)->name);
		for (const struct nm_option *o = program_common_options; o->name; o++) {
			struct nm_option key = *o;

			/* the one common key whose default each program declares */
			if (!strcmp(o->name, "enabled"))
				key.def = (*t)->enabled_by_default ? "true" : "false";
			print_option(f, &key);
		}
		for (const struct nm_option *o = (*t)->options; o && o->name; o++)
			print_option(f, o);
		fprintf(f, "  };\n");
	}
	fprintf(f, "};\n"
		   "sinks = ( { name = \"stdout\"; type = \"stdout\"; format = \"json\"; } );\n");
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

const struct nm_program_config *nm_config_program(const struct nm_config *c, const char *name)
{
	for (size_t i = 0; i < c->nprograms; i++)
		if (!strcmp(c->programs[i].type->name, name))
			return &c->programs[i];
	return NULL;
}

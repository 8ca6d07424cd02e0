/* config.c - reads the libconfig file against the option tables; errors as file:line: message. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libconfig.h>

#include "config.h"
#include "config_check.h"
#include "filter.h"
#include "fsutil.h"
#include "log.h"
#include "siem.h"

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
	{"user", NM_OPT_STRING, offsetof(struct nm_config, user), NULL, 0, 0, NULL,
	 "user to run as once the programs are loaded; default: stay uid 0"},
	{"group", NM_OPT_STRING, offsetof(struct nm_config, group), NULL, 0, 0, NULL,
	 "group to run as; default: the user's primary group"},
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

static const struct nm_option metrics_options[] = {
	{"listen", NM_OPT_STRING, offsetof(struct nm_metrics_config, listen), NULL, 0, 0, NULL,
	 "serve GET /metrics on this TCP address too: \"127.0.0.1:9464\" or \"[::1]:9464\""},
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
	{"max_clients_per_uid", NM_OPT_INT, offsetof(struct nm_control_config, max_clients_per_uid),
	 "64", 1, 65536, NULL, "concurrent connections from one user but root (SO_PEERCRED uid)"},
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
	{"durability", NM_OPT_ENUM, offsetof(struct nm_sink_config, queue.durability), "memory", 0,
	 0, nm_durability_names,
	 "memory | disk (every event through the spool in queue.spool_dir)"},
	{"durability_sync_ms", NM_OPT_INT,
	 offsetof(struct nm_sink_config, queue.durability_sync_ms), "20", 0, 10000, NULL,
	 "durability = disk: at most one fdatasync per this many ms"},
	{"schema", NM_OPT_ENUM, offsetof(struct nm_sink_config, queue.schema), "native", 0, 0,
	 nm_schema_names, "native | ecs (Elastic Common Schema 8.11) | ocsf (OCSF 1.1)"},
	{NULL},
};

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

static int parse_programs(struct nm_config *c, const config_setting_t *group, char *err,
			  size_t errlen)
{
	static const char *const filter_key[] = {"filter", NULL}; /* src/filter.c parses it */
	const config_setting_t *fs;
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
		if (pc->type->ring_size)
			pc->common.ring_size = pc->type->ring_size;
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
		skip = names_of(pc->type->options, filter_key);
		rc = nm_options_parse(program_common_options, &pc->common, s, skip, err, errlen);
		if (rc)
			goto out;
		free(skip);
		skip = names_of(program_common_options, filter_key);
		rc = nm_options_parse(pc->type->options, pc->options, s, skip, err, errlen);
		if (rc)
			goto out;
		fs = config_setting_get_member(s, "filter");
		if (fs &&
		    !(pc->common.filter = nm_filter_from_setting(pc->type, fs, err, errlen))) {
			rc = -EINVAL;
			goto out;
		}
		if (pc->common.ring_size & (pc->common.ring_size - 1))
			ERR(s, "'ring_size' = %lld must be a power of two", pc->common.ring_size);
		if (pc->common.wakeup_bytes >= pc->common.ring_size)
			ERR(s, "'wakeup_bytes' must be smaller than 'ring_size'");
		if (pc->type->validate && (rc = pc->type->validate(pc->options, err, errlen))) {
			nm_setting_locate(s, err, errlen);
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
	static const char *const common_keys[] = {"name",   "type",	  "format",
						  "queue",  "durability", "durability_sync_ms",
						  "schema", NULL};
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
			nm_setting_locate(t, err, errlen);
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
		nm_setting_locate(s, err, errlen);
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
	if (sc->queue.durability == NM_DURABILITY_DISK && !sc->queue.spool_dir)
		ERR(s,
		    "durability = \"disk\" needs queue.spool_dir: queue = { spool_dir = \"...\"; };");
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

static struct nm_config *load(config_t *cf, const char *name, char *err, size_t errlen)
{
	static const char *const sections[] = {"programs", "store", "control",
					       "metrics",  "sinks", NULL};
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
		rc = parse_section(root, "metrics", metrics_options, &c->metrics, err, errlen);
	if (!rc)
		rc = parse_sinks(c, config_setting_get_member(root, "sinks"), err, errlen);
	if (rc == -ENOMEM)
		goto oom;
	if (rc)
		goto fail;
	rc = nm_config_validate(c, root, err, errlen);
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
		nm_filter_free(c->programs[i].common.filter);
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
	nm_options_free(metrics_options, &c->metrics);
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
		char ring[24];

		fprintf(f, "  # %s\n  %s = {\n", (*t)->description, (*t)->name);
		for (const struct nm_option *o = program_common_options; o->name; o++) {
			struct nm_option key = *o;

			/* the one common key whose default each program declares */
			if (!strcmp(o->name, "enabled"))
				key.def = (*t)->enabled_by_default ? "true" : "false";
			/* and the one whose default follows the program's event rate */
			if (!strcmp(o->name, "ring_size") && (*t)->ring_size) {
				snprintf(ring, sizeof(ring), "%u", (unsigned int)(*t)->ring_size);
				key.def = ring;
			}
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

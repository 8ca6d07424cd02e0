/* test_reload.c - hot reload's verdicts: what is refused (file:line), what each sink becomes. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "src/config.h"
#include "src/log.h"
#include "src/pipeline.h"
#include "src/reload.h"
#include "src/store.h"

static char dir[] = "/tmp/nm-test-reload.XXXXXX";
static char path[256];

/*
 * The file: line 1 the control socket (@control_extra inside its group), line 2
 * every program off (@connection_extra in connection's group), line 3 the
 * store, line 4 `sinks = (` and then the sinks, one a line.
 */
static void write_conf(const char *control_extra, const char *connection_extra, long store,
		       const char *sinks)
{
	FILE *f = fopen(path, "w");

	if (!f)
		exit(2);
	fprintf(f, "control = { socket = \"%s/ctl.sock\"; %s };\nprograms = { ", dir,
		control_extra);
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++)
		fprintf(f, "%s = { enabled = false; %s }; ", (*t)->name,
			strcmp((*t)->name, "connection") ? "" : connection_extra);
	fprintf(f, "};\nstore = { capacity = %ld; };\nsinks = (\n%s\n);\n", store, sinks);
	fclose(f);
}

/* A file sink @name at @file in the test's directory, as one line of the list. */
static const char *file_sink(char *buf, size_t len, const char *name, const char *file,
			     const char *extra)
{
	snprintf(buf, len, "{ name = \"%s\"; type = \"file\"; path = \"%s/%s\"; %s }", name, dir,
		 file, extra);
	return buf;
}

static struct nm_reload *r;
static struct nm_pipeline *p;

static int reload(struct nm_reload_result *res)
{
	return nm_reload_apply(r, res);
}

static void *requester(void *arg)
{
	nm_reload_request(r, arg);
	return NULL;
}

int main(void)
{
	char a[256], b[256], c[256], sinks[1024], err[512], want[512];
	struct nm_reload_result res;
	struct nm_reload_info info;
	struct nm_store *store;
	struct nm_config *cfg;
	pthread_t t;

	nm_log_set_level(NM_LOG_WARN);
	if (!mkdtemp(dir))
		return 2;
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	file_sink(a, sizeof(a), "f1", "a.ndjson", "");
	file_sink(b, sizeof(b), "f2", "b.ndjson", "");
	snprintf(sinks, sizeof(sinks), "%s,\n%s", a, b);
	write_conf("", "", 1000, sinks);
	cfg = nm_config_load_file(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	p = nm_pipeline_create(cfg, err, sizeof(err));
	CHECK(p != NULL);
	if (!p)
		return 1;
	CHECK_EQ_INT(nm_pipeline_start_sinks(p, err, sizeof(err)), 0);
	r = nm_reload_create(path, cfg, p, false);
	CHECK(r != NULL);
	nm_pipeline_set_reload(p, r);
	store = nm_store_create(1000, 16, 1, err, sizeof(err));
	nm_reload_set_store(r, store);

	/* the same file: nothing changes but the generation */
	CHECK_EQ_INT(reload(&res), 0);
	CHECK_EQ_INT(res.generation, 2);
	CHECK_EQ_INT(res.sinks_unchanged, 2);
	CHECK_EQ_INT(res.sinks_added + res.sinks_removed + res.sinks_changed, 0);

	/* f2 changed (its path), f3 added, f1 untouched */
	file_sink(b, sizeof(b), "f2", "b2.ndjson", "");
	file_sink(c, sizeof(c), "f3", "c.ndjson", "format = \"msgpack\";");
	snprintf(sinks, sizeof(sinks), "%s,\n%s,\n%s", a, b, c);
	write_conf("", "", 1000, sinks);
	CHECK_EQ_INT(reload(&res), 0);
	CHECK_EQ_INT(res.sinks_unchanged, 1);
	CHECK_EQ_INT(res.sinks_changed, 1);
	CHECK_EQ_INT(res.sinks_added, 1);
	CHECK_EQ_INT(nm_pipeline_outlet_count(p), 3);
	CHECK_EQ_STR(nm_outlet_name(nm_pipeline_outlet(p, 2)), "f3");

	/* f1 removed; the store shrinks */
	snprintf(sinks, sizeof(sinks), "%s,\n%s", b, c);
	write_conf("", "", 500, sinks);
	CHECK_EQ_INT(reload(&res), 0);
	CHECK_EQ_INT(res.sinks_removed, 1);
	CHECK_EQ_INT(res.generation, 4);
	CHECK_EQ_INT(nm_pipeline_outlet_count(p), 2);
	CHECK_EQ_STR(nm_outlet_name(nm_pipeline_outlet(p, 0)), "f2");
	{
		struct nm_store_stats ss;

		nm_store_get_stats(store, &ss);
		CHECK_EQ_INT(ss.capacity, 500);
	}

	/* refused, with file:line, and nothing changes: a key fixed at start ... */
	write_conf("max_clients = 7;", "", 500, sinks);
	CHECK_EQ_INT(reload(&res), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: control.max_clients cannot change at run time", path);
	CHECK(!strncmp(res.errors, want, strlen(want)));
	CHECK_EQ_INT(res.generation, 4);
	/* ... a program's ring, and a sink's format, both reported */
	file_sink(c, sizeof(c), "f3", "c.ndjson", "format = \"json\";");
	snprintf(sinks, sizeof(sinks), "%s,\n%s", b, c);
	write_conf("", "ring_size = 1048576;", 500, sinks);
	CHECK_EQ_INT(reload(&res), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: programs.connection.ring_size cannot change", path);
	CHECK(strstr(res.errors, want) != NULL);
	snprintf(want, sizeof(want), "%s:6: sink f3: format and schema cannot change", path);
	CHECK(strstr(res.errors, want) != NULL);
	CHECK(strchr(res.errors, '\n') != NULL);
	/* ... the store beyond what it allocated */
	file_sink(c, sizeof(c), "f3", "c.ndjson", "format = \"msgpack\";");
	snprintf(sinks, sizeof(sinks), "%s,\n%s", b, c);
	write_conf("", "", 5000, sinks);
	CHECK_EQ_INT(reload(&res), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: store.capacity: at most 1000 at run time", path);
	CHECK(strstr(res.errors, want) != NULL);
	/* ... invalid: the loader's own file:line */
	write_conf("bogus = 1;", "", 500, sinks);
	CHECK_EQ_INT(reload(&res), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: ", path);
	CHECK(!strncmp(res.errors, want, strlen(want)));
	CHECK_EQ_INT(nm_pipeline_outlet_count(p), 2);
	nm_reload_get_info(r, &info);
	CHECK_EQ_INT(info.generation, 4);
	CHECK_EQ_INT(info.applied, 3);
	CHECK_EQ_INT(info.refused, 4);
	CHECK(info.reloadable);

	/* from another thread: served by the reader's loop */
	write_conf("", "", 1000, sinks);
	memset(&res, 0xff, sizeof(res));
	CHECK_EQ_INT(pthread_create(&t, NULL, requester, &res), 0);
	for (int i = 0; i < 200; i++) {
		struct timespec ts = {0, 5000000};

		nm_reload_serve(r);
		nanosleep(&ts, NULL);
	}
	pthread_join(t, NULL);
	CHECK_EQ_INT(res.status, 0);
	CHECK_EQ_INT(res.generation, 5);
	/* once closed, a request ends at once */
	nm_reload_close(r);
	CHECK_EQ_INT(nm_reload_request(r, &res), -ECANCELED);

	nm_pipeline_shutdown(p);
	nm_pipeline_destroy(p);
	nm_reload_destroy(r);
	nm_store_destroy(store);

	/* the built-in default: nothing to re-read */
	cfg = nm_config_load_file(path, err, sizeof(err));
	CHECK(cfg != NULL);
	p = nm_pipeline_create(cfg, err, sizeof(err));
	r = nm_reload_create(NULL, cfg, p, false);
	CHECK_EQ_INT(reload(&res), -ENOENT);
	CHECK_EQ_INT(res.generation, 1);
	nm_reload_get_info(r, &info);
	CHECK(!info.reloadable);
	nm_pipeline_destroy(p);
	nm_reload_destroy(r);

	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	CHECK_DONE();
}

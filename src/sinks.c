/* sinks.c - the sink type registry: built-in sinks, and shared sink modules found and dlopen'ed. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/*
 * configure writes NM_BUILTIN_SINKS, one NM_BUILTIN_SINK(name) per sink
 * linked in (stdout, file, and each --with-sink-NAME=yes): the sink in
 * sinks/NAME/ defines nm_sink_NAME. Nothing here names a sink.
 */
#define NM_BUILTIN_SINK(name) extern const struct nm_sink_type nm_sink_##name;
NM_BUILTIN_SINKS
#undef NM_BUILTIN_SINK

#ifndef NM_PKGLIBDIR
#define NM_PKGLIBDIR "/usr/local/lib/ebpf-netmon"
#endif

#define MAX_MODULES 16

#define NM_BUILTIN_SINK(name) &nm_sink_##name,
static const struct nm_sink_type *const builtin_sinks[] = {NM_BUILTIN_SINKS NULL};
#undef NM_BUILTIN_SINK

/* Loaded modules stay loaded: configs and outlets point into them until exit. */
static const struct nm_sink_type *modules[MAX_MODULES];
static size_t nmodules;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Where NAME.so is looked for, in order: each directory of $NM_SINK_PATH
 * (tests, development), then ../sinks/.libs next to the running executable
 * (an uninstalled build tree: src/ebpf-netmon), then $(pkglibdir).
 */
static size_t module_dirs(char dirs[][PATH_MAX], size_t max)
{
	const char *env = getenv("NM_SINK_PATH");
	char exe[PATH_MAX];
	size_t n = 0;
	ssize_t len;

	if (env && *env) {
		char *copy = strdup(env), *tok, *save = NULL;

		for (tok = copy ? strtok_r(copy, ":", &save) : NULL; tok && n < max;
		     tok = strtok_r(NULL, ":", &save))
			snprintf(dirs[n++], PATH_MAX, "%s", tok);
		free(copy);
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0 && n < max) {
		char *slash;

		exe[len] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(dirs[n++], PATH_MAX, "%.*s/../sinks/.libs", PATH_MAX - 20, exe);
		}
	}
	if (n < max)
		snprintf(dirs[n++], PATH_MAX, "%s", NM_PKGLIBDIR);
	return n;
}

static bool module_name_ok(const char *name)
{
	if (!*name || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

/* Open @path and check its interface version. NULL with @err set (left alone when absent). */
static const struct nm_sink_type *load_module(const char *name, const char *path, char *err,
					      size_t errlen, bool *found)
{
	const struct nm_sink_type *(*entry)(void);
	const struct nm_sink_type *t;
	void *h;

	if (access(path, F_OK))
		return NULL;
	*found = true;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "sink module %s: cannot load: %s", path, dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(h, "nm_sink_module");
	if (!entry) {
		snprintf(err, errlen, "sink module %s: no nm_sink_module() entry point", path);
		goto refuse;
	}
	t = entry();
	if (!t || t->api_version != NM_SINK_API_VERSION) {
		snprintf(err, errlen,
			 "sink module %s: built for sink interface version %u, this agent has "
			 "version %u; rebuild the module with this agent",
			 path, t ? t->api_version : 0, NM_SINK_API_VERSION);
		goto refuse;
	}
	if (!t->name || strcmp(t->name, name) || !t->create || !t->write || !t->poll || !t->flush ||
	    !t->destroy) {
		snprintf(err, errlen, "sink module %s: does not provide sink type \"%s\"", path,
			 name);
		goto refuse;
	}
	nm_info("sink type %s loaded from %s", name, path);
	return t;
refuse:
	dlclose(h);
	return NULL;
}

static const struct nm_sink_type *find_module(const char *name, char *err, size_t errlen)
{
	char dirs[8][PATH_MAX], path[PATH_MAX + 80]; /* name <= 64 */
	const struct nm_sink_type *t = NULL;
	bool found = false;
	size_t n;

	pthread_mutex_lock(&modules_lock);
	for (size_t i = 0; i < nmodules; i++) {
		if (!strcmp(modules[i]->name, name)) {
			t = modules[i];
			goto out;
		}
	}
	if (!module_name_ok(name) || nmodules == MAX_MODULES)
		goto out;
	n = module_dirs(dirs, 8);
	for (size_t i = 0; i < n && !t && !found; i++) {
		snprintf(path, sizeof(path), "%.*s/%s.so", PATH_MAX - 1, dirs[i], name);
		t = load_module(name, path, err, errlen, &found);
	}
	if (t)
		modules[nmodules++] = t;
	else if (!found)
		err[0] = '\0';
out:
	pthread_mutex_unlock(&modules_lock);
	return t;
}

const struct nm_sink_type *nm_sink_type_find(const char *name, char *err, size_t errlen)
{
	const struct nm_sink_type *t;
	char have[256] = "";
	size_t len = 0;

	for (const struct nm_sink_type *const *b = builtin_sinks; *b; b++)
		if (!strcmp((*b)->name, name))
			return *b;
	err[0] = '\0';
	t = find_module(name, err, errlen);
	if (t || err[0])
		return t;
	for (const struct nm_sink_type *const *b = builtin_sinks; *b; b++)
		len += (size_t)snprintf(have + len, sizeof(have) - len, "%s%s", len ? ", " : "",
					(*b)->name);
	snprintf(err, errlen,
		 "unknown sink type \"%s\" (built in: %s; no module %s.so in $NM_SINK_PATH, "
		 "the build tree or %s)",
		 name, have, name, NM_PKGLIBDIR);
	return NULL;
}

/* test_sink_docs.c - each built sink's sinks/NAME/README.md documents every option of its table. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "src/config.h"

static const char *const type_names[] = {
	[NM_OPT_BOOL] = "bool",	      [NM_OPT_INT] = "integer", [NM_OPT_STRING] = "string",
	[NM_OPT_STRINGS] = "strings", [NM_OPT_ENUM] = "enum",
};

/* The README row an option must have: | `name` | type | `default` or — | help | */
static void expected_row(const struct nm_option *o, char *out, size_t len)
{
	char def[256];

	if (o->def)
		snprintf(def, sizeof(def), "`%s`", o->def);
	else
		snprintf(def, sizeof(def), "—");
	snprintf(out, len, "| `%s` | %s | %s | %s |", o->name, type_names[o->type], def, o->help);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* Rows of the README's "## Options" table that name no option of @t: left behind by a rename. */
static int stale_rows(const char *readme, const struct nm_sink_type *t, const char *path)
{
	const char *line = strstr(readme, "\n## Options\n");
	int stale = 0;

	while (line && (line = strchr(line + 1, '\n')) && line[1] != '#') {
		const char *name = line + 1, *end;
		bool known = false;

		if (strncmp(name, "| `", 3))
			continue;
		name += 3;
		end = strchr(name, '`');
		if (!end)
			continue;
		for (const struct nm_option *o = t->options; o && o->name; o++)
			known |= strlen(o->name) == (size_t)(end - name) &&
				 !strncmp(o->name, name, (size_t)(end - name));
		if (!known) {
			fprintf(stderr, "%s: documents `%.*s`, which sink type %s does not have\n",
				path, (int)(end - name), name, t->name);
			stale++;
		}
	}
	return stale;
}

static void check_sink(const char *srcdir, const char *name)
{
	char err[512], path[4096], row[1024];
	const struct nm_sink_type *t = nm_sink_type_find(name, err, sizeof(err));
	char *readme;

	if (!t) {
		printf("sinks/%s: not built here, not checked (%s)\n", name, err);
		return;
	}
	snprintf(path, sizeof(path), "%s/sinks/%s/README.md", srcdir, name);
	readme = slurp(path);
	CHECK(readme != NULL);
	if (!readme) {
		fprintf(stderr, "%s: missing\n", path);
		return;
	}
	for (const struct nm_option *o = t->options; o && o->name; o++) {
		expected_row(o, row, sizeof(row));
		if (!strstr(readme, row))
			fprintf(stderr,
				"%s: no row, or a different one, for option %s; want:\n%s\n", path,
				o->name, row);
		CHECK(strstr(readme, row) != NULL);
	}
	if (!t->options && !strstr(readme, "takes no options"))
		fprintf(stderr, "%s: sink type %s has no options; say \"takes no options\"\n", path,
			name);
	CHECK(t->options || strstr(readme, "takes no options"));
	CHECK(strstr(readme, "\n## Options\n") != NULL);
	CHECK_EQ_INT(stale_rows(readme, t, path), 0);
	printf("sinks/%s/README.md: checked against sink type %s\n", name, t->name);
	free(readme);
}

int main(void)
{
	const char *srcdir = getenv("top_srcdir"), *builddir = getenv("top_builddir");
	char dir[4096], modules[4096];
	struct dirent *de;
	int checked = 0;
	DIR *d;

	if (!srcdir)
		srcdir = ".";
	/* shared modules of this build tree, for sinks built with --with-sink-NAME=shared */
	snprintf(modules, sizeof(modules), "%s/sinks/.libs", builddir ? builddir : ".");
	setenv("NM_SINK_PATH", modules, 1);
	snprintf(dir, sizeof(dir), "%s/sinks", srcdir);
	d = opendir(dir);
	CHECK(d != NULL);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "lib") || de->d_type != DT_DIR)
			continue;
		check_sink(srcdir, de->d_name);
		checked++;
	}
	if (d)
		closedir(d);
	/* stdout and file are always built: a walk that finds nothing is broken */
	CHECK(checked >= 2);
	CHECK_DONE();
}

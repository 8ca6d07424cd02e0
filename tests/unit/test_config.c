/* test_config.c - configuration errors name file:line; defaults are what the docs say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "src/config.h"

static char path[64];

/* Load @text from a real file; return the config, or NULL with @err set. */
static struct nm_config *load(const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	return nm_config_load_file(path, err, errlen);
}

/* @text must fail at @line with a message containing @needle. */
static void expect_error(const char *text, int line, const char *needle)
{
	char err[1024] = "", prefix[128];
	struct nm_config *c = load(text, err, sizeof(err));

	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	CHECK(c == NULL);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, needle)) {
		fprintf(stderr, "  got \"%s\"\n  want \"%s...%s\"\n", err, prefix, needle);
		check_failures++;
	}
	nm_config_free(c);
}

static void test_errors(void)
{
	expect_error("host = \"a\"\nprograms = {\n", 3, "syntax error");
	expect_error("host = \"a\";\nbogus = 1;\n", 2, "unknown key 'bogus'");
	expect_error("host = 5;\n", 1, "'host' must be a string");
	expect_error("programs = {\n  connection = { enabled = 1; };\n};\n", 2,
		     "'enabled' must be true or false");
	expect_error("programs = {\n  conection = { enabled = true; };\n};\n", 2,
		     "unknown program 'conection'");
	expect_error("programs = {\n  packet_drop = { enabled = true;\n  colour = \"red\"; };\n};\n",
		     3, "unknown key 'colour'");
	expect_error("programs = {\n  connection = { ring_size = 5000; };\n};\n", 2,
		     "power of two");
	expect_error("programs = {\n  connection = { ring_size = 1; };\n};\n", 2, "out of range");
	expect_error("programs = { packet_drop = { ignore_reasons = \"NO_SOCKET\"; }; };\n", 1,
		     "list of strings");
	expect_error("sinks = (\n  { name = \"a\"; type = \"carrier-pigeon\"; }\n);\n", 2,
		     "unknown sink type \"carrier-pigeon\"");
	expect_error("sinks = (\n  { name = \"a\"; type = \"file\"; }\n);\n", 2, "needs 'path'");
	expect_error("sinks = (\n  { name = \"a\"; type = \"stdout\"; },\n"
		     "  { name = \"a\"; type = \"stdout\"; }\n);\n",
		     3, "duplicate sink name");
	expect_error("sinks = (\n  { type = \"stdout\";\n    format = \"xml\"; }\n);\n", 3,
		     "'format' = \"xml\" is not one of \"json\", \"msgpack\"");
	expect_error("sinks = ( { name = \"a\"; type = \"stdout\";\n"
		     "  queue = { when_full = \"panic\"; }; } );\n",
		     2, "'when_full' = \"panic\"");
	expect_error("sinks = ( { name = \"a\"; type = \"stdout\";\n"
		     "  queue = {\n    max_events = 0; }; } );\n",
		     3, "'max_events' = 0 is out of range");
	expect_error("sinks = ( { name = \"a b\"; type = \"stdout\"; } );\n", 1,
		     "may only use letters");
	expect_error("store = { capacity = -1; };\n", 1, "out of range");
	expect_error("control = { socket = 1; };\n", 1, "'socket' must be a string");
	expect_error("log_level = \"loud\";\n", 1, "'log_level' = \"loud\"");
}

static void test_defaults(void)
{
	char err[1024] = "";
	struct nm_config *c =
		nm_config_load_string(nm_default_config, "<built-in default>", err, sizeof(err));
	const struct nm_program_config *pc;

	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_EQ_INT(c->nsinks, 1);
	CHECK_EQ_STR(c->sinks[0].type->name, "stdout");
	CHECK_EQ_INT(c->sinks[0].format, NM_FORMAT_JSON);
	CHECK_EQ_INT(c->sinks[0].queue.max_events, 100000);
	CHECK_EQ_INT(c->store.capacity, 100000);
	CHECK_EQ_STR(c->control.socket, NM_DEFAULT_SOCKET);
	CHECK(c->control.enabled);
	CHECK(c->host != NULL && c->host[0]);
	for (size_t i = 0; i < c->nprograms; i++)
		CHECK(c->programs[i].common.enabled);
	pc = nm_config_program(c, "connection");
	CHECK(pc != NULL && pc->common.ring_size == 2097152);
	nm_config_free(c);

	c = load("host = \"edge-17\";\nprograms = { packet_drop = { enabled = false; }; };\n"
		 "sinks = ( { name = \"f\"; type = \"file\"; format = \"msgpack\";\n"
		 "  path = \"/tmp/x\"; rotate_keep = 3; queue = { when_full = \"drop_oldest\"; }; } );\n",
		 err, sizeof(err));
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_EQ_STR(c->host, "edge-17");
	CHECK(!nm_config_program(c, "packet_drop")->common.enabled);
	CHECK(nm_config_program(c, "connection")->common.enabled);
	CHECK_EQ_INT(c->sinks[0].format, NM_FORMAT_MSGPACK);
	CHECK_EQ_INT(c->sinks[0].queue.when_full, NM_WHEN_FULL_DROP_OLDEST);
	nm_config_free(c);

	/* the shipped reference config must itself be valid */
	{
		const char *srcdir = getenv("top_srcdir");
		char ref[4096];

		snprintf(ref, sizeof(ref), "%s/conf/ebpf-netmon.conf", srcdir ? srcdir : ".");
		c = nm_config_load_file(ref, err, sizeof(err));
		CHECK(c != NULL);
		if (!c)
			fprintf(stderr, "  %s\n", err);
		nm_config_free(c);
	}
}

/*
 * Mutations of the reference config (bytes flipped, lines cut, tokens swapped)
 * must each either load or fail with "file:line: message" - never crash or leak
 * (this runs under ASan in CI).
 */
static void test_mutations(void)
{
	const char *srcdir = getenv("top_srcdir");
	char ref[4096], err[1024];
	static char text[65536], mutated[65536];
	size_t len;
	FILE *f;

	snprintf(ref, sizeof(ref), "%s/conf/ebpf-netmon.conf", srcdir ? srcdir : ".");
	f = fopen(ref, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	srand(7);
	for (int i = 0; i < 3000; i++) {
		size_t n = len, at = (size_t)rand() % len;
		struct nm_config *c;

		memcpy(mutated, text, len);
		switch (i % 4) {
		case 0: /* flip a byte */
			mutated[at] = (char)(rand() % 256);
			break;
		case 1: /* truncate */
			n = at;
			break;
		case 2: /* swap in a structural character */
			mutated[at] = "{}();=\"[],#"[rand() % 12];
			break;
		default: /* duplicate a chunk */
			if (at + 64 < len && n + 64 < sizeof(mutated) - 1) {
				memmove(mutated + at + 64, mutated + at, len - at);
				n += 64;
			}
			break;
		}
		mutated[n] = '\0';
		f = fopen(path, "w");
		fwrite(mutated, 1, n, f);
		fclose(f);
		err[0] = '\0';
		c = nm_config_load_file(path, err, sizeof(err));
		if (!c && strncmp(err, path, strlen(path))) {
			fprintf(stderr, "  mutation %d: error without location: %s\n", i, err);
			check_failures++;
		}
		nm_config_free(c);
	}
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/nm-test-config-%d.conf", (int)getpid());
	test_errors();
	test_defaults();
	test_mutations();
	unlink(path);
	CHECK_DONE();
}

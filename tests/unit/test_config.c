/* test_config.c - configuration errors name file:line; defaults are what the docs say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "src/config.h"
#include "src/filter.h"

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
	expect_error(
		"programs = {\n  packet_drop = { enabled = true;\n  colour = \"red\"; };\n};\n", 3,
		"unknown key 'colour'");
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
	/* a program's filter: each value checked where it is written */
	expect_error("programs = { connection = {\n  filter = { ports = [ 80,\n 0 ]; }; }; };\n", 3,
		     "port 0 is out of range (1-65535)");
	expect_error("programs = { connection = {\n  filter = { cidr = [ ]; }; }; };\n", 2,
		     "unknown filter key 'cidr'");
	expect_error("programs = { connection = {\n  filter = 1; }; };\n", 2,
		     "'filter' must be a group");
	expect_error(
		"programs = { connection = { filter = {\n exclude_cidrs = [ \"1.2.3.4/40\" ]; }; }; };\n",
		2, "\"1.2.3.4/40\" is not an IPv4 or IPv6 address");
	expect_error(
		"programs = { udp_send = { filter = {\n drop_reasons = [ \"NO_SOCKET\" ]; }; }; };\n",
		2, "program udp_send has no drop reasons");
}

/* A filter as parsed: both polarities, numbers and strings, CIDRs with their host bits cleared. */
static void test_filter(void)
{
	char err[1024] = "";
	struct nm_config *c =
		load("programs = { connection = { filter = {\n"
		     "  pids = [ 1, 4194304 ]; exclude_ports = [ 53 ];\n"
		     "  commands = [ \"curl\" ]; exclude_cidrs = [ \"10.1.2.3/8\", \"::1\" ];\n"
		     "}; }; };\n",
		     err, sizeof(err));
	const struct nm_program_config *pc = c ? nm_config_program(c, "connection") : NULL;
	const struct nm_filter *f = pc ? pc->common.filter : NULL;

	CHECK(c != NULL);
	if (!c)
		fprintf(stderr, "  %s\n", err);
	CHECK(f != NULL);
	if (f) {
		CHECK(f->list[NM_FD_PID][0].n == 2 && f->list[NM_FD_PID][0].v[1].num == 4194304);
		CHECK(f->list[NM_FD_PORT][1].n == 1 && f->list[NM_FD_PORT][1].v[0].num == 53);
		CHECK(f->list[NM_FD_COMMAND][0].n == 1 &&
		      !strcmp(f->list[NM_FD_COMMAND][0].v[0].text, "curl"));
		CHECK(f->list[NM_FD_CIDR][1].n == 2);
		CHECK(f->list[NM_FD_CIDR][1].v[0].family == 4 &&
		      f->list[NM_FD_CIDR][1].v[0].prefix == 8 &&
		      f->list[NM_FD_CIDR][1].v[0].addr[0] == 10 &&
		      f->list[NM_FD_CIDR][1].v[0].addr[1] == 0);
		CHECK(f->list[NM_FD_CIDR][1].v[1].family == 6 &&
		      f->list[NM_FD_CIDR][1].v[1].prefix == 128);
		CHECK(!f->list[NM_FD_UID][0].n && !f->list[NM_FD_UID][1].n);
	}
	CHECK(nm_config_program(c, "packet_drop") &&
	      !nm_config_program(c, "packet_drop")->common.filter);
	nm_config_free(c);
}

/* @text must fail with exactly "path:@line: @msg". */
static void expect_exact(const char *text, int line, const char *msg)
{
	char err[2048] = "", want[2048];
	struct nm_config *c = load(text, err, sizeof(err));

	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	CHECK(c == NULL);
	if (strcmp(err, want)) {
		fprintf(stderr, "  got  \"%s\"\n  want \"%s\"\n", err, want);
		check_failures++;
	}
	nm_config_free(c);
}

/*
 * Everything a start would refuse is refused by the loader, naming the value
 * as written (issue 14).
 */
static const struct {
	const char *text;
	int line;
	const char *msg;
} strict_cases[] = {
	/* integers wider than libconfig 1.5's 32-bit atoi, as written */
	{"store = { capacity = 4294967306; };\n", 1,
	 "'capacity' = 4294967306 is out of range [0, 100000000]"},
	{"store = {\n  capacity = 3000000000; };\n", 2,
	 "'capacity' = 3000000000 is out of range [0, 100000000]"},
	{"store = { capacity = 99999999999999999999; };\n", 1,
	 "'capacity' = 99999999999999999999 is out of range [0, 100000000]"},
	{"store = { capacity = 99999999999999999999L; };\n", 1,
	 "'capacity' = 99999999999999999999L is out of range [0, 100000000]"},
	{"store = { capacity = -4294967295; };\n", 1,
	 "'capacity' = -4294967295 is out of range [0, 100000000]"},
	{"store = { capacity = 0x1FFFFFFFF; };\n", 1,
	 "'capacity' = 0x1FFFFFFFF is out of range [0, 100000000]"},
	{"store = { capacity = 123456789012345678901234567890123456789012345; };\n", 1,
	 "'capacity' = 123456789012345678901234567890123456... is out of range [0, 100000000]"},
	{"sinks = ( { name = \"a\"; type = \"stdout\";\n"
	 "  queue = { max_events = 4294967297; }; } );\n",
	 2, "'max_events' = 4294967297 is out of range [1, 100000000]"},
	/* integer arrays before do not put the re-reading out of step */
	{"programs = { packet_drop = {\n  ignore_reasons = [ 3000000000, 0x1FFFFFFFF ]; }; };\n", 2,
	 "'ignore_reasons' must be a list of strings, like [ \"a\", \"b\" ]"},
	{"# 7 /* 8 */ \"9\"\nlog_level = \"info\" /* 10 */; // 11\n"
	 "drain_interval_ms = 4294967297;\n",
	 3, "'drain_interval_ms' = 4294967297 is out of range [1, 1000]"},
	/* control socket: mode, groups, path */
	{"control = { mode = \"rw-rw----\"; };\n", 1,
	 "'mode' = \"rw-rw----\" is not an octal mode from \"0\" to \"0777\", such as \"0660\""},
	{"control = { mode = \"abc\"; };\n", 1,
	 "'mode' = \"abc\" is not an octal mode from \"0\" to \"0777\", such as \"0660\""},
	{"control = {\n  mode = \"07777\"; };\n", 2,
	 "'mode' = \"07777\" is not an octal mode from \"0\" to \"0777\", such as \"0660\""},
	{"control = { mode = \"\"; };\n", 1,
	 "'mode' = \"\" is not an octal mode from \"0\" to \"0777\", such as \"0660\""},
	{"control = { group = \"nm-no-such-group\"; };\n", 1,
	 "'group' = \"nm-no-such-group\": no such group; name an existing group (getent group) "
	 "or a numeric gid"},
	{"control = { enabled = false;\n  admin_group = \"nm-no-such-group\"; };\n", 2,
	 "'admin_group' = \"nm-no-such-group\": no such group; name an existing group (getent "
	 "group) or a numeric gid"},
	/* who the agent runs as once loaded (src/privs.c) */
	{"user = \"nm-no-such-user\";\n", 1,
	 "'user' = \"nm-no-such-user\": no such user; name an existing user (getent passwd) or a "
	 "numeric uid"},
	{"user = \"nobody\";\ngroup = \"nm-no-such-group\";\n", 2,
	 "'group' = \"nm-no-such-group\": no such group; name an existing group (getent group) or "
	 "a numeric gid"},
	{"user = \"\";\n", 1, "'user' is empty; leave it out to keep running as uid 0"},
	{"group = \"\";\n", 1, "'group' is empty; leave it out for the user's primary group"},
	{"user = \"4000000123\";\n", 1,
	 "'user' = \"4000000123\" has no passwd entry to take a group from; add group = \"...\";"},
	{"user = \"nobody\"; group = \"nogroup\";\ncontrol = { group = \"root\"; };\n", 2,
	 "'group' = \"root\": the agent runs as nobody:nogroup once loaded and gives its socket "
	 "its own group; name \"nogroup\" (its members may query), or leave 'group' out"},
	{"user = \"nobody\"; group = \"nogroup\"; control = { enabled = false; };\n"
	 "sinks = ( { name = \"a\"; type = \"file\";\n  path = \"/etc/events.json\"; } );\n",
	 3,
	 "'path': directory /etc is owned by uid 0, but the agent runs as nobody once loaded and "
	 "creates files in it: chown nobody:nogroup /etc, or name a directory the agent creates"},
	{"control = { socket = \"\"; };\n", 1, "'socket' must be a path of 1 to 107 bytes"},
	/* the metrics listener: literal ADDRESS:PORT, and only with the control server */
	{"metrics = {\n  listen = \"localhost:9464\"; };\n", 2,
	 "'listen' = \"localhost:9464\" is not ADDRESS:PORT with a literal address, such as "
	 "\"127.0.0.1:9464\" or \"[::1]:9464\""},
	{"metrics = { listen = \"127.0.0.1:65536\"; };\n", 1,
	 "'listen' = \"127.0.0.1:65536\" is not ADDRESS:PORT with a literal address, such as "
	 "\"127.0.0.1:9464\" or \"[::1]:9464\""},
	{"metrics = { listen = \"::1:9464\"; };\n", 1,
	 "'listen' = \"::1:9464\" is not ADDRESS:PORT with a literal address, such as "
	 "\"127.0.0.1:9464\" or \"[::1]:9464\""},
	{"control = { enabled = false; };\nmetrics = { listen = \"127.0.0.1:9464\"; };\n", 2,
	 "'listen': the metrics are served by the control server: enable 'control'"},
	{"control = { socket = \"/etc/passwd/s.sock\"; };\n", 1,
	 "'socket' = \"/etc/passwd/s.sock\" cannot be created: /etc/passwd is not a directory"},
	{"control = { socket = \"/etc/passwd\"; };\n", 1,
	 "'socket' = \"/etc/passwd\" exists and is not a socket"},
	/* paths a sink will create */
	{"sinks = ( { name = \"a\"; type = \"file\";\n  path = \"/etc/passwd/x/events.json\"; } );\n",
	 2,
	 "'path' = \"/etc/passwd/x/events.json\" cannot be created: /etc/passwd is not a directory"},
	{"sinks = ( { name = \"a\"; type = \"file\"; path = \"/tmp\"; } );\n", 1,
	 "'path' = \"/tmp\" is a directory; name the file to write in it"},
	{"sinks = ( { name = \"a\"; type = \"stdout\";\n  queue = { when_full = \"spool\";\n"
	 "    spool_dir = \"/etc/passwd\"; }; } );\n",
	 3, "'spool_dir' = \"/etc/passwd\" exists and is not a directory"},
	/* the host name goes into every event */
	{"host = \"a b\";\n", 1,
	 "'host' = \"a b\" is not a host name: dot-separated labels of 1 to 63 letters, digits, "
	 "'-' or '_'"},
	{"host = \"\";\n", 1,
	 "'host' = \"\" is not a host name: dot-separated labels of 1 to 63 letters, digits, '-' "
	 "or '_'"},
	{"host = \"a..b\";\n", 1,
	 "'host' = \"a..b\" is not a host name: dot-separated labels of 1 to 63 letters, digits, "
	 "'-' or '_'"},
	{"host = \"-a\";\n", 1,
	 "'host' = \"-a\" is not a host name: dot-separated labels of 1 to 63 letters, digits, "
	 "'-' or '_'"},
	{"host = \"a/b\\n\";\n", 1,
	 "'host' = \"a/b?\" is not a host name: dot-separated labels of 1 to 63 letters, digits, "
	 "'-' or '_'"},
	/* files with nothing in them */
	{"", 1,
	 "holds no settings (empty, or only comments); to run the built-in default, start "
	 "without -c (--print-default shows it)"},
	{"# all commented out\n// host = \"x\";\n", 1,
	 "holds no settings (empty, or only comments); to run the built-in default, start "
	 "without -c (--print-default shows it)"},
	{"\xef\xbb\xbfhost = \"a\";\n", 1,
	 "starts with a UTF-8 byte order mark, which libconfig does not read; save the file "
	 "without it (sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)"},
};

static void test_strict(void)
{
	char err[1024] = "", dir[80], want[512], big[300];
	struct nm_config *c;
	FILE *f;

	for (size_t i = 0; i < sizeof(strict_cases) / sizeof(strict_cases[0]); i++)
		expect_exact(strict_cases[i].text, strict_cases[i].line, strict_cases[i].msg);

	/* wide values inside the range are read whole: 64 bits, L or not, hex or not */
	c = load("sinks = ( { name = \"a\"; type = \"stdout\"; queue = {\n"
		 "  max_bytes = 5000000000; spool_max_bytes = 0x100000000; }; } );\n"
		 "store = { capacity = 100000000; };\n",
		 err, sizeof(err));
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->sinks[0].queue.max_bytes, 5000000000LL);
		CHECK_EQ_INT(c->sinks[0].queue.spool_max_bytes, 0x100000000LL);
		CHECK_EQ_INT(c->store.capacity, 100000000);
	} else {
		fprintf(stderr, "  %s\n", err);
	}
	nm_config_free(c);

	/* resolved once, here: the start uses these */
	c = load("control = { mode = \"640\"; group = \"0\"; admin_group = \"root\"; };\n", err,
		 sizeof(err));
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->control.socket_mode, 0640);
		CHECK_EQ_INT(c->control.gid, 0);
		CHECK(c->control.has_admin_group && c->control.admin_gid == 0);
	}
	nm_config_free(c);

	/* a 1 MiB host name: its size, not its bytes */
	{
		size_t n = 1 << 20;
		char *text = malloc(n + 32);

		CHECK(text != NULL);
		if (text) {
			memcpy(text, "host = \"", 8);
			memset(text + 8, 'a', n);
			strcpy(text + 8 + n, "\";\n");
			expect_exact(text, 1,
				     "'host' is 1048576 bytes; a host name has at most 255");
			free(text);
		}
	}
	memset(big, 'a', 256);
	strcpy(big + 256, ".b");
	snprintf(want, sizeof(want), "host = \"%.63s.%.63s.%.63s.%.63s\";\n", big, big, big, big);
	c = load(want, err, sizeof(err)); /* 255 bytes: the longest accepted */
	CHECK(c != NULL && strlen(c->host) == 255);
	nm_config_free(c);

	/* no sinks: a loud warning, not a refusal (a store-only agent, the BPF cost bench) */
	c = load("sinks = ( );\n", err, sizeof(err));
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->nsinks, 0);
		snprintf(
			want, sizeof(want),
			"%s:1: warning: 'sinks' is empty: events reach only the control API's "
			"in-memory store; add a sink, or leave 'sinks' out for JSON lines on stdout",
			path);
		CHECK_EQ_STR(c->warning, want);
	}
	nm_config_free(c);
	c = load("host = \"x\";\n", err, sizeof(err));
	CHECK(c != NULL && !c->warning[0]);
	nm_config_free(c);

	/* a NUL would silently end the text libconfig reads */
	f = fopen(path, "w");
	fwrite("host = \"x\";\n\0store = { capacity = 5; };\n", 1, 40, f);
	fclose(f);
	c = nm_config_load_file(path, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: holds a NUL byte; a configuration is text", path);
	CHECK(c == NULL);
	CHECK_EQ_STR(err, want);
	nm_config_free(c);

	/* a directory */
	snprintf(dir, sizeof(dir), "/tmp/nm-test-config-dir-%d", (int)getpid());
	CHECK(mkdir(dir, 0700) == 0);
	c = nm_config_load_file(dir, err, sizeof(err));
	snprintf(want, sizeof(want),
		 "%s:0: is a directory; -c takes the configuration file itself, e.g. "
		 "%s/ebpf-netmon.conf",
		 dir, dir);
	CHECK(c == NULL);
	CHECK_EQ_STR(err, want);

	/* an included file: its own name and line, its integers as written */
	{
		char inc[160], text[256];

		snprintf(inc, sizeof(inc), "%s/inc.conf", dir);
		f = fopen(inc, "w");
		fputs("store = {\n  capacity =\n    4294967306; };\n", f);
		fclose(f);
		snprintf(text, sizeof(text),
			 "drain_interval_ms = 0x10;\n@include \"%s\"\nlog_level = \"info\";\n",
			 inc);
		c = load(text, err, sizeof(err));
		snprintf(want, sizeof(want),
			 "%s:2: 'capacity' = 4294967306 is out of range [0, 100000000]", inc);
		CHECK(c == NULL);
		CHECK_EQ_STR(err, want);
		nm_config_free(c);
		f = fopen(inc, "w");
		fputs("store = { capacity = 77; };\n", f);
		fclose(f);
		c = load(text, err, sizeof(err));
		CHECK(c != NULL && c->store.capacity == 77 && c->drain_interval_ms == 16);
		nm_config_free(c);
		unlink(inc);
	}
	rmdir(dir);
}

/*
 * The built-in default is derived from the registry: every program, each with
 * every key of its own, at the default its option table declares.
 */
static void test_default_text(void)
{
	char *text = nm_config_default_text();
	char err[1024] = "", key[160];
	struct nm_config *c, *bare;

	CHECK(text != NULL);
	if (!text)
		return;
	for (const struct nm_program_type *const *t = nm_program_types; *t; t++) {
		snprintf(key, sizeof(key), "\n  %s = {\n", (*t)->name);
		CHECK(strstr(text, key) != NULL);
		for (const struct nm_option *o = (*t)->options; o && o->name; o++) {
			snprintf(key, sizeof(key), "\n    %s = ", o->name);
			CHECK(strstr(text, key) != NULL);
		}
	}
	/* spelled out, the defaults are the same as when nothing is said */
	c = nm_config_load_string(text, "<built-in default>", err, sizeof(err));
	bare = nm_config_load_string("# nothing said about programs\nlog_level = \"info\";\n",
				     "<bare>", err, sizeof(err));
	CHECK(c != NULL && bare != NULL);
	for (size_t i = 0; c && bare && i < c->nprograms; i++) {
		const struct nm_program_config *a = &c->programs[i], *b = &bare->programs[i];

		CHECK(a->common.enabled == a->type->enabled_by_default);
		CHECK(b->common.enabled == b->type->enabled_by_default);
		CHECK(a->common.ring_size == b->common.ring_size);
		CHECK(a->common.wakeup_bytes == b->common.wakeup_bytes);
		for (const struct nm_option *o = a->type->options; o && o->name; o++) {
			const char *x = (const char *)a->options + o->offset;
			const char *y = (const char *)b->options + o->offset;

			switch (o->type) {
			case NM_OPT_BOOL:
				CHECK(*(const bool *)x == *(const bool *)y);
				break;
			case NM_OPT_INT:
				CHECK(*(const long long *)x == *(const long long *)y);
				break;
			case NM_OPT_STRINGS: {
				const struct nm_strings *sx = (const void *)x,
							*sy = (const void *)y;

				CHECK(sx->n == sy->n);
				for (size_t j = 0; j < sx->n && j < sy->n; j++)
					CHECK_EQ_STR(sx->v[j], sy->v[j]);
				break;
			}
			default:
				break;
			}
		}
	}
	nm_config_free(bare);
	nm_config_free(c);
	free(text);
}

static void test_defaults(void)
{
	char err[1024] = "";
	char *text = nm_config_default_text();
	struct nm_config *c =
		text ? nm_config_load_string(text, "<built-in default>", err, sizeof(err)) : NULL;
	const struct nm_program_config *pc;

	free(text);
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
	/* each program as its type says; the seed's two always, tcp_reset not (its cost) */
	for (size_t i = 0; i < c->nprograms; i++)
		CHECK(c->programs[i].common.enabled == c->programs[i].type->enabled_by_default);
	pc = nm_config_program(c, "packet_drop");
	CHECK(pc != NULL && pc->common.enabled);
	pc = nm_config_program(c, "tcp_reset");
	CHECK(pc != NULL && !pc->common.enabled);
	pc = nm_config_program(c, "connection");
	CHECK(pc != NULL && pc->common.enabled && pc->common.ring_size == 2097152);
	nm_config_free(c);

	c = load(
		"host = \"edge-17\";\nprograms = { packet_drop = { enabled = false; }; };\n"
		"sinks = ( { name = \"f\"; type = \"file\"; format = \"msgpack\";\n"
		"  path = \"/run/nm-test-config/x\"; rotate_keep = 3; queue = { when_full = \"drop_oldest\"; }; } );\n",
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
	test_filter();
	test_strict();
	test_defaults();
	test_default_text();
	test_mutations();
	unlink(path);
	CHECK_DONE();
}

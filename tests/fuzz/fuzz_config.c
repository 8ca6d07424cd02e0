/* fuzz_config.c - the config loader: any text parsed and validated as a file would be, then freed. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "src/config.h"
#include "src/log.h"

static char tmpfile_path[64];

static void remove_tmpfile(void)
{
	unlink(tmpfile_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	/* the loader's warnings and errors go to the caller's buffer; logging adds nothing */
	nm_log_set_level(NM_LOG_ERR);
	snprintf(tmpfile_path, sizeof(tmpfile_path), "/tmp/nm-fuzz-config.XXXXXX");
	fd = mkstemp(tmpfile_path);
	if (fd < 0)
		abort();
	close(fd);
	atexit(remove_tmpfile);
	return 0;
}

/* A loaded config is whole: every program has its options, every sink its type. */
static void check_loaded(const struct nm_config *c)
{
	FUZZ_ASSERT(c->host && c->source);
	FUZZ_ASSERT(memchr(c->warning, '\0', sizeof(c->warning)));
	for (size_t i = 0; i < c->nprograms; i++)
		FUZZ_ASSERT(c->programs[i].type);
	for (size_t i = 0; i < c->nsinks; i++)
		FUZZ_ASSERT(c->sinks[i].name && c->sinks[i].type);
}

/*
 * The text through nm_config_load_string; one input in eight also through
 * nm_config_load_file from a temporary file (the path -c takes).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct nm_config *c;
	char *text = fuzz_cstr(data, size);

	err[0] = '\0';
	c = nm_config_load_string(text, "fuzz.conf", err, sizeof(err));
	if (c)
		check_loaded(c);
	else
		FUZZ_ASSERT(err[0] && memchr(err, '\0', sizeof(err)));
	nm_config_free(c);
	if (size && data[0] % 8 == 0) {
		int fd = open(tmpfile_path, O_WRONLY | O_TRUNC | O_CLOEXEC);

		if (fd < 0 || write(fd, data, size) != (ssize_t)size)
			abort();
		close(fd);
		err[0] = '\0';
		c = nm_config_load_file(tmpfile_path, err, sizeof(err));
		if (c)
			check_loaded(c);
		else
			FUZZ_ASSERT(err[0]);
		nm_config_free(c);
	}
	free(text);
	return 0;
}

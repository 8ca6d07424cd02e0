/* fuzz_filter.c - a program filter from a JSON body (POST /api/programs/NAME/filter): any bytes. */
#include "fuzz.h"
#include "src/filter.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* @f written back as the JSON object GET answers with. */
static void write_json(const struct nm_filter *f, struct nm_buf *out)
{
	struct nm_writer w;

	nm_buf_reset(out);
	nm_writer_init(&w, NM_FORMAT_JSON, out);
	nm_w_begin(&w);
	nm_filter_write(f, &w);
	nm_w_end(&w);
	FUZZ_ASSERT(!w.error);
}

/*
 * Every program type takes or refuses the body; one refused has a reason,
 * one taken reads back as itself: what GET answers can be POSTed again.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	struct nm_buf a = {0}, b = {0};

	for (const struct nm_program_type *const *t = nm_program_types; *t; t++) {
		char err[512] = "";
		struct nm_filter *f = nm_filter_from_json(*t, text, size, err, sizeof(err)), *g;

		if (!f) {
			FUZZ_ASSERT(err[0] && memchr(err, '\0', sizeof(err)));
			continue;
		}
		write_json(f, &a);
		g = nm_filter_from_json(*t, (const char *)a.data, a.len, err, sizeof(err));
		if (!g)
			fprintf(stderr, "%s: refused its own filter %.*s: %s\n", (*t)->name,
				(int)a.len, (const char *)a.data, err);
		FUZZ_ASSERT(g);
		write_json(g, &b);
		FUZZ_ASSERT(a.len == b.len && !memcmp(a.data, b.data, a.len));
		FUZZ_ASSERT(nm_filter_empty(f) == nm_filter_empty(g));
		nm_filter_free(g);
		nm_filter_free(f);
	}
	nm_buf_free(&a);
	nm_buf_free(&b);
	free(text);
	return 0;
}

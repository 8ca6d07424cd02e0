/* fuzz_template.c - topic and key templates: any text compiled, rendered over any decoded event. */
#include <errno.h>

#include "fuzz.h"
#include "sinks/lib/template.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_open_programs();
	return 0;
}

static bool kafka_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* What template.h promises of a rendered string of @kind. */
static void check_rendered(enum nm_tpl_kind kind, const char *out, size_t len)
{
	FUZZ_ASSERT(len <= (kind == NM_TPL_KAFKA_TOPIC ? 249 : NM_TPL_OUT_MAX));
	FUZZ_ASSERT(out[len] == '\0');
	if (kind == NM_TPL_KAFKA_KEY)
		return;
	FUZZ_ASSERT(len > 0 && strlen(out) == len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];

		if (kind == NM_TPL_KAFKA_TOPIC)
			FUZZ_ASSERT(kafka_char(c));
		else
			FUZZ_ASSERT(c >= 0x20 && c != 0x7f && c != '+' && c != '#');
	}
	if (kind == NM_TPL_MQTT_TOPIC)
		FUZZ_ASSERT(out[0] != '$');
}

/*
 * Byte 0: the kind; byte 1: the program; then the template text up to the
 * first NUL, and after it the event's record (over a valid header).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[NM_TPL_OUT_MAX + 1], err[256];
	const uint8_t *nul, *body = NULL;
	struct nm_template *t;
	struct nm_program *p;
	enum nm_tpl_kind kind;
	size_t tlen, blen = 0, len = 0;
	struct nm_event ev;
	uint8_t *rec;
	char *text;
	int rc;

	if (size < 2 || !fuzz_nprograms)
		return 0;
	kind = (enum nm_tpl_kind)(data[0] % 3);
	p = fuzz_programs[data[1] % fuzz_nprograms];
	nul = memchr(data + 2, '\0', size - 2);
	tlen = nul ? (size_t)(nul - (data + 2)) : size - 2;
	if (nul) {
		body = nul + 1;
		blen = size - (size_t)(body - data);
	}
	text = fuzz_cstr(data + 2, tlen);
	err[0] = '\0';
	t = nm_template_new(text, kind, err, sizeof(err));
	if (!t) {
		FUZZ_ASSERT(err[0] && memchr(err, '\0', sizeof(err)));
		free(text);
		return 0;
	}
	FUZZ_ASSERT(nm_template_prefix(t) != NULL);
	(void)nm_template_is_static(t);

	rec = malloc(p->type->record_size);
	if (!rec)
		abort();
	fuzz_make_record(p, body ? body : (const uint8_t *)"", blen, rec);
	memset(&ev, 0, sizeof(ev));
	FUZZ_ASSERT(nm_program_decode(p, rec, p->type->record_size, &ev) == 0);
	ev.host = "fuzz-host";
	ev.seq = ev.timestamp_ns;
	ev.run_id = ev.cgroup_id;
	ev.wall_ns = (int64_t)ev.timestamp_ns;

	struct nm_sink_msg msg = {
		.type = ev.type->name,
		.write_fields = nm_event_write_fields,
		.event = &ev,
	};
	memset(out, 0x5a, sizeof(out));
	rc = nm_template_render(t, &msg, out, &len);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
	if (!rc)
		check_rendered(kind, out, len);
	/* a fallback topic is checked by the same rules */
	err[0] = '\0';
	if (nm_topic_check(text, kind, err, sizeof(err)))
		FUZZ_ASSERT(err[0]);
	nm_template_free(t);
	free(rec);
	free(text);
	return 0;
}

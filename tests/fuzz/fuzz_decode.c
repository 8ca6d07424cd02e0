/* fuzz_decode.c - ring records of every program: any bytes through the check, decode and both encoders. */
#include <errno.h>
#include <msgpack.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_open_programs();
	return 0;
}

/* What a sink would get must parse back: JSON strictly (UTF-8 too), MessagePack as one map. */
static void encode_both(const struct nm_event *ev)
{
	struct nm_buf out = {0};
	msgpack_unpacked mp;
	size_t off = 0;
	bool ok;

	nm_event_encode(ev, NM_FORMAT_JSON, &out);
	FUZZ_ASSERT(!out.oom);
	ok = fuzz_json_object(out.data, out.len);
	if (!ok)
		fprintf(stderr, "invalid JSON: %.*s\n", (int)out.len, out.data);
	FUZZ_ASSERT(ok);

	nm_event_encode(ev, NM_FORMAT_MSGPACK, &out);
	FUZZ_ASSERT(!out.oom);
	msgpack_unpacked_init(&mp);
	FUZZ_ASSERT(msgpack_unpack_next(&mp, (const char *)out.data, out.len, &off) ==
		    MSGPACK_UNPACK_SUCCESS);
	FUZZ_ASSERT(off == out.len && mp.data.type == MSGPACK_OBJECT_MAP);
	msgpack_unpacked_destroy(&mp);
	nm_buf_free(&out);
}

/*
 * Byte 0 picks the program; bit 7 of byte 1 says whether the rest goes in as
 * the ring sample it is (mostly refused by the header check) or over a valid
 * header, so that the program's fields take any values.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nm_program *p;
	struct nm_event ev;
	uint8_t *rec;
	size_t len;
	int rc;

	if (size < 2 || !fuzz_nprograms)
		return 0;
	p = fuzz_programs[data[0] % fuzz_nprograms];
	if (data[1] & 0x80) {
		len = p->type->record_size;
		rec = malloc(len);
		if (!rec)
			abort();
		fuzz_make_record(p, data + 2, size - 2, rec);
	} else {
		/* an exact-size copy: reading past the sample is an ASan report */
		len = size - 2;
		rec = malloc(len ? len : 1);
		if (!rec)
			abort();
		memcpy(rec, data + 2, len);
	}
	memset(&ev, 0xa5, sizeof(ev));
	rc = nm_program_decode(p, rec, len, &ev);
	FUZZ_ASSERT(rc == 0 || rc == -EBADMSG);
	if (data[1] & 0x80)
		FUZZ_ASSERT(rc == 0);
	if (!rc) {
		FUZZ_ASSERT(ev.type == p->type);
		/* what the pipeline's enrichment sets; the wall clock from the record, any value */
		ev.seq = ev.timestamp_ns ^ 0x5555;
		ev.run_id = ev.cgroup_id;
		ev.wall_ns = (int64_t)ev.timestamp_ns;
		ev.host = "fuzz-host";
		encode_both(&ev);
	}
	free(rec);
	return 0;
}

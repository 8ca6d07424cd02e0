/* fuzz.h - what the libFuzzer harnesses share: real program instances, owned copies of inputs. */
#ifndef NM_FUZZ_H
#define NM_FUZZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/record.h"
#include "src/event.h"
#include "src/program.h"
#include "src/writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property of the product broken by this input: a crash libFuzzer keeps the input of. */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__,        \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* @size bytes of @data in an allocation of exactly @size + 1, NUL-terminated: ASan sees overreads. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Every program in the registry, opened as the agent opens it (skeleton,
 * and whatever state its decode needs: drop reason names from the kernel's
 * BTF, /proc/kallsyms) but never loaded into the kernel. Options are zero.
 */
static struct nm_program *fuzz_programs[NM_REC_COUNT];
static size_t fuzz_nprograms;

static inline void fuzz_open_programs(void)
{
	char err[512];

	for (size_t i = 0; nm_program_types[i] && i < NM_REC_COUNT; i++) {
		const struct nm_program_type *t = nm_program_types[i];
		struct nm_program *p = calloc(1, sizeof(*p));
		void *cfg = calloc(1, t->config_size ? t->config_size : 1);

		if (!p || !cfg)
			abort();
		p->type = t;
		err[0] = '\0';
		if (t->open && t->open(p, cfg, err, sizeof(err))) {
			fprintf(stderr, "fuzz: cannot open program %s: %s\n", t->name, err);
			abort();
		}
		free(cfg);
		fuzz_programs[fuzz_nprograms++] = p;
	}
}

/*
 * The record of program @p in @rec (record_size bytes): @data laid over a
 * header made valid, so that every input reaches the program's own decode.
 */
static inline void fuzz_make_record(const struct nm_program *p, const uint8_t *data, size_t size,
				    uint8_t *rec)
{
	struct nm_record_hdr hdr;

	memset(rec, 0, p->type->record_size);
	memcpy(rec, data, size < p->type->record_size ? size : p->type->record_size);
	memcpy(&hdr, rec, sizeof(hdr));
	hdr.version = NM_RECORD_VERSION;
	hdr.type = p->type->record_type;
	hdr.len = p->type->record_size;
	memcpy(rec, &hdr, sizeof(hdr));
}

/*
 * Strict RFC 8259 over @len bytes: one value, nothing after it but blanks,
 * strings of valid UTF-8 without raw control bytes, numbers of any size
 * (jansson refuses integers past INT64_MAX, which the agent writes as u64).
 */
struct fuzz_json {
	const uint8_t *p, *end;
	int depth;
};

static inline void fuzz_json_ws(struct fuzz_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static inline bool fuzz_json_lit(struct fuzz_json *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return false;
	j->p += n;
	return true;
}

static inline bool fuzz_json_string(struct fuzz_json *j)
{
	if (j->p >= j->end || *j->p++ != '"')
		return false;
	while (j->p < j->end) {
		uint8_t c = *j->p;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++j->p >= j->end)
				return false;
			if (*j->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (j->p + i >= j->end ||
					    !strchr("0123456789abcdefABCDEF", j->p[i]) || !j->p[i])
						return false;
				j->p += 5;
			} else if (strchr("\"\\/bfnrt", *j->p) && *j->p) {
				j->p++;
			} else {
				return false;
			}
			continue;
		}
		size_t n = nm_utf8_valid_seq(j->p, (size_t)(j->end - j->p));

		if (!n)
			return false;
		j->p += n;
	}
	return false;
}

static inline bool fuzz_json_number(struct fuzz_json *j)
{
	const uint8_t *start;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	start = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	if (j->p == start || (*start == '0' && j->p - start > 1))
		return false;
	if (j->p < j->end && *j->p == '.') {
		start = ++j->p;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == start)
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		start = j->p;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == start)
			return false;
	}
	return true;
}

static inline bool fuzz_json_value(struct fuzz_json *j)
{
	bool obj;

	fuzz_json_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '"':
		return fuzz_json_string(j);
	case 't':
		return fuzz_json_lit(j, "true");
	case 'f':
		return fuzz_json_lit(j, "false");
	case 'n':
		return fuzz_json_lit(j, "null");
	case '{':
	case '[':
		obj = *j->p++ == '{';
		if (++j->depth > 64)
			return false;
		fuzz_json_ws(j);
		if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
			j->p++;
			j->depth--;
			return true;
		}
		for (;;) {
			if (obj) {
				fuzz_json_ws(j);
				if (!fuzz_json_string(j))
					return false;
				fuzz_json_ws(j);
				if (j->p >= j->end || *j->p++ != ':')
					return false;
			}
			if (!fuzz_json_value(j))
				return false;
			fuzz_json_ws(j);
			if (j->p >= j->end)
				return false;
			if (*j->p == ',') {
				j->p++;
				continue;
			}
			if (*j->p++ != (obj ? '}' : ']'))
				return false;
			j->depth--;
			return true;
		}
	default:
		return fuzz_json_number(j);
	}
}

/* @data is one JSON object (a trailing newline allowed). */
static inline bool fuzz_json_object(const uint8_t *data, size_t len)
{
	struct fuzz_json j = {data, data + len, 0};

	fuzz_json_ws(&j);
	if (j.p >= j.end || *j.p != '{' || !fuzz_json_value(&j))
		return false;
	fuzz_json_ws(&j);
	return j.p == j.end;
}

#endif

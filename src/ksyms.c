/* ksyms.c - a sorted table of kernel text symbols with binary search. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksyms.h"

struct ksym {
	uint64_t addr;
	uint32_t name_off;
};

struct nm_ksyms {
	struct ksym *syms;
	size_t n;
	char *names;
	size_t names_len;
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

struct nm_ksyms *nm_ksyms_load(const char *path)
{
	struct nm_ksyms *k = calloc(1, sizeof(*k));
	size_t cap = 0, names_cap = 0;
	char line[512];
	FILE *f;

	if (!k)
		return NULL;
	f = fopen(path, "r");
	if (!f) {
		free(k);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		/* "ffffffff81000000 T name [module]": parsed by hand, sscanf is slow at 100k lines */
		char *p, *name;
		unsigned long long addr = strtoull(line, &p, 16);
		size_t nlen;

		if (!addr || p[0] != ' ' || (p[1] != 't' && p[1] != 'T') || p[2] != ' ')
			continue;
		name = p + 3;
		nlen = strcspn(name, " \t\n");
		name[nlen++] = '\0';
		if (k->n == cap) {
			struct ksym *s =
				realloc(k->syms, (cap = cap ? cap * 2 : 65536) * sizeof(*s));

			if (!s)
				goto fail;
			k->syms = s;
		}
		if (k->names_len + nlen > names_cap) {
			char *s = realloc(k->names,
					  names_cap = (names_cap ? names_cap * 2 : 1 << 20));

			if (!s)
				goto fail;
			k->names = s;
		}
		memcpy(k->names + k->names_len, name, nlen);
		k->syms[k->n].addr = addr;
		k->syms[k->n].name_off = (uint32_t)k->names_len;
		k->names_len += nlen;
		k->n++;
	}
	fclose(f);
	qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	return k;
fail:
	fclose(f);
	nm_ksyms_free(k);
	return NULL;
}

void nm_ksyms_free(struct nm_ksyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->names);
	free(k);
}

const char *nm_ksyms_lookup(const struct nm_ksyms *k, uint64_t addr, uint64_t *offset)
{
	size_t lo = 0, hi = k ? k->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || !addr)
		return NULL;
	*offset = addr - k->syms[lo - 1].addr;
	return k->names + k->syms[lo - 1].name_off;
}

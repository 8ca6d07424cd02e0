/* ksyms.c - a sorted table of kernel text symbols with binary search, read at first use. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksyms.h"
#include "log.h"

/*
 * Addresses as 32-bit offsets from a base 2 GiB below the first text symbol:
 * modules are placed within 2 GiB of the kernel's text (their calls into it
 * are 32-bit relative), so every text symbol fits, at half the table's size.
 */
#define KSYM_SPAN ((uint64_t)1 << 31)

struct ksym {
	uint32_t addr; /* from base */
	uint32_t name_off;
};

struct nm_ksyms {
	pthread_mutex_t lock;
	atomic_bool ready; /* the table is read (or failed): lookups need no lock */
	FILE *f;	   /* until then */
	char *path;
	uint64_t base;
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
	int fd, saved;

	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	k->path = strdup(path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (!k->path || fd < 0)
		goto fail;
	k->f = fdopen(fd, "r");
	if (!k->f) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	return k;
fail:
	saved = errno;
	nm_ksyms_free(k);
	errno = saved;
	return NULL;
}

/* Read the table from k->f; on failure it stays empty (lookups find nothing). */
static int read_table(struct nm_ksyms *k)
{
	size_t cap = 0, names_cap = 0;
	char line[512];

	while (fgets(line, sizeof(line), k->f)) {
		/* "ffffffff81000000 T name [module]": parsed by hand, sscanf is slow at 100k lines */
		char *p, *name;
		unsigned long long addr = strtoull(line, &p, 16);
		size_t nlen;

		if (!addr || p[0] != ' ' || (p[1] != 't' && p[1] != 'T') || p[2] != ' ')
			continue;
		if (!k->n)
			k->base = addr > KSYM_SPAN ? addr - KSYM_SPAN : 0;
		if (addr < k->base || addr - k->base > UINT32_MAX)
			continue; /* outside any text the kernel can run */
		name = p + 3;
		nlen = strcspn(name, " \t\n");
		name[nlen++] = '\0';
		if (k->n == cap) {
			struct ksym *s =
				realloc(k->syms, (cap = cap ? cap * 2 : 65536) * sizeof(*s));

			if (!s)
				return -ENOMEM;
			k->syms = s;
		}
		if (k->names_len + nlen > names_cap) {
			char *s = realloc(k->names,
					  names_cap = (names_cap ? names_cap * 2 : 1 << 20));

			if (!s)
				return -ENOMEM;
			k->names = s;
		}
		memcpy(k->names + k->names_len, name, nlen);
		k->syms[k->n].addr = (uint32_t)(addr - k->base);
		k->syms[k->n].name_off = (uint32_t)k->names_len;
		k->names_len += nlen;
		k->n++;
	}
	if (ferror(k->f))
		return -EIO;
	qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	return 0;
}

static void ensure_read(struct nm_ksyms *k)
{
	int rc;

	pthread_mutex_lock(&k->lock);
	if (!atomic_load_explicit(&k->ready, memory_order_relaxed)) {
		rc = read_table(k);
		if (rc) {
			nm_warn("%s: cannot read the kernel's symbols (%s); drop locations will be "
				"addresses",
				k->path, strerror(-rc));
			k->n = 0;
		}
		fclose(k->f);
		k->f = NULL;
		atomic_store_explicit(&k->ready, true, memory_order_release);
	}
	pthread_mutex_unlock(&k->lock);
}

void nm_ksyms_free(struct nm_ksyms *k)
{
	if (!k)
		return;
	if (k->f)
		fclose(k->f);
	free(k->path);
	free(k->syms);
	free(k->names);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

const char *nm_ksyms_lookup(struct nm_ksyms *k, uint64_t addr, uint64_t *offset)
{
	size_t lo = 0, hi;

	if (!k || !addr)
		return NULL;
	if (!atomic_load_explicit(&k->ready, memory_order_acquire))
		ensure_read(k);
	hi = k->n;
	if (addr < k->base || addr - k->base > UINT32_MAX)
		return NULL;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->base + k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	*offset = addr - (k->base + k->syms[lo - 1].addr);
	return k->names + k->syms[lo - 1].name_off;
}

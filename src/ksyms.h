/* ksyms.h - kernel text address to symbol+offset, from /proc/kallsyms. */
#ifndef NM_KSYMS_H
#define NM_KSYMS_H

#include <stddef.h>
#include <stdint.h>

struct nm_ksyms;

struct nm_ksyms *nm_ksyms_load(const char *path);
void nm_ksyms_free(struct nm_ksyms *k);
/* The symbol containing @addr (borrowed from @k) and the offset into it, or NULL. */
const char *nm_ksyms_lookup(const struct nm_ksyms *k, uint64_t addr, uint64_t *offset);

#endif

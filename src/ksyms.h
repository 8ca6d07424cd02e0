/* ksyms.h - kernel text address to symbol+offset, from /proc/kallsyms. */
#ifndef NM_KSYMS_H
#define NM_KSYMS_H

#include <stddef.h>
#include <stdint.h>

struct nm_ksyms;

/*
 * Open @path now and read it at the first lookup: the kernel shows the
 * addresses to the credentials the file was opened with (CAP_SYSLOG), and
 * formatting its ~100 000 lines is a fifth of the start-up otherwise. NULL
 * with errno when it cannot be opened.
 */
struct nm_ksyms *nm_ksyms_load(const char *path);
void nm_ksyms_free(struct nm_ksyms *k);
/*
 * The symbol containing @addr (borrowed from @k) and the offset into it, or
 * NULL. Thread-safe; the first call reads the table.
 */
const char *nm_ksyms_lookup(struct nm_ksyms *k, uint64_t addr, uint64_t *offset);

#endif

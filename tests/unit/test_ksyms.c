/* test_ksyms.c - the kernel symbol table: read at first lookup, module addresses, misses. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "src/ksyms.h"

int main(void)
{
	char path[] = "/tmp/nm-test-ksyms.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	struct nm_ksyms *k;
	uint64_t off = 0;

	CHECK(f != NULL);
	if (!f)
		CHECK_DONE();
	/* out of order, data symbols and a module's text, as /proc/kallsyms has them */
	fprintf(f, "ffffffff81000000 T _stext\n"
		   "ffffffff81001000 t tcp_v4_rcv\n"
		   "ffffffff82000000 D some_data\n"
		   "ffffffff81000800 T early\n"
		   "0000000000000000 T hidden\n"
		   "ffffffffc0201000 t nft_do_chain\t[nf_tables]\n"
		   "ffffffff81002000 T last_core\n");
	fclose(f);

	k = nm_ksyms_load(path);
	CHECK(k != NULL);
	/* the file is read at the first lookup, not at load: gone by then, still found */
	unlink(path);
	CHECK_EQ_STR(nm_ksyms_lookup(k, 0xffffffff81001099ULL, &off), "tcp_v4_rcv");
	CHECK_EQ_INT(off, 0x99);
	CHECK_EQ_STR(nm_ksyms_lookup(k, 0xffffffff81000800ULL, &off), "early");
	CHECK_EQ_INT(off, 0);
	CHECK_EQ_STR(nm_ksyms_lookup(k, 0xffffffff820000ffULL, &off), "last_core");
	CHECK_EQ_STR(nm_ksyms_lookup(k, 0xffffffffc0201010ULL, &off), "nft_do_chain");
	CHECK_EQ_INT(off, 0x10);
	/* below every symbol */
	CHECK(nm_ksyms_lookup(k, 0xffffffff80000000ULL, &off) == NULL);
	/* far below the base */
	CHECK(nm_ksyms_lookup(k, 0x1000, &off) == NULL);
	CHECK(nm_ksyms_lookup(k, 0, &off) == NULL);
	nm_ksyms_free(k);

	CHECK(nm_ksyms_load("/nonexistent/kallsyms") == NULL);
	CHECK(nm_ksyms_lookup(NULL, 0xffffffff81001000ULL, &off) == NULL);
	nm_ksyms_free(NULL);
	CHECK_DONE();
}

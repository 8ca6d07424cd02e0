/* fuzz_gate.c - the control API's request-head checks (framing, sizes, lengths) on any bytes. */
#include <errno.h>
#include <strings.h>

#include "fuzz.h"
#include "src/control/internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* Header lines named @name (case-insensitive) before the blank line at @end. */
static int count(const char *buf, const char *end, const char *name)
{
	size_t n = strlen(name);
	int c = 0;

	for (const char *p = strstr(buf, "\r\n"); p && p + 2 < end; p = strstr(p + 2, "\r\n"))
		if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':')
			c++;
	return c;
}

/*
 * The input is what a client sent so far, as the gate's peek sees it.
 * Whatever is passed on to libmicrohttpd must be one whole, cleanly framed
 * header: no NUL, bare CR or LF, or control byte in it, at most one body
 * length, within the size limits.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nm_head_check hc;
	char *buf;
	int rc;

	if (size > 16385) /* the peek's size: the gate never looks at more */
		return 0;
	buf = fuzz_cstr(data, size);
	rc = nm_gate_check_head(buf, size, &hc);
	FUZZ_ASSERT(rc == 0 || rc == -EAGAIN);
	if (rc == -EAGAIN) {
		FUZZ_ASSERT(size <= 16384 && !memmem(buf, size, "\r\n\r\n", 4));
	} else if (hc.status) {
		FUZZ_ASSERT(hc.status >= 400 && hc.status < 500);
		FUZZ_ASSERT(hc.reason && hc.msg && !strchr(hc.msg, '"'));
	} else {
		const char *end = memmem(buf, size, "\r\n\r\n", 4);

		FUZZ_ASSERT(end);
		for (const char *p = buf; p < end + 4; p++) {
			unsigned char b = (unsigned char)*p;

			FUZZ_ASSERT(b >= 0x20 || b == '\t' || b == '\r' || b == '\n');
			FUZZ_ASSERT(b != 0x7f);
			if (b == '\r')
				FUZZ_ASSERT(p[1] == '\n');
			if (b == '\n')
				FUZZ_ASSERT(p > buf && p[-1] == '\r');
		}
		FUZZ_ASSERT((const char *)memchr(buf, '\n', size) - buf <= 8192);
		FUZZ_ASSERT(count(buf, end + 2, "Content-Length") <= 1);
		FUZZ_ASSERT(!count(buf, end + 2, "Content-Length") ||
			    !count(buf, end + 2, "Transfer-Encoding"));
	}
	free(buf);
	return 0;
}

#!/bin/sh
# format.sh - every C file of the tree is as the committed .clang-format would write it.
#   tests/format.sh          check (a test of make check, and make check-format)
#   tests/format.sh --fix    rewrite the files that are not (make format)
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top_srcdir" || exit 1
if ! command -v clang-format >/dev/null 2>&1; then
	echo "FAIL: clang-format is not installed (bootstrap.sh deps installs it)" >&2
	exit 1
fi
files=$(find bpf src sinks tests -name '*.[ch]' ! -name vmlinux.h ! -name '*.skel.h' \
	! -path '*/_build*' | sort)
if [ "${1:-}" = --fix ]; then
	# shellcheck disable=SC2086
	exec clang-format -i $files
fi
bad=0
for f in $files; do
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (make format)" >&2
		bad=$((bad + 1))
	fi
done
echo "$bad of $(echo "$files" | wc -l) files need formatting"
[ "$bad" = 0 ]

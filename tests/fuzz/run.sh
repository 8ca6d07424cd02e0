#!/bin/sh
# run.sh - run libFuzzer harnesses for FUZZ_SECONDS each on a copy of their seed corpus (make fuzz).
#
#   run.sh NAME...   tests/fuzz/fuzz_NAME of $top_builddir, corpus tests/fuzz/corpus/NAME of $top_srcdir
#
# Prints "PASS: fuzz_NAME: N executions in S s" or "FAIL: fuzz_NAME: ..." with the crashing
# input and the command that reproduces it; exits 1 if any failed. Work (corpus copies, logs,
# crash inputs) goes to $FUZZ_OUT, default $top_builddir/tests/fuzz/out.
set -u

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$top_builddir/tests/fuzz/out}
failed=0

for name in "$@"; do
	bin=$top_builddir/tests/fuzz/fuzz_$name
	work=$out/$name
	rm -rf "$work"
	mkdir -p "$work/corpus"
	cp "$top_srcdir/tests/fuzz/corpus/$name/"* "$work/corpus/" 2>/dev/null
	seeds=$(ls "$work/corpus" | wc -l)
	# -timeout: an input taking 10 s is a hang, reported like a crash
	# leaks inside libconfig itself are suppressed (tests/fuzz/lsan.supp says which)
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		LSAN_OPTIONS="suppressions=$top_srcdir/tests/fuzz/lsan.supp:${LSAN_OPTIONS:-}" \
		"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
	found=$(ls "$work/corpus" | wc -l)
	if [ "$rc" = 0 ]; then
		echo "PASS: fuzz_$name: ${execs:-?} executions in ${seconds} s (${rate:-?}/s), corpus $seeds -> $found inputs"
		continue
	fi
	failed=$((failed + 1))
	crash=$(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | head -1)
	echo "FAIL: fuzz_$name: exit $rc after ${execs:-?} executions; log $work/log"
	grep -E '^(==[0-9]+==ERROR|SUMMARY|.*property broken|.*runtime error)' "$work/log" | head -5 | sed 's/^/    /'
	if [ -n "$crash" ]; then
		echo "    crash input: $crash"
		echo "    reproduce:   $bin $crash"
	fi
done
[ "$failed" = 0 ]

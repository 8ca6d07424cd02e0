#!/bin/sh
# cli.sh - command line contract: --help, --version, --check-config, exit 78 with file:line.
. "$(dirname "$0")/lib.sh"

"$AGENT" --help >"$T/help" || fail "--help exit status"
grep -q "Usage: ebpf-netmon" "$T/help" || fail "--help text"
"$AGENT" --version | grep -q "^ebpf-netmon [0-9]" || fail "--version"

"$AGENT" --check-config -c "$top_srcdir/conf/ebpf-netmon.conf" >"$T/out" 2>&1 ||
	fail "reference config does not validate: $(cat "$T/out")"
"$AGENT" --print-default >"$T/default.conf" || fail "--print-default"
"$AGENT" --check-config -c "$T/default.conf" >/dev/null || fail "printed default does not validate"

printf 'host = "x";\nsinks = (\n  { name = "a"; type = "file"; pth = "/tmp/x"; }\n);\n' >"$T/bad.conf"
"$AGENT" --check-config -c "$T/bad.conf" 2>"$T/err"
status=$?
[ $status = 78 ] || fail "bad config exit status $status, expected 78"
grep -q "^$T/bad.conf:3: unknown key 'pth'" "$T/err" || fail "bad config message: $(cat "$T/err")"

# a bad config also stops a real start, before anything is loaded
"$AGENT" -c "$T/bad.conf" 2>/dev/null
[ $? = 78 ] || fail "start with bad config should exit 78"

"$AGENT" --check-config -c "$T/missing.conf" 2>"$T/err"
[ $? = 78 ] || fail "missing config should exit 78"
grep -q "missing.conf:0: cannot open" "$T/err" || fail "missing config message: $(cat "$T/err")"

"$AGENT" --no-such-option 2>/dev/null
[ $? = 64 ] || fail "unknown option should exit 64"
exit 0

#!/bin/sh
# sink_module.sh - shared sink modules: found in the build tree or $NM_SINK_PATH; a wrong interface version is refused.
. "$(dirname "$0")/lib.sh"

CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || { echo "SKIP: no C compiler to build a test module"; exit 77; }
mkdir -p "$T/mods"
cat >"$T/fake.c" <<'C'
struct fake { unsigned api_version; const char *name; };
static const struct fake t = { 999, "fakesink" };
const void *nm_sink_module(void) { return &t; }
C
"$CC" -shared -fPIC -o "$T/mods/fakesink.so" "$T/fake.c" || fail "cannot build the fake module"
cat >"$T/fake.conf" <<CONF
sinks = ( { name = "x"; type = "fakesink"; } );
CONF
NM_SINK_PATH=$T/mods "$AGENT" --check-config -c "$T/fake.conf" >"$T/out" 2>&1
rc=$?
[ "$rc" = 78 ] || fail "a module of the wrong interface version gave exit status $rc"
grep -q "sink interface version 999" "$T/out" || fail "unclear refusal: $(cat "$T/out")"
cat >"$T/none.conf" <<CONF
sinks = ( { name = "x"; type = "nosuchsink"; } );
CONF
"$AGENT" --check-config -c "$T/none.conf" >"$T/out" 2>&1
grep -q 'unknown sink type "nosuchsink"' "$T/out" || fail "unknown type message: $(cat "$T/out")"

# Whatever way kafka and mqtt were built (in, shared, not at all), the config check agrees.
for t in kafka mqtt; do
	key=brokers
	[ $t = mqtt ] && key=host
	cat >"$T/$t.conf" <<CONF
sinks = ( { name = "x"; type = "$t"; $key = "127.0.0.1"; } );
CONF
	if [ -f "$top_builddir/sinks/.libs/$t.so" ] || grep -q "define NM_SINK_$(echo $t | tr a-z A-Z)_BUILTIN 1" "$top_builddir/config.h"; then
		"$AGENT" --check-config -c "$T/$t.conf" >"$T/out" 2>&1 || fail "$t sink not usable: $(cat "$T/out")"
	else
		"$AGENT" --check-config -c "$T/$t.conf" >"$T/out" 2>&1 && fail "$t accepted but not built"
	fi
done
echo "PASS: module loading and version check"

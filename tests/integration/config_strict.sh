#!/bin/sh
# config_strict.sh - what --check-config refuses a start refuses the same way, having created nothing.
. "$(dirname "$0")/lib.sh"

mkdir "$T/out" "$T/run"
: >"$T/notdir"

# refused NAME MESSAGE [LINE...]: the config (the file sink and socket below, then LINEs; or
# $T/NAME.conf if it exists; a LINE with the control group replaces the default one) exits 78 with MESSAGE from both --check-config and a start, and the
# start creates no output file or socket and logs neither "running:" nor "final".
refused() {
	name=$1 want=$2
	shift 2
	cfg=$T/$name.conf
	[ -e "$cfg" ] || {
		printf 'sinks = ( { name = "f"; type = "file"; path = "%s/%s.ndjson"; } );\n' \
			"$T/out" "$name"
		for line; do printf '%s\n' "$line"; done
		case "$*" in
		*"control = {"*) ;;
		*) printf 'control = { socket = "%s/%s.sock"; };\n' "$T/run" "$name" ;;
		esac
	} >"$cfg"
	"$AGENT" --check-config -c "$cfg" >"$T/check.out" 2>"$T/check.err"
	st=$?
	[ $st = 78 ] || fail "$name: --check-config exit $st, expected 78: $(cat "$T/check.err")"
	grep -qF "$want" "$T/check.err" && grep -q "^$cfg:[0-9]*: " "$T/check.err" ||
		fail "$name: --check-config said: $(cat "$T/check.err")"
	"$AGENT" -c "$cfg" >"$T/start.out" 2>"$T/start.err"
	st=$?
	[ $st = 78 ] || fail "$name: start exit $st, expected 78: $(cat "$T/start.err")"
	cmp -s "$T/check.err" "$T/start.err" ||
		fail "$name: start said '$(cat "$T/start.err")', check said '$(cat "$T/check.err")'"
	left=$(find "$T/out" "$T/run" -mindepth 1)
	[ -z "$left" ] && [ -f "$T/notdir" ] || fail "$name: the start left: $left"
	! grep -q "running:\|final" "$T/start.err" || fail "$name: start logged $(cat "$T/start.err")"
	[ ! -s "$T/start.out" ] || fail "$name: start wrote events: $(head -c 200 "$T/start.out")"
}

refused wide_int "'capacity' = 4294967306 is out of range [0, 100000000]" \
	'store = { capacity = 4294967306; };'
printf 'sinks = ( { name = "f"; type = "file"; path = "%s/q.ndjson";\n  queue = { max_events = 4294967297; }; } );\n' \
	"$T/out" >"$T/wide_queue.conf"
refused wide_queue "wide_queue.conf:2: 'max_events' = 4294967297 is out of range"
refused huge_int "'capacity' = 99999999999999999999 is out of range" \
	'store = { capacity = 99999999999999999999; };'
refused mode "'mode' = \"rw-rw----\" is not an octal mode" "control = { socket = \"$T/run/m.sock\"; mode = \"rw-rw----\"; };"
rm "$T/mode.conf"
refused mode "'mode' = \"07777\" is not an octal mode" "control = { socket = \"$T/run/m.sock\"; mode = \"07777\"; };"
refused group "'group' = \"nm-no-such-group\": no such group" \
	"control = { socket = \"$T/run/g.sock\"; group = \"nm-no-such-group\"; };"
refused admin_group "'admin_group' = \"nm-no-such-group\": no such group" \
	"control = { socket = \"$T/run/a.sock\"; admin_group = \"nm-no-such-group\"; };"
# who the agent runs as once loaded: a start refuses them before dropping anything
refused user "'user' = \"nm-no-such-user\": no such user" 'user = "nm-no-such-user";'
refused run_group "'group' = \"nm-no-such-group\": no such group" 'user = "nobody";' \
	'group = "nm-no-such-group";'
refused user_dir "is owned by uid 0, but the agent runs as nobody once loaded" 'user = "nobody";'
printf 'sinks = ( { name = "f"; type = "file"; path = "%s/x/e.ndjson"; } );\n' "$T/notdir" \
	>"$T/path.conf"
refused path "'path' = \"$T/notdir/x/e.ndjson\" cannot be created: $T/notdir is not a directory"
printf 'sinks = ( { name = "f"; type = "file"; path = "%s/s.ndjson"; },\n' "$T/out" >"$T/spool.conf"
printf '  { name = "g"; type = "stdout"; queue = { when_full = "spool"; spool_dir = "%s"; }; } );\n' \
	"$T/notdir" >>"$T/spool.conf"
refused spool "spool.conf:2: 'spool_dir' = \"$T/notdir\" exists and is not a directory"
# Directories others can write: refused by the check as by a start (StrictModes), made by neither.
mkdir -m 0777 "$T/open"
refused open_socket "'socket': directory $T/open (owner uid 0, mode 0777) can be written by others" \
	"control = { socket = \"$T/open/c.sock\"; };"
printf 'sinks = ( { name = "f"; type = "file"; path = "%s/e.ndjson"; } );\n' "$T/open" \
	>"$T/open_file.conf"
refused open_file "'path': directory $T/open (owner uid 0, mode 0777) can be written by others"
[ -z "$(ls -A "$T/open")" ] || fail "something was made in the open directory: $(ls -A "$T/open")"
# What librdkafka would refuse at create, the check refuses: unknown properties, bad values.
if grep -q "define NM_SINK_KAFKA_BUILTIN 1" "$top_builddir/config.h"; then
	printf 'sinks = ( { name = "f"; type = "file"; path = "%s/k.ndjson"; },\n' "$T/out" >"$T/kprop.conf"
	printf '  { name = "k"; type = "kafka"; brokers = "127.0.0.1:1"; topic = "t";\n' >>"$T/kprop.conf"
	printf '    properties = [ "no.such.property=1" ]; } );\n' >>"$T/kprop.conf"
	refused kprop 'kprop.conf:2: No such configuration property: "no.such.property"'
	sed 's/no.such.property=1/linger.ms=abc/' "$T/kprop.conf" >"$T/kvalue.conf"
	refused kvalue 'kvalue.conf:2: Invalid value for configuration property'
fi
# TLS files libmosquitto would fail to read at create: refused by the check.
if grep -q "define NM_SINK_MQTT_BUILTIN 1" "$top_builddir/config.h"; then
	printf 'sinks = ( { name = "f"; type = "file"; path = "%s/m.ndjson"; },\n' "$T/out" >"$T/mtls.conf"
	printf '  { name = "m"; type = "mqtt"; host = "127.0.0.1"; topic = "t";\n' >>"$T/mtls.conf"
	printf '    ca_file = "%s/nope.pem"; } );\n' "$T" >>"$T/mtls.conf"
	refused mtls "mtls.conf:2: 'ca_file' = \"$T/nope.pem\": No such file or directory"
fi
# A drop reason this kernel does not have: known from its BTF at check time, not at load.
refused reason "'ignore_reasons': this kernel has no drop reason \"NO_SUCH_REASON\"" \
	'programs = { packet_drop = { ignore_reasons = [ "NO_SUCH_REASON" ]; }; };'
refused host "'host' is 1048576 bytes; a host name has at most 255" \
	"host = \"$(head -c 1048576 /dev/zero | tr '\0' a)\";"
: >"$T/empty.conf"
refused empty "empty.conf:1: holds no settings (empty, or only comments)"
printf '\357\273\277host = "x";\n' >"$T/bom.conf"
refused bom "bom.conf:1: starts with a UTF-8 byte order mark"
mkdir "$T/dir.conf"
refused dir "dir.conf:0: is a directory; -c takes the configuration file itself"
printf 'host = "x";\n\000store = { capacity = 5; };\n' >"$T/nul.conf"
refused nul "nul.conf:2: holds a NUL byte"

# in range, wide values are read whole and the config passes
printf 'sinks = ( { name = "f"; type = "stdout"; queue = { max_bytes = 5000000000; }; } );\n' \
	>"$T/ok.conf"
"$AGENT" --check-config -c "$T/ok.conf" >"$T/check.out" 2>&1 || fail "ok.conf: $(cat "$T/check.out")"

# no sinks: warned about loudly by both
printf 'sinks = ( );\ncontrol = { enabled = false; };\n' >"$T/nosinks.conf"
"$AGENT" --check-config -c "$T/nosinks.conf" >"$T/check.out" 2>"$T/check.err" ||
	fail "no sinks refused: $(cat "$T/check.err")"
grep -q "^$T/nosinks.conf:1: warning: 'sinks' is empty: events reach no one" "$T/check.err" ||
	fail "no sinks: $(cat "$T/check.err")"
exit 0

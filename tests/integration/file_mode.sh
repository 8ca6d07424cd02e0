#!/bin/sh
# file_mode.sh - live, rotated and compressed files get exactly `mode` under umask 000, a created
# directory exactly `dir_mode`; a directory others can write is refused at start, saying how to fix.
. "$(dirname "$0")/file_lib.sh"

cat >"$T/agent.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; };
sinks = (
  { name = "f"; type = "file"; format = "json"; path = "$T/gz/ev.ndjson"; mode = "0640";
    dir_mode = "0700"; rotate_bytes = 65536; rotate_keep = 1000; compress = true; },
  { name = "p"; type = "file"; format = "json"; path = "$T/plain/ev.ndjson"; mode = "0600";
    rotate_bytes = 65536; rotate_keep = 1000; compress = false; } );
control = { socket = "$SOCK"; };
CONF
umask 000
start_agent "$T/agent.conf"
umask 022
C=$(unique_comm md)
traffic 300 "$C"
wait_comm 300 "$C" "$T/gz/ev.ndjson $T/gz/ev.ndjson.*.gz"
wait_comm 300 "$C" "$T/plain/ev.ndjson $T/plain/ev.ndjson.*"
stop_agent

[ "$(stat -c %a "$T/gz")" = 700 ] || fail "created directory has mode $(stat -c %a "$T/gz"), not dir_mode 0700"
[ "$(stat -c %a "$T/plain")" = 750 ] || fail "created directory has mode $(stat -c %a "$T/plain"), not 0750"
ls "$T"/gz/ev.ndjson.*.gz >/dev/null 2>&1 || fail "no .gz files"
ls "$T"/plain/ev.ndjson.1 >/dev/null 2>&1 || fail "no rotated plain files"
for f in "$T"/gz/*; do
	[ "$(stat -c %a "$f")" = 640 ] || fail "$f has mode $(stat -c %a "$f") under umask 000, not 0640"
done
for f in "$T"/plain/*; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f") under umask 000, not 0600"
done

# a sink directory others can write, or one group can write, is refused at start
for m in 0777 0770 1777; do
	mkdir -p "$T/w$m"
	chmod "$m" "$T/w$m"
	file_conf "$T/w$m/ev.ndjson"
	"$AGENT" -c "$T/agent.conf" >"$T/refused.out" 2>"$T/refused.log" &
	pid=$!
	for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	if kill -0 $pid 2>/dev/null; then
		kill -KILL $pid
		fail "the agent started with a mode $m sink directory"
	fi
	grep -q "chmod go-w $T/w$m" "$T/refused.log" || fail "no fix given for $m: $(cat "$T/refused.log")"
	[ ! -e "$T/w$m/ev.ndjson" ] || fail "a file was created in a mode $m directory"
done
# and so is one below a directory others can write (not sticky)
mkdir -p "$T/open/sub"
chmod 0777 "$T/open"
file_conf "$T/open/sub/ev.ndjson"
"$AGENT" -c "$T/agent.conf" >"$T/refused.out" 2>"$T/refused.log" &
pid=$!
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; fail "the agent started below a mode 0777 directory"; }
grep -q "chmod o-w $T/open\$" "$T/refused.log" || fail "no fix given: $(cat "$T/refused.log")"
exit 0

#!/bin/sh
# file_symlink.sh - the file sink never writes or reads through a planted symlink: at the live path
# before SIGHUP, at the live path before a rotation, at the compressor's old temporary name.
. "$(dirname "$0")/file_lib.sh"

make_secret
LIVE=$T/ev.ndjson
file_conf "$LIVE" "rotate_bytes = 262144; rotate_keep = 1000; compress = true;"
start_agent "$T/agent.conf"
C1=$(unique_comm sy)
traffic 20 "$C1"
wait_comm 20 "$C1" "$LIVE $T/ev.ndjson.*.gz"

# 1. the live file replaced by a symlink to a root-only file, then SIGHUP
plant_symlink "$LIVE"
kill -HUP "$AGENT_PID"
C2=$(unique_comm sh)
traffic 50 "$C2"
sleep 1
secret_unchanged "SIGHUP"
[ "$(sink_stat refused_symlink)" -ge 1 ] || fail "refusal not counted: $(sink_stat refused_symlink)"
[ "$(sink_stat healthy)" = false ] || fail "healthy while refusing the symlink"
grep -q "symbolic link" "$T/agent.log" || fail "refusal not logged"
[ "$(grep -c "symbolic link" "$T/agent.log")" -le 2 ] || fail "refusal logged more than once"
rm "$LIVE"
within_ms 1500 test -f "$LIVE" >/dev/null || fail "not back within 1.5 s after the symlink went"
[ ! -L "$LIVE" ] || fail "live path still a symlink"
wait_comm 50 "$C2" "$LIVE $T/ev.ndjson.*.gz" # queued while refused, none lost
secret_unchanged "after recovery"
for _ in $(seq 1 20); do [ "$(sink_stat healthy)" = true ] && break; sleep 0.1; done
[ "$(sink_stat healthy)" = true ] || fail "not healthy after recovery"

# 2. a symlink at the live path while enough traffic for several rotations arrives
plant_symlink "$LIVE"
C3=$(unique_comm sr)
traffic 800 "$C3"
sleep 1
secret_unchanged "rotation"
for f in "$T"/ev.ndjson.*.gz; do
	[ -e "$f" ] || continue
	gzip -dc "$f" | grep -q "root-only secret" && fail "$f holds the symlink target's content"
	[ "$(stat -c %a "$f")" = 640 ] || fail "$f has mode $(stat -c %a "$f")"
done
rm "$LIVE"
wait_comm 800 "$C3" "$LIVE $T/ev.ndjson.*.gz"
secret_unchanged "rotation, after recovery"

# 3. a symlink at the temporary name the compressor used to use, then a rotation
rot=$(sink_stat rotations)
plant_symlink "$T/ev.ndjson.1.gz.tmp"
C4=$(unique_comm st)
traffic 700 "$C4" # ~350 KB: past rotate_bytes even with no other traffic
for _ in $(seq 1 50); do [ "$(sink_stat rotations)" -gt "$rot" ] && break; sleep 0.1; done
[ "$(sink_stat rotations)" -gt "$rot" ] || fail "no rotation happened"
secret_unchanged "compressor temporary"
[ -f "$T/ev.ndjson.1.gz" ] && [ ! -L "$T/ev.ndjson.1.gz" ] || fail "ev.ndjson.1.gz is not a plain file"
gzip -t "$T/ev.ndjson.1.gz" || fail "ev.ndjson.1.gz is not valid gzip"
[ "$(stat -c %a "$T/ev.ndjson.1.gz")" = 640 ] || fail "ev.ndjson.1.gz mode"
for f in "$T"/.ev.ndjson.*.gz.*; do [ -e "$f" ] && fail "compressor temporary $f left behind"; done
wait_comm 700 "$C4" "$LIVE $T/ev.ndjson.*.gz"
stop_agent
secret_unchanged "at exit"
exit 0

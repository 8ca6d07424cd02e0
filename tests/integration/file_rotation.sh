#!/bin/sh
# file_rotation.sh - size rotation with gzip keeps every record whole and counted; SIGHUP reopens;
# the gzip of a rotated file runs beside the writer, which stays healthy.
. "$(dirname "$0")/control_lib.sh"

N=1500
PORT=$(closed_port)
COMM=$(unique_comm rot)

cat >"$T/agent.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/ev.ndjson";
            rotate_bytes = 65536; rotate_keep = 1000; compress = true; } );
control = { enabled = false; };
CONF
start_agent "$T/agent.conf"
"$CONNECT" -4 -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "traffic"
sleep 0.5

# SIGHUP: after logrotate moves the file away, the agent writes a new one at the same path.
mv "$T/ev.ndjson" "$T/moved.ndjson"
kill -HUP "$AGENT_PID"
wait_for test -f "$T/ev.ndjson" || fail "SIGHUP did not reopen the file"
"$CONNECT" -4 -n 10 -p "$PORT" -c "${COMM}h" >/dev/null || fail "traffic"
sleep 0.5
stop_agent

ls "$T"/ev.ndjson.*.gz >/dev/null 2>&1 || fail "no rotated .gz files"
[ -z "$(ls "$T" | grep -E '^ev\.ndjson\.[0-9]+$')" ] || fail "uncompressed rotated file left behind"
for f in "$T"/ev.ndjson.*.gz; do
	size=$(gzip -dc "$f" | wc -c)
	[ "$size" -le 65536 ] || [ "$(gzip -dc "$f" | wc -l)" = 1 ] || fail "$f is $size bytes, over rotate_bytes"
done
{ for f in "$T"/ev.ndjson.*.gz; do gzip -dc "$f"; done; cat "$T/moved.ndjson" "$T/ev.ndjson"; } >"$T/all"
$PY - "$T/all" "$COMM" $N <<'PY' || fail "rotated content"
import json, sys
path, comm, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
mine = hup = 0
for line in open(path, "rb"):
    e = json.loads(line)          # every line whole and valid
    mine += e["command"] == comm
    hup += e["command"] == comm + "h"
assert mine == n, f"{mine} events by {comm}, expected {n}"
assert hup == 10, f"{hup} events after SIGHUP, expected 10"
PY
# (they are all somewhere, as counted above: in the new file, or in one rotated from it when other
# traffic, which the agent sees too, filled it)
grep -q "${COMM}h" "$T/moved.ndjson" && fail "events after SIGHUP went to the moved file"

# rotate_keep bounds the number of rotated files
cat >"$T/keep.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/k.ndjson";
            rotate_bytes = 16384; rotate_keep = 2; } );
control = { enabled = false; };
CONF
start_agent "$T/keep.conf"
"$CONNECT" -4 -n 500 -p "$PORT" -c "$COMM" >/dev/null || fail "traffic"
sleep 0.5
stop_agent
[ "$(ls "$T" | grep -c '^k\.ndjson\.[0-9]*\.gz$')" = 2 ] || fail "rotate_keep = 2 kept $(ls "$T" | grep -c '^k\.ndjson\.')"

# While 4 MB rotated files are gzipped (a tenth of a second or more each) the sink writes on and
# stays healthy: /health answers 200 throughout, and every record is in some file once.
cat >"$T/live.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/l.ndjson";
            rotate_bytes = 4194304; rotate_keep = 1000; compress = true; } );
control = { socket = "$SOCK"; };
CONF
start_agent "$T/live.conf"
"$CONNECT" -4 -d 3 -r 20000 -p "$PORT" -c "${COMM}l" >"$T/load.out" &
LOAD=$!
probes=0
while kill -0 "$LOAD" 2>/dev/null; do
	s=$(req GET /health) || fail "GET /health: curl failed"
	[ "$s" = 200 ] || fail "/health $s while rotating: $(jq -c .sinks "$T/body")"
	probes=$((probes + 1))
	sleep 0.02
done
wait "$LOAD" || fail "traffic"
sent=$(sed -n 's/^connects=\([0-9]*\) .*/\1/p' "$T/load.out")
get /api/stats >"$T/live.json"
jq -e '.sinks[0] | .rotations >= 2 and .compress_errors == 0' "$T/live.json" >/dev/null ||
	fail "rotations: $(jq -c '.sinks[0]' "$T/live.json")"
stop_agent
echo "$probes /health probes answered 200 over $(jq '.sinks[0].rotations' "$T/live.json") rotations"
[ -z "$(ls "$T" | grep -E '^l\.ndjson\.[0-9]+$')" ] || fail "uncompressed rotated file left behind"
got=$(cd "$T" && $PY - "${COMM}l" l.ndjson l.ndjson.*.gz <<'PY'
import gzip, json, sys
comm, n = sys.argv[1], 0
for path in sys.argv[2:]:
    data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    assert not data or data.endswith(b"\n"), path
    n += sum(json.loads(line)["command"] == comm for line in data.splitlines())
print(n)
PY
) || fail "rotated content"
[ "$got" = "$sent" ] || fail "$got events by ${COMM}l in the files, $sent connects made"
exit 0

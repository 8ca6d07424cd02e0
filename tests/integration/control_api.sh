#!/bin/sh
# control_api.sh - every endpoint of the control API answers with the documented shape; socket
# set-up (directory, mode, stale socket, second agent); bad input gets its 4xx.
. "$(dirname "$0")/control_lib.sh"

N=20
PORT=$(closed_port)
COMM=$(unique_comm api)
SOCK=$T/run/sub/ctl.sock # a directory that does not exist yet
write_conf 'mode = "0640";'

start_agent "$T/agent.conf"
[ -S "$SOCK" ] || fail "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 640 ] || fail "socket mode $(stat -c %a "$SOCK"), expected 640"
[ "$(stat -c %G "$SOCK")" = root ] || fail "socket group $(stat -c %G "$SOCK")"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
AGENT_PID=
[ ! -e "$SOCK" ] || fail "socket left behind after exit"

# Stale socket file from a crashed agent: replaced.
mkdir -p "$(dirname "$SOCK")"
$PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
start_agent "$T/agent.conf"
grep -q "replaced stale socket" "$T/agent.log" || fail "stale socket not reported"

# A second agent on the same socket refuses to start and leaves the first one's socket alone.
"$AGENT" -c "$T/agent.conf" >"$T/second.out" 2>"$T/second.log" && fail "second agent started"
grep -q "another process is serving it" "$T/second.log" || fail "second agent: $(cat "$T/second.log")"
[ -S "$SOCK" ] || fail "second agent removed the socket"

"$CONNECT" -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "traffic"
wait_count $N "type=connection&command=$COMM"

# /health
get /health >"$T/h.json"
jq -e '.status == "ok" and (.uptime_seconds | type == "number") and .version != null and
	([.programs[].name] | sort == ('"$PROGRAMS_JSON"' | sort)) and
	(.programs | all(.healthy and if .enabled then .attached and .loaded
		else (.attached or .loaded) | not end)) and
	([.programs[] | select(.enabled)] | length == '$NRUNNING') and
	(.sinks | length == 1 and .[0].name == "f" and .[0].healthy)' "$T/h.json" >/dev/null ||
	fail "/health: $(cat "$T/h.json")"

# /api/programs
get /api/programs >"$T/p.json"
jq -e '.total_programs == '$NPROGRAMS' and .running_programs == '$NRUNNING' and
	(.programs | all(has("name") and has("description") and has("loaded") and has("attached")
		and has("event_count") and has("lost_count"))) and
	(.programs[] | select(.name == "connection") | .event_count >= '$N')' "$T/p.json" >/dev/null ||
	fail "/api/programs: $(cat "$T/p.json")"

# /api/events: newest first, default limit 100
get "/api/events?type=connection&command=$COMM" >"$T/e.json"
jq -e '.count == '$N' and (.events | length == '$N') and
	(.events | all(.type == "connection" and .command == "'"$COMM"'" and
		.destination_port == '"$PORT"')) and
	([.events[].seq] == ([.events[].seq] | sort | reverse))' "$T/e.json" >/dev/null ||
	fail "/api/events: $(cat "$T/e.json")"
get /api/events | jq -e '.limit == 100 and (.events | length <= 100)' >/dev/null ||
	fail "/api/events default limit"

# /api/list-connections: grouped by pid
get "/api/list-connections?command=$COMM" >"$T/l.json"
jq -e '.type == "connection" and .total_pids == 1 and .total_events == '$N' and
	.pids[0].count == '$N' and .pids[0].command == "'"$COMM"'" and
	(.pids[0].events | length == '$N' and all(.pid == (.pid)))' "$T/l.json" >/dev/null ||
	fail "/api/list-connections: $(cat "$T/l.json")"
get "/api/list-packet-drops?limit=5" | jq -e '.type == "packet_drop" and .total_events <= 5 and
	(.pids | type == "array") and ([.pids[].events[].type] | all(. == "packet_drop"))' >/dev/null ||
	fail "/api/list-packet-drops"

# Summaries
get "/api/connection-summary?command=$COMM&duration_seconds=600" | jq -e '.count == '$N' and
	.type == "connection" and .command == "'"$COMM"'" and .duration_seconds == 600' >/dev/null ||
	fail "/api/connection-summary"
get "/api/packet-drop-summary" | jq -e '.type == "packet_drop" and (.count | type == "number") and
	.duration_seconds == 60 and .pid == null' >/dev/null || fail "/api/packet-drop-summary"

# /api/stats: per program and per sink counters; the sink invariant holds
get /api/stats >"$T/s.json"
jq -e '(.programs | all(has("event_count") and has("lost_count") and has("emitted") and
		has("ring_full") and has("decode_errors"))) and
	(.sinks | all(.received == .delivered + .dropped + .queued and has("dropped_queue_full"))) and
	(.sinks | all(.dropped == ([to_entries[] | select(.key | startswith("dropped_")) | .value] | add))) and
	.pipeline.events >= '$N' and .store.capacity == 2000000 and .store.stored >= '$N' and
	(.control.requests | type == "number") and .control.stream_dropped == 0' "$T/s.json" >/dev/null ||
	fail "/api/stats: $(cat "$T/s.json")"

# MessagePack on request: a map (map32 header 0xdf) with the right content type
curl -sS --unix-socket "$SOCK" -H 'Accept: application/msgpack' -D "$T/hdr" -o "$T/mp" \
	"http://localhost/api/programs" || fail "msgpack request"
grep -qi '^content-type: application/msgpack' "$T/hdr" || fail "msgpack content type: $(cat "$T/hdr")"
[ "$(head -c1 "$T/mp" | od -An -tx1 | tr -d ' ')" = df ] || fail "msgpack body"
$PY - "$T/mp" <<'PYEOF' || fail "msgpack body does not decode"
import sys
d = open(sys.argv[1], "rb").read()
# a minimal walk: map32 of str keys; check the key names we expect appear
assert d[0] == 0xdf and int.from_bytes(d[1:5], "big") == 3, d[:5]
for k in (b"programs", b"total_programs", b"running_programs"):
    assert k in d, k
PYEOF
grep -qi '^content-type: application/json' "$T/hdr" && fail "json type on msgpack"

# HEAD works like GET without a body
[ "$(curl -sS --unix-socket "$SOCK" -I -o /dev/null -w '%{http_code}' http://localhost/health)" = 200 ] ||
	fail "HEAD /health"

# Bad input: each gets its 4xx with {"error"}, naming the problem where a name is given
while read -r status method url name; do
	expect "$status" "$method" "$url"
	[ "$name" = - ] || grep -q "$name" "$T/body" || fail "$url: error does not name $name"
done <<'CASES'
400 GET /api/events?pid=abc pid
400 GET /api/events?pid=-1 -
400 GET /api/events?pid=99999999999 -
400 GET /api/events?pid= -
400 GET /api/events?limit=0 limit
400 GET /api/events?limit=10001 -
400 GET /api/events?limit=1x -
400 GET /api/events?since=yesterday since
400 GET /api/events?until=2024-13-01T00:00:00Z -
400 GET /api/events?since=2024-02-30T00:00:00Z -
400 GET /api/events?since=2024-01-01T00:00:00 -
400 GET /api/events?since=2024-01-02T00:00:00Z&until=2024-01-01T00:00:00Z -
400 GET /api/events?type=bogus type
400 GET /api/events?command=a-name-longer-than-sixteen -
400 GET /api/events?command= -
400 GET /api/events?bogus=1 bogus
400 GET /api/events?pid=1&pid=2 -
400 GET /api/events/stream?since=2024-01-01T00:00:00Z -
400 GET /api/list-connections?type=connection -
400 GET /api/connection-summary?duration_seconds=0 -
400 GET /api/connection-summary?limit=5 -
400 GET /api/programs?verbose=1 -
400 GET /health?x -
404 GET / -
404 GET /api/nothing -
404 GET /api/events/ -
404 GET /api/programs/connection -
404 POST /api/programs/nosuchprogram/attach -
404 POST /api/programs/connection/explode -
405 POST /api/events -
405 DELETE /api/stats -
CASES
curl -sS --unix-socket "$SOCK" -X PUT -D "$T/hdr" -o /dev/null http://localhost/health
grep -qi '^allow: GET, HEAD' "$T/hdr" || fail "405 without Allow: $(cat "$T/hdr")"
expect 405 GET "/api/programs/connection/detach"
curl -sS --unix-socket "$SOCK" -D "$T/hdr" -o /dev/null http://localhost/api/programs/connection/detach
grep -qi '^allow: POST' "$T/hdr" || fail "405 without Allow: POST"
expect 413 POST "/api/programs/connection/attach" --data-binary "@$AGENT"
# A header block past the per-connection memory limit is refused by the server itself.
big=$(head -c 40000 /dev/zero | tr '\0' a)
s=$(curl -sS --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' -H "X-Big: $big" http://localhost/health)
case $s in 4*) ;; *) fail "oversized header: status $s" ;; esac

# Still healthy after all that
get /health >/dev/null
stop_agent
[ ! -e "$SOCK" ] || fail "socket left behind"
exit 0

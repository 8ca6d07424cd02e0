#!/bin/sh
# control_stream.sh - a live stream delivers exactly the events generated (filtered, as NDJSON);
# a client that stops reading loses events, counted, without stalling the pipeline.
. "$(dirname "$0")/control_lib.sh"

N=300
PORT=$(closed_port)
S=$(unique_comm st)
write_conf 'stream_queue_events = 1000;'
start_agent "$T/agent.conf"

stream_clients() {
	get /api/stats | jq '.control.stream_clients'
}
# wait_clients N: until the agent has N stream subscribers.
wait_clients() {
	for _ in $(seq 1 100); do
		[ "$(stream_clients)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "stream clients: $(stream_clients), expected $1"
}

# One client ends by itself after N events; one without a limit is cut after a while, so
# that an extra event would show; one filters on a type and pid no event has.
curl -sS -N --max-time 20 --unix-socket "$SOCK" "http://localhost/api/events/stream?type=connection&command=$S&limit=$N" \
	>"$T/limited" 2>"$T/limited.err" &
P1=$!
curl -sS -N --max-time 6 --unix-socket "$SOCK" "http://localhost/api/events/stream?command=$S&type=connection" \
	>"$T/open" 2>/dev/null &
P2=$!
curl -sS -N --max-time 6 -D "$T/hdr" --unix-socket "$SOCK" "http://localhost/api/events/stream?pid=1&type=connection" \
	>"$T/none" 2>/dev/null &
P3=$!
wait_clients 3
grep -qi '^content-type: application/x-ndjson' "$T/hdr" || fail "stream content type"

"$CONNECT" -n $N -p "$PORT" -c "$S" >/dev/null || fail "traffic"
wait "$P1" || fail "limited stream: curl failed: $(cat "$T/limited.err")"
wait "$P2"
wait "$P3"

for f in limited open; do
	[ "$(wc -l <"$T/$f")" = $N ] || fail "$f stream: $(wc -l <"$T/$f") lines, expected $N"
	jq -e -s "length == $N and all(.type == \"connection\" and .command == \"$S\" and
		.destination_port == $PORT) and ([.[].id] | unique | length == $N) and
		([.[].seq] == ([.[].seq] | sort))" "$T/$f" >/dev/null || fail "$f stream content"
done
[ ! -s "$T/none" ] || fail "the pid=1 stream got events"
# The stream saw exactly what the store saw.
get "/api/events?type=connection&command=$S&limit=$N" | jq -c '[.events[].id] | sort' >"$T/stored"
jq -s -c '[.[].id] | sort' "$T/limited" >"$T/streamed"
cmp -s "$T/stored" "$T/streamed" || fail "stream and store differ"
wait_clients 0

# A client that never reads: its queue (1000 events) fills, the rest is counted as dropped, and
# the pipeline keeps delivering to the file.
D=$(unique_comm sd)
$PY - "$SOCK" "$D" <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"GET /api/events/stream?command=%s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2].encode())
time.sleep(8)
PYEOF
PY_PID=$!
wait_clients 1
"$CONNECT" -n 5000 -p "$PORT" -c "$D" >/dev/null || fail "traffic for the slow client"
caught_up() {
	get /api/stats >"$T/s.json"
	jq -e '.sinks[0].received == .sinks[0].delivered and .store.added == .pipeline.events' \
		"$T/s.json" >/dev/null
}
wait_for caught_up || fail "pipeline stalled behind a slow stream client"
wait_count 5000 "type=connection&command=$D&limit=10000"
jq -e '.control.stream_dropped > 0 and .control.stream_dropped < 10000 and
	.control.stream_queue_events == 1000' "$T/s.json" >/dev/null ||
	fail "slow client drops not counted: $(jq -c .control "$T/s.json")"
get /health >/dev/null
kill "$PY_PID" 2>/dev/null
wait "$PY_PID" 2>/dev/null

# A stream in progress does not keep the agent from stopping.
curl -sS -N --max-time 20 --unix-socket "$SOCK" "http://localhost/api/events/stream" >/dev/null 2>&1 &
P4=$!
wait_clients 1
stop_agent
wait "$P4"
exit 0

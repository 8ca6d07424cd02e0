#!/bin/sh
# control_concurrency.sh - 100 concurrent clients are all served while events keep flowing.
. "$(dirname "$0")/control_lib.sh"

PORT=$(closed_port)
L=$(unique_comm cl)
write_conf
start_agent "$T/agent.conf"

"$CONNECT" -d 6 -p "$PORT" -c "$L" >"$T/load.out" &
LOAD=$!
sleep 0.5
before=$(get /api/stats | jq .pipeline.events)

paths="/health /api/programs /api/stats /api/events?command=$L&limit=100 /api/list-connections?command=$L \
/api/connection-summary?command=$L /api/events?type=connection&limit=1000"
i=0
pids=
while [ $i -lt 100 ]; do
	for p in $paths; do
		[ $i -lt 100 ] || break
		curl -sS --max-time 20 --unix-socket "$SOCK" -o "$T/r$i" -w '%{http_code}\n' \
			"http://localhost$p" >"$T/s$i" 2>&1 &
		pids="$pids $!"
		i=$((i + 1))
	done
done
# Two live streams as well.
curl -sS -N --max-time 4 --unix-socket "$SOCK" "http://localhost/api/events/stream?command=$L" \
	>"$T/stream1" 2>/dev/null &
pids="$pids $!"
curl -sS -N --max-time 4 --unix-socket "$SOCK" "http://localhost/api/events/stream" \
	>"$T/stream2" 2>/dev/null &
pids="$pids $!"
for p in $pids; do
	wait "$p"
done
i=0
while [ $i -lt 100 ]; do
	[ "$(cat "$T/s$i")" = 200 ] || fail "request $i: $(cat "$T/s$i")"
	jq -e . "$T/r$i" >/dev/null || fail "request $i: not JSON"
	i=$((i + 1))
done
[ -s "$T/stream1" ] || fail "stream 1 got nothing under load"
jq -e -s "all(.command == \"$L\")" "$T/stream1" >/dev/null || fail "stream 1 content"

after=$(get /api/stats | jq .pipeline.events)
[ "$after" -gt "$before" ] || fail "events stopped flowing ($before -> $after)"
wait "$LOAD" || fail "load generator"
sleep 0.5
get /api/stats >"$T/s.json"
jq -e '.control.responses_5xx == 0 and .control.requests >= 100 and
	(.sinks[0] | .received == .delivered + .dropped + .queued)' "$T/s.json" >/dev/null ||
	fail "after the load: $(cat "$T/s.json")"
stop_agent
exit 0

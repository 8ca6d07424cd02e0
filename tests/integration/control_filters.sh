#!/bin/sh
# control_filters.sh - /api/events filters return exactly the matching events: each answer is
# compared with the same selection made from the file sink's copy of every event.
. "$(dirname "$0")/control_lib.sh"

PORT=$(closed_port)
A=$(unique_comm fa)
B=$(unique_comm fb)
write_conf
start_agent "$T/agent.conf"

"$CONNECT" -n 7 -p "$PORT" -c "$A" >/dev/null || fail "traffic A"
"$CONNECT" -u -n 5 -p "$PORT" -c "$B" >/dev/null || fail "traffic B"
"$CONNECT" -6 -n 4 -p "$PORT" -c "$A" >/dev/null || fail "traffic A again"
wait_count 11 "type=connection&command=$A"
wait_count 5 "type=connection&command=$B"

# The file holds every event the store got, once the sink has caught up.
synced() {
	get /api/stats >"$T/s.json"
	jq -e '.sinks[0].delivered == .sinks[0].received and .sinks[0].received >= .store.added' \
		"$T/s.json" >/dev/null
}
wait_for synced || fail "file sink did not catch up"

PID_A=$(get "/api/events?command=$A&limit=1" | jq '.events[0].pid')
PID_B=$(get "/api/events?command=$B&limit=1" | jq '.events[0].pid')
[ "$PID_A" != "$PID_B" ] || fail "two runs with one pid?"

# check QUERY JQ_SELECT [LIMIT]: the ids /api/events returns for QUERY are exactly the newest
# LIMIT (default 100) events of the file that JQ_SELECT keeps, newest first.
check() {
	get "/api/events?$1" | jq -c '[.events[].id]' >"$T/got"
	jq -s -c "[.[] | select($2)] | sort_by(-.seq) | .[:${3:-100}] | [.[].id]" \
		"$T/events.ndjson" >"$T/want"
	cmp -s "$T/got" "$T/want" || fail "/api/events?$1: got $(cat "$T/got"), want $(cat "$T/want")"
	[ "$(jq length "$T/want")" -gt 0 ] || [ -n "${4:-}" ] || fail "/api/events?$1: nothing to compare"
}

check "command=$A" ".command == \"$A\""
check "command=$B&type=connection" ".command == \"$B\" and .type == \"connection\""
check "pid=$PID_A" ".pid == $PID_A"
check "pid=$PID_B&type=connection" ".pid == $PID_B and .type == \"connection\""
check "pid=$PID_A&command=$A&type=connection" ".pid == $PID_A and .command == \"$A\" and .type == \"connection\""
check "pid=$PID_A&command=$B" ".pid == $PID_A and .command == \"$B\"" 100 empty-ok
check "command=$A&limit=3" ".command == \"$A\"" 3
check "command=$A&type=packet_drop" ".command == \"$A\" and .type == \"packet_drop\"" 100 empty-ok
check "type=loss&command=$A" ".type == \"loss\" and .command == \"$A\"" 100 empty-ok

# since/until: RFC 3339 bounds, inclusive, on the event's own time; offsets are honoured.
jq -s -r "[.[] | select(.command == \"$A\" and .type == \"connection\")] | sort_by(.seq) | .[].time" \
	"$T/events.ndjson" >"$T/times"
T3=$(sed -n 3p "$T/times")
T8=$(sed -n 8p "$T/times")
check "command=$A&type=connection&since=$T3" ".command == \"$A\" and .type == \"connection\" and .time >= \"$T3\""
check "command=$A&type=connection&until=$T8" ".command == \"$A\" and .type == \"connection\" and .time <= \"$T8\""
check "command=$A&type=connection&since=$T3&until=$T8" \
	".command == \"$A\" and .type == \"connection\" and .time >= \"$T3\" and .time <= \"$T8\""
[ "$(count_events "command=$A&type=connection&since=$T3&until=$T8")" = 6 ] || fail "since..until count"
# The same instant written with a +02:00 offset ('+' escaped as %2B), and with a bare space.
OFF=$($PY -c '
import sys, datetime
t = sys.argv[1]
d = datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S") + datetime.timedelta(hours=2)
print(d.strftime("%Y-%m-%dT%H:%M:%S") + t[19:-1] + "%2B02:00")' "$T3")
check "command=$A&type=connection&since=$OFF" ".command == \"$A\" and .type == \"connection\" and .time >= \"$T3\""
SP=$(echo "$OFF" | sed 's/%2B/%20/')
check "command=$A&type=connection&since=$SP" ".command == \"$A\" and .type == \"connection\" and .time >= \"$T3\""
# Whole seconds: everything in the second of T3 and after.
S3=$(echo "$T3" | cut -c1-19)
check "command=$A&type=connection&since=${S3}Z" ".command == \"$A\" and .type == \"connection\" and .time >= \"$S3.000000000Z\""
check "command=$A&since=2100-01-01T00:00:00Z" "false" 100 empty-ok
check "command=$A&until=2000-01-01T00:00:00Z" "false" 100 empty-ok

# Grouped by pid: the same events, under the right pid.
# (A ran twice: two pids, 7 and 4 events)
get "/api/list-connections?command=$A" | jq -e ".total_pids == 2 and .total_events == 11 and
	([.pids[].count] | sort == [4, 7]) and ([.pids[].pid] | index($PID_A) != null) and
	(.pids | all(.pid as \$p | .count == (.events | length) and
		(.events | all(.command == \"$A\" and .pid == \$p))))" >/dev/null ||
	fail "list-connections by command: $(cat "$T/body")"
get "/api/connection-summary?pid=$PID_B" | jq -e '.count == 5' >/dev/null || fail "summary by pid"

# A small store keeps only the newest events, and says so.
stop_agent
write_conf "" "capacity = 10;"
start_agent "$T/agent.conf"
C=$(unique_comm fc)
"$CONNECT" -n 30 -p "$PORT" -c "$C" >/dev/null || fail "traffic C"
sleep 0.5
get /api/stats | jq -e '.store.capacity == 10 and .store.stored == 10 and .store.evicted > 0' >/dev/null ||
	fail "small store stats: $(cat "$T/body")"
[ "$(count_events "limit=100")" = 10 ] || fail "small store holds more than 10"
stop_agent
exit 0

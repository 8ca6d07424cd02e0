#!/bin/sh
# control_ctl.sh - ebpf-netmonctl against the real agent: every subcommand, --json, filters,
# exit statuses and the server's error messages.
. "$(dirname "$0")/control_lib.sh"

PORT=$(closed_port)
X=$(unique_comm cx)
write_conf 'mode = "0666";'
start_agent "$T/agent.conf"
ctl() { "$CTL" --socket "$SOCK" "$@"; }

"$CONNECT" -n 6 -p "$PORT" -c "$X" >/dev/null || fail "traffic"
wait_count 6 "type=connection&command=$X"

ctl health >"$T/out" || fail "health: $(cat "$T/out")"
grep -q '^status: ok' "$T/out" || fail "health output: $(cat "$T/out")"
grep -q '^connection ' "$T/out" || fail "health lists no programs"
ctl --json health | jq -e '.status == "ok"' >/dev/null || fail "health --json"

ctl programs >"$T/out" || fail "programs"
grep -Eq '^connection +yes' "$T/out" || fail "programs table: $(cat "$T/out")"
grep -q "$NPROGRAMS programs, $NRUNNING running" "$T/out" || fail "programs summary: $(cat "$T/out")"
ctl programs --json | jq -e '.total_programs == '$NPROGRAMS >/dev/null || fail "programs --json"

ctl events --command "$X" --type connection >"$T/out" || fail "events"
[ "$(grep -c " $X " "$T/out")" = 6 ] || fail "events table: $(cat "$T/out")"
grep -q "destination=127.0.0.1:$PORT" "$T/out" || fail "events details: $(cat "$T/out")"
ctl events -c "$X" -t connection -n 2 --json | jq -e '.events | length == 2' >/dev/null ||
	fail "events --limit --json"
PID=$(ctl events -c "$X" -n 1 --json | jq '.events[0].pid')
ctl events -p "$PID" -t connection --json | jq -e '.events | length == 6' >/dev/null || fail "events --pid"
ctl events -c "$X" --since 2000-01-01T00:00:00Z --until 2100-01-01T00:00:00Z --json |
	jq -e '.events | length >= 6' >/dev/null || fail "events --since --until"
ctl events -c "$X" --since 2100-01-01T00:00:00Z >"$T/out" || fail "events, none"
grep -q "no matching events" "$T/out" || fail "empty events output"

ctl stats >"$T/out" || fail "stats"
grep -Eq '^connection +[0-9]+' "$T/out" || fail "stats programs: $(cat "$T/out")"
grep -Eq '^f +file +[0-9]+' "$T/out" || fail "stats sinks: $(cat "$T/out")"
grep -q 'stream_dropped' "$T/out" || fail "stats control section"
ctl stats --json | jq -e '.sinks[0].name == "f"' >/dev/null || fail "stats --json"

# tail: human lines and NDJSON, ending after --limit events
Y=$(unique_comm cy)
ctl tail -c "$Y" -n 4 >"$T/tail" 2>"$T/tail.err" &
P1=$!
ctl tail -c "$Y" -t connection -n 3 --json >"$T/tailj" 2>&1 &
P2=$!
for _ in $(seq 1 100); do
	[ "$(get /api/stats | jq .control.stream_clients)" = 2 ] && break
	sleep 0.1
done
"$CONNECT" -n 5 -p "$PORT" -c "$Y" >/dev/null || fail "traffic for tail"
wait "$P1" || fail "tail exit: $(cat "$T/tail.err")"
wait "$P2" || fail "tail --json exit"
[ "$(grep -c " $Y " "$T/tail")" = 4 ] || fail "tail output: $(cat "$T/tail")"
jq -e -s "length == 3 and all(.command == \"$Y\" and .type == \"connection\")" "$T/tailj" >/dev/null ||
	fail "tail --json output: $(cat "$T/tailj")"

# attach / detach
ctl detach connection >"$T/out" || fail "detach"
grep -q 'connection: detached' "$T/out" || fail "detach output"
ctl programs --json | jq -e '.running_programs == '$((NRUNNING - 1)) >/dev/null || fail "not detached"
ctl attach connection >"$T/out" || fail "attach"
grep -q 'connection: attached' "$T/out" || fail "attach output"

# Errors: the server's message and a non-zero status
ctl events --pid abc >"$T/out" 2>"$T/err" && fail "bad pid accepted"
[ $? = 1 ] || true
grep -q "pid: 'abc' is not a decimal number (HTTP 400)" "$T/err" || fail "bad pid message: $(cat "$T/err")"
ctl events --since tomorrow 2>"$T/err"
[ $? = 1 ] || fail "bad since: status"
grep -q "since" "$T/err" || fail "bad since message"
ctl attach nosuch 2>"$T/err"
[ $? = 1 ] || fail "unknown program: status"
grep -q "unknown program 'nosuch' (HTTP 404)" "$T/err" || fail "unknown program: $(cat "$T/err")"
ctl --json events --limit 0 2>"$T/err"
[ $? = 1 ] || fail "--json error status"
grep -q '"error"' "$T/err" || fail "--json error message: $(cat "$T/err")"
chmod 755 "$T"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" --socket "$SOCK" detach connection \
	2>"$T/err" && fail "nobody detached"
grep -q "needs uid 0" "$T/err" || fail "403 message: $(cat "$T/err")"
"$CTL" --socket "$T/nothing.sock" health 2>"$T/err"
[ $? = 2 ] || fail "no agent: status"
grep -q "cannot talk to the agent" "$T/err" || fail "no agent message: $(cat "$T/err")"
"$CTL" >/dev/null 2>&1
[ $? = 64 ] || fail "no command: status"
"$CTL" frobnicate >/dev/null 2>&1
[ $? = 64 ] || fail "unknown command: status"
"$CTL" health --pid 1 >/dev/null 2>&1
[ $? = 64 ] || fail "filter on health: status"
"$CTL" attach >/dev/null 2>&1
[ $? = 64 ] || fail "attach without a name: status"
"$CTL" --help | grep -q "^Usage: ebpf-netmonctl" || fail "--help"
EBPF_NETMON_SOCKET=$SOCK "$CTL" health >/dev/null || fail "EBPF_NETMON_SOCKET"
stop_agent
exit 0

#!/bin/sh
# control_access.sh - reads are open to whoever can reach the socket; attach/detach need uid 0
# or the admin group (SO_PEERCRED) or get 403; detach really stops events and attach restarts them.
. "$(dirname "$0")/control_lib.sh"

PORT=$(closed_port)
chmod 755 "$T" # nobody must reach the socket in it
write_conf 'mode = "0666";'
start_agent "$T/agent.conf"
[ "$(stat -c %a "$SOCK")" = 666 ] || fail "socket mode"

# as_nobody [setpriv group args] -- curl args: status of a request made as uid nobody
as_nobody() {
	_g=
	while [ "$1" != -- ]; do _g="$_g $1"; shift; done
	shift
	: >"$T/nbody"
	chmod 666 "$T/nbody"
	# shellcheck disable=SC2086
	setpriv --reuid=nobody $_g curl -sS --unix-socket "$SOCK" -o "$T/nbody" -w '%{http_code}' "$@"
}
NOBODY="--regid=nogroup --clear-groups"

for p in /health /api/programs /api/stats "/api/events?limit=5" /api/list-connections \
	/api/connection-summary /api/packet-drop-summary /api/list-packet-drops; do
	s=$(as_nobody $NOBODY -- "http://localhost$p") || fail "nobody GET $p: curl failed"
	[ "$s" = 200 ] || fail "nobody GET $p: $s $(cat "$T/nbody")"
done
for a in detach attach; do
	s=$(as_nobody $NOBODY -- -X POST "http://localhost/api/programs/connection/$a")
	[ "$s" = 403 ] || fail "nobody POST $a: $s, expected 403"
	jq -e '.error | test("uid 0")' "$T/nbody" >/dev/null || fail "403 body: $(cat "$T/nbody")"
done
get /api/programs | jq -e '.running_programs == '$NRUNNING >/dev/null || fail "a refused detach detached"
get /api/stats | jq -e '.control.forbidden == 2' >/dev/null || fail "forbidden not counted"

# Detach really stops the events, attach brings them back.
C1=$(unique_comm ac)
C2=$(unique_comm ad)
C3=$(unique_comm ae)
expect 200 POST /api/programs/connection/detach
jq -e '.name == "connection" and .attached == false' "$T/body" >/dev/null || fail "detach answer"
get /api/programs | jq -e '.running_programs == '$((NRUNNING - 1))' and
	(.programs[] | select(.name == "connection") | .attached == false and .loaded == true)' \
	>/dev/null || fail "programs after detach"
expect 200 POST /api/programs/connection/detach # idempotent
"$CONNECT" -n 10 -p "$PORT" -c "$C1" >/dev/null || fail "traffic 1"
# Packet drops still flow while connection is detached: use them to know the rings were drained.
"$CONNECT" -n 10 -p "$PORT" -c "$C2" >/dev/null || fail "traffic 2"
sleep 0.5
[ "$(count_events "type=connection&command=$C1")" = 0 ] || fail "events while detached"
[ "$(count_events "type=connection&command=$C2")" = 0 ] || fail "events while detached"
n=$(jq -s "[.[] | select(.type == \"connection\" and (.command == \"$C1\" or .command == \"$C2\"))] |
	length" "$T/events.ndjson")
[ "$n" = 0 ] || fail "$n connection events in the file while detached"
expect 200 POST /api/programs/connection/attach
jq -e '.attached == true' "$T/body" >/dev/null || fail "attach answer"
"$CONNECT" -n 10 -p "$PORT" -c "$C3" >/dev/null || fail "traffic 3"
wait_count 10 "type=connection&command=$C3"
get /api/programs | jq -e '.running_programs == '$NRUNNING >/dev/null || fail "programs after attach"
stop_agent

# An admin group: its members may change state, as primary or supplementary group.
write_conf 'mode = "0666"; admin_group = "nogroup";'
start_agent "$T/agent.conf"
s=$(as_nobody --regid=nogroup --clear-groups -- -X POST http://localhost/api/programs/packet_drop/detach)
[ "$s" = 200 ] || fail "admin group (primary) detach: $s $(cat "$T/nbody")"
s=$(as_nobody --regid=4242 --groups=65534 -- -X POST http://localhost/api/programs/packet_drop/attach)
[ "$s" = 200 ] || fail "admin group (supplementary) attach: $s $(cat "$T/nbody")"
s=$(as_nobody --regid=4242 --clear-groups -- -X POST http://localhost/api/programs/packet_drop/detach)
[ "$s" = 403 ] || fail "non-member detach: $s"
jq -e '.error | test("nogroup")' "$T/nbody" >/dev/null || fail "403 does not name the group"
get /api/programs | jq -e '.running_programs == '$NRUNNING >/dev/null || fail "state after admin tests"
stop_agent

# An unknown admin group is a start-up error, not an open door.
write_conf 'admin_group = "no-such-group-xyz";'
"$AGENT" -c "$T/agent.conf" >"$T/bad.out" 2>"$T/bad.log" && fail "agent started with a bad admin_group"
grep -q "admin_group" "$T/bad.log" || fail "bad admin_group: $(cat "$T/bad.log")"
exit 0

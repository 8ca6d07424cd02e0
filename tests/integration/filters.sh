#!/bin/sh
# filters.sh - in-kernel filters: from the config and the control API, counted exactly as filtered,
# never as events or losses; bad filters refused with file:line (exit 78) or a 4xx JSON error.
. "$(dirname "$0")/control_lib.sh"

# ---- bad filters in the config: file:line, exit 78, from --check-config and a start alike ----
# bad NAME MESSAGE FILTER_LINE [PROGRAM]: the filter group on line 3 of the file.
bad() {
	cfg=$T/bad_$1.conf
	printf 'sinks = ( { name = "f"; type = "file"; path = "%s/bad.ndjson"; } );\n' "$T" >"$cfg"
	printf 'control = { socket = "%s/bad.sock"; };\n' "$T" >>"$cfg"
	printf 'programs = { %s = {\n  filter = { %s };\n}; };\n' "${4:-connection}" "$3" >>"$cfg"
	for mode in --check-config ""; do
		# shellcheck disable=SC2086 # the empty mode is no argument
		"$AGENT" $mode -c "$cfg" >"$T/bad.out" 2>"$T/bad.err"
		st=$?
		[ $st = 78 ] || fail "$1 ($mode): exit $st, expected 78: $(cat "$T/bad.err")"
		grep -q "^$cfg:4: .*$2" "$T/bad.err" || fail "$1 ($mode): said $(cat "$T/bad.err")"
	done
	[ ! -e "$T/bad.sock" ] || fail "$1: the refused start left its socket"
}
many=$(seq 1 257 | paste -sd, -)
bad unknown_key "unknown filter key 'portz'" 'portz = [ 1 ];'
bad port_range "port 65536 is out of range" 'ports = [ 80, 65536 ];'
bad port_type "'ports' takes numbers" 'ports = [ "http" ];'
bad cidr "\"10.0.0.0/33\" is not an IPv4 or IPv6 address" 'exclude_cidrs = [ "10.0.0.0/33" ];'
bad cidr6 "\"fe80::1::2\" is not an IPv4 or IPv6 address" 'cidrs = [ "fe80::1::2" ];'
bad too_many "'exclude_ports' has more than 256 entries" "exclude_ports = [ $many ];"
bad long_comm "must be 1 to 15 bytes" 'commands = [ "a-very-long-command" ];'
bad not_list "'pids' must be a list" 'pids = 5;'
bad reasons_elsewhere "program connection has no drop reasons" 'drop_reasons = [ "NO_SOCKET" ];'
bad no_reason "this kernel has no drop reason \"NO_SUCH_REASON\"" \
	'drop_reasons = [ "NO_SUCH_REASON" ];' packet_drop
bad no_cgroup "cgroup \"/nm-no-such-cgroup-filt\": No such file" \
	'cgroups = [ "/nm-no-such-cgroup-filt" ];'
bad cgroup_dotdot "cgroup \"/../x\"" 'cgroups = [ "/../x" ];'

# ---- a filter from the config: an excluded port is never an event, and counted exactly ----
PORT=$(closed_port)
PX=$(closed_port)
while [ "$PX" = "$PORT" ]; do PX=$(closed_port); done
A=$(unique_comm fa)
chmod 755 "$T" # nobody must reach the socket in it
write_conf 'mode = "0666";'
cat >>"$T/agent.conf" <<CONF
programs = {
  connection = { enabled = true; filter = { exclude_ports = [ $PX ]; }; };
  tcp_reset = { enabled = true; };
  packet_drop = { filter = { exclude_drop_reasons = [ "NO_SOCKET", "SKB_DROP_REASON_TCP_CSUM" ]; }; };
};
CONF
"$AGENT" --check-config -c "$T/agent.conf" >/dev/null 2>"$T/check.err" ||
	fail "a good filter refused: $(cat "$T/check.err")"
start_agent "$T/agent.conf"

jq -e --argjson px "$PX" '. == {exclude_ports: [$px]}' >/dev/null <<EOF ||
$(get /api/programs/connection/filter)
EOF
	fail "GET filter: $(cat "$T/body")"
get /api/programs/packet_drop/filter | jq -e '.exclude_drop_reasons ==
	["NO_SOCKET", "SKB_DROP_REASON_TCP_CSUM"]' >/dev/null || fail "GET packet_drop filter: $(cat "$T/body")"
get /api/programs/udp_send/filter | jq -e '. == {}' >/dev/null || fail "no filter is {}: $(cat "$T/body")"

# prog_counter PROGRAM KEY: the program's counter in /api/stats
prog_counter() {
	get /api/stats | jq --arg p "$1" --arg k "$2" '.programs[] | select(.name == $p) | .[$k]'
}
f0=$(prog_counter connection filtered)
"$CONNECT" -n 7 -p "$PX" -c "$A" >/dev/null || fail "connects to the excluded port"
"$CONNECT" -n 4 -p "$PORT" -c "$A" >/dev/null || fail "connects to the other port"
wait_count 4 "type=connection&command=$A"
sleep 0.3
[ "$(count_events "type=connection&command=$A")" = 4 ] || fail "more than the 4 events"
get "/api/events?type=connection&command=$A" |
	jq -e --argjson p "$PORT" '[.events[].destination_port] | all(. == $p)' >/dev/null ||
	fail "an event for the excluded port: $(cat "$T/body")"
f1=$(prog_counter connection filtered)
[ $((f1 - f0)) = 7 ] || fail "filtered moved by $((f1 - f0)), expected 7"
# packet_drop's own filter: no NO_SOCKET drop (what those connects cause) is an event
get "/api/events?type=packet_drop&limit=10000" |
	jq -e '[.events[] | select(.drop_reason == "NO_SOCKET")] | length == 0' >/dev/null ||
	fail "a NO_SOCKET drop passed the filter"
[ "$(prog_counter packet_drop filtered)" -ge 11 ] || fail "packet_drop filtered too few"
# the other programs saw all 11 connects: the filter is the connection program's own
wait_count 11 "type=tcp_lifecycle&command=$A"
# in /api/programs and /metrics too
get /api/programs | jq -e '.programs | all(has("filtered"))' >/dev/null ||
	fail "/api/programs has no filtered: $(cat "$T/body")"
get /metrics | grep -q '^ebpf_netmon_program_filtered_total{program="connection"} [0-9]' ||
	fail "/metrics has no program_filtered_total: $(grep filtered "$T/body")"

# ---- at run time: include one pid -> only its events ----
B=$(unique_comm fb)
C=$(unique_comm fc)
# each shell becomes the connecting process (exec), so its pid is known before it connects
sh -c "sleep 1; exec '$CONNECT' -n 5 -p $PORT -c $B" >/dev/null &
PID_B=$!
sh -c "sleep 1; exec '$CONNECT' -n 6 -p $PORT -c $C" >/dev/null &
PID_C=$!
expect 200 POST /api/programs/connection/filter --data-binary "{\"pids\": [$PID_B]}"
jq -e --argjson p "$PID_B" '. == {pids: [$p]}' "$T/body" >/dev/null ||
	fail "POST answered $(cat "$T/body")"
get /api/programs/connection/filter | jq -e --argjson p "$PID_B" '. == {pids: [$p]}' >/dev/null ||
	fail "GET after POST: $(cat "$T/body")"
f2=$(prog_counter connection filtered)
wait "$PID_B" || fail "connects of B"
wait "$PID_C" || fail "connects of C"
wait_count 5 "type=connection&command=$B"
wait_count 6 "type=tcp_lifecycle&command=$C"
sleep 0.3
[ "$(count_events "type=connection&command=$C")" = 0 ] || fail "events of a pid not included"
get "/api/events?type=connection&command=$B" |
	jq -e --argjson p "$PID_B" '[.events[].pid] | all(. == $p)' >/dev/null || fail "pids: $(cat "$T/body")"
f3=$(prog_counter connection filtered)
# every other process's connects are refused too while the filter holds: at least C's 6
[ $((f3 - f2)) -ge 6 ] || fail "filtered moved by $((f3 - f2)), expected >= 6"

# ---- a CIDR excluded at run time: IPv4 loopback refused, IPv6 loopback seen ----
D=$(unique_comm fd)
expect 200 POST /api/programs/connection/filter \
	--data-binary '{"exclude_cidrs": ["127.0.0.0/8", "10.1.2.3/8"]}'
jq -e '. == {exclude_cidrs: ["127.0.0.0/8", "10.1.2.3/8"]}' "$T/body" >/dev/null ||
	fail "POST cidrs answered $(cat "$T/body")"
"$CONNECT" -n 3 -p "$PORT" -c "$D" >/dev/null || fail "IPv4 connects"
"$CONNECT" -6 -n 2 -p "$PORT" -c "$D" >/dev/null || fail "IPv6 connects"
wait_count 2 "type=connection&command=$D"
sleep 0.3
get "/api/events?type=connection&command=$D" | jq -e '[.events[].family] | all(. == "ipv6")' \
	>/dev/null || fail "an IPv4 loopback event passed: $(cat "$T/body")"
# and IPv6: the other way round
D6=$(unique_comm fk)
expect 200 POST /api/programs/connection/filter --data-binary '{"exclude_cidrs": ["::1/128"]}'
"$CONNECT" -6 -n 2 -p "$PORT" -c "$D6" >/dev/null || fail "IPv6 connects"
"$CONNECT" -n 3 -p "$PORT" -c "$D6" >/dev/null || fail "IPv4 connects"
wait_count 3 "type=connection&command=$D6"
sleep 0.3
get "/api/events?type=connection&command=$D6" | jq -e '[.events[].family] | all(. == "ipv4")' \
	>/dev/null || fail "an IPv6 loopback event passed: $(cat "$T/body")"

# ---- exclude a command and include a port on another program ----
E=$(unique_comm fe)
G=$(unique_comm fg)
expect 200 POST /api/programs/tcp_lifecycle/filter \
	--data-binary "{\"exclude_commands\": [\"$E\"], \"ports\": [$PORT]}"
"$CONNECT" -n 3 -p "$PORT" -c "$E" >/dev/null || fail "connects of E"
"$CONNECT" -n 2 -p "$PX" -c "$G" >/dev/null || fail "connects of G to PX"
"$CONNECT" -6 -n 4 -p "$PORT" -c "$G" >/dev/null || fail "connects of G to PORT"
wait_count 4 "type=tcp_lifecycle&command=$G"
sleep 0.3
[ "$(count_events "type=tcp_lifecycle&command=$E")" = 0 ] || fail "an excluded command's event"
get "/api/events?type=tcp_lifecycle&command=$G" |
	jq -e --argjson p "$PORT" '[.events[].destination_port] | all(. == $p)' >/dev/null ||
	fail "a port not included: $(cat "$T/body")"

# ---- a cgroup path, resolved to its id: only that cgroup's events ----
CG=$(awk '$9 == "cgroup2" && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG" ] || fail "no cgroup2 hierarchy mounted"
REL=nm-filt-$$
mkdir "$CG/$REL" || fail "cannot create cgroup $REL"
echo "rmdir '$CG/$REL' 2>/dev/null" >"$T/cgroup.cleanup"
CGID=$(stat -c %i "$CG/$REL")
H=$(unique_comm fh)
I=$(unique_comm fj)
expect 200 POST /api/programs/connection/filter --data-binary "{\"cgroups\": [\"/$REL\"]}"
jq -e --arg p "/$REL" '. == {cgroups: [$p]}' "$T/body" >/dev/null || fail "cgroups: $(cat "$T/body")"
sh -c "echo \$\$ >'$CG/$REL/cgroup.procs' && exec '$CONNECT' -n 3 -p $PORT -c '$H'" >/dev/null ||
	fail "connects in the cgroup"
"$CONNECT" -n 2 -p "$PORT" -c "$I" >/dev/null || fail "connects outside it"
wait_count 3 "type=connection&command=$H"
wait_count 2 "type=tcp_lifecycle&command=$I"
sleep 0.3
[ "$(count_events "type=connection&command=$I")" = 0 ] || fail "an event from outside the cgroup"
get "/api/events?type=connection&command=$H" |
	jq -e --argjson id "$CGID" '[.events[].cgroup_id] | all(. == $id)' >/dev/null ||
	fail "cgroup ids: $(cat "$T/body") (want $CGID)"
# by id, excluded
expect 200 POST /api/programs/connection/filter --data-binary "{\"exclude_cgroups\": [$CGID]}"
sh -c "echo \$\$ >'$CG/$REL/cgroup.procs' && exec '$CONNECT' -n 2 -p $PORT -c '$H'" >/dev/null ||
	fail "connects in the cgroup"
"$CONNECT" -n 2 -p "$PORT" -c "$I" >/dev/null || fail "connects outside it"
wait_count 2 "type=connection&command=$I"
wait_count 5 "type=tcp_lifecycle&command=$H"
sleep 0.3
[ "$(count_events "type=connection&command=$H")" = 3 ] || fail "an excluded cgroup's event"

# ---- udp_send: an excluded port and CIDR refused before the repeat test, each datagram counted ----
U=$(unique_comm fu)
expect 200 POST /api/programs/udp_send/filter \
	--data-binary "{\"exclude_ports\": [$PX], \"exclude_cidrs\": [\"127.66.0.0/16\"]}"
u0=$(prog_counter udp_send filtered)
$PY - "$U" "$PX" "$PORT" <<'PY' || fail "datagrams"
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)  # PR_SET_NAME
px, port = int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"x", ("127.0.0.1", px))  # refused: the port
    s.sendto(b"x", ("127.0.0.1", port))  # one event, then repeats
for _ in range(2):
    s.sendto(b"x", ("127.66.1.2", port))  # refused: the CIDR (all of 127/8 is loopback)
PY
wait_count 1 "type=udp_send&command=$U"
sleep 0.3
get "/api/events?type=udp_send&command=$U" |
	jq -e --argjson p "$PORT" '[.events[] | [.destination_port, .destination_ip]] == [[$p, "127.0.0.1"]]' \
	>/dev/null || fail "udp_send events: $(cat "$T/body")"
u1=$(prog_counter udp_send filtered)
[ $((u1 - u0)) = 5 ] || fail "udp_send filtered moved by $((u1 - u0)), expected 5"

# ---- tcp_reset, whose events have no task: a connect refused by a closed port PZ is a reset
# sent (from PZ) and one received (destination PZ); excluding PZ refuses only the second ----
PZ=$(closed_port)
expect 200 POST /api/programs/tcp_reset/filter --data-binary "{\"exclude_ports\": [$PZ]}"
r0=$(prog_counter tcp_reset filtered)
"$CONNECT" -n 3 -p "$PZ" -c "$U" >/dev/null || fail "connects to PZ"
resets() { # resets DIRECTION PORT_FIELD: how many tcp_reset events name PZ so
	get "/api/events?type=tcp_reset&limit=10000" |
		jq --arg d "$1" --arg f "$2" --argjson p "$PZ" \
			'[.events[] | select(.direction == $d and .[$f] == $p)] | length'
}
sent3() { [ "$(resets sent source_port)" = 3 ]; }
wait_for sent3 || fail "resets sent from PZ: $(resets sent source_port), expected 3"
sleep 0.3
[ "$(resets received destination_port)" = 0 ] || fail "a reset received from PZ passed"
r1=$(prog_counter tcp_reset filtered)
[ $((r1 - r0)) = 3 ] || fail "tcp_reset filtered moved by $((r1 - r0)), expected 3"
# a task list on events that have no task: an include list refuses them all
expect 200 POST /api/programs/tcp_reset/filter --data-binary "{\"commands\": [\"$U\"]}"
PZ=$(closed_port)
V=$(unique_comm fv)
"$CONNECT" -n 2 -p "$PZ" -c "$V" >/dev/null || fail "connects to PZ"
wait_count 2 "type=connection&command=$V"
sleep 0.3
[ "$(resets sent source_port)" = 0 ] && [ "$(resets received destination_port)" = 0 ] ||
	fail "a reset without a task matched an include list of commands"

# ---- {} clears ----
expect 200 POST /api/programs/connection/filter --data-binary '{}'
jq -e '. == {}' "$T/body" >/dev/null || fail "{} answered $(cat "$T/body")"
F=$(unique_comm ff)
"$CONNECT" -n 3 -p "$PX" -c "$F" >/dev/null || fail "connects of F"
wait_count 3 "type=connection&command=$F"

# ---- bad requests: 4xx with a JSON error, and the filter in force unchanged ----
expect 200 POST /api/programs/connection/filter --data-binary "{\"exclude_ports\": [$PX]}"
expect 400 POST /api/programs/connection/filter --data-binary '{"portz": [1]}'
expect 400 POST /api/programs/connection/filter --data-binary '{"ports": [0]}'
expect 400 POST /api/programs/connection/filter --data-binary '{"ports": [65536]}'
expect 400 POST /api/programs/connection/filter --data-binary '{"ports": 53}'
expect 400 POST /api/programs/connection/filter --data-binary '{"ports": [1.5]}'
expect 400 POST /api/programs/connection/filter --data-binary '{"cidrs": ["1.2.3.4/"]}'
expect 400 POST /api/programs/connection/filter --data-binary '{"cidrs": ["::1/129"]}'
expect 400 POST /api/programs/connection/filter --data-binary '{"pids": [-1]}'
expect 400 POST /api/programs/connection/filter --data-binary '{"ports": [1], "ports": [2]}'
expect 400 POST /api/programs/connection/filter --data-binary '[]'
expect 400 POST /api/programs/connection/filter --data-binary '{"ports": [1]'
expect 400 POST /api/programs/connection/filter
expect 400 POST /api/programs/connection/filter --data-binary '{"drop_reasons": ["NO_SOCKET"]}'
expect 400 POST /api/programs/packet_drop/filter --data-binary '{"drop_reasons": ["NOPE"]}'
expect 400 POST /api/programs/connection/filter --data-binary "{\"exclude_ports\": [$many]}"
expect 404 POST /api/programs/nosuch/filter --data-binary '{}'
expect 404 GET /api/programs/nosuch/filter
expect 405 PUT /api/programs/connection/filter --data-binary '{}'
# reading is open to the socket's users, setting is privileged
: >"$T/nbody"
chmod 666 "$T/nbody"
s=$(setpriv --reuid=nobody --regid=nogroup --clear-groups curl -sS --unix-socket "$SOCK" \
	-o "$T/nbody" -w '%{http_code}' http://localhost/api/programs/connection/filter)
[ "$s" = 200 ] || fail "nobody GET filter: $s $(cat "$T/nbody")"
jq -e --argjson px "$PX" '. == {exclude_ports: [$px]}' "$T/nbody" >/dev/null ||
	fail "nobody GET filter: $(cat "$T/nbody")"
s=$(setpriv --reuid=nobody --regid=nogroup --clear-groups curl -sS --unix-socket "$SOCK" \
	-o "$T/nbody" -w '%{http_code}' -X POST --data-binary '{}' \
	http://localhost/api/programs/connection/filter)
[ "$s" = 403 ] || fail "nobody POST filter: $s, expected 403"
jq -e '.error | test("uid 0")' "$T/nbody" >/dev/null || fail "403 body: $(cat "$T/nbody")"
get /api/programs/connection/filter | jq -e --argjson px "$PX" '. == {exclude_ports: [$px]}' \
	>/dev/null || fail "a refused POST changed the filter: $(cat "$T/body")"

# ---- ebpf-netmonctl filter ----
if [ -x "$CTL" ]; then
	"$CTL" -s "$SOCK" filter connection set "ports=$PORT,exclude_cidrs=10.0.0.0/8" >"$T/ctl.out" ||
		fail "ctl filter set: $(cat "$T/ctl.out")"
	"$CTL" -s "$SOCK" --json filter connection show >"$T/ctl.json" || fail "ctl filter show"
	jq -e --argjson p "$PORT" '. == {ports: [$p], exclude_cidrs: ["10.0.0.0/8"]}' "$T/ctl.json" \
		>/dev/null || fail "ctl filter show: $(cat "$T/ctl.json")"
	"$CTL" -s "$SOCK" filter connection show | grep -q "ports *$PORT" ||
		fail "ctl filter show (text): $("$CTL" -s "$SOCK" filter connection show)"
	"$CTL" -s "$SOCK" filter connection set "ports=x" >/dev/null 2>"$T/ctl.err" &&
		fail "ctl accepted ports=x"
	grep -q "takes numbers" "$T/ctl.err" || fail "ctl error: $(cat "$T/ctl.err")"
	"$CTL" -s "$SOCK" filter connection clear >/dev/null || fail "ctl filter clear"
	get /api/programs/connection/filter | jq -e '. == {}' >/dev/null || fail "ctl clear: $(cat "$T/body")"
fi

# the books still balance: filtered events were never events, nor losses
get /api/stats | jq -e '.programs[] | select(.name == "connection") | .ring_full == 0' >/dev/null ||
	fail "ring_full moved: $(cat "$T/body")"
stop_agent
echo "PASS: filters"

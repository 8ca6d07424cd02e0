#!/bin/sh
# privs.sh - least privilege: every thread keeps exactly the documented capabilities (as a
# configured user and as uid 0), no_new_privs, and every feature still works as that user:
# file sink, rotation, SIGHUP reopen, the spool through an MQTT outage, detach/attach of every
# program, control queries.
. "$(dirname "$0")/file_lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/kafka_lib.sh" 2>/dev/null || true # count_ids

USER_NAME=nobody
GROUP_NAME=$(id -gn nobody)
UID_N=$(id -u nobody)
GID_N=$(getent group "$GROUP_NAME" | cut -d: -f3)
# docs/security.md: CAP_BPF 39, CAP_PERFMON 38, CAP_SYSLOG 34, CAP_NET_ADMIN 12, and for a
# non-root user running a classic-tracepoint program CAP_DAC_READ_SEARCH 2
CAPS_ROOT=000000c400001000
CAPS_USER=000000c400001004
COMM=$(unique_comm pv)

# the agent's user must reach what it writes in; $T is root's 0700
chmod 0755 "$T"
SOCK=$T/run/ctl.sock

# every_thread PID FIELD VALUE: FIELD of each thread's /proc status is VALUE
every_thread() {
	for st in /proc/"$1"/task/*/status; do
		v=$(sed -n "s/^$2:[[:space:]]*//p" "$st")
		[ "$v" = "$3" ] || fail "$st: $2 is '$v', expected '$3'"
	done
}

check_privs() {
	pid=$1 caps=$2 ids=$3 gid=$4
	n=$(ls /proc/"$pid"/task | wc -l)
	[ "$n" -gt 1 ] || fail "only $n thread: the check should cover the sink and control threads"
	for f in CapEff CapPrm CapBnd; do every_thread "$pid" $f "$caps"; done
	every_thread "$pid" CapInh 0000000000000000
	every_thread "$pid" CapAmb 0000000000000000
	every_thread "$pid" NoNewPrivs 1
	every_thread "$pid" Uid "$ids"
	every_thread "$pid" Gid "$(printf '%s\t%s\t%s\t%s' "$gid" "$gid" "$gid" "$gid")"
	echo "pid $pid: $n threads, each CapEff=CapPrm=CapBnd=$caps, CapInh=CapAmb=0, NoNewPrivs 1"
}

# detach_attach: every loaded program off and on again through the control API
detach_attach() {
	for p in $(get /api/programs | jq -r '.programs[] | select(.loaded) | .name'); do
		expect 200 POST "/api/programs/$p/detach"
		[ "$(jq .attached "$T/body")" = false ] || fail "$p: still attached: $(cat "$T/body")"
		expect 200 POST "/api/programs/$p/attach"
		[ "$(jq .attached "$T/body")" = true ] || fail "$p: not attached: $(cat "$T/body")"
		echo "$p: detached and attached again"
	done
}

# The broker keeps the subscriber's session across its own restart (as spool_mqtt.sh does), so
# what the agent delivers while mosquitto_sub reconnects is kept for it.
# conn COMM FILE...: connection events by COMM in the files (.gz through gzip); -1 while a file
# is half rotated or compressed (file_rotation.sh checks those), so a wait tries again
conn() {
	$PY - "$@" <<'PY'
import gzip, json, os, sys
n = 0
try:
    for path in sys.argv[2:]:
        if not os.path.exists(path):
            continue
        data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
        for line in data.splitlines():
            e = json.loads(line)
            n += e["type"] == "connection" and e["command"] == sys.argv[1]
except (OSError, EOFError, ValueError):
    n = -1
print(n)
PY
}
# wait_conn N COMM [GLOB]: until the files (the file sink's by default) hold N connection events
# by COMM (10 s)
wait_conn() {
	_g=${3:-$T/out/ev.ndjson $T/out/ev.ndjson.*.gz $T/out/moved.ndjson}
	for _ in $(seq 1 100); do
		# shellcheck disable=SC2086 # the glob is meant to expand here
		[ "$(conn "$2" $_g)" = "$1" ] && return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086
	fail "$(conn "$2" $_g) connection events by $2 in $_g, expected $1"
}

start_broker
stop_broker
sed -i "s|^persistence false|persistence true\npersistence_location $T/|" "$T/mosquitto.conf"
restart_broker() {
	"$MOSQUITTO" -c "$T/mosquitto.conf" >/dev/null 2>&1 &
	MQTT_PID=$!
	echo "kill -KILL $MQTT_PID" >"$T/mosquitto.cleanup"
	sleep 0.5
}
restart_broker
subscribe "$T/sub.out" 'pv/#'

# 1. As nobody: a file sink that rotates, an MQTT sink that spools, the control socket.
cat >"$T/agent.conf" <<CONF
user = "$USER_NAME";
group = "$GROUP_NAME";
shutdown_timeout_ms = 2000;
control = { socket = "$SOCK"; };
sinks = (
  { name = "f"; type = "file"; format = "json"; path = "$T/out/ev.ndjson";
    rotate_bytes = 262144; rotate_keep = 1000; compress = true; },
  { name = "edge"; type = "mqtt"; format = "json"; host = "127.0.0.1"; port = $MQTT_PORT;
    topic = "pv/\${type}"; qos = 1; reconnect_max_ms = 500;
    queue = { max_events = 100; when_full = "spool"; spool_dir = "$T/spool"; }; }
);
CONF
"$AGENT" --check-config -c "$T/agent.conf" >/dev/null || fail "the configuration does not check"
start_agent "$T/agent.conf"
check_privs "$AGENT_PID" $CAPS_USER "$(printf '%s\t%s\t%s\t%s' $UID_N $UID_N $UID_N $UID_N)" $GID_N
for d in out spool run; do
	[ "$(stat -c %U "$T/$d")" = "$USER_NAME" ] || fail "$T/$d is not $USER_NAME's: $(ls -ld "$T/$d")"
done
[ "$(stat -c '%U:%G %a' "$SOCK")" = "$USER_NAME:$GROUP_NAME 660" ] ||
	fail "socket: $(ls -l "$SOCK")"

# control queries as before: the peer checks still see uid 0
get /health | jq -e '.status' >/dev/null || fail "/health"
get /api/stats | jq -e '.sinks | length == 2' >/dev/null || fail "/api/stats"

traffic 20 "$COMM"
wait_conn 20 "$COMM"
detach_attach
# connect events come through the re-attached tracepoints
traffic 10 "${COMM}a"
wait_conn 10 "${COMM}a"
[ "$(count_events "command=${COMM}a&type=connection")" -ge 10 ] || fail "store after re-attach"

# rotation in the agent's directory, the rotated files its own, 0640 like the live one
traffic 3000 "${COMM}r"
wait_conn 3000 "${COMM}r"
ls "$T"/out/ev.ndjson.*.gz >/dev/null 2>&1 || fail "no rotated file"
for f in "$T"/out/ev.ndjson*; do
	[ "$(stat -c '%U %a' "$f")" = "$USER_NAME 640" ] || fail "rotated: $(ls -l "$f")"
done
echo "rotation: $(ls "$T"/out/ev.ndjson.*.gz | wc -l) rotated files, each $USER_NAME's, mode 0640"

# SIGHUP reopens a file the agent creates anew
mv "$T/out/ev.ndjson" "$T/out/moved.ndjson"
kill -HUP "$AGENT_PID"
wait_for test -f "$T/out/ev.ndjson" || fail "SIGHUP did not reopen the file"
traffic 10 "${COMM}h"
wait_conn 10 "${COMM}h"
echo "SIGHUP: reopened $T/out/ev.ndjson as $(stat -c %U "$T/out/ev.ndjson")"

# the spool: broker down, events spooled in the agent's directory, broker up, all delivered
stop_broker
traffic 500 "${COMM}s"
wait_for sh -c "ls '$T'/spool/*.seg >/dev/null 2>&1" || fail "nothing spooled with the broker down"
sleep 1
for f in "$T"/spool/*.seg; do
	[ "$(stat -c '%U %a' "$f")" = "$USER_NAME 600" ] || fail "segment: $(ls -l "$f")"
done
restart_broker
got() {
	grep '^pv/connection ' "$T/sub.out" >"$T/sub.conn"
	count_ids "$T/sub.conn" "${COMM}s" | cut -d' ' -f1
}
wait_count 30 500 got || fail "after the outage the subscriber has $(got) of 500"
echo "spool: 500/500 events delivered after the outage"
check_privs "$AGENT_PID" $CAPS_USER "$(printf '%s\t%s\t%s\t%s' $UID_N $UID_N $UID_N $UID_N)" $GID_N
stop_agent
[ ! -e "$SOCK" ] || fail "the socket was left behind"

# 2. Without 'user': uid 0, but the same drop (CAP_DAC_READ_SEARCH not needed by root)
cat >"$T/root.conf" <<CONF
control = { socket = "$T/ctl0.sock"; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/root.ndjson"; } );
CONF
SOCK=$T/ctl0.sock
mv "$T/agent.log" "$T/agent1.log"
start_agent "$T/root.conf"
check_privs "$AGENT_PID" $CAPS_ROOT "$(printf '0\t0\t0\t0')" 0
detach_attach
traffic 10 "${COMM}0"
wait_conn 10 "${COMM}0" "$T/root.ndjson"
stop_agent
echo "PASS: privileges dropped in every thread; file, rotation, reopen, spool, attach/detach work"

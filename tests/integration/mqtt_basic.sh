#!/bin/sh
# mqtt_basic.sh - events reach a real mosquitto broker: QoS 1, topic templates, status, hostile names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/kafka_lib.sh" 2>/dev/null || true # count_ids

COMM=$(unique_comm m)
PORT=$(closed_port)
start_broker
subscribe "$T/sub.out" 'nm/#'
cat >"$T/agent.conf" <<CONF
host = "edge-17";
programs = { tcp_lifecycle = { enabled = false; }; }; # connection events only: one per connect
control = { socket = "$T/control.sock"; };
sinks = (
  { name = "truth"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "edge"; type = "mqtt"; format = "json"; host = "127.0.0.1"; port = $MQTT_PORT;
    topic = "nm/\${host}/\${type}/\${command}"; qos = 1; }
);
CONF
start_agent "$T/agent.conf"
wait_for grep -q "^nm/edge-17/status online" "$T/sub.out" || fail "no retained status 'online'"
"$CONNECT" -n 200 -p "$PORT" -c "$COMM" >/dev/null
connect_as "a/b#c+d e" "$(printf 'x\377\376y')" "///"
sleep 1
stop_agent
sleep 0.5
kill "$SUB_PID"

set -- $(count_ids "$T/sub.out" "$COMM")
[ "$1" = 200 ] || fail "mosquitto_sub saw $1 distinct connection events of $COMM, expected 200"
[ "$2" = 0 ] || fail "$2 duplicates"
grep -q "^nm/edge-17/connection/$COMM {" "$T/sub.out" || fail "topic template not applied"
grep -q "^nm/edge-17/connection/a_b_c_d_e {" "$T/sub.out" || fail "'a/b#c+d e' not sanitized"
grep -q "^nm/edge-17/connection/x__y {" "$T/sub.out" || fail "0xff bytes not sanitized"
grep -q "^nm/unroutable {" "$T/sub.out" || fail "'///' did not go to the fallback topic"
grep -q "^nm/edge-17/status offline" "$T/sub.out" || fail "no 'offline' status at shutdown"
# The retained status is what a late subscriber sees.
st=$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t nm/edge-17/status -C 1 -W 3)
[ "$st" = offline ] || fail "retained status is '$st'"

# The last will: an agent killed with SIGKILL is announced offline by the broker.
mv "$T/agent.log" "$T/agent1.log"
start_agent "$T/agent.conf"
wait_for grep -q "connected to" "$T/agent.log" || fail "no reconnect after restart"
sleep 0.3
st=$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t nm/edge-17/status -C 1 -W 3)
[ "$st" = online ] || fail "retained status after restart is '$st'"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
sleep 0.5
st=$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t nm/edge-17/status -C 1 -W 3)
[ "$st" = offline ] || fail "last will did not say offline: '$st'"
echo "PASS: 200/200 events over QoS 1, status online/offline (will), hostile names sanitized"

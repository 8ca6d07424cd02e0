#!/bin/sh
# spool_mqtt.sh - MQTT broker outage and agent restart with when_full = spool: every event arrives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/kafka_lib.sh" 2>/dev/null || true # count_ids, final_books, wait_count
. "$(dirname "$0")/spool_lib.sh"

COMM=$(unique_comm q)
PORT=$(closed_port)
# The broker keeps the subscriber's session across its own restart (persistence on,
# in the test's directory), so what is published while mosquitto_sub reconnects is kept.
start_broker
stop_broker
sed -i "s|^persistence false|persistence true\npersistence_location $T/|" "$T/mosquitto.conf"
"$MOSQUITTO" -c "$T/mosquitto.conf" >/dev/null 2>&1 &
MQTT_PID=$!
echo "kill -KILL \$(cat $T/mqtt.pid 2>/dev/null) $MQTT_PID" >"$T/mosquitto.cleanup"
sleep 0.5
subscribe "$T/sub.out" 'sp/#'
cat >"$T/agent.conf" <<CONF
host = "edge-spool";
shutdown_timeout_ms = 2000;
control = { socket = "$T/control.sock"; };
$QUIET_PROGRAMS
sinks = (
  { name = "truth"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "edge"; type = "mqtt"; format = "json"; host = "127.0.0.1"; port = $MQTT_PORT;
    topic = "sp/\${host}/\${type}"; qos = 1; reconnect_max_ms = 1000;
    queue = { max_events = 100; when_full = "spool"; spool_dir = "$T/spool"; }; }
);
CONF
restart_broker() {
	"$MOSQUITTO" -c "$T/mosquitto.conf" >/dev/null 2>&1 &
	MQTT_PID=$!
	echo "kill -KILL $MQTT_PID" >"$T/mosquitto.cleanup"
}
got() { count_ids "$T/sub.out" "$COMM" | cut -d' ' -f1; }
truth() { count_ids "$T/events.ndjson" "$COMM" | cut -d' ' -f1; }

start_agent "$T/agent.conf"
"$CONNECT" -n 100 -p "$PORT" -c "$COMM" >/dev/null
want=$(truth)
wait_count 10 "$want" got || fail "only $(got)/$want before the outage"
# 1. broker away for 5 s while events keep coming
outage_round stop_broker restart_broker truth got "$T/sub.out"

# 2. agent stopped while the broker is down, broker back, agent back
stop_while_down stop_broker edge
set -- $BOOKS
[ "$4" -gt 0 ] || fail "nothing left in the spool at SIGTERM with the broker down"
[ "$3" = 0 ] || fail "$3 events dropped at SIGTERM with when_full = spool"
restart_broker
start_agent "$T/agent.conf"
want=$(truth)
wait_count 40 "$want" got || fail "after restart the subscriber has $(got) of $want"
set -- $(count_ids "$T/sub.out" "$COMM")
echo "restart while the broker was down: $1/$want distinct events arrived, $2 duplicates"
stop_agent
echo "PASS: spool kept every event through an MQTT broker outage and an agent restart"

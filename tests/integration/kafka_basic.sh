#!/bin/sh
# kafka_basic.sh - events reach a (mock) Kafka cluster: topic/key templates, headers, hostile names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

COMM=$(unique_comm k)
PORT=$(closed_port)
start_kafka netmon.connection netmon.packet_drop
cat >"$T/agent.conf" <<CONF
control = { socket = "$T/control.sock"; };
sinks = (
  { name = "truth"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "siem"; type = "kafka"; format = "json"; brokers = "$BOOTSTRAP";
    topic = "netmon.\${type}"; key = "\${host}";
    properties = [ "linger.ms=5" ]; },
  { name = "bycomm"; type = "kafka"; format = "json"; brokers = "$BOOTSTRAP";
    topic = "bycomm.\${command}"; fallback_topic = "bycomm.rejected"; key = "\${pid}"; }
);
CONF
start_agent "$T/agent.conf"
"$CONNECT" -n 200 -p "$PORT" -c "$COMM" >/dev/null
# Hostile process names: separators, wildcards, spaces, high bytes, dots only.
connect_as "a/b#c+d e" "$(printf 'x\377\376y')" ".." "../../etc"
sleep 1
stop_agent

kafka_read netmon.connection >"$T/k.connection"
set -- $(count_ids "$T/events.ndjson" "$COMM")
want=$1
set -- $(count_ids "$T/k.connection" "$COMM")
[ "$want" -ge 200 ] || fail "file sink saw $want connection+drop events of $COMM, expected >= 200"
[ "$1" = 200 ] || fail "kafka has $1 distinct connection events of $COMM, expected 200"
[ "$2" = 0 ] || fail "kafka has $2 duplicate connection events of $COMM"
line=$(grep "\"command\":\"$COMM\"" "$T/k.connection" | head -1)
key=$(printf '%s' "$line" | cut -f1)
hdr=$(printf '%s' "$line" | cut -f2)
[ "$key" = "$(hostname)" ] || [ -n "$key" ] || fail "message key is empty"
case "$hdr" in
*content-type=application/json*type=connection*host=*) ;;
*) fail "headers are \"$hdr\"" ;;
esac

# Sanitized topics exist; values with nothing safe left went to the fallback topic.
for t in "bycomm.$COMM" bycomm.a_b_c_d_e bycomm.x__y bycomm.rejected; do
	n=$(kafka_read "$t" | grep -c '"type":"connection"')
	[ "$n" -ge 1 ] || fail "no connection event on topic $t"
done
n=$(kafka_read bycomm.rejected | grep -c '"type":"connection"')
[ "$n" -ge 1 ] || fail "'..' did not go to the fallback topic"
kafka_read bycomm..._.._etc | grep -q '"type":"connection"' ||
	fail "'../../etc' did not become topic bycomm..._.._etc"
echo "PASS: 200/200 events in Kafka, headers and key set, hostile names sanitized"

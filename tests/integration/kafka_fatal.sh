#!/bin/sh
# kafka_fatal.sh - a fatal producer error mid-stream, raised by the broker: the producer is recreated, nothing is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

COMM=$(unique_comm f)
PORT=$(closed_port)
start_kafka netmon.events
cat >"$T/agent.conf" <<CONF
control = { socket = "$T/control.sock"; };
$QUIET_PROGRAMS
sinks = (
  { name = "truth"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "siem"; type = "kafka"; format = "json"; brokers = "$BOOTSTRAP"; topic = "netmon.events";
    properties = [ "linger.ms=5" ]; }
);
CONF
start_agent "$T/agent.conf"
kafka_ids() { kafka_read netmon.events >"$T/k.part"; count_ids "$T/k.part" "$COMM" | cut -d' ' -f1; }
"$CONNECT" -n 1000 -p "$PORT" -c "$COMM" >/dev/null
wait_count 20 1000 kafka_ids || fail "the first 1000 events did not reach kafka"
sleep 1 # every ProduceResponse handled: the next request is the first one in flight
# The broker answers the next ProduceRequest with OUT_OF_ORDER_SEQUENCE_NUMBER. For the
# first request in flight an idempotent producer can only call that fatal: it cannot know
# what the broker holds any more.
kafka_cmd produce-error OUT_OF_ORDER_SEQUENCE_NUMBER
"$CONNECT" -n 1000 -p "$PORT" -c "$COMM" >/dev/null
sleep 3
stop_agent
grep -q "the next 1 ProduceRequest(s) fail with OUT_OF_ORDER_SEQUENCE_NUMBER" "$T/kafka.log" ||
	fail "the mock cluster did not take the command: $(cat "$T/kafka.log")"
grep -q "fatal producer error, recreating" "$T/agent.log" || fail "no fatal error was raised"
set -- $(final_books siem)
[ "$3" = 0 ] || fail "$3 events dropped around the fatal error"
kafka_read netmon.events >"$T/k.out"
set -- $(count_ids "$T/k.out" "$COMM")
want=$(count_ids "$T/events.ndjson" "$COMM" | cut -d' ' -f1)
[ "$1" = "$want" ] || fail "kafka has $1 of $want events after the producer was recreated"
# The refused request was written nowhere, so nothing may arrive twice either.
[ "$2" = 0 ] || fail "$2 events delivered twice around the fatal error"
echo "PASS: producer recreated after a fatal error from the broker; $1/$want events, $2 duplicates"

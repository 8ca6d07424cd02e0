#!/bin/sh
# kafka_fatal.sh - a fatal producer error mid-stream: the producer is recreated, nothing is lost.
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
NM_KAFKA_TEST_FATAL=300 start_agent "$T/agent.conf"
"$CONNECT" -n 2000 -p "$PORT" -c "$COMM" >/dev/null
sleep 3
stop_agent
grep -q "fatal producer error, recreating" "$T/agent.log" || fail "no fatal error was raised"
set -- $(final_books siem)
[ "$3" = 0 ] || fail "$3 events dropped around the fatal error"
kafka_read netmon.events >"$T/k.out"
set -- $(count_ids "$T/k.out" "$COMM")
want=$(count_ids "$T/events.ndjson" "$COMM" | cut -d' ' -f1)
[ "$1" = "$want" ] || fail "kafka has $1 of $want events after the producer was recreated"
echo "PASS: producer recreated after a fatal error; $1/$want events, $2 duplicates"

#!/bin/sh
# kafka_drop.sh - drop_newest / drop_oldest during a Kafka outage: exact books, Kafka agrees.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

PORT=$(closed_port)
for policy in drop_newest drop_oldest; do
	COMM=$(unique_comm d)
	start_kafka "t.$policy"
	cat >"$T/agent.conf" <<CONF
shutdown_timeout_ms = 3000;
control = { socket = "$T/control.sock"; };
$QUIET_PROGRAMS
sinks = (
  { name = "siem"; type = "kafka"; format = "json"; brokers = "$BOOTSTRAP"; topic = "t.$policy";
    properties = [ "linger.ms=5", "reconnect.backoff.max.ms=300" ];
    queue = { max_events = 200; when_full = "$policy"; }; }
);
CONF
	start_agent "$T/agent.conf"
	"$CONNECT" -n 50 -p "$PORT" -c "$COMM" >/dev/null
	sleep 1
	kafka_down
	"$CONNECT" -n 2000 -p "$PORT" -c "$COMM" >/dev/null
	sleep 1
	kafka_up
	sleep 4
	stop_agent
	set -- $(final_books siem)
	received=$1 delivered=$2 dropped=$3 spooled=$4
	[ "$received" = $((delivered + dropped)) ] ||
		fail "$policy: received $received != delivered $delivered + dropped $dropped"
	[ "$dropped" -gt 0 ] || fail "$policy: nothing dropped with a 200-event queue"
	[ "$spooled" = 0 ] || fail "$policy: spooled $spooled"
	in_kafka=$(kafka_read "t.$policy" | grep -c '"id"')
	[ "$in_kafka" = "$delivered" ] ||
		fail "$policy: kafka holds $in_kafka messages, the agent counted $delivered delivered"
	grep -q "lost [0-9]* events (sink siem: queue_full)" "$T/agent.log" ||
		fail "$policy: no loss report for queue_full"
	echo "$policy: received $received = delivered $delivered + dropped $dropped; kafka has $in_kafka"
	kill -KILL "$KAFKA_PID"
	mv "$T/agent.log" "$T/agent.$policy.log"
done
echo "PASS: drop policies count exactly"

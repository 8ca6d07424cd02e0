#!/bin/sh
# spool_kafka.sh - Kafka outages with when_full = spool: every event arrives, across SIGTERM and SIGKILL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
. "$(dirname "$0")/spool_lib.sh"

kafka_spool_setup s
kafka_ids() { kafka_read netmon.events >"$T/k.out"; count_ids "$T/k.out" "$COMM" | cut -d' ' -f1; }
truth_ids() { count_ids "$T/events.ndjson" "$COMM" | cut -d' ' -f1; }

# 1. outage while running: broker away for 5 s while events keep coming
start_agent "$T/agent.conf"
"$CONNECT" -n 100 -p "$PORT" -c "$COMM" >/dev/null
outage_round kafka_down kafka_up truth_ids kafka_ids "$T/k.out"
[ "$want" -ge 1600 ] || fail "file sink saw only $want events of $COMM"

# 2. SIGTERM while the broker is down: memory goes to the spool, replayed after restart
stop_while_down kafka_down siem
kafka_up
start_agent "$T/agent.conf"
grep -q "from a previous run, replaying" "$T/agent.log" || fail "spool not replayed at start"
want=$(truth_ids)
wait_count 40 "$want" kafka_ids || fail "after SIGTERM+restart kafka has $(kafka_ids) of $want"
set -- $(count_ids "$T/k.out" "$COMM")
echo "restart after SIGTERM: $1/$want distinct events arrived, $2 duplicates"

# 3. SIGKILL while the broker is down: what reached the spool survives
kafka_down
"$CONNECT" -n 1000 -p "$PORT" -c "$COMM" >/dev/null
sleep 1
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
mv "$T/agent.log" "$T/agent2.log"
kafka_up
start_agent "$T/agent.conf"
want=$(truth_ids) # the killed agent's file sink may have lost its last buffer: a lower bound
# At most what was in memory (max_events + in flight) can be lost to SIGKILL.
wait_count 40 $((want - 200)) kafka_ids || fail "after SIGKILL+restart kafka has $(kafka_ids) of $want"
sleep 2
set -- $(count_ids "$T/k.out" "$COMM")
echo "restart after SIGKILL: $1 distinct events arrived (the file sink saw $want), $2 duplicates"
stop_agent
spool_books siem
echo "PASS: spool kept every event through a 5 s outage and a restart; SIGKILL lost at most the in-memory queue"

#!/bin/sh
# spool_bounds.sh - spool_max_bytes and a full disk: counted drops, a loud log, the agent keeps running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool_lib.sh"

COMM=$(unique_comm b)
PORT=$(closed_port)
# A sink whose peer never answers: a Kafka "broker" on a closed port.
grep -q "define NM_SINK_KAFKA_BUILTIN 1" "$top_builddir/config.h" ||
	[ -f "$top_builddir/sinks/.libs/kafka.so" ] || { echo "SKIP: no kafka sink"; exit 77; }
DEAD=$(closed_port)
mkdir -p "$T/small"
mount -t tmpfs -o size=300k tmpfs "$T/small" 2>/dev/null && echo "umount $T/small" >"$T/small.cleanup" ||
	fail "cannot mount a tmpfs"
cat >"$T/agent.conf" <<CONF
control = { socket = "$T/control.sock"; };
shutdown_timeout_ms = 500;
sinks = (
  { name = "bounded"; type = "kafka"; brokers = "127.0.0.1:$DEAD"; topic = "t";
    queue = { max_events = 10; when_full = "spool"; spool_dir = "$T/spool"; spool_max_bytes = 65536; }; },
  { name = "diskfull"; type = "kafka"; brokers = "127.0.0.1:$DEAD"; topic = "t";
    queue = { max_events = 10; when_full = "spool"; spool_dir = "$T/small/spool"; }; }
);
CONF
start_agent "$T/agent.conf"
"$CONNECT" -n 2000 -p "$PORT" -c "$COMM" >/dev/null
sleep 2
kill -0 "$AGENT_PID" || fail "agent died"
size=$(du -sb "$T/spool" | cut -f1)
[ "$size" -le $((65536 + 8192)) ] || fail "spool grew to $size bytes past spool_max_bytes"
grep -q "lost [0-9]* events (sink bounded: spool_full)" "$T/agent.log" || fail "no spool_full loss report"
grep -q "CANNOT WRITE SPOOL" "$T/agent.log" || fail "a full disk was not logged loudly"
grep -q "lost [0-9]* events (sink diskfull: spool_error)" "$T/agent.log" || fail "no spool_error loss report"
stop_agent
spool_books bounded diskfull
echo "PASS: spool bounds and disk full are counted, the agent survives"

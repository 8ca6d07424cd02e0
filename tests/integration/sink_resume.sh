#!/bin/sh
# sink_resume.sh - Kafka and MQTT sinks on their default reconnect settings: after a broker
# outage with a spooled backlog, delivery resumes within 1 s of the broker being back, and
# the backlog drains (the drain rate is printed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

COMM=$(unique_comm rs)
PORT=$(closed_port)

# stat SINK FIELD: the sink's counter in /api/stats.
stat() {
	curl -sS --unix-socket "$T/control.sock" http://localhost/api/stats |
		jq -r --arg s "$1" --arg f "$2" '.sinks[] | select(.name == $s) | .[$f]'
}

# The watcher, started before the broker comes back (a Python start-up on a loaded machine
# takes longer than the resume it measures): it waits for the moment on FIFO, then polls.
cat >"$T/resume.py" <<'PY'
import os, sys, time
sys.path.insert(0, os.environ["top_srcdir"] + "/tests/integration")
from nmhttp import sink_stats
path, sink, before, fifo = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def stats():
    return sink_stats(path, sink)
with open(fifo) as f:
    t0 = float(f.readline())  # the broker was told to come back then
st = stats()
backlog = st["received"] - st["dropped"]  # what was there when it came back
while stats()["delivered"] == before:
    if time.time() - t0 > 1.0:
        sys.exit("nothing delivered %.2f s after the broker came back" % (time.time() - t0))
    time.sleep(0.01)
first = time.time() - t0
while True:
    st = stats()
    if st["delivered"] >= backlog:
        break
    if time.time() - t0 > 30:
        sys.exit("not drained 30 s after the broker came back: %r" % st)
    time.sleep(0.01)
took = time.time() - t0
n = st["delivered"] - before
print("first delivery %.0f ms after the broker was back; %d events drained in %.2f s (%.0f events/s)"
      % (first * 1000, n, took, n / took if took else 0))
PY
mkfifo "$T/up.fifo"

# resume SINK DOWN UP: three outages of 2 s with 600 connects each; after UP, the time to the
# first new delivery must be <= 1 s; prints it and the rate at which the backlog drained.
resume() {
	# a sink that has delivered before (its topic's metadata known), as a running agent's has
	"$CONNECT" -n 50 -p "$PORT" -c "$COMM" >/dev/null
	wait_for sh -c "[ \"\$(curl -sS --unix-socket '$T/control.sock' http://localhost/api/stats |
		jq '.sinks[0].delivered')\" -ge 50 ]" || fail "$1: nothing delivered before the outages"
	for round in 1 2 3; do
		"$2"
		"$CONNECT" -n 600 -p "$PORT" -c "$COMM" >/dev/null
		sleep 2
		$PY "$T/resume.py" "$T/control.sock" "$1" "$(stat "$1" delivered)" "$T/up.fifo" &
		watcher=$!
		sleep 0.5
		date +%s.%N >"$T/up.fifo"
		"$3"
		wait "$watcher" || fail "$1 round $round: no delivery within 1 s of the broker"
		echo "$1 round $round"
	done
}

write_agent_conf() {
	cat >"$T/agent.conf" <<CONF
shutdown_timeout_ms = 2000;
control = { socket = "$T/control.sock"; };
$QUIET_PROGRAMS
sinks = ( { name = "$1"; type = "$1"; format = "json"; $2
    queue = { max_events = 100; when_full = "spool"; spool_dir = "$T/spool-$1"; }; } );
CONF
}

# Kafka: the mock cluster's broker set down and up (its listener refuses meanwhile).
start_kafka netmon.events
write_agent_conf kafka "brokers = \"$BOOTSTRAP\"; topic = \"netmon.events\";"
start_agent "$T/agent.conf"
resume kafka kafka_down kafka_up
stop_agent

# MQTT: mosquitto killed and started again on the same port.
start_broker
write_agent_conf mqtt "host = \"127.0.0.1\"; port = $MQTT_PORT; topic = \"rs/\${type}\"; qos = 1;"
start_agent "$T/agent.conf"
mqtt_restart() {
	"$MOSQUITTO" -c "$T/mosquitto.conf" >/dev/null 2>&1 &
	MQTT_PID=$!
	echo "kill -KILL $MQTT_PID" >"$T/mosquitto.cleanup"
	# listening again: from here the clock runs
	for _ in $(seq 1 100); do
		$PY -c "import socket,sys; socket.create_connection(('127.0.0.1', $MQTT_PORT), 0.2)" \
			2>/dev/null && return 0
		sleep 0.01
	done
	fail "mosquitto did not come back"
}
resume mqtt stop_broker mqtt_restart
stop_agent
echo "PASS"

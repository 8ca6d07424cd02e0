#!/bin/sh
# events_file.sh - real kernel, real traffic: exactly N connection events per family and the
# matching NO_SOCKET drops, in a JSON file and a MessagePack file; SIGTERM exits 0.
. "$(dirname "$0")/lib.sh"

N=200
PORT=$(closed_port)
COMM=$(unique_comm ev)

cat >"$T/agent.conf" <<CONF
host = "test-host";
sinks = (
  { name = "json"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "mp"; type = "file"; format = "msgpack"; path = "$T/events.msgpack"; }
);
control = { enabled = false; };
CONF

start_agent "$T/agent.conf"
"$CONNECT" -4 -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "ipv4 traffic"
"$CONNECT" -6 -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "ipv6 traffic"
"$CONNECT" -4 -u -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "udp traffic"
# The rings are drained on a 10 ms timer; give the last batch time to arrive.
sleep 0.5
stop_agent

$PY "$top_srcdir/tests/integration/check_events.py" "$T/events.ndjson" json "$COMM" "$PORT" $N ||
	fail "JSON file"
$PY "$top_srcdir/tests/integration/check_events.py" "$T/events.msgpack" msgpack "$COMM" "$PORT" $N ||
	fail "MessagePack file"
grep -q '"host":"test-host"' "$T/events.ndjson" || fail "host not stamped"
exit 0

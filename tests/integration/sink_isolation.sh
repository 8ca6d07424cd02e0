#!/bin/sh
# sink_isolation.sh - a dead sink never stalls the others, and every event is delivered or
# counted: drop_newest counts exactly; block stops draining the rings, which hands the loss to
# the kernel, where the ring-full counter shows it; SIGTERM still exits promptly with 0.
. "$(dirname "$0")/lib.sh"

N=2000
PORT=$(closed_port)
DEAD=$(closed_port) # an MQTT broker that is not there
COMM=$(unique_comm iso)
SOCK=$T/ctl.sock
stats() { curl -sS --unix-socket "$SOCK" http://localhost/api/stats; }

# 1. drop_newest on the dead sink: the file sink still gets everything, the dead one counts.
cat >"$T/drop.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; };
sinks = (
  { name = "file"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "dead"; type = "mqtt"; format = "json"; host = "127.0.0.1"; port = $DEAD;
    queue = { max_events = 100; when_full = "drop_newest"; }; }
);
control = { socket = "$SOCK"; };
CONF
start_agent "$T/drop.conf"
"$CONNECT" -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "traffic"
mine() { [ "$(grep -c "\"command\":\"$COMM\"" "$T/events.ndjson")" = $N ]; }
wait_for mine || fail "file sink got $(grep -c "\"command\":\"$COMM\"" "$T/events.ndjson") of $N while another sink was dead"
stats >"$T/s.json"
jq -e --argjson n $N '
	(.sinks[] | select(.name == "dead") | .received == .delivered + .dropped + .queued and
		.delivered == 0 and .queued == 100 and .dropped_queue_full == .received - 100 and
		.received >= $n) and
	(.sinks[] | select(.name == "file") | .received == .delivered + .dropped + .queued and
		.dropped == 0)' "$T/s.json" >/dev/null || fail "drop counts: $(jq -c .sinks "$T/s.json")"
stop_agent
# the loss was reported in band, on the sink that could take it
grep '"type":"loss"' "$T/events.ndjson" | grep -q '"where":"dead","reason":"queue_full"' ||
	fail "no in-band loss event for the dead sink"

# 2. block on the dead sink: the reader stops, the kernel's ring fills and counts what it drops.
cat >"$T/block.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; };
             connection = { ring_size = 65536; wakeup_bytes = 16384; }; };
sinks = ( { name = "dead"; type = "mqtt"; format = "json"; host = "127.0.0.1"; port = $DEAD;
            queue = { max_events = 50; when_full = "block"; }; } );
control = { socket = "$SOCK"; };
shutdown_timeout_ms = 1000;
CONF
start_agent "$T/block.conf"
"$CONNECT" -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "traffic"
stats >"$T/s.json"
jq -e --argjson n $N '
	(.programs[] | select(.name == "connection") | .ring_full > 0 and .lost_count >= .ring_full and
		.emitted + .ring_full >= $n) and
	(.sinks[0] | .received == .delivered + .dropped + .queued and .dropped == 0 and .queued == 50)' \
	"$T/s.json" >/dev/null || fail "block: $(jq -c '{programs, sinks}' "$T/s.json")"
start=$(date +%s)
stop_agent
[ $(($(date +%s) - start)) -le 5 ] || fail "SIGTERM took $(($(date +%s) - start)) s with a blocked sink"
exit 0

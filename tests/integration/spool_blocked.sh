#!/bin/sh
# spool_blocked.sh - a spool on a frozen file system (every write blocks) does not slow the ring
# reader: the other sinks get every event, the kernel ring never fills, what the spooling sinks
# cannot hold is bounded and counted, and after the thaw every event is accounted for.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spool_lib.sh"

N=5000
COMM=$(unique_comm fz)
PORT=$(closed_port)
DEAD=$(closed_port) # a broker that is not there: the spooling sinks cannot deliver
SOCK=$T/ctl.sock
stats() { curl -sS --max-time 5 --unix-socket "$SOCK" http://localhost/api/stats; }

if grep -q "define NM_SINK_KAFKA_BUILTIN 1" "$top_builddir/config.h" ||
	[ -f "$top_builddir/sinks/.libs/kafka.so" ]; then
	DEAD_SINK="type = \"kafka\"; brokers = \"127.0.0.1:$DEAD\"; topic = \"t\";"
elif grep -q "define NM_SINK_MQTT_BUILTIN 1" "$top_builddir/config.h" ||
	[ -f "$top_builddir/sinks/.libs/mqtt.so" ]; then
	DEAD_SINK="type = \"mqtt\"; host = \"127.0.0.1\"; port = $DEAD;"
else
	echo "SKIP: no kafka or mqtt sink"
	exit 77
fi
for tool in losetup mkfs.ext4 fsfreeze jq curl; do
	command -v $tool >/dev/null 2>&1 || fail "$tool missing (bootstrap.sh deps installs it)"
done

# A small ext4 file system on a loop device: fsfreeze makes every write to it block.
MNT=$T/frozen
mkdir -p "$MNT"
truncate -s 64M "$T/fs.img"
LOOP=$(losetup -f --show "$T/fs.img" 2>/dev/null) || fail "no loop device for the frozen file system"
# Thaw before anything else: the agent (killed first by lib.sh) must be able to die and unmount.
cat >"$T/frozen.cleanup" <<EOF
fsfreeze -u "$MNT" 2>/dev/null
for _ in \$(seq 1 50); do umount "$MNT" 2>/dev/null && break; sleep 0.1; done
losetup -d "$LOOP"
EOF
mkfs.ext4 -q -F "$LOOP" >/dev/null 2>&1 && mount "$LOOP" "$MNT" ||
	fail "cannot make or mount an ext4 file system on $LOOP"

cat >"$T/agent.conf" <<CONF
control = { socket = "$SOCK"; };
shutdown_timeout_ms = 500;
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; };
             connection = { ring_size = 4194304; }; };
sinks = (
  { name = "truth"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "siem"; $DEAD_SINK format = "msgpack";
    queue = { max_events = 100; when_full = "spool"; spool_dir = "$MNT/siem"; }; },
  { name = "tight"; $DEAD_SINK
    queue = { max_events = 100; max_bytes = 65536; when_full = "spool";
              spool_dir = "$MNT/tight"; }; }
);
CONF
start_agent "$T/agent.conf"
fsfreeze -f "$MNT" || fail "cannot freeze $MNT"
# Prove the freeze bites: a write there must not finish.
(echo x >"$MNT/probe") &
probe=$!
sleep 0.5
kill -0 $probe 2>/dev/null || fail "a write to the frozen file system did not block"

start=$(date +%s)
"$CONNECT" -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "traffic"
mine() { [ "$(grep -c "\"command\":\"$COMM\"" "$T/events.ndjson")" = $N ]; }
wait_for mine ||
	fail "file sink got $(grep -c "\"command\":\"$COMM\"" "$T/events.ndjson") of $N while a spool was frozen"
echo "file sink got all $N events in $(($(date +%s) - start)) s with both spools frozen"
stats >"$T/frozen.json" || fail "/api/stats did not answer while a spool was frozen"
jq -e '
	(.programs[] | select(.name == "connection") | .ring_full == 0) and
	(.sinks[] | .received == .delivered + .dropped + .queued + (.spooled // 0)) and
	(.sinks[] | select(.name == "siem") | .spool_pending > 0 and .dropped == 0) and
	(.sinks[] | select(.name == "tight") | .dropped_spool_slow > 0 and
		.dropped == .dropped_spool_slow and .queued_bytes <= 2 * 65536 + 4096)' \
	"$T/frozen.json" >/dev/null || fail "while frozen: $(jq -c '{programs, sinks}' "$T/frozen.json")"
jq -r '.sinks[] | select(.name != "truth") |
	"\(.name) while frozen: received \(.received) queued \(.queued) (spool_pending \(.spool_pending)) dropped_spool_slow \(.dropped_spool_slow)"' \
	"$T/frozen.json"

fsfreeze -u "$MNT" || fail "cannot thaw $MNT"
wait $probe
drained() {
	stats >"$T/thawed.json" &&
		jq -e '[.sinks[] | select(.name != "truth") | .spool_pending == 0] | all' \
			"$T/thawed.json" >/dev/null
}
wait_for drained || fail "the spools did not catch up after the thaw: $(jq -c .sinks "$T/thawed.json")"
jq -e --argjson n $N '
	(.programs[] | select(.name == "connection") | .ring_full == 0) and
	(.sinks[] | .received == .delivered + .dropped + .queued + (.spooled // 0)) and
	(.sinks[] | select(.name == "siem") | .dropped == 0 and .spooled + .queued >= $n)' \
	"$T/thawed.json" >/dev/null || fail "after the thaw: $(jq -c '{programs, sinks}' "$T/thawed.json")"
grep -q "sink tight: spool .* cannot keep up" "$T/agent.log" || fail "spool_slow was not logged"
stop_agent
spool_books siem tight
echo "PASS: a frozen spool blocked only its own worker; the reader, the ring and the file sink kept going"

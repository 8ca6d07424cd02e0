#!/bin/sh
# accounting.sh - every sink's books balance in every /api/stats read: during a storm, an outage with spooling, and shutdown.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

COMM=$(unique_comm a)
PORT=$(closed_port)
SOCK=$T/control.sock
start_kafka netmon.events
cat >"$T/agent.conf" <<CONF
shutdown_timeout_ms = 1000;
control = { socket = "$SOCK"; };
$QUIET_PROGRAMS
sinks = (
  { name = "truth"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "tight"; type = "file"; format = "msgpack"; path = "$T/tight.bin";
    queue = { max_events = 50; when_full = "drop_oldest"; }; },
  { name = "siem"; type = "kafka"; format = "json"; brokers = "$BOOTSTRAP";
    topic = "netmon.events"; properties = [ "linger.ms=5", "reconnect.backoff.max.ms=500" ];
    queue = { max_events = 100; when_full = "spool"; spool_dir = "$T/spool"; }; },
  { name = "wal"; type = "kafka"; format = "msgpack"; brokers = "$BOOTSTRAP";
    topic = "netmon.events"; durability = "disk";
    queue = { max_events = 500; spool_dir = "$T/wal"; }; }
);
CONF

# sample N [until-gone]: N reads of /api/stats (or, after a first good one that touches
# $T/sampling, until the socket is gone), each sink's books checked in each; prints
# "reads violations", the first violations on stderr.
sample() {
	python3 - "$SOCK" "$@" <<'PY'
import json, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
until_gone = len(sys.argv) > 3
reads = bad = 0
while reads < n or until_gone:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"GET /api/stats HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
        s.close()
        body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    except (OSError, ValueError, IndexError):
        if until_gone and reads:
            break
        continue
    reads += 1
    if reads == 1 and until_gone:
        open(path + ".sampling", "w").close()
    for k in body["sinks"]:
        parts = k["delivered"] + k["dropped"] + k["queued"] + k.get("spooled", 0)
        reasons = sum(v for key, v in k.items() if key.startswith("dropped_"))
        if k["received"] != parts or k["dropped"] != reasons:
            bad += 1
            if bad <= 5:
                print("unbalanced:", {x: k[x] for x in k if not isinstance(k[x], str)},
                      file=sys.stderr)
print(reads, bad)
PY
}

# check_phase NAME READS BAD MIN: every read balanced, at least MIN reads.
check_phase() {
	echo "$1: $2 reads of /api/stats, $3 unbalanced"
	[ "$3" = 0 ] || fail "$1: $3 of $2 reads did not balance"
	[ "$2" -ge "$4" ] || fail "$1: only $2 reads"
}

start_agent "$T/agent.conf"

# 1. a storm, every sink delivering (tight drops its oldest)
"$CONNECT" -n 100000000 -d 4 -p "$PORT" -c "$COMM" >/dev/null &
storm=$!
check_phase storm $(sample 200) 200
wait "$storm"

# 2. the broker away: siem spools its overflow, wal everything; back again, they drain
kafka_down
"$CONNECT" -n 100000000 -d 4 -p "$PORT" -c "$COMM" >/dev/null &
storm=$!
check_phase outage $(sample 200) 200
wait "$storm"
ls "$T/spool"/*.seg >/dev/null 2>&1 || fail "siem spooled nothing during the outage"
kafka_up
check_phase drain $(sample 200) 200

# 3. shutdown with the broker away again and a backlog: read until the socket goes (at
# SIGTERM the agent closes its control socket first, src/main.c, so the sinks' drain after
# that is checked by their final books)
kafka_down
"$CONNECT" -n 100000000 -d 2 -p "$PORT" -c "$COMM" >/dev/null
sample 100000 until-gone >"$T/shutdown.out" &
sampler=$!
wait_for test -e "$SOCK.sampling" || fail "the sampler never read /api/stats"
sleep 0.3
stop_agent
wait "$sampler"
check_phase shutdown $(cat "$T/shutdown.out") 10
for s in truth tight siem wal; do
	set -- $(final_books "$s")
	[ "$1" = $(($2 + $3 + $4)) ] || fail "$s: final books do not balance: $*"
done
echo "PASS: every sink's books balanced in every read (storm, outage, drain, shutdown) and at exit"

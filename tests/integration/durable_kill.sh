#!/bin/sh
# durable_kill.sh - durability = disk: SIGKILL in a storm with Kafka down leaves a prefix 1..k; a torn record is skipped and counted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

ROUNDS=${NM_DURABLE_ROUNDS:-3}
COMM=$(unique_comm k)
PORT=$(closed_port)
SOCK=$T/control.sock
# The mock keeps 5 MB per partition and prunes the oldest past that: many partitions and
# no key (so messages spread over them) keep several storms' worth.
KAFKA_PARTITIONS=48
start_kafka netmon.events
cat >"$T/agent.conf" <<CONF
shutdown_timeout_ms = 2000;
control = { socket = "$SOCK"; };
$QUIET_PROGRAMS
sinks = (
  { name = "siem"; type = "kafka"; format = "json"; brokers = "$BOOTSTRAP";
    topic = "netmon.events"; key = "";
    properties = [ "linger.ms=5", "reconnect.backoff.max.ms=500" ];
    durability = "disk"; durability_sync_ms = 20;
    queue = { max_events = 1000; when_full = "block"; spool_dir = "$T/spool"; }; }
);
CONF

# siem_stat KEY...: the siem sink's counters from /api/stats, space separated.
siem_stat() {
	curl -sS --max-time 5 --unix-socket "$SOCK" http://localhost/api/stats 2>/dev/null |
		python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin)["sinks"] if x["name"] == "siem"][0]
print(" ".join(str(s[k]) for k in sys.argv[1:]))' "$@"
}

# run_seqs FILE RUN: "distinct max holes duplicates" of the events of run RUN (id prefix) in FILE.
run_seqs() {
	grep -F "\"id\":\"$2-" "$1" >"$T/run.out"
	python3 - "$T/run.out" "$2" <<'PY'
import json, sys
seen, msgs = {}, set()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    part = line.split("\t", 2)
    if len(part) < 3 or (part[0], part[1]) in msgs:
        continue
    msgs.add((part[0], part[1]))
    try:
        ev = json.loads(part[2])
    except ValueError:
        continue
    if ev.get("id", "").split("-")[0] == sys.argv[2]:
        seen[ev["seq"]] = seen.get(ev["seq"], 0) + 1
k = max(seen) if seen else 0
holes = [q for q in range(1, k + 1) if q not in seen]
if holes:
    print("holes:", holes[:20], file=sys.stderr)
print(len(seen), k, len(holes), sum(seen.values()) - len(seen))
PY
}

# run_of_agent: the current agent's run id, from an event it delivered.
run_of_agent() {
	"$CONNECT" -n 1 -p "$PORT" -c "${COMM}r" >/dev/null
	for _ in $(seq 1 300); do
		grep -F "\"command\":\"${COMM}r\"" "$T/all.out" >"$T/marks.out"
		r=$(python3 - "$T/marks.out" "${COMM}r" "$SEEN_RUNS" <<'PY'
import json, sys
runs = set(sys.argv[3].split())
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    i = line.find("{")
    try:
        ev = json.loads(line[i:])
    except ValueError:
        continue
    r = ev.get("id", "").split("-")[0]
    if ev.get("command") == sys.argv[2] and r not in runs:
        print(r)
        break
PY
)
		[ -n "$r" ] && { echo "$r"; return 0; }
		sleep 0.2
	done
	fail "no event of the new agent run reached Kafka"
}

# replayed: the new agent delivered (or counted) everything it found in the spool.
replayed() {
	set -- $(siem_stat recovered delivered dropped)
	[ $# = 3 ] && [ "$2" -ge "$1" ]
}

# wait_replayed: up to 120 s (a storm's backlog drains at the mock's pace).
wait_replayed() {
	for _ in $(seq 1 240); do
		replayed && return 0
		sleep 0.5
	done
	return 1
}

# A consumer reads along all the time into $T/all.out ("partition offset payload" lines):
# the mock cluster prunes its oldest messages past some size, so a read at the end could
# miss them. kcat gives up while the brokers are down; it starts again from the beginning,
# and what it reads twice has the same partition and offset (run_seqs counts it once).
: >"$T/all.out"
(
	while :; do
		kcat -C -q -u -X fetch.wait.max.ms=100 -X auto.offset.reset=earliest -b "$BOOTSTRAP" -t netmon.events \
			-o beginning -f '%p\t%o\t%s\n' >>"$T/all.out" 2>>"$T/kcat.log" &
		echo "$!" >"$T/kcat.pid"
		wait "$!"
		sleep 0.3
	done
) &
echo "kill $!; kill \$(cat $T/kcat.pid)" >"$T/kcat.cleanup"
# caught_up: the consumer has read every partition up to where it ended when asked
# (other processes' events keep coming: waiting for silence would not end).
caught_up() {
	q=
	for p in $(seq 0 $((KAFKA_PARTITIONS - 1))); do q="$q -t netmon.events:$p:-1"; done
	# shellcheck disable=SC2086
	timeout 30 kcat -Q -b "$BOOTSTRAP" $q >"$T/marks" 2>>"$T/kcat.log" || return 1
	for _ in $(seq 1 120); do
		python3 - "$T/all.out" "$T/marks" <<'PY' && return 0
import re, sys
top = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    part = line.split("\t", 2)
    if len(part) == 3 and part[0].isdigit() and part[1].isdigit():
        p, o = int(part[0]), int(part[1])
        top[p] = max(top.get(p, -1), o)
for m in re.finditer(r"\[(\d+)\]\s+offset\s+(-?\d+)", open(sys.argv[2]).read()):
    if top.get(int(m.group(1)), -1) + 1 < int(m.group(2)):
        sys.exit(1)
PY
		sleep 1
	done
	return 1
}

SEEN_RUNS=
start_agent "$T/agent.conf"
RUN=$(run_of_agent) || exit 1
total_holes=0 total_dups=0
for round in $(seq 1 "$ROUNDS"); do
	kafka_down
	"$CONNECT" -n 100000000 -d 60 -p "$PORT" -c "$COMM" >/dev/null &
	storm=$!
	# a random moment in the storm (it is stopped after the kill): 0.2 .. 2 s in
	sleep "$(python3 -c 'import random; print(round(random.uniform(0.2, 2.0), 2))')"
	set -- $(siem_stat persisted received)
	persisted=$1 received=$2
	kill -0 "$storm" 2>/dev/null || fail "round $round: the storm ended before the kill"
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
	kill "$storm"
	wait "$storm" 2>/dev/null
	mv "$T/agent.log" "$T/agent.killed$round.log"
	[ "$persisted" -gt 0 ] || fail "round $round: nothing persisted before the kill ($received received)"
	SEEN_RUNS="$SEEN_RUNS $RUN"

	start_agent "$T/agent.conf"
	grep -q "from a previous run, replaying" "$T/agent.log" || fail "round $round: spool not replayed"
	kafka_up
	wait_replayed || fail "round $round: replay incomplete: recovered/delivered/dropped $(siem_stat recovered delivered dropped)"
	# a marker sent after the replay, and a quiet consumer: it has read what was sent
	NEW=$(run_of_agent) || exit 1
	caught_up || fail "round $round: the consumer never caught up"
	set -- $(run_seqs "$T/all.out" "$RUN")
	distinct=$1 k=$2 holes=$3 dups=$4
	echo "round $round: killed run $RUN: persisted $persisted (received $received) at the sample;" \
		"seqs 1..$k delivered, $holes holes, $dups duplicates"
	[ "$holes" = 0 ] || fail "round $round: $holes holes in the killed run's seqs 1..$k"
	[ "$distinct" = "$k" ] || fail "round $round: $distinct distinct seqs, max $k"
	[ "$k" -ge "$persisted" ] || fail "round $round: only 1..$k delivered, $persisted were persisted"
	total_holes=$((total_holes + holes)) total_dups=$((total_dups + dups))
	RUN=$NEW
done
echo "SIGKILL: $ROUNDS rounds, $total_holes holes, $total_dups duplicates"

# A torn final record: stopped with Kafka down, the newest segment cut mid-record.
kafka_down
"$CONNECT" -n 2000 -p "$PORT" -c "$COMM" >/dev/null
sleep 0.5
stop_agent
mv "$T/agent.log" "$T/agent.stopped.log"
SEEN_RUNS="$SEEN_RUNS $RUN"
last=$(ls "$T"/spool/*.seg | tail -1)
size=$(stat -c %s "$last")
[ "$size" -gt 100 ] || fail "the newest segment $last has $size bytes"
truncate -s $((size - 7)) "$last"
start_agent "$T/agent.conf"
kafka_up
wait_replayed || fail "torn: replay incomplete: $(siem_stat recovered delivered dropped)"
run_of_agent >/dev/null || exit 1
set -- $(siem_stat dropped_spool_corrupt)
[ "$1" = 1 ] || fail "torn record: dropped_spool_corrupt is $1, want 1"
kill -0 "$AGENT_PID" || fail "the agent died replaying a torn record"
caught_up || fail "torn: the consumer never caught up"
set -- $(run_seqs "$T/all.out" "$RUN")
[ "$3" = 0 ] || fail "torn: $3 holes in the stopped run's seqs 1..$2"
# The stopped run's newest event was the torn record; everything before it arrived.
set -- $(sed -n 's/.*sink siem: final: received \([0-9]*\) .*/\1/p' "$T/agent.stopped.log")
rec=$(sed -n 's/.*sink siem: \([0-9]*\) events in the spool.*/\1/p' "$T/agent.stopped.log")
own=$(($1 - ${rec:-0}))
set -- $(run_seqs "$T/all.out" "$RUN")
[ "$2" = $((own - 1)) ] || fail "torn: seqs 1..$2 of the stopped run arrived, want 1..$((own - 1))"
echo "torn record: skipped and counted (dropped_spool_corrupt 1); seqs 1..$2 of $own arrived"
stop_agent
echo "PASS: durability = disk kept a hole-free prefix through $ROUNDS SIGKILLs; a torn record was skipped and counted"

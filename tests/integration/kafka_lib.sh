# kafka_lib.sh - sourced by kafka_*.sh after lib.sh: a mock Kafka cluster and kcat read-back.

KAFKA_MOCK=$top_builddir/tests/helpers/nm-kafka-mock
command -v kcat >/dev/null 2>&1 || apt-get install -y -q kcat >/dev/null 2>&1 || {
	echo "SKIP: kcat missing and cannot be installed"
	exit 77
}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
[ -x "$KAFKA_MOCK" ] || fail "$KAFKA_MOCK not built"

# start_kafka [TOPIC...]: a one-broker mock cluster ($KAFKA_PARTITIONS partitions, 3); sets
# $KAFKA_PID and $BOOTSTRAP.
start_kafka() {
	args=
	for t in "$@"; do args="$args -t $t"; done
	rm -f "$T/kafka.boot" "$T/kafka.cmd"
	mkfifo -m 0600 "$T/kafka.cmd" || fail "cannot create the mock cluster's command pipe"
	# shellcheck disable=SC2086
	"$KAFKA_MOCK" -p "${KAFKA_PARTITIONS:-3}" -c "$T/kafka.cmd" $args >"$T/kafka.boot" 2>"$T/kafka.log" &
	KAFKA_PID=$!
	echo "kill -KILL $KAFKA_PID" >"$T/kafka.cleanup"
	wait_for test -s "$T/kafka.boot" || fail "mock Kafka cluster did not start"
	BOOTSTRAP=$(head -1 "$T/kafka.boot")
}

kafka_down() { kill -USR1 "$KAFKA_PID"; }
kafka_up() { kill -USR2 "$KAFKA_PID"; }
# kafka_cmd COMMAND...: a command for the mock cluster (nm-kafka-mock's usage lists them),
# e.g. kafka_cmd produce-error OUT_OF_ORDER_SEQUENCE_NUMBER
kafka_cmd() { echo "$*" >"$T/kafka.cmd"; }

# kafka_read TOPIC: every message of TOPIC as "key<TAB>headers<TAB>payload" lines.
kafka_read() {
	timeout 30 kcat -C -q -b "$BOOTSTRAP" -t "$1" -o beginning -e -f '%k\t%h\t%s\n' 2>>"$T/kcat.log"
}

# count_ids FILE COMM: "distinct duplicates" of JSON events in FILE whose command is COMM.
count_ids() {
	python3 - "$1" "$2" <<'PY'
import json, sys
ids = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    i = line.find("{")
    if i < 0:
        continue
    try:
        ev = json.loads(line[i:])
    except ValueError:
        continue
    if ev.get("command") == sys.argv[2]:
        ids[ev["id"]] = ids.get(ev["id"], 0) + 1
print(len(ids), sum(ids.values()) - len(ids))
PY
}

# Config lines for tests: only connection events (our traffic), a big ring so that
# other processes' bursts on a shared machine do not cost our events in the kernel.
QUIET_PROGRAMS='programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; connection = { ring_size = 33554432; }; };'

# wait_count SECONDS WANT CMD...: until CMD prints a number >= WANT.
wait_count() {
	secs=$1 want=$2
	shift 2
	n=0
	for _ in $(seq 1 "$secs"); do
		n=$("$@")
		[ "$n" -ge "$want" ] && return 0
		sleep 1
	done
	return 1
}

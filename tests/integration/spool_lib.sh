# spool_lib.sh - sourced by spool tests after lib.sh and kafka_lib.sh: outages and the books of spooling sinks.

# spool_books SINK...: each sink's final line must balance: received = delivered + dropped + spooled.
spool_books() {
	for s in "$@"; do
		line=$(final_books "$s")
		set -- $line
		[ "$1" = $(($2 + $3 + $4)) ] || fail "$s: books do not balance: $line"
		echo "$s: received $1 = delivered $2 + dropped $3 + spooled $4"
	done
}

# outage_round DOWN UP TRUTH GOT OUT: the broker away (DOWN) for 5 s while $COMM keeps
# connecting to $PORT, something must reach $T/spool; then back (UP), and GOT must reach
# TRUTH's count. Prints the distinct and duplicate counts in OUT.
outage_round() {
	"$1"
	for _ in 1 2 3 4 5; do
		"$CONNECT" -n 300 -p "$PORT" -c "$COMM" >/dev/null
		sleep 1
	done
	ls "$T/spool"/*.seg >/dev/null 2>&1 || fail "nothing was spooled during the outage"
	"$2"
	want=$("$3")
	wait_count 40 "$want" "$4" || fail "after the outage $4 has $("$4") of $want events"
	set -- $(count_ids "$5" "$COMM")
	echo "outage: $1/$want distinct events arrived, $2 duplicates"
}

# stop_while_down DOWN SINK: broker away, 500 more events, SIGTERM; SINK's books must balance.
# Sets BOOKS to "received delivered dropped spooled"; keeps the log as $T/agent1.log.
stop_while_down() {
	"$1"
	"$CONNECT" -n 500 -p "$PORT" -c "$COMM" >/dev/null
	sleep 1
	stop_agent
	BOOKS=$(final_books "$2")
	set -- $BOOKS
	[ "$1" = $(($2 + $3 + $4)) ] || fail "books do not balance at SIGTERM: $BOOKS"
	mv "$T/agent.log" "$T/agent1.log"
}

# kafka_spool_setup LETTER: $COMM (unique, from LETTER), $PORT (closed), a mock cluster with
# topic netmon.events, and $T/agent.conf: a file sink "truth" beside a Kafka sink "siem" that
# spools to $T/spool past 100 events in memory.
kafka_spool_setup() {
	COMM=$(unique_comm "$1")
	PORT=$(closed_port)
	start_kafka netmon.events
	cat >"$T/agent.conf" <<CONF
shutdown_timeout_ms = 2000;
control = { socket = "$T/control.sock"; };
$QUIET_PROGRAMS
sinks = (
  { name = "truth"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
  { name = "siem"; type = "kafka"; format = "json"; brokers = "$BOOTSTRAP";
    topic = "netmon.events"; properties = [ "linger.ms=5", "reconnect.backoff.max.ms=500" ];
    queue = { max_events = 100; when_full = "spool"; spool_dir = "$T/spool"; }; }
);
CONF
}

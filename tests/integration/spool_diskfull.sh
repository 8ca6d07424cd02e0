#!/bin/sh
# spool_diskfull.sh - a spool on a full 1 MiB tmpfs: drains, frees its space, spools again, no replays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka_lib.sh"
. "$(dirname "$0")/spool_lib.sh"

command -v curl >/dev/null 2>&1 || fail "curl missing (bootstrap.sh deps installs it)"
command -v jq >/dev/null 2>&1 || fail "jq missing (bootstrap.sh deps installs it)"
mkdir -m 0700 "$T/spool"
mount -t tmpfs -o size=1m,mode=0700 tmpfs "$T/spool" || fail "cannot mount a tmpfs"
echo "umount -l $T/spool" >"$T/spool.cleanup"

kafka_spool_setup d
# sink KEY: KEY of the siem sink in /api/stats
sink() {
	curl -sS --unix-socket "$T/control.sock" http://localhost/api/stats |
		jq -r ".sinks[] | select(.name == \"siem\") | .$1"
}
kafka_ids() { kafka_read netmon.events >"$T/k.out"; count_ids "$T/k.out" "$1" | cut -d' ' -f1; }
truth_ids() { count_ids "$T/events.ndjson" "$1" | cut -d' ' -f1; }
used_kib() { df -k --output=used "$T/spool" | tail -1 | tr -d ' '; }
# drained: nothing spooled for siem any more (other traffic may keep the memory queue busy)
drained() { [ "$(sink spooled)" = 0 ]; }

start_agent "$T/agent.conf"

# 1. broker down, a burst that fills the tmpfs: the rest is counted as spool_error
kafka_down
errors0=$(sink dropped_spool_error)
"$CONNECT" -n 4000 -p "$PORT" -c "$COMM" >/dev/null
sleep 2
errors=$(sink dropped_spool_error)
[ $((errors - errors0)) -ge 1 ] || fail "the burst did not fill the spool (spool_error $errors, $(used_kib) KiB used)"
full_kib=$(used_kib)
echo "full: $full_kib KiB used, spooled $(sink spooled), spool_error $errors"

# 2. broker up: everything spooled is delivered, and the delivered segments are gone
kafka_up
for _ in $(seq 1 300); do drained && break; sleep 0.2; done
drained || fail "spool did not drain: spooled $(sink spooled) queued $(sink queued)"
# Other processes' connections share the sink: the disk-full loss is an upper bound for ours.
want=$(($(truth_ids "$COMM") - ($(sink dropped_spool_error) - errors0)))
[ "$want" -ge 1 ] || want=1
wait_count 30 "$want" kafka_ids "$COMM" || fail "after the outage kafka has $(kafka_ids "$COMM") of $want"
sleep 1
[ "$(used_kib)" -le 64 ] || fail "delivered segments not freed: $(used_kib) KiB used (was $full_kib): $(ls -la "$T/spool")"
echo "drained: $(kafka_ids "$COMM") of $(truth_ids "$COMM") burst events in kafka, spool back to $(used_kib) KiB"

# 3. twice more: a burst beyond the in-memory queue spools and is delivered, nothing lost
for round in 1 2; do
	C=$(unique_comm r)
	kafka_down
	"$CONNECT" -n 500 -p "$PORT" -c "$C" >/dev/null
	sleep 1
	[ "$(sink spooled)" -ge 1 ] || fail "round $round: nothing spooled (spooled $(sink spooled))"
	kafka_up
	sent=$(truth_ids "$C") # not $n: wait_count sets that
	[ "$sent" -ge 500 ] || fail "round $round: the file sink saw only $sent events of $C"
	wait_count 60 "$sent" kafka_ids "$C" ||
		fail "round $round: kafka has $(kafka_ids "$C") of $sent; kcat: $(tail -3 "$T/kcat.log")"
	for _ in $(seq 1 50); do drained && break; sleep 0.2; done
	echo "round $round: $sent/$sent events delivered through the spool"
done
[ "$(sink dropped)" = "$(sink dropped_spool_error)" ] || fail "events dropped for another reason than the full disk: $(sink dropped)"

[ "$(sink spool_ack_errors)" = 0 ] || fail "the ack position could not be saved $(sink spool_ack_errors) times"
# 4. SIGTERM and restart: nothing acked before is sent again
stop_agent
spool_books siem
mv "$T/agent.log" "$T/agent1.log"
start_agent "$T/agent.conf"
sleep 3
kafka_read netmon.events >"$T/k.out"
total=$(grep -c . "$T/k.out")
distinct=$(python3 -c 'import json,sys
ids=set()
for l in open(sys.argv[1], errors="replace"):
    i=l.find("{")
    if i >= 0:
        try: ids.add(json.loads(l[i:])["id"])
        except (ValueError, KeyError): pass
print(len(ids))' "$T/k.out")
echo "after restart: $distinct distinct ids, $total messages in kafka"
[ "$distinct" = "$total" ] || fail "$((total - distinct)) duplicates in kafka after the restart"
stop_agent
echo "PASS: a full spool disk drains, frees its segments, spools again with 0 lost, and 0 duplicates after restart"

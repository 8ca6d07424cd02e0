#!/bin/sh
# storm.sh - the design's load: one process connect()ing to a closed loopback port as fast as it
# can (one connection event + one packet drop per call). Measures the storm rate untraced, with
# the agent (both programs, JSON to a file), with reference consumers of the same tracepoints,
# and with bpftrace; and how many events the agent captured. Needs root. Ratios matter, not rates:
# run it on a quiet machine and compare within one run.
#
#   top_builddir=_build sh tests/bench/storm.sh [SECONDS] [ROUNDS]
set -u
B=${top_builddir:-$(pwd)}
AGENT=$B/src/ebpf-netmon
CONNECT=$B/tests/helpers/nm-connect
SECS=${1:-5}
ROUNDS=${2:-2}
T=$(mktemp -d /tmp/nm-storm.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

storm() { # storm COMM -> connects/s; the exact count of connects in $T/last
	taskset -c 1 "$CONNECT" -4 -d "$SECS" -p "$PORT" -c "$1" >"$T/storm.out"
	sed -n 's/^connects=\([0-9]*\).*/\1/p' "$T/storm.out" >"$T/last"
	sed 's/.*rate=//' "$T/storm.out"
}

agent_conf() { # agent_conf NAME SINKS WAKEUP_BYTES
	cat >"$T/$1.conf" <<CONF
sinks = ( $2 );
control = { enabled = false; };
programs = { connection = { wakeup_bytes = $3; }; packet_drop = { wakeup_bytes = $3; }; };
CONF
}

run_agent() { # run_agent NAME -> pid in AGENT_PID once attached
	taskset -c 0 "$AGENT" -c "$T/$1.conf" >/dev/null 2>"$T/$1.log" &
	AGENT_PID=$!
	for _ in $(seq 1 100); do grep -q "running:" "$T/$1.log" 2>/dev/null && return; sleep 0.05; done
	echo "agent $1 did not start" >&2
	cat "$T/$1.log" >&2
	exit 1
}

agent_conf file "{ name = \"f\"; type = \"file\"; format = \"json\"; path = \"$T/events.ndjson\"; rotate_bytes = 0; }" 131072
agent_conf nosink "" 131072
agent_conf perevent "" 0

# ratio NAME RATE BASE: print one line and remember the ratio for the summary
ratio() {
	r=$(echo "$2 / $3" | bc -l)
	printf '%-44s %12s %8.2f\n' "$1" "$2" "$r"
	echo "$1|$r" >>"$T/ratios"
}

printf '%-44s %12s %8s\n' "configuration" "connects/s" "ratio"
for round in $(seq 1 "$ROUNDS"); do
	base=$(storm nmbase)
	printf '%-44s %12s %8s\n' "untraced (round $round)" "$base" "1.00"

	run_agent file
	comm=nmst$round
	rate=$(storm $comm)
	sleep 0.5
	kill -TERM $AGENT_PID; wait $AGENT_PID
	ratio "ebpf-netmon, both programs, JSON file" "$rate" "$base"
	total=$(cat "$T/last")
	got=$(grep -c "\"type\":\"connection\",.*\"command\":\"$comm\"" "$T/events.ndjson")
	drops=$(grep -c "\"destination_port\":$PORT,.*\"interface\"" "$T/events.ndjson")
	lost=$(grep '"type":"loss"' "$T/events.ndjson" | sed -n 's/.*"lost_total":\([0-9]*\).*/\1/p' | sort -n | tail -1)
	echo "    captured: $got connection events, $drops packet drops for $total connects; loss reported: ${lost:-0}"
	rm -f "$T/events.ndjson"

	run_agent nosink
	rate=$(storm nmns)
	kill -TERM $AGENT_PID; wait $AGENT_PID
	ratio "reference: consumer, batched wake-ups" "$rate" "$base"

	run_agent perevent
	rate=$(storm nmpe)
	kill -TERM $AGENT_PID; wait $AGENT_PID
	ratio "reference: consumer, a wake-up per event" "$rate" "$base"

	if command -v bpftrace >/dev/null; then
		taskset -c 0 bpftrace -e 'tracepoint:syscalls:sys_exit_connect { printf("%s %d\n", comm, args->ret); } tracepoint:skb:kfree_skb { printf("%d %d\n", args->reason, args->protocol); }' >"$T/bt.out" 2>"$T/bt.log" &
		BT=$!
		for _ in $(seq 1 100); do grep -q "Attaching" "$T/bt.log" 2>/dev/null && break; sleep 0.05; done
		sleep 0.5
		rate=$(storm nmbt)
		kill -INT $BT; wait $BT 2>/dev/null
		got=$(grep -c "^nmbt " "$T/bt.out")
		ratio "bpftrace printing both" "$rate" "$base"
		echo "    captured: $got connection lines for $(cat "$T/last") connects"
	fi
done

echo
echo "median ratio to untraced over $ROUNDS rounds (min-max):"
sort -t'|' -k1,1 -k2,2n "$T/ratios" | awk -F'|' '
	{ v[$1] = v[$1] " " $2; n[$1]++ }
	END { for (k in v) { split(substr(v[k], 2), a, " "); m = a[int((n[k] + 1) / 2)];
		printf "  %-44s %5.2f  (%.2f-%.2f)\n", k, m, a[1], a[n[k]] } }' | sort

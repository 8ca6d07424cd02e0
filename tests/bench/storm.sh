#!/bin/sh
# storm.sh - the design's load: one process connect()ing to a closed loopback port as fast as it
# can (one connection event + one packet drop per call). Measures the storm rate untraced, with
# the agent (both programs alone, then every program, JSON to a file), with reference consumers of the same tracepoints,
# with the do-nothing floor (make tests/bench/floor tests/bench/floor.bpf.o; make bench builds
# them), with the agent's two programs under a filter that refuses everything, and with
# bpftrace; and how many events the agent captured. Needs root. Ratios matter, not rates:
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

# every program but connection and packet_drop, each as "  NAME = { enabled = E; };"
others() {
	"$AGENT" --print-default | sed -n "s/^  \([a-z0-9_]*\) = {\$/  \1 = { enabled = $1; };/p" |
		grep -v '^  connection \|^  packet_drop '
}

agent_conf() { # agent_conf NAME SINKS WAKEUP_BYTES [OTHERS_ENABLED]
	cat >"$T/$1.conf" <<CONF
sinks = ( $2 );
control = { enabled = false; };
programs = {
$(others "${4:-false}")
  connection = { wakeup_bytes = $3; }; packet_drop = { wakeup_bytes = $3; };
};
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
agent_conf all "{ name = \"f\"; type = \"file\"; format = \"json\"; path = \"$T/all.ndjson\"; rotate_bytes = 0; }" 131072 true
agent_conf nosink "" 131072
agent_conf perevent "" 0
# Both programs alone, each with a filter that refuses everything (no process has pid 4194304,
# and a softirq drop has no pid at all): compared with the floor below, the cost of a filter.
cat >"$T/reject.conf" <<CONF
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/reject.ndjson"; } );
control = { enabled = false; };
programs = {
$(others false)
  connection = { filter = { pids = [ 4194304 ]; }; };
  packet_drop = { filter = { pids = [ 4194304 ]; }; };
};
CONF
# The do-nothing floor: the same hooks as those two programs, each only counting in a per-CPU
# array (tests/bench/floor.bpf.c); what any consumer of these tracepoints costs at least.
FLOOR=$B/tests/bench/floor
FLOOR_OBJ=$B/tests/bench/floor.bpf.o
[ -x "$FLOOR" ] && [ -f "$FLOOR_OBJ" ] || FLOOR=

# ratio NAME RATE BASE: print one line and remember the ratio for the summary
ratio() {
	r=$(echo "$2 / $3" | bc -l)
	printf '%-44s %12s %8.2f\n' "$1" "$2" "$r"
	echo "$1|$r" >>"$T/ratios"
}

# relative KEY WHAT RATE REF FILE: RATE / REF, printed as "to WHAT" with the events FILE got (then
# removed), and kept under KEY for the medians
relative() {
	r=$(echo "$3 / $4" | bc -l)
	printf '    to %s: %.3f; events written: %s\n' "$2" "$r" "$(wc -l <"$5")"
	echo "$1|$r" >>"$T/ratios"
	rm -f "$5"
}

printf '%-44s %12s %8s\n' "configuration" "connects/s" "ratio"
for round in $(seq 1 "$ROUNDS"); do
	base=$(storm nmbase)
	printf '%-44s %12s %8s\n' "untraced (round $round)" "$base" "1.00"

	run_agent file
	comm=nmst$round
	rate_both=$(storm $comm)
	sleep 0.5
	kill -TERM $AGENT_PID; wait $AGENT_PID
	ratio "ebpf-netmon, both programs, JSON file" "$rate_both" "$base"
	total=$(cat "$T/last")
	got=$(grep -c "\"type\":\"connection\",.*\"command\":\"$comm\"" "$T/events.ndjson")
	drops=$(grep -c "\"destination_port\":$PORT,.*\"interface\"" "$T/events.ndjson")
	lost=$(grep '"type":"loss"' "$T/events.ndjson" | sed -n 's/.*"lost_total":\([0-9]*\).*/\1/p' | sort -n | tail -1)
	echo "    captured: $got connection events, $drops packet drops for $total connects; loss reported: ${lost:-0}"
	rm -f "$T/events.ndjson"

	# every program on (tcp_lifecycle, tcp_retransmit, tcp_reset, udp_send too): their hooks
	# fire on state changes, not per packet; compared with the two alone, in the same round
	run_agent all
	rate_all=$(storm nmal$round)
	sleep 0.5
	kill -TERM $AGENT_PID; wait $AGENT_PID
	ratio "ebpf-netmon, every program, JSON file" "$rate_all" "$base"
	relative "every program / both alone" "both programs alone" "$rate_all" "$rate_both" \
		"$T/all.ndjson"

	run_agent nosink
	rate=$(storm nmns)
	kill -TERM $AGENT_PID; wait $AGENT_PID
	ratio "reference: consumer, batched wake-ups" "$rate" "$base"

	run_agent perevent
	rate=$(storm nmpe)
	kill -TERM $AGENT_PID; wait $AGENT_PID
	ratio "reference: consumer, a wake-up per event" "$rate" "$base"

	if [ -n "$FLOOR" ]; then
		taskset -c 0 "$FLOOR" "$FLOOR_OBJ" >"$T/floor.out" 2>"$T/floor.log" &
		FL=$!
		for _ in $(seq 1 100); do grep -q "attached" "$T/floor.log" 2>/dev/null && break; sleep 0.05; done
		floor=$(storm nmfl)
		kill -TERM $FL; wait $FL
		ratio "floor: the same hooks, counting only" "$floor" "$base"
		echo "    counted: $(cat "$T/floor.out") (enter, exit, drops) for $(cat "$T/last") connects"

		run_agent reject
		rate=$(storm nmrj)
		sleep 0.5
		kill -TERM $AGENT_PID; wait $AGENT_PID
		ratio "ebpf-netmon, both, filter refusing all" "$rate" "$base"
		relative "filter refusing all / floor" "the floor" "$rate" "$floor" "$T/reject.ndjson"
	fi

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

# The same comparison from the kernel's own run-time statistics, noise-proof: the floor and the
# agent refusing everything attached side by side to one storm, each program's total time per
# connect, and the difference as a share of an untraced connect's time (the last round's).
if [ -n "$FLOOR" ] && command -v bpftool >/dev/null; then
	was=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
	bpftool prog show | sed -n 's/^\([0-9]*\): .*/\1/p' >"$T/before"
	taskset -c 0 "$FLOOR" "$FLOOR_OBJ" >"$T/floor.out" 2>"$T/floor.log" &
	FL=$!
	run_agent reject
	storm nmsbs >/dev/null
	bpftool prog show >"$T/progs"
	kill -TERM $FL; wait $FL
	kill -TERM $AGENT_PID; wait $AGENT_PID
	sysctl -qw kernel.bpf_stats_enabled="$was"
	echo
	/usr/bin/python3 - "$T/progs" "$T/before" "$(cat "$T/last")" "$base" <<'PY'
import re, sys
txt = open(sys.argv[1]).read()
before = set(open(sys.argv[2]).read().split())
connects, rate = int(sys.argv[3]), float(sys.argv[4])
ns = {"floor": 0, "agent": 0}
for block in re.split(r"\n(?=\d+: )", txt):
    m = re.match(r"(\d+): .*?name ((floor|nm)_\w+)", block)
    s = re.search(r"run_time_ns (\d+) run_cnt (\d+)", block)
    if m and s and m.group(1) not in before:
        ns["floor" if m.group(3) == "floor" else "agent"] += int(s.group(1))
per = {k: v / connects for k, v in ns.items()}
connect_ns = 1e9 / rate
print(f"kernel time per connect, side by side ({connects} connects; untraced "
      f"{rate:.0f}/s = {connect_ns:.0f} ns each):")
print(f"  floor {per['floor']:.0f} ns, agent refusing all {per['agent']:.0f} ns: "
      f"the filter's cost over the floor {per['agent'] - per['floor']:.0f} ns = "
      f"{100 * (per['agent'] - per['floor']) / connect_ns:.2f} % of an untraced connect")
PY
fi

echo
echo "median ratio to untraced over $ROUNDS rounds (min-max; the filter's line: to the floor; every program: to both alone):"
sort -t'|' -k1,1 -k2,2n "$T/ratios" | awk -F'|' '
	{ v[$1] = v[$1] " " $2; n[$1]++ }
	END { for (k in v) { split(substr(v[k], 2), a, " "); m = a[int((n[k] + 1) / 2)];
		printf "  %-44s %5.2f  (%.2f-%.2f)\n", k, m, a[1], a[n[k]] } }' | sort

#!/bin/sh
# cost.sh - how the agent's own CPU per event grows: at 10 k, 50 k connects/s and the storm's full
# rate, with 1 and 2 storm processes, with no store and a full one, with 1, 2 and 4 file sinks.
# Per event = the agent's CPU time in the window (every thread's schedstat, split into user and
# kernel by utime:stime) over the events its first sink wrote in it. Needs root.
#
#   top_builddir=_build sh tests/bench/cost.sh [SECONDS]
set -u
B=${top_builddir:-$(pwd)}
AGENT=$B/src/ebpf-netmon
CONNECT=$B/tests/helpers/nm-connect
SECS=${1:-6}
T=$(mktemp -d /tmp/nm-cost.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# conf NAME SINKS STORE: SINKS file sinks (JSON); STORE = off | full (capacity 10000, filled first)
conf() {
	sinks=""
	for i in $(seq 1 "$2"); do
		[ -n "$sinks" ] && sinks="$sinks,"
		sinks="$sinks { name = \"f$i\"; type = \"file\"; format = \"json\"; path = \"$T/$1.$i.ndjson\"; rotate_bytes = 0; }"
	done
	if [ "$3" = full ]; then
		control="control = { socket = \"$T/control.sock\"; }; store = { capacity = 10000; };"
	else
		control="control = { enabled = false; };"
	fi
	printf 'sinks = ( %s );\n%s\n' "$sinks" "$control" >"$T/$1.conf"
}

# cpu PID -> "total_ns utime_ticks stime_ticks" of every thread of PID
cpu() {
	total=0
	for f in /proc/"$1"/task/*/schedstat; do
		read -r ns _ <"$f" && total=$((total + ns))
	done
	set -- $(sed 's/^.*) //' /proc/"$1"/stat)
	echo "$total ${12} ${13}"
}

lines() { cat "$T/$1.1.ndjson" 2>/dev/null | wc -l; }

# settle NAME: wait until the first sink's file stops growing (the rings are drained)
settle() {
	last=-1
	for _ in $(seq 1 50); do
		n=$(lines "$1")
		[ "$n" = "$last" ] && return
		last=$n
		sleep 0.2
	done
}

# load RATE PROCS: RATE connects/s per process (0 = as fast as it can), PROCS processes
load() {
	r=""
	[ "$1" != 0 ] && r="-r $1"
	rm -f "$T"/load.*
	pids=""
	for p in $(seq 1 "$2"); do
		# shellcheck disable=SC2086
		taskset -c $((p % 2)) "$CONNECT" -4 -d "$SECS" -p "$PORT" -c nmcost $r >"$T/load.$p" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	wait $pids
	cat "$T/load".* | sed -n 's/^connects=\([0-9]*\).*/\1/p' | paste -sd+ | bc
}

# case LABEL RATE PROCS SINKS STORE
run_case() {
	name=c$$_$(echo "$1" | tr -c 'a-z0-9' _)
	conf "$name" "$4" "$5"
	taskset -c 0 "$AGENT" -c "$T/$name.conf" >/dev/null 2>"$T/$name.log" &
	apid=$!
	for _ in $(seq 1 100); do grep -q "running:" "$T/$name.log" 2>/dev/null && break; sleep 0.05; done
	if [ "$5" = full ]; then
		"$CONNECT" -4 -n 12000 -p "$PORT" -c nmfill >/dev/null # 3 events each: the store is full
	fi
	settle "$name"
	e0=$(lines "$name")
	set -- "$1" "$2" "$3" "$4" "$5" $(cpu $apid)
	c0=$6 u0=$7 s0=$8
	connects=$(load "$2" "$3")
	settle "$name"
	e1=$(lines "$name")
	set -- "$1" "$2" "$3" "$4" "$5" $(cpu $apid)
	kill $apid
	wait $apid 2>/dev/null
	events=$((e1 - e0))
	/usr/bin/python3 - "$1" "$connects" "$SECS" "$events" "$(($6 - c0))" "$(($7 - u0))" "$(($8 - s0))" <<'PY'
import sys
label, conns, secs, ev, ns, ut, st = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), *map(int, sys.argv[4:])
ticks = ut + st
user = ns * ut / ticks if ticks else ns / 2
per = ns / ev if ev else 0
print(f"{label:34s} {conns / secs:9.0f} {ev:9d} {per:9.0f} {user / ev if ev else 0:9.0f} "
      f"{(ns - user) / ev if ev else 0:9.0f}")
PY
	rm -f "$T/$name".*.ndjson
}

printf '%-34s %9s %9s %9s %9s %9s\n' "case (rate per process)" "conn/s" "events" "ns/event" "user" "kernel"
for rate in 10000 50000 0; do
	label=$rate
	[ "$rate" = 0 ] && label=full
	run_case "$label, 1 proc, no store, 1 sink" "$rate" 1 1 off
	run_case "$label, 1 proc, store full, 1 sink" "$rate" 1 1 full
	run_case "$label, 1 proc, no store, 2 sinks" "$rate" 1 2 off
	run_case "$label, 1 proc, no store, 4 sinks" "$rate" 1 4 off
	run_case "$label, 2 procs, no store, 1 sink" "$rate" 2 1 off
done

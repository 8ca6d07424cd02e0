#!/bin/sh
# bpf_cost.sh - the kernel side's cost per program invocation under the connect() storm, from the
# kernel's own BPF run-time statistics (kernel.bpf_stats_enabled, restored afterwards). Needs root.
#
#   top_builddir=_build sh tests/bench/bpf_cost.sh [SECONDS] [all]
# With "all", every program compiled in is enabled, not only the default ones.
set -u
B=${top_builddir:-$(pwd)}
SECS=${1:-3}
WHICH=${2:-default}
T=$(mktemp -d /tmp/nm-cost.XXXXXX)
was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill $A 2>/dev/null; sysctl -qw kernel.bpf_stats_enabled=$was; rm -rf "$T"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
printf 'sinks = ();\ncontrol = { enabled = false; };\n' >"$T/agent.conf"
if [ "$WHICH" = all ]; then
	echo "programs = {" >>"$T/agent.conf"
	"$B/src/ebpf-netmon" --print-default |
		sed -n 's/^  \([a-z0-9_]*\) = {$/  \1 = { enabled = true; };/p' >>"$T/agent.conf"
	echo "};" >>"$T/agent.conf"
fi
# other agents may be running: only the programs this one loads are reported
bpftool prog show | sed -n 's/^\([0-9]*\): .*/\1/p' >"$T/before"
taskset -c 0 "$B/src/ebpf-netmon" -c "$T/agent.conf" >/dev/null 2>"$T/log" &
A=$!
for _ in $(seq 1 100); do grep -q "running:" "$T/log" && break; sleep 0.05; done
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 1 "$B/tests/helpers/nm-connect" -d "$SECS" -p "$PORT"
bpftool prog show >"$T/progs"
/usr/bin/python3 - "$T/progs" "$T/before" <<'PY'
import re, sys
txt = open(sys.argv[1]).read()
before = set(open(sys.argv[2]).read().split())
# one block per program; bpftool leaves run_time_ns out of a program that never ran
for block in re.split(r"\n(?=\d+: )", txt):
    m = re.match(r"(\d+): .*?name (nm_\w+)", block)
    s = re.search(r"run_time_ns (\d+) run_cnt (\d+)", block)
    if m and s and m.group(1) not in before and int(s.group(2)):
        t, c = int(s.group(1)), int(s.group(2))
        print(f"  {m.group(2):20s} {c:9d} runs  {t / c:6.0f} ns per run")
PY

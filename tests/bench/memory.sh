#!/bin/sh
# memory.sh - the agent's resident memory with its store full (100 000 events), on the defaults
# (both programs, JSON to stdout, control socket up), and its start-to-attached time.
#
#   top_builddir=_build sh tests/bench/memory.sh
set -u
B=${top_builddir:-$(pwd)}
T=$(mktemp -d /tmp/nm-mem.XXXXXX)
trap 'kill $A 2>/dev/null; rm -rf "$T"' EXIT
printf 'control = { socket = "%s/ctl.sock"; };\n' "$T" >"$T/agent.conf"
"$B/src/ebpf-netmon" -c "$T/agent.conf" >/dev/null 2>"$T/log" &
A=$!
for _ in $(seq 1 100); do grep -q "running:" "$T/log" && break; sleep 0.05; done
grep -o "attached in [0-9]* ms" "$T/log"
echo "at start:  $(grep VmRSS /proc/$A/status)"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B/tests/helpers/nm-connect" -n 60000 -p "$PORT" -c nmmem >/dev/null
sleep 1
stored=$(curl -s --unix-socket "$T/ctl.sock" http://localhost/api/stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["stored"])')
echo "store full ($stored events): $(grep VmRSS /proc/$A/status)"
grep -E "RssAnon|RssFile" /proc/$A/status
kill -TERM $A
wait $A

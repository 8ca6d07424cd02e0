#!/bin/sh
# memory.sh - the agent's resident memory with its store full (100 000 events), on the defaults
# (the default programs, JSON to stdout, control socket up), and its start-to-attached time;
# where the resident memory is: the BPF maps (each ring is mapped twice), anonymous memory (heap,
# the store), files (the binary and its libraries).
#
#   top_builddir=_build [RUNS=5] sh tests/bench/memory.sh
#
# Start-up is timed RUNS times from exec to the "running:" log line (the agent's own
# "attached in" starts at main(), after the dynamic loader), and the median printed.
set -u
B=${top_builddir:-$(pwd)}
T=$(mktemp -d /tmp/nm-mem.XXXXXX)
A=
trap 'kill $A 2>/dev/null; rm -rf "$T"' EXIT
printf 'control = { socket = "%s/ctl.sock"; };\n' "$T" >"$T/agent.conf"
/usr/bin/python3 - "$B/src/ebpf-netmon" "$T" "${RUNS:-5}" <<'PY'
import os, signal, subprocess, sys, time
agent, tmp, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
ms = []
for i in range(runs):
    log = os.path.join(tmp, "start.log")
    with open(log, "w") as err:
        t0 = time.monotonic()
        p = subprocess.Popen([agent, "-c", os.path.join(tmp, "agent.conf")],
                             stdout=subprocess.DEVNULL, stderr=err)
        while p.poll() is None and time.monotonic() - t0 < 10:
            with open(log) as f:
                if "running:" in f.read():
                    break
            time.sleep(0.001)
        ms.append((time.monotonic() - t0) * 1000)
    p.send_signal(signal.SIGTERM)
    p.wait()
ms.sort()
print("exec to running: median %.0f ms of %d runs (%s)" %
      (ms[len(ms) // 2], runs, " ".join("%.0f" % m for m in ms)))
PY
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
awk '/^[0-9a-f]+-[0-9a-f]+ / { m = $6 == "anon_inode:bpf-map" ? "bpf maps" : ($6 ~ /^\// ? "files" : "anonymous") }
	/^Rss:/ { kb[m] += $2 }
	END { printf "by mapping: bpf maps %d kB, anonymous %d kB, files %d kB\n", kb["bpf maps"], kb["anonymous"], kb["files"] }' /proc/$A/smaps
kill -TERM $A
wait $A

#!/bin/sh
# control_abuse.sh - another user's slowloris of 200 sockets, then 500 concurrent connections:
# root's /health keeps answering 200 within 1 s, the user is held to max_clients_per_uid (root
# is not), the agent's memory stays bounded, and every slot is free again once the attack ends.
. "$(dirname "$0")/control_lib.sh"

chmod 755 "$T" # nobody must reach the socket in it
# Under ASan freed memory waits in a quarantine (256 MB by default) before it is reused: that
# would be counted as growth here. A small one keeps the memory bound meaningful there too.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
export ASAN_OPTIONS
# A small store: what other tests' traffic adds to it is not the attack's memory.
write_conf 'mode = "0666"; max_clients = 64; max_clients_per_uid = 16;' 'capacity = 1000;'
start_agent "$T/agent.conf"
expect 200 GET /health

rss_kb() { sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$AGENT_PID/status"; }

# attack MODE SECONDS: as uid nobody, in the background; prints what it managed at the end.
attack() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups $PY - "$SOCK" "$1" "$2" \
		>"$T/attack.$1" 2>&1 <<'PY' &
import socket, sys, time
path, mode, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
want = 200 if mode == "slowloris" else 500
socks, opened, refused = [], 0, 0
end = time.time() + secs
def connect():
    global opened
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(path)
    except (BlockingIOError, ConnectionRefusedError, OSError):
        s.close()
        return None
    opened += 1
    try:
        s.send(b"GET /api/events/stream HTTP/1.1\r\nHost: x\r\n\r\n" if mode == "flood" else b"GET /health HTTP/1.1\r\n")
    except OSError:
        pass
    return s
while time.time() < end:
    while len(socks) < want:
        s = connect()
        if s is None:
            break
        socks.append(s)
    keep = []
    for s in socks:
        try:
            if mode == "slowloris":
                s.send(b"X")  # one byte of a header that never ends
            elif not s.recv(65536):
                raise ConnectionResetError  # answered and closed
            keep.append(s)
        except BlockingIOError:
            keep.append(s)
        except OSError:
            refused += 1  # answered (503/408) and closed: come back at once
            s.close()
    socks = keep
    time.sleep(0.2 if mode == "slowloris" else 0.05)
for s in socks:
    s.close()
print("opened %d connections, %d closed by the agent" % (opened, refused))
PY
	ATTACK_PID=$!
}

# probe SECONDS: root's /health every 100 ms while the attack runs; each 200 within 1 s.
probe() {
	$PY - "$SOCK" "$1" <<'PY'
import os, socket, sys, time
sys.path.insert(0, os.environ["top_srcdir"] + "/tests/integration")
from nmhttp import request
path, secs = sys.argv[1], float(sys.argv[2])
worst, n, end = 0.0, 0, time.time() + secs
while time.time() < end:
    t = time.time()
    try:
        status, body = request(path, "/health", timeout=1.0)
    except socket.timeout:
        sys.exit("probe %d: no answer within 1 s" % n)
    took = time.time() - t
    if status != 200 or took > 1.0:
        sys.exit("probe %d: %d after %.2f s: %r" % (n, status, took, body[body.find(b"\"sinks\""):][:300]))
    worst, n = max(worst, took), n + 1
    time.sleep(0.1)
print("%d probes answered 200, the slowest in %.0f ms" % (n, worst * 1000))
PY
}

rss0=$(rss_kb)
[ -n "$rss0" ] || fail "cannot read the agent's VmRSS"
for mode in slowloris flood; do
	attack $mode 8
	sleep 1
	probe 6 || fail "$mode: /health did not answer"
	wait "$ATTACK_PID" || fail "$mode: the attacker failed: $(cat "$T/attack.$mode")"
	echo "$mode: $(cat "$T/attack.$mode")"
	# the attacker's connections were refused past its share, not the server's
	n=$(get /api/stats | jq '.control.refused_uid_limit')
	[ "$n" -gt 0 ] || fail "$mode: no connection refused for max_clients_per_uid"
	# once it is over, every slot is free again within 1 s
	for _ in $(seq 1 20); do
		c=$(get /api/stats | jq '.control.connections')
		[ "$c" -le 1 ] && break
		sleep 0.05
	done
	[ "$c" -le 1 ] || fail "$mode: $c connections still held after the attack"
done
rss1=$(rss_kb)
echo "RSS $rss0 kB before, $rss1 kB after both attacks"
# bounded: 64 clients' buffers and threads at most, whatever was tried
[ $((rss1 - rss0)) -lt 65536 ] || fail "memory grew by $((rss1 - rss0)) kB"
# Root is held only to max_clients: 24 live streams at once (its "share" would be 16) all open.
pids=
for i in $(seq 1 24); do
	curl -sS -N --max-time 2 --unix-socket "$SOCK" -o /dev/null -w '%{http_code}\n' \
		"http://localhost/api/events/stream" >"$T/root$i" 2>/dev/null &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || true # a stream ends at --max-time
done
for i in $(seq 1 24); do
	[ "$(cat "$T/root$i")" = 200 ] || fail "root's stream $i: $(cat "$T/root$i")"
done
expect 200 GET /health
echo "PASS"

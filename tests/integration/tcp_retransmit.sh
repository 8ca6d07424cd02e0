#!/bin/sh
# tcp_retransmit.sh - real kernel, real TCP between two network namespaces the test creates: SYN
# retransmissions behind a black hole and data retransmissions of an established connection whose
# peer vanishes (a permanent neighbour entry with a MAC nobody has), seen by three agents at once
# with aggregate_ms 0 (one event per segment), 1000 (the default) and 60000; each agent's counts
# add up to the kernel's own (TcpRetransSegs of the netns, the socket's total_retrans).
. "$(dirname "$0")/lib.sh"

NS=nmrt$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
NS2=${NS}p
BOGUS=02:00:00:00:00:02

for a in 0 1000 60000; do
	opt="aggregate_ms = $a;"
	[ $a = 1000 ] && opt= # the default
	cat >"$T/agent$a.conf" <<CONF
programs = { packet_drop = { enabled = false; }; udp_send = { enabled = false; };
             connection = { enabled = false; }; tcp_lifecycle = { enabled = false; };
             tcp_retransmit = { enabled = true; $opt }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/events$a.ndjson";
            rotate_bytes = 0; } );
control = { socket = "$T/ctl$a.sock"; };
CONF
done

# The client's netns (10.201.0.1) and the server's (10.201.0.2) joined by a veth; 10.201.0.3 is a
# black hole from the start, 10.201.0.2 becomes one when the client makes its neighbour entry
# point to a MAC nobody has (the server's side drops the frames as not its own).
ip netns add "$NS" || fail "ip netns add"
echo "ip netns del $NS" >"$T/netns.cleanup"
ip netns add "$NS2" || fail "ip netns add"
echo "ip netns del $NS2" >"$T/netns2.cleanup"
ip -n "$NS" link set lo up && ip -n "$NS2" link set lo up &&
	ip -n "$NS" link add v0 type veth peer name v1 netns "$NS2" &&
	ip -n "$NS" addr add 10.201.0.1/24 dev v0 && ip -n "$NS2" addr add 10.201.0.2/24 dev v1 &&
	ip -n "$NS" link set v0 up && ip -n "$NS2" link set v1 up &&
	ip -n "$NS" neigh add 10.201.0.3 lladdr $BOGUS dev v0 nud permanent &&
	ip netns exec "$NS" sysctl -q -w net.ipv4.tcp_syn_retries=2 || fail "netns setup"
NETNS_INO=$(ip netns exec "$NS" stat -L -c %i /proc/self/ns/net) || fail "netns inode"

retrans_segs() { # the netns's TcpRetransSegs (the column found by its name)
	# shellcheck disable=SC2016
	ip netns exec "$NS" awk '/^Tcp:/ { if (c) { print $c; exit }
		for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i }' /proc/net/snmp
}
retrans_segs | grep -qx '[0-9][0-9]*' || fail "no TcpRetransSegs in /proc/net/snmp"

# server.py OUT: echoes one byte, then waits for the client's data, which never arrives.
cat >"$T/server.py" <<'PY'
import socket, sys

l = socket.socket()
l.bind(("10.201.0.2", 0))
l.listen()
open(sys.argv[1] + ".tmp", "w").write(str(l.getsockname()[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
a, _ = l.accept()
a.sendall(a.recv(1))
a.settimeout(20)
try:
    a.recv(65536)
except OSError:
    pass
PY

# data.py PORT OUT BOGUS: connects, exchanges a byte, cuts the path, sends data for 3.5 s of
# retransmissions, then aborts (SO_LINGER 0, the socket is destroyed at once); OUT gets its port.
cat >"$T/data.py" <<'PY'
import socket, struct, subprocess, sys, time

s = socket.create_connection(("10.201.0.2", int(sys.argv[1])))
s.sendall(b"x")
assert s.recv(1) == b"x"
subprocess.run(["ip", "neigh", "replace", "10.201.0.2", "lladdr", sys.argv[3], "dev", "v0",
                "nud", "permanent"], check=True)
s.sendall(b"d" * 1000)
time.sleep(3.5)
open(sys.argv[2], "w").write(str(s.getsockname()[1]))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY

# syn.py OUT: a connect to the black hole, timed out by the kernel after its 2 SYN retries.
cat >"$T/syn.py" <<'PY'
import socket, sys

s = socket.socket()
s.bind(("10.201.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(30)
try:
    s.connect(("10.201.0.3", 80))
    sys.exit("connected to a black hole")
except TimeoutError as e:
    sys.exit(0 if e.errno == 110 else f"timeout without ETIMEDOUT: {e!r}")
PY

# check.py FILE AGGREGATE_MS NETNS DATA_PORT SYN_PORT SERVER_PORT KERNEL_DELTA [quiet]
cat >"$T/check.py" <<'PY'
import json, sys
import os
sys.path.insert(0, os.environ["top_srcdir"] + "/tests/integration")
from evcheck import expect, finish

path, agg, netns, dport, sport, srv, kernel = sys.argv[1], *map(int, sys.argv[2:8])
quiet = len(sys.argv) > 8
evs = [json.loads(l) for l in open(path, "rb").read().split(b"\n")[:-1]
       if b'"tcp_retransmit"' in l]
evs = [e for e in evs if e["netns"] == netns]


total = 0
for what, port, dst, dst_port, state in (("data", dport, "10.201.0.2", srv, "ESTABLISHED"),
                                         ("syn", sport, "10.201.0.3", 80, "SYN_SENT")):
    fl = [e for e in evs if e["source_port"] == port]
    n = sum(e["retransmits"] for e in fl)
    total += n
    expect(len(fl) > 0, f"{what}: no events")
    if not fl:
        continue
    for e in fl:
        expect(e["source_ip"] == "10.201.0.1" and e["destination_ip"] == dst and
               e["destination_port"] == dst_port and e["family"] == "ipv4" and
               e["protocol"] == "tcp" and e["destination"] == f"{dst}:{dst_port}",
               f"{what}: endpoints {e['source']} -> {e['destination']}")
        expect(all(e[k] is None for k in ("pid", "command", "cgroup_id")),
               f"{what}: task fields {e['pid']}/{e['command']}")
        expect(e["socket_cookie"] == fl[0]["socket_cookie"] and e["socket_cookie"] > 0,
               f"{what}: cookies {e['socket_cookie']}")
        expect(e["final"] or e["state"] == state, f"{what}: state {e['state']}")
    # the socket's own count, at its last event, is what the events add up to
    expect(fl[-1]["total_retransmits"] == n,
           f"{what}: events add up to {n}, the socket counted {fl[-1]['total_retransmits']}")
    expect(fl[0]["retransmits"] == 1 and not fl[0]["final"] and fl[0]["interval_ns"] == 0,
           f"{what}: first event {fl[0]['retransmits']} final {fl[0]['final']}")
    if agg == 0:
        expect(all(e["retransmits"] == 1 and not e["final"] for e in fl),
               f"{what}: aggregate_ms 0: {[(e['retransmits'], e['final']) for e in fl]}")
    else:
        # at most one event per interval, and one at the end with what was left
        mid = [e for e in fl[1:] if not e["final"]]
        expect(all(e["interval_ns"] >= agg * 1_000_000 for e in mid),
               f"{what}: intervals {[e['interval_ns'] for e in mid]} under {agg} ms")
        expect(len([e for e in fl if e["final"]]) <= 1 and
               all(not e["final"] for e in fl[:-1]), f"{what}: final events misplaced")
    if agg == 60000:
        expect(len(fl) == 2 and fl[1]["final"] and fl[1]["retransmits"] == n - 1,
               f"{what}: aggregate_ms 60000: {[(e['retransmits'], e['final']) for e in fl]}")
    if what == "data":
        expect(n >= 3, f"data: only {n} retransmissions in 3.5 s")
    else:
        expect(n >= 2, f"syn: {n} SYN retransmissions, tcp_syn_retries is 2")
expect(total == kernel, f"events add up to {total}, the netns's TcpRetransSegs moved {kernel}")
finish(quiet, f"FAIL (aggregate_ms {agg}):")
PY

for a in 0 1000 60000; do
	start_agent "$T/agent$a.conf"
	eval "AGENT$a=\$AGENT_PID"
done
AGENT_PID=
for a in 0 1000 60000; do
	eval "echo \"kill -KILL \$AGENT$a\"" >"$T/agent$a.cleanup"
done
BEFORE=$(retrans_segs)
ip netns exec "$NS2" $PY "$T/server.py" "$T/server.port" &
SERVER_PID=$!
wait_for test -f "$T/server.port" || fail "server did not start"
SRV=$(cat "$T/server.port")
ip netns exec "$NS" $PY "$T/syn.py" "$T/syn.port" >"$T/syn.out" 2>&1 &
SYN_PID=$!
ip netns exec "$NS" $PY "$T/data.py" "$SRV" "$T/data.port" $BOGUS || fail "data client"
wait $SYN_PID || fail "syn client: $(cat "$T/syn.out")"
kill $SERVER_PID 2>/dev/null
wait $SERVER_PID 2>/dev/null
AFTER=$(retrans_segs)
DELTA=$((AFTER - BEFORE))

for a in 0 1000 60000; do
	ARGS="$a $NETNS_INO $(cat "$T/data.port") $(cat "$T/syn.port") $SRV $DELTA"
	# shellcheck disable=SC2086
	wait_for $PY "$T/check.py" "$T/events$a.ndjson" $ARGS quiet ||
		$PY "$T/check.py" "$T/events$a.ndjson" $ARGS || fail "tcp_retransmit events"
done
for a in 0 1000 60000; do
	eval "AGENT_PID=\$AGENT$a"
	stop_agent
	rm -f "$T/agent$a.cleanup"
done
exit 0

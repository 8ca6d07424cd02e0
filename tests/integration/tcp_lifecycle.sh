#!/bin/sh
# tcp_lifecycle.sh - real kernel, real TCP on loopback and in a netns the test creates: the outcome
# of non-blocking connects (established with its latency, refused), a timeout behind a black hole,
# exact data bytes of a 1 MiB transfer at close on both sides, accepts credited to the server
# process (not to the client whose packets the kernel was processing), resets on both sides, IPv6,
# the socket cookie shared with the connection event, and detach/attach at run time.
. "$(dirname "$0")/lib.sh"

SOCK=$T/ctl.sock
CS=$(unique_comm ts) # the server
CC=$(unique_comm tc) # the client
CT=$(unique_comm tt) # the client in the netns
CD=$(unique_comm td) # a client while the program is detached
NS=nmtl$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
BLACKHOLE=10.201.0.2

cat >"$T/agent.conf" <<CONF
programs = { packet_drop = { enabled = false; }; udp_send = { enabled = false; };
             tcp_lifecycle = { enabled = true; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/events.ndjson";
            rotate_bytes = 0; } );
control = { socket = "$SOCK"; };
CONF

# A connect to $BLACKHOLE in $NS times out after 3 s.
blackhole_netns "$NS" 10.201.0.1/24 "$BLACKHOLE"
NETNS_INO=$(ip netns exec "$NS" stat -L -c %i /proc/self/ns/net) || fail "netns inode"

# server.py COMM OUT: listens on 127.0.0.1 and ::1, writes pid and ports to OUT, then serves the
# client's three connections in order: the transfer (read to EOF, answer 512 KiB, close), the
# reset (echo one byte, then read until the reset), the IPv6 one (read to EOF, close).
cat >"$T/server.py" <<'PY'
import ctypes, json, os, socket, sys

ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)  # PR_SET_NAME
l4 = socket.socket()
l4.bind(("127.0.0.1", 0))
l4.listen()
l6 = socket.socket(socket.AF_INET6)
l6.bind(("::1", 0))
l6.listen()
with open(sys.argv[2] + ".tmp", "w") as f:
    json.dump({"pid": os.getpid(), "port": l4.getsockname()[1], "port6": l6.getsockname()[1]}, f)
os.rename(sys.argv[2] + ".tmp", sys.argv[2])


def drain(s):
    n = 0
    while True:
        b = s.recv(65536)
        if not b:
            return n
        n += len(b)


a, _ = l4.accept()
got = drain(a)
a.sendall(b"s" * (512 * 1024))
a.close()
assert got == 1 << 20, got
a, _ = l4.accept()
a.sendall(a.recv(1))
try:
    while a.recv(65536):
        pass
except ConnectionResetError:
    pass
a.close()
a, _ = l6.accept()
drain(a)
a.close()
PY

# client.py COMM SERVER OUT CLOSED_PORT: the client side of the above, plus a non-blocking connect
# to a closed port; OUT gets its pid and the local ports of its connections.
cat >"$T/client.py" <<'PY'
import ctypes, json, os, select, socket, struct, sys

ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
srv = json.load(open(sys.argv[2]))


def nonblocking_connect(addr, family=socket.AF_INET):
    s = socket.socket(family)
    s.setblocking(False)
    assert s.connect_ex(addr) == 115  # EINPROGRESS
    select.select([], [s], [], 5)
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    s.setblocking(True)
    return s, err


info = {"pid": os.getpid()}
s, err = nonblocking_connect(("127.0.0.1", srv["port"]))
assert err == 0, err
info["transfer"] = s.getsockname()[1]
s.sendall(b"c" * (1 << 20))
s.shutdown(socket.SHUT_WR)
n = 0
while True:
    b = s.recv(65536)
    if not b:
        break
    n += len(b)
assert n == 512 * 1024, n
s.close()

s, err = nonblocking_connect(("127.0.0.1", int(sys.argv[4])))
assert err == 111, err  # ECONNREFUSED
s.close()

s = socket.create_connection(("127.0.0.1", srv["port"]))
info["reset"] = s.getsockname()[1]
s.sendall(b"r")
assert s.recv(1) == b"r"
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()

s, err = nonblocking_connect(("::1", srv["port6"]), socket.AF_INET6)
assert err == 0, err
info["v6"] = s.getsockname()[1]
s.sendall(b"6" * 1000)
s.close()
with open(sys.argv[3], "w") as f:
    json.dump(info, f)
PY

# timeout.py COMM: a blocking connect to the black hole, which must time out.
cat >"$T/timeout.py" <<'PY'
import ctypes, socket, sys

ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
try:
    socket.create_connection((sys.argv[2], 80), timeout=30)
    sys.exit("connected to a black hole")
except TimeoutError as e:  # the kernel's ETIMEDOUT, not the 30 s timeout
    sys.exit(0 if e.errno == 110 else f"timeout without ETIMEDOUT: {e!r}")
PY

# check.py FILE SERVER CLIENT CLOSED_PORT CS CC CT NETNS [live|quiet]: every expected event,
# exactly.
cat >"$T/check.py" <<'PY'
import json, sys
import os
sys.path.insert(0, os.environ["top_srcdir"] + "/tests/integration")
from evcheck import expect, finish, find as find_in

path, srv, cli = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
closed_port, netns = int(sys.argv[4]), int(sys.argv[8])
cs, cc, ct = sys.argv[5:8]
live = len(sys.argv) > 9
quiet = live and sys.argv[9] == "quiet"
lines = open(path, "rb").read().split(b"\n")
# the agent sees the whole host: parse only lines that can be this test's
ours = [c.encode() for c in (cs, cc, ct)]
evs = [json.loads(l) for l in (lines[:-1] if live else lines)
       if l and (b'"tcp_lifecycle"' in l or any(c in l for c in ours))]
tl = [e for e in evs if e["type"] == "tcp_lifecycle"]
MiB = 1 << 20


def find(what, **want):
    return find_in(tl, what, **want)


def owner(e, what, pid, comm):
    expect(e["pid"] == pid and e["command"] == comm and e["uid"] == 0,
           f"{what}: owner {e['pid']}/{e['command']}, expected {pid}/{comm}")


P, P6, C = srv["port"], srv["port6"], cli["pid"]
lo = dict(source_ip="127.0.0.1", destination_ip="127.0.0.1", destination_port=P, family="ipv4")

# the transfer: outbound established, its inbound twin, and both closes with exact bytes
out = find("transfer open", phase="open", direction="outbound", source_port=cli["transfer"], **lo)
inb = find("transfer accept", phase="open", direction="inbound", source_port=cli["transfer"], **lo)
oc = find("transfer close (client)", phase="close", direction="outbound",
          source_port=cli["transfer"], **lo)
ic = find("transfer close (server)", phase="close", direction="inbound",
          source_port=cli["transfer"], **lo)
if out:
    owner(out, "transfer open", C, cc)
    expect(out["outcome"] == "established" and out["error"] is None, f"outcome {out['outcome']}")
    expect(isinstance(out["latency_ns"], int) and out["latency_ns"] > 0,
           f"latency {out['latency_ns']}")
    expect(out["destination"] == f"127.0.0.1:{P}" and out["protocol"] == "tcp", "endpoint strings")
    expect(out["duration_ns"] is None and out["bytes_sent"] is None, "open event with close fields")
    expect(out["previous_state"] == "SYN_SENT", f"previous_state {out['previous_state']}")
    expect(out["netns"] > 0 and out["socket_cookie"] > 0, "netns/socket_cookie")
    # the connection event of the same non-blocking connect() carries the same cookie
    conn = [e for e in evs if e["type"] == "connection" and e["command"] == cc and
            e["destination_port"] == P and e["source_port"] == cli["transfer"]]
    expect(len(conn) == 1 and conn[0]["return_code"] == -115 and
           conn[0]["socket_cookie"] == out["socket_cookie"],
           f"connection event and cookie: {[(e['return_code'], e['socket_cookie']) for e in conn]}")
if inb:
    # created in softirq while the client's packet was processed: still the server's
    owner(inb, "transfer accept", srv["pid"], cs)
    expect(inb["outcome"] == "established" and inb["latency_ns"] is None, "accept outcome/latency")
    expect(inb["previous_state"] == "SYN_RECV", f"accept previous_state {inb['previous_state']}")
    expect(out is None or inb["socket_cookie"] != out["socket_cookie"], "two sockets, one cookie")
if oc:
    owner(oc, "transfer close (client)", C, cc)
    expect(oc["outcome"] == "closed" and oc["reset_by"] is None, f"client close {oc['outcome']}")
    expect(oc["bytes_sent"] == MiB and oc["bytes_received"] == MiB // 2,
           f"client bytes sent {oc['bytes_sent']} received {oc['bytes_received']}")
    expect(oc["duration_ns"] > 0 and oc["latency_ns"] is None, "client close duration")
    expect(out is None or oc["socket_cookie"] == out["socket_cookie"], "client cookie changed")
if ic:
    owner(ic, "transfer close (server)", srv["pid"], cs)
    expect(ic["outcome"] == "closed", f"server close {ic['outcome']}")
    expect(ic["bytes_received"] == MiB and ic["bytes_sent"] == MiB // 2,
           f"server bytes sent {ic['bytes_sent']} received {ic['bytes_received']}")
    expect(ic["duration_ns"] > 0, "server close duration")
    expect(inb is None or ic["socket_cookie"] == inb["socket_cookie"], "server cookie changed")

# refused: one open event, the error named, nothing at close
ref = find("refused", phase="open", destination_port=closed_port, command=cc)
if ref:
    owner(ref, "refused", C, cc)
    expect(ref["outcome"] == "refused" and ref["error"] == "ECONNREFUSED",
           f"refused: {ref['outcome']} {ref['error']}")
    expect(ref["latency_ns"] > 0 and ref["direction"] == "outbound", "refused latency/direction")
    expect(ref["source_port"] and ref["source_ip"] == "127.0.0.1", "refused source")
    conn = [e for e in evs if e["type"] == "connection" and e["command"] == cc and
            e["destination_port"] == closed_port]
    expect(len(conn) == 1 and conn[0]["return_code"] == -115 and
           conn[0]["socket_cookie"] == ref["socket_cookie"],
           f"refused: connection event and cookie {[e['socket_cookie'] for e in conn]}")
    expect(not [e for e in tl if e["socket_cookie"] == ref["socket_cookie"] and
                e["phase"] == "close"], "a close event for a connect that never opened")

# reset: SO_LINGER 0 on the client sends the RST; the server's socket dies of it
rc = find("reset close (client)", phase="close", direction="outbound", source_port=cli["reset"],
          **lo)
rs = find("reset close (server)", phase="close", direction="inbound", source_port=cli["reset"],
          **lo)
if rc:
    owner(rc, "reset close (client)", C, cc)
    expect(rc["outcome"] == "reset" and rc["reset_by"] == "local" and rc["error"] is None,
           f"client reset: {rc['outcome']} {rc['reset_by']} {rc['error']}")
    expect(rc["bytes_sent"] == 1 and rc["bytes_received"] == 1, "client reset bytes")
if rs:
    owner(rs, "reset close (server)", srv["pid"], cs)
    expect(rs["outcome"] == "reset" and rs["reset_by"] == "peer" and rs["error"] == "ECONNRESET",
           f"server reset: {rs['outcome']} {rs['reset_by']} {rs['error']}")
    expect(rs["bytes_received"] == 1, f"server reset bytes_received {rs['bytes_received']}")

# IPv6
v6 = dict(family="ipv6", source_ip="::1", destination_ip="::1", destination_port=P6,
          source_port=cli["v6"])
o6 = find("v6 open", phase="open", direction="outbound", **v6)
i6 = find("v6 accept", phase="open", direction="inbound", **v6)
c6 = find("v6 close (client)", phase="close", direction="outbound", **v6)
s6 = find("v6 close (server)", phase="close", direction="inbound", **v6)
if o6:
    owner(o6, "v6 open", C, cc)
    expect(o6["destination"] == f"[::1]:{P6}" and o6["latency_ns"] > 0, "v6 open fields")
if i6:
    owner(i6, "v6 accept", srv["pid"], cs)
if c6:
    expect(c6["bytes_sent"] == 1000 and c6["bytes_received"] == 0, "v6 client bytes")
if s6:
    expect(s6["bytes_received"] == 1000 and s6["bytes_sent"] == 0, "v6 server bytes")

# timeout, in the test's netns
to = find("timeout", phase="open", command=ct, destination_ip="10.201.0.2")
if to:
    expect(to["outcome"] == "timeout" and to["error"] == "ETIMEDOUT",
           f"timeout: {to['outcome']} {to['error']}")
    expect(to["netns"] == netns, f"timeout netns {to['netns']}, expected {netns}")
    expect(to["latency_ns"] > 2_500_000_000, f"timeout latency {to['latency_ns']}")
    expect(to["source_ip"] == "10.201.0.1", f"timeout source {to['source_ip']}")

# nothing else from these processes
mine = [e for e in tl if e["command"] in (cc, cs, ct)]
expect(len(mine) == 14, f"{len(mine)} events of the test's processes, expected 14")
finish(quiet)
PY

start_agent "$T/agent.conf"
CLOSED=$(closed_port)
ip netns exec "$NS" $PY "$T/timeout.py" "$CT" $BLACKHOLE >"$T/timeout.out" 2>&1 &
TIMEOUT_PID=$!
$PY "$T/server.py" "$CS" "$T/server.json" &
SERVER_PID=$!
wait_for test -f "$T/server.json" || fail "server did not start"
$PY "$T/client.py" "$CC" "$T/server.json" "$T/client.json" "$CLOSED" || fail "client"
wait $SERVER_PID || fail "server"
wait $TIMEOUT_PID || fail "timeout client: $(cat "$T/timeout.out")"

ARGS="$T/server.json $T/client.json $CLOSED $CS $CC $CT $NETNS_INO"
# shellcheck disable=SC2086
wait_for $PY "$T/check.py" "$T/events.ndjson" $ARGS quiet ||
	$PY "$T/check.py" "$T/events.ndjson" $ARGS live || fail "tcp_lifecycle events"

# Detached, a connection leaves no tcp_lifecycle event (the connection program still sees it);
# attached again, the next one is reported.
post() {
	_s=$(curl -sS --unix-socket "$SOCK" -X POST -o "$T/body" -w '%{http_code}' \
		"http://localhost/api/programs/tcp_lifecycle/$1") || fail "POST $1: curl failed"
	[ "$_s" = 200 ] || fail "POST $1: status $_s: $(cat "$T/body")"
}
count() { # count COMM TYPE N: exactly N events of TYPE by COMM in the file so far
	[ "$(grep -c "\"type\":\"$2\",.*\"command\":\"$1\"," "$T/events.ndjson")" = "$3" ]
}
post detach
"$CONNECT" -n 1 -p "$CLOSED" -c "$CD" >/dev/null
wait_for count "$CD" connection 1 || fail "no connection event while detached"
sleep 0.3
count "$CD" tcp_lifecycle 0 || fail "tcp_lifecycle events while detached"
post attach
"$CONNECT" -n 1 -p "$CLOSED" -c "$CD" >/dev/null
wait_for count "$CD" tcp_lifecycle 1 || fail "no tcp_lifecycle event after attach"
stop_agent

# shellcheck disable=SC2086
$PY "$T/check.py" "$T/events.ndjson" $ARGS || fail "final file"
exit 0

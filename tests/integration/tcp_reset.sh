#!/bin/sh
# tcp_reset.sh - real kernel, real TCP on loopback: a connect to a closed port gives the reset the
# kernel sends for it (no socket) and the one the client receives; an abort (SO_LINGER 0, close)
# gives a reset sent by the closer's socket and one received by its peer's, with the socket
# cookies of the tcp_lifecycle events of the same sockets; IPv6; off by default.
. "$(dirname "$0")/lib.sh"

CC=$(unique_comm rc)

# Off by default: the built-in default does not enable it.
"$AGENT" --print-default >"$T/default.conf" || fail "--print-default"
grep -A3 "tcp_reset" "$T/default.conf" | grep -q "enabled = false" ||
	fail "tcp_reset enabled by default: $(grep -A3 tcp_reset "$T/default.conf")"

cat >"$T/agent.conf" <<CONF
programs = { packet_drop = { enabled = false; }; udp_send = { enabled = false; };
             tcp_lifecycle = { enabled = true; }; tcp_reset = { enabled = true; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/events.ndjson";
            rotate_bytes = 0; } );
control = { socket = "$T/ctl.sock"; };
CONF

# client.py COMM OUT CLOSED: a connect to CLOSED (refused), then on 127.0.0.1 and ::1 a
# connection to its own listener aborted by the client (SO_LINGER 0); the server side reads until
# the reset. OUT gets the ports.
cat >"$T/client.py" <<'PY'
import ctypes, json, socket, struct, sys

ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)  # PR_SET_NAME
info = {}
s = socket.socket()
s.bind(("127.0.0.1", 0))
info["refused"] = s.getsockname()[1]
assert s.connect_ex(("127.0.0.1", int(sys.argv[3]))) == 111  # ECONNREFUSED
s.close()
for fam, host, key in ((socket.AF_INET, "127.0.0.1", "v4"), (socket.AF_INET6, "::1", "v6")):
    l = socket.socket(fam)
    l.bind((host, 0))
    l.listen()
    c = socket.create_connection((host, l.getsockname()[1]))
    a, _ = l.accept()
    c.sendall(b"x")
    assert a.recv(1) == b"x"
    info[key] = {"server": l.getsockname()[1], "client": c.getsockname()[1]}
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    try:
        while a.recv(65536):
            pass
        sys.exit("no reset")
    except ConnectionResetError:
        pass
    a.close()
    l.close()
with open(sys.argv[2], "w") as f:
    json.dump(info, f)
PY

# check.py FILE CLIENT CLOSED [quiet]: every expected reset event, exactly.
cat >"$T/check.py" <<'PY'
import json, sys
import os
sys.path.insert(0, os.environ["top_srcdir"] + "/tests/integration")
from evcheck import expect, finish, find as find_in

path, cli, closed = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
quiet = len(sys.argv) > 4
lines = open(path, "rb").read().split(b"\n")
evs = [json.loads(l) for l in lines[:-1] if b'"tcp_reset"' in l or b'"tcp_lifecycle"' in l]
rst = [e for e in evs if e["type"] == "tcp_reset"]


def find(what, **want):
    return find_in(rst, what, **want)


def cookie_of(**want):
    got = [e for e in evs if e["type"] == "tcp_lifecycle" and
           all(e.get(k) == v for k, v in want.items())]
    return got[0]["socket_cookie"] if len(got) == 1 else None


def no_task(e, what):
    expect(all(e[k] is None for k in ("pid", "tid", "command", "cgroup_id")),
           f"{what}: task fields {e['pid']}/{e['command']}, expected null")


lo = dict(family="ipv4", protocol="tcp", source_ip="127.0.0.1", destination_ip="127.0.0.1")
R = cli["refused"]
# refused: the kernel answers the SYN to the closed port without a socket
s = find("refused, sent", direction="sent", source_port=closed, destination_port=R, **lo)
if s:
    expect(s["socket_cookie"] is None and s["state"] is None, "refused sent: socket fields")
    expect(s["reason"] == "NO_SOCKET" and s["reason_code"] == 1, f"reason {s['reason']}")
    expect(s["source"] == f"127.0.0.1:{closed}", f"source {s['source']}")
    expect(s["netns"] > 0, "netns")
    no_task(s, "refused sent")
r = find("refused, received", direction="received", source_port=R, destination_port=closed, **lo)
if r:
    expect(r["state"] == "SYN_SENT", f"refused received: state {r['state']}")
    expect(r["reason"] is None and r["reason_code"] is None, "received reset with a reason")
    expect(r["socket_cookie"] and r["socket_cookie"] == cookie_of(outcome="refused",
           source_port=R), "refused received: cookie not the tcp_lifecycle one")
    no_task(r, "refused received")

for key, fam, ip in (("v4", "ipv4", "127.0.0.1"), ("v6", "ipv6", "::1")):
    S, C = cli[key]["server"], cli[key]["client"]
    ep = dict(family=fam, source_ip=ip, destination_ip=ip)
    # the closer's socket sends it, moved to CLOSE first by the abort
    s = find(f"{key} abort, sent", direction="sent", source_port=C, destination_port=S, **ep)
    if s:
        expect(s["state"] == "CLOSE", f"{key} sent: state {s['state']}")
        expect(s["reason"] == "TCP_STATE", f"{key} sent: reason {s['reason']}")
        expect(s["socket_cookie"] and s["socket_cookie"] == cookie_of(
               phase="close", direction="outbound", source_port=C, destination_port=S),
               f"{key} sent: cookie not the tcp_lifecycle one")
    # the peer's accepted socket receives it
    r = find(f"{key} abort, received", direction="received", source_port=S, destination_port=C,
             **ep)
    if r:
        expect(r["state"] == "ESTABLISHED", f"{key} received: state {r['state']}")
        expect(r["socket_cookie"] and r["socket_cookie"] == cookie_of(
               phase="close", direction="inbound", source_port=C, destination_port=S),
               f"{key} received: cookie not the tcp_lifecycle one")
        expect(r["destination"] == (f"[::1]:{C}" if key == "v6" else f"127.0.0.1:{C}"),
               f"{key} destination {r['destination']}")
        no_task(r, f"{key} received")
    if s and r:
        expect(s["socket_cookie"] != r["socket_cookie"], f"{key}: one cookie for two sockets")
ports = {R, closed} | {p for k in ("v4", "v6") for p in cli[k].values()}
mine = [e for e in rst if e["source_port"] in ports and e["destination_port"] in ports]
expect(len(mine) == 6, f"{len(mine)} reset events of the test's connections, expected 6")
finish(quiet)
PY

start_agent "$T/agent.conf"
CLOSED=$(closed_port)
$PY "$T/client.py" "$CC" "$T/client.json" "$CLOSED" || fail "client"
wait_for $PY "$T/check.py" "$T/events.ndjson" "$T/client.json" "$CLOSED" quiet ||
	$PY "$T/check.py" "$T/events.ndjson" "$T/client.json" "$CLOSED" || fail "tcp_reset events"
stop_agent
exit 0

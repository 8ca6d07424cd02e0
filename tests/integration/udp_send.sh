#!/bin/sh
# udp_send.sh - real kernel, real datagrams: exactly one udp_send event per (socket, destination)
# of unconnected sendto()s over IPv4 and IPv6, none for a connected socket's send(), exact pid
# and command; detach via the control API stops the events, attach brings them back.
. "$(dirname "$0")/lib.sh"

N=6 # destinations per family
REPEAT=5 # datagrams to each
SOCK=$T/ctl.sock
C1=$(unique_comm ua)
C2=$(unique_comm ub)
C3=$(unique_comm uc)

cat >"$T/agent.conf" <<CONF
programs = { packet_drop = { enabled = false; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/events.ndjson"; } );
control = { socket = "$SOCK"; };
CONF

# send.py COMM OUT: as COMM, one unconnected socket per family sends REPEAT datagrams to each of N
# loopback ports; a connected socket send()s to another port. OUT gets pid and ports as JSON.
cat >"$T/send.py" <<'PY'
import ctypes, json, socket, sys

comm, out, n, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)  # PR_SET_NAME


def free_ports(family, host, count):
    held = [socket.socket(family, socket.SOCK_DGRAM) for _ in range(count)]
    for s in held:
        s.bind((host, 0))
    ports = [s.getsockname()[1] for s in held]
    for s in held:
        s.close()
    return ports


info = {"pid": __import__("os").getpid()}
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    ports = free_ports(fam, host, n)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for _ in range(repeat):
        for p in ports:
            s.sendto(b"nm", (host, p))
    info["ports6" if fam == socket.AF_INET6 else "ports4"] = ports
    info["local6" if fam == socket.AF_INET6 else "local4"] = s.getsockname()[1]
    s.close()
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect(("127.0.0.1", free_ports(socket.AF_INET, "127.0.0.1", 1)[0]))
info["connected"] = c.getpeername()[1]
for _ in range(repeat):
    try:
        c.send(b"nm")
    except ConnectionRefusedError:  # the ICMP error of an earlier datagram
        pass
c.close()
with open(out, "w") as f:
    json.dump(info, f)
PY

# check.py FILE COMM INFO N [live|quiet]: exactly N udp_send events per family by COMM, fields
# right. "live" reads a file still being written: a last line without its newline is not there
# yet; "quiet" is live without the messages, for polling.
cat >"$T/check.py" <<'PY'
import json, sys
import os
sys.path.insert(0, os.environ["top_srcdir"] + "/tests/integration")
from evcheck import expect, finish

path, comm, info, n = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3])), int(sys.argv[4])
live = len(sys.argv) > 5
quiet = live and sys.argv[5] == "quiet"
lines = open(path, "rb").read().split(b"\n")
evs = [json.loads(l) for l in (lines[:-1] if live else lines) if l]
mine = [e for e in evs if e["type"] == "udp_send" and e["command"] == comm]


cookies = {}
for fam, ip, key in (("ipv4", "127.0.0.1", "4"), ("ipv6", "::1", "6")):
    got = [e for e in mine if e["family"] == fam]
    expect(len(got) == n, f"{fam}: {len(got)} udp_send events, expected {n}")
    expect(sorted(e["destination_port"] for e in got) == sorted(info["ports" + key]),
           f"{fam} destination ports {sorted(e['destination_port'] for e in got)}")
    for e in got:
        expect(e["pid"] == info["pid"] and e["tid"] == info["pid"], f"pid {e['pid']}/{e['tid']}")
        expect(e["uid"] == 0 and isinstance(e["cgroup_id"], int), "uid/cgroup_id")
        expect(e["protocol"] == "udp", f"protocol {e['protocol']}")
        expect(e["destination_ip"] == ip, f"destination_ip {e['destination_ip']}")
        want = (f"[{ip}]" if fam == "ipv6" else ip) + f":{e['destination_port']}"
        expect(e["destination"] == want, f"destination {e['destination']}")
        expect(e["source_port"] == info["local" + key], f"source_port {e['source_port']}")
        expect(e["source_ip"] == ("::" if fam == "ipv6" else "0.0.0.0"), f"source_ip {e['source_ip']}")
        expect(isinstance(e["netns"], int) and e["netns"] > 0, "netns")
        expect(isinstance(e["socket_cookie"], int) and e["socket_cookie"] > 0, "socket_cookie")
    cookies[fam] = {e["socket_cookie"] for e in got}
    expect(len(cookies[fam]) == 1, f"{fam}: one socket, cookies {cookies[fam]}")
expect(not cookies["ipv4"] & cookies["ipv6"], "two sockets share a cookie")
conn = [e for e in mine if e["destination_port"] == info["connected"]]
expect(not conn, f"{len(conn)} udp_send events for a connected socket's send()")
expect(len(mine) == 2 * n, f"{len(mine)} udp_send events in all, expected {2 * n}")
finish(quiet, unique=True)
PY

# seen_connect COMM INFO: the connection program reported COMM's connect(): the rings were drained.
seen_connect() {
	$PY -c 'import json, sys
info = json.load(open(sys.argv[3]))
for line in open(sys.argv[1], "rb").read().split(b"\n")[:-1]:
    e = json.loads(line)
    if e["type"] == "connection" and e["command"] == sys.argv[2] and \
            e["destination_port"] == info["connected"]:
        sys.exit(0)
sys.exit(1)' "$T/events.ndjson" "$1" "$2"
}

start_agent "$T/agent.conf"
$PY "$T/send.py" "$C1" "$T/c1.json" $N $REPEAT || fail "traffic 1"
wait_for $PY "$T/check.py" "$T/events.ndjson" "$C1" "$T/c1.json" $N quiet ||
	$PY "$T/check.py" "$T/events.ndjson" "$C1" "$T/c1.json" $N live || fail "events of $C1"

CONTROL=
if [ -S "$SOCK" ]; then
	CONTROL=1
	post() {
		_s=$(curl -sS --unix-socket "$SOCK" -X POST -o "$T/body" -w '%{http_code}' \
			"http://localhost/api/programs/udp_send/$1") || fail "POST $1: curl failed"
		[ "$_s" = 200 ] || fail "POST $1: status $_s: $(cat "$T/body")"
	}
	post detach
	jq -e '.name == "udp_send" and .attached == false' "$T/body" >/dev/null ||
		fail "detach answer: $(cat "$T/body")"
	$PY "$T/send.py" "$C2" "$T/c2.json" $N $REPEAT || fail "traffic 2"
	wait_for seen_connect "$C2" "$T/c2.json" || fail "no connection event of $C2"
	sleep 0.5
	n=$(jq -s "[.[] | select(.type == \"udp_send\" and .command == \"$C2\")] | length" \
		"$T/events.ndjson")
	[ "$n" = 0 ] || fail "$n udp_send events while detached"
	post attach
	jq -e '.attached == true' "$T/body" >/dev/null || fail "attach answer: $(cat "$T/body")"
	$PY "$T/send.py" "$C3" "$T/c3.json" $N $REPEAT || fail "traffic 3"
	wait_for $PY "$T/check.py" "$T/events.ndjson" "$C3" "$T/c3.json" $N quiet ||
		$PY "$T/check.py" "$T/events.ndjson" "$C3" "$T/c3.json" $N live ||
		fail "events of $C3 after attach"
else
	echo "control API not built: attach/detach not tested"
fi
stop_agent

# The whole file, now complete: still exactly N per family, nothing of the detached run.
$PY "$T/check.py" "$T/events.ndjson" "$C1" "$T/c1.json" $N || fail "final file, $C1"
if [ -n "$CONTROL" ]; then
	$PY "$T/check.py" "$T/events.ndjson" "$C3" "$T/c3.json" $N || fail "final file, $C3"
	n=$(jq -s "[.[] | select(.type == \"udp_send\" and .command == \"$C2\")] | length" \
		"$T/events.ndjson")
	[ "$n" = 0 ] || fail "$n udp_send events of the detached run"
fi
exit 0

#!/bin/sh
# siem_schema.sh - real kernel, real loopback TCP and UDP and a SYN into a black hole in a netns:
# the same events through sinks with schema = native (with and without the key), ecs and ocsf, in
# JSON and MessagePack, and an ocsf sink with durability = disk (every event through the spool).
# Every ECS and OCSF document is checked against the published definitions shipped in tests/data
# (ECS 8.11.0, OCSF 1.1.0) and against its native event; native bytes are unchanged by the key;
# the spooled sink's bytes (sent live, and replayed by a second run) equal the live one's; a bad
# schema is refused with file:line, exit 78.
. "$(dirname "$0")/lib.sh"

CS=$(unique_comm ss) # the server
CC=$(unique_comm sc) # the client
NS=nmsi$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
BLACKHOLE=10.202.0.2
CLOSED=$(closed_port)

# ---- a bad value is refused before anything starts --------------------------------------------
for bad in '"splunk"' '1' '"ECS"'; do
	printf 'sinks = ( { name = "f"; type = "file"; path = "%s/never.ndjson";\n  schema = %s; } );\n' \
		"$T" "$bad" >"$T/bad.conf"
	"$AGENT" --check-config -c "$T/bad.conf" 2>"$T/bad.err"
	st=$?
	[ $st = 78 ] || fail "schema = $bad: --check-config exit $st, expected 78"
	grep -q "^$T/bad.conf:2: 'schema' .*\"native\", \"ecs\", \"ocsf\"" "$T/bad.err" ||
		fail "schema = $bad: $(cat "$T/bad.err")"
	"$AGENT" -c "$T/bad.conf" 2>"$T/bad.err"
	st=$?
	[ $st = 78 ] && [ ! -e "$T/never.ndjson" ] || fail "schema = $bad: a start exited $st"
done

# ---- the agent, with every program on and seven sinks -----------------------------------------
# when_full = block: under another test's storm every file sink still gets every event (what
# the rings cannot take is counted in the kernel, before the fan-out), so the files compare.
sink() { # NAME FORMAT [KEYS]
	printf '  { name = "%s"; type = "file"; format = "%s"; path = "%s/%s.out"; rotate_bytes = 0;\n' \
		"$1" "$2" "$T" "$1"
	printf '    queue = { when_full = "block"; }; %s },\n' "${3:-}"
}
{
	echo 'programs = { tcp_reset = { enabled = true; }; tcp_retransmit = { aggregate_ms = 0; }; };'
	echo 'sinks = ('
	sink n json
	sink n2 json 'schema = "native";'
	sink e json 'schema = "ecs";'
	sink o json 'schema = "ocsf";'
	sink em msgpack 'schema = "ecs";'
	sink om msgpack 'schema = "ocsf";'
	printf '  { name = "od"; type = "file"; format = "json"; schema = "ocsf"; path = "%s/od.out";\n' "$T"
	printf '    rotate_bytes = 0; durability = "disk";\n    queue = { when_full = "block"; spool_dir = "%s/spool"; }; },\n' "$T"
	# a broker that is not there, with a tiny queue: its drops make in-band loss reports
	printf '  { name = "dead"; type = "mqtt"; host = "127.0.0.1"; port = %s; topic = "x/${type}";\n' "$CLOSED"
	echo '    queue = { max_events = 4; when_full = "drop_newest"; }; }'
	echo ');'
	printf 'control = { socket = "%s/ctl.sock"; };\n' "$T"
} >"$T/agent.conf"
"$AGENT" --check-config -c "$T/agent.conf" >/dev/null 2>"$T/check.err" ||
	fail "config refused: $(cat "$T/check.err")"

# The connect to $BLACKHOLE in $NS retransmits its SYN and times out (3 s).
blackhole_netns "$NS" 10.202.0.1/24 "$BLACKHOLE"

# traffic.py COMM SERVER_COMM CLOSED_PORT [BLACKHOLE]: a transfer to a local server (connect,
# accept, closes with bytes), a refused connect (resets, a drop), an unconnected UDP send; with
# BLACKHOLE, a connect there that times out after a SYN retransmission.
cat >"$T/traffic.py" <<'PY'
import ctypes, os, socket, sys

def name(comm):
    ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)  # PR_SET_NAME

if len(sys.argv) > 4:
    name(sys.argv[1])
    try:
        socket.create_connection((sys.argv[4], 80), timeout=30)
        sys.exit("connected to a black hole")
    except OSError as e:
        sys.exit(0 if e.errno == 110 else f"expected ETIMEDOUT: {e!r}")

l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen()
port = l.getsockname()[1]
pid = os.fork()
if pid == 0:
    name(sys.argv[2])
    a, _ = l.accept()
    while a.recv(65536):
        pass
    a.sendall(b"s" * 4096)
    a.close()
    os._exit(0)
name(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"c" * 100000)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
os.waitpid(pid, 0)
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[3])))
    sys.exit("connected to a closed port")
except ConnectionRefusedError:
    pass
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"x", ("127.0.0.1", int(sys.argv[3])))
u.close()
PY

start_agent "$T/agent.conf"
$PY "$T/traffic.py" "$CC" "$CS" "$CLOSED" || fail "loopback traffic"
ip netns exec "$NS" $PY "$T/traffic.py" "$CC" "$CS" "$CLOSED" $BLACKHOLE || fail "black hole traffic"
sleep 1.5 # the retransmit's flow is reported when its socket goes; batched wakeups drain
stop_agent

# What the durable sink had not sent at exit waits in its spool: a run with no program replays
# it, and only it (the other sinks get nothing), so od ends up with every document o got.
sed 's/^programs = .*/programs = { connection = { enabled = false; }; packet_drop = { enabled = false; };\
  udp_send = { enabled = false; }; tcp_lifecycle = { enabled = false; };\
  tcp_retransmit = { enabled = false; }; tcp_reset = { enabled = false; }; };/' \
	"$T/agent.conf" >"$T/replay.conf"
o_lines=$(wc -l <"$T/o.out")
start_agent "$T/replay.conf"
wait_for sh -c "[ \$(wc -l <'$T/od.out') -ge $o_lines ]" || fail "the spool was not replayed"
stop_agent
[ "$(wc -l <"$T/o.out")" = "$o_lines" ] || fail "a run with no program wrote events"
echo "second run: $(grep -o '[0-9]* events in the spool' "$T/agent.log" || echo 'no events') left to replay"

# ---- what the sinks got -------------------------------------------------------------------------
[ -s "$T/n.out" ] || fail "no native events"
cmp -s "$T/n.out" "$T/n2.out" || fail "schema = \"native\" changed the native bytes"
cmp -s "$T/o.out" "$T/od.out" ||
	fail "the ocsf sink's spool gave other bytes than the live sink: $(cmp "$T/o.out" "$T/od.out")"
# Native documents are the ones every other native test checks; here: every type is there.
$PY - "$T/n.out" "$CC" "$CS" <<'PY' || fail "native events"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
types = {e["type"] for e in evs}
need = {"connection", "tcp_lifecycle", "packet_drop", "udp_send", "tcp_reset", "tcp_retransmit",
        "loss"}
if need - types:
    sys.exit(f"no {sorted(need - types)} events among {len(evs)}")
mine = [e for e in evs if e["command"] in sys.argv[2:]]
outcomes = {e.get("outcome") for e in mine if e["type"] == "tcp_lifecycle"}
if not {"established", "refused", "timeout", "closed"} <= outcomes:
    sys.exit(f"tcp_lifecycle outcomes {outcomes}")
# native documents are flat: nothing nested, no schema key leaked in
bad = [e for e in evs if any(isinstance(v, (dict, list)) for v in e.values()) or "ecs" in e]
if bad:
    sys.exit(f"a native event changed shape: {bad[0]}")
PY
$PY "$top_srcdir/tests/integration/siem_validate.py" "$top_srcdir/tests/data" "$T/n.out" \
	"$T/e.out" ecs json "$T/o.out" ocsf json "$T/em.out" ecs msgpack "$T/om.out" ocsf msgpack \
	>"$T/validate.out" 2>&1 || fail "documents do not validate: $(head -40 "$T/validate.out")"
cat "$T/validate.out"
# Each document file has every type the native one has.
for f in e o em om; do
	for t in connection tcp_lifecycle packet_drop udp_send tcp_reset tcp_retransmit loss; do
		grep "^$T/$f.out:" "$T/validate.out" | grep -q " $t [1-9]" || fail "$f: no $t documents"
	done
done
# MessagePack and JSON of one schema are one document.
$PY - "$T/e.out" "$T/em.out" "$T/o.out" "$T/om.out" <<'PY' || fail "JSON and MessagePack differ"
import json, sys, msgpack
for j, m in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    a = [json.loads(l) for l in open(j)]
    b = list(msgpack.Unpacker(open(m, "rb"), raw=False))
    if a != b:
        sys.exit(f"{j} and {m}: {len(a)} and {len(b)} documents, not the same")
PY

# The checker can fail: a keyword written as a number, an enum value OCSF does not have.
sed 's/"iana_number":"6"/"iana_number":6/' "$T/e.out" >"$T/e.bad"
sed 's/"direction_id":2,"direction":"Outbound"/"direction_id":7,"direction":"Outbound"/' \
	"$T/o.out" >"$T/o.bad"
must_fail() { # FILE SCHEMA
	! $PY "$top_srcdir/tests/integration/siem_validate.py" "$top_srcdir/tests/data" "$T/n.out" \
		"$T/$1" "$2" json >"$T/validate.bad" 2>&1 || fail "$1 validated"
	grep -q "is not of type keyword\|is not in its enum" "$T/validate.bad" ||
		fail "$1: $(head -5 "$T/validate.bad")"
}
must_fail e.bad ecs
must_fail o.bad ocsf
echo "PASS: siem_schema"

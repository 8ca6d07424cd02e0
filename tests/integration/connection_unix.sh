#!/bin/sh
# connection_unix.sh - AF_UNIX connects are reported only with trace_unix = true: filesystem
# and abstract addresses, results; and IPv4-mapped IPv6 and UDP "connects" keep their real protocol.
. "$(dirname "$0")/lib.sh"

COMM=$(unique_comm ux)
cat >"$T/agent.conf" <<CONF
programs = { connection = { trace_unix = true; }; packet_drop = { enabled = false; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/events.ndjson"; } );
control = { enabled = false; };
CONF
start_agent "$T/agent.conf"
$PY - "$T" "$COMM" <<'PY' || fail "traffic"
import ctypes, os, socket, sys
t, comm = sys.argv[1], sys.argv[2]
ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)      # PR_SET_NAME
srv = socket.socket(socket.AF_UNIX)
srv.bind(t + "/listening.sock")
srv.listen(1)
for addr in (t + "/listening.sock", t + "/missing.sock", "\0nm-abstract-" + comm):
    c = socket.socket(socket.AF_UNIX)
    try:
        c.connect(addr)
    except OSError:
        pass
    c.close()
PY
sleep 0.5
stop_agent

$PY - "$T/events.ndjson" "$T" "$COMM" <<'PY' || fail "unix connection events"
import json, sys
path, t, comm = sys.argv[1:]
evs = [e for e in map(json.loads, open(path, "rb")) if e["command"] == comm and e["family"] == "unix"]
got = {e["destination"]: (e["return_code"], e["error"], e["protocol"], e["socket_type"]) for e in evs}
want = {
    t + "/listening.sock": (0, None, "unix", "stream"),
    t + "/missing.sock": (-2, "ENOENT", "unix", "stream"),
    "@nm-abstract-" + comm: (-111, "ECONNREFUSED", "unix", "stream"),
}
assert len(evs) == 3, f"{len(evs)} unix events: {evs}"
assert got == want, f"got {got}\nwant {want}"
PY
exit 0

#!/bin/sh
# drop_context.sh - who a dropped packet belongs to: a drop in process context (an AF_UNIX
# socket closed with unread data, freed by close() itself) carries the closing task; a drop
# in softirq (a SYN to a closed port on loopback, freed on the receive path) carries none.
# And no packet_drop program runs on the irq hooks (they fire on every interrupt of the host).
. "$(dirname "$0")/control_lib.sh"

PORT=$(closed_port)
N=nmud$$
write_conf
start_agent "$T/agent.conf"

# process context: the task whose close() frees the queued data
$PY - "$N" <<'PY' || fail "the unix socket client"
import ctypes, os, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)  # PR_SET_NAME: our command name
for _ in range(5):
    a, b = socket.socketpair()
    a.send(b"x" * 100)
    b.close()  # unread data in b's queue: freed here, by this task
    a.close()
print(os.getpid())
PY
wait_count 5 "type=packet_drop&command=$N"
get "/api/events?type=packet_drop&command=$N&limit=5" | jq -e '.events | length == 5 and
	all(.context == "process" and (.pid | type) == "number" and .pid > 0 and
	    (.location | startswith("unix_")))' >/dev/null ||
	fail "process-context drops: $(cat "$T/body")"

# softirq: NO_SOCKET for SYNs to a closed port, freed by tcp_v4_rcv/tcp_v6_rcv on loopback
C=$(unique_comm dc)
"$CONNECT" -n 5 -p "$PORT" -c "$C" >/dev/null
sleep 0.5
get "/api/events?type=packet_drop&limit=2000" >"$T/drops"
n=$(jq --argjson p "$PORT" '[.events[] | select(.destination_port == $p and
	.drop_reason == "NO_SOCKET")] | length' "$T/drops")
[ "$n" -ge 5 ] || fail "$n NO_SOCKET drops to port $PORT, expected 5 or more"
jq -e --argjson p "$PORT" '[.events[] | select(.destination_port == $p)] |
	all(.context == "softirq" and .pid == null and .command == null)' "$T/drops" >/dev/null ||
	fail "softirq drops claimed a task: $(jq -c --argjson p "$PORT" \
		'[.events[] | select(.destination_port == $p)][0]' "$T/drops")"

# no program of the agent on the irq hooks
command -v bpftool >/dev/null 2>&1 || fail "bpftool missing"
bpftool -j prog show >"$T/progs" || fail "bpftool prog show"
if jq -e '.[] | select(.name | test("^nm_(soft)?irq"))' "$T/progs" >/dev/null; then
	fail "a program on the irq hooks: $(jq -c '[.[] | select(.name | test("^nm_")) | .name]' "$T/progs")"
fi
echo "PASS"

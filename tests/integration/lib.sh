# lib.sh - shared by the integration tests: root check, temp dirs, starting and stopping the agent.
# Source it; it sets $T (a temp dir removed on exit), $AGENT, $CONNECT, and helper functions.

set -u
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
AGENT=$top_builddir/src/ebpf-netmon
CONNECT=$top_builddir/tests/helpers/nm-connect
# Debian's interpreter: it has python3-msgpack, whatever python3 is first on PATH.
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (loads BPF programs into the kernel)"
	exit 77
fi

T=$(mktemp -d /tmp/nm-test.XXXXXX)
AGENT_PID=
cleanup() {
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -KILL "$AGENT_PID" 2>/dev/null
	fi
	for f in "$T"/*.cleanup; do [ -f "$f" ] && sh "$f"; done 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/agent.log" ]; then
		echo "--- agent log (last 40 lines) ---" >&2
		tail -40 "$T/agent.log" >&2
	fi
	exit 1
}

# blackhole_netns NS LOCAL/PREFIX PEER: a network namespace (removed at exit) whose only route
# leads to a veth peer that answers nothing (a permanent neighbour entry for PEER, so no ARP
# failure turns the timeout into EHOSTUNREACH), with one SYN retry: a connect to PEER in it times
# out after 3 s.
blackhole_netns() {
	ip netns add "$1" || fail "ip netns add"
	echo "ip netns del $1" >"$T/netns.cleanup"
	ip -n "$1" link set lo up &&
		ip -n "$1" link add v0 type veth peer name v1 &&
		ip -n "$1" addr add "$2" dev v0 &&
		ip -n "$1" link set v0 up && ip -n "$1" link set v1 up &&
		ip -n "$1" neigh add "$3" lladdr 02:00:00:00:00:02 dev v0 nud permanent &&
		ip netns exec "$1" sysctl -q -w net.ipv4.tcp_syn_retries=1 || fail "netns setup"
}

# A process name nobody else uses, so events can be told apart (15 chars max).
unique_comm() {
	printf 'nm%s%s' "$1" "$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')" | cut -c1-15
}

# A loopback TCP port with nothing listening.
closed_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_agent CONFIG [extra args]: runs the agent in the background, waits until attached.
start_agent() {
	conf=$1
	shift
	"$AGENT" -c "$conf" "$@" >"$T/agent.out" 2>"$T/agent.log" &
	AGENT_PID=$!
	for _ in $(seq 1 100); do
		if grep -q "running:" "$T/agent.log" 2>/dev/null; then
			return 0
		fi
		kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited during start"
		sleep 0.1
	done
	fail "agent did not start within 10 s"
}

# stop_agent: SIGTERM, wait, and require exit status 0.
stop_agent() {
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	status=$?
	AGENT_PID=
	[ "$status" = 0 ] || fail "agent exited with status $status after SIGTERM"
}

# final_books SINK: "received delivered dropped spooled" from the agent's final line for SINK.
final_books() {
	sed -n "s/.*sink $1: final: received \([0-9]*\) delivered \([0-9]*\) dropped \([0-9]*\) spooled \([0-9]*\).*/\1 \2 \3 \4/p" \
		"$T/agent.log" | tail -1
}

# connect_as NAME...: one connect to $PORT under each process name (hostile names for sanitizing tests).
connect_as() {
	for name in "$@"; do
		"$CONNECT" -n 1 -p "$PORT" -c "$name" >/dev/null
	done
}

# wait_for CMD...: retry a check for up to 10 s.
wait_for() {
	for _ in $(seq 1 100); do
		if "$@"; then return 0; fi
		sleep 0.1
	done
	return 1
}

# control_lib.sh - shared by the control_*.sh tests: an agent with its control socket in $T.
# Source it after setting nothing; it sources lib.sh and sets $SOCK, $CTL and helpers.
. "$(dirname "$0")/lib.sh"

SOCK=$T/ctl.sock
CTL=$top_builddir/src/ebpf-netmonctl
# The programs compiled in, and how many run by default: the agent's built-in default names each
# with its "enabled" default (write_conf leaves programs at their defaults).
PROGRAMS_JSON=$("$AGENT" --print-default | sed -n 's/^  \([a-z0-9_]*\) = {$/\1/p' | jq -R . | jq -sc .)
NPROGRAMS=$(echo "$PROGRAMS_JSON" | jq length)
NRUNNING=$("$AGENT" --print-default | grep -c '^    enabled = true;')
echo "$PROGRAMS_JSON" | jq -e 'contains(["connection", "packet_drop"])' >/dev/null ||
	fail "programs compiled in: $PROGRAMS_JSON"

# write_conf [CONTROL_KEYS] [STORE_KEYS]: a file sink (the ground truth) and the control socket.
# The store is large by default: the agent sees every process's traffic, and a storm in a test
# running alongside must not evict the events this test checks.
write_conf() {
	cat >"$T/agent.conf" <<CONF
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/events.ndjson"; } );
control = { socket = "$SOCK"; ${1:-} };
store = { ${2:-capacity = 2000000;} };
CONF
}

# req METHOD PATH [curl args]: the body goes to $T/body, the status is printed.
req() {
	_m=$1
	_p=$2
	shift 2
	curl -sS --unix-socket "$SOCK" -X "$_m" -o "$T/body" -w '%{http_code}' "$@" "http://localhost$_p"
}

# get PATH: the body on stdout; fails the test unless 200.
get() {
	_s=$(req GET "$1") || fail "GET $1: curl failed"
	[ "$_s" = 200 ] || fail "GET $1: status $_s: $(cat "$T/body")"
	cat "$T/body"
}

# expect STATUS METHOD PATH [curl args]: the status, and a JSON {"error"} body for a 4xx.
expect() {
	_want=$1
	shift
	_s=$(req "$@") || fail "$*: curl failed"
	[ "$_s" = "$_want" ] || fail "$*: status $_s, expected $_want: $(cat "$T/body")"
	case $_want in
	4*) jq -e '.error | type == "string" and length > 0' "$T/body" >/dev/null ||
		fail "$*: no {\"error\"} body: $(cat "$T/body")" ;;
	esac
}

# count_events QUERY: how many events /api/events returns for QUERY.
count_events() {
	get "/api/events?$1" | jq '.events | length'
}

# wait_count N QUERY: until /api/events returns N events for QUERY.
wait_count() {
	_n=$1
	_q=$2
	for _ in $(seq 1 100); do
		[ "$(count_events "$_q")" = "$_n" ] && return 0
		sleep 0.1
	done
	fail "/api/events?$_q: $(count_events "$_q") events, expected $_n"
}

#!/bin/sh
# reload.sh - hot reload: 10 reloads (SIGHUP and POST /api/reload) through a storm lose or repeat no event; bad configs are refused.
. "$(dirname "$0")/control_lib.sh"

COMM=$(unique_comm r)
PORT=$(closed_port)
CONF=$T/agent.conf

# conf OTHER TCP_LIFECYCLE ADDED GONE [FILTER]: the running sinks and programs of one generation.
# "truth" never changes; "other" changes its path (a changed sink: same queue, new instance);
# "added" and "gone" come and go; tcp_lifecycle is switched on and off.
conf() {
	filt=
	[ -n "${5:-}" ] && filt="filter = { $5 };"
	{
		cat <<CONF
shutdown_timeout_ms = 5000;
control = { socket = "$SOCK"; mode = "0666"; };
programs = { packet_drop = { enabled = false; }; tcp_retransmit = { enabled = false; };
  tcp_reset = { enabled = false; }; udp_send = { enabled = false; };
  tcp_lifecycle = { enabled = $2; $filt }; connection = { ring_size = 33554432; }; };
sinks = (
  { name = "truth"; type = "file"; format = "json"; path = "$T/truth.ndjson"; rotate_bytes = 0;
    queue = { when_full = "block"; }; },
  { name = "other"; type = "file"; format = "json"; path = "$T/$1.ndjson"; rotate_bytes = 0;
    queue = { when_full = "block"; }; }
CONF
		[ "$3" = 1 ] && printf '  , { name = "added"; type = "file"; format = "msgpack"; path = "%s"; rotate_bytes = 0; queue = { when_full = "block"; }; }\n' "$T/added.bin"
		[ "$4" = 1 ] && printf '  , { name = "gone"; type = "file"; format = "json"; path = "%s"; rotate_bytes = 0; queue = { when_full = "block"; }; }\n' "$T/gone.ndjson"
		echo ");"
	} >"$CONF.new"
	mv "$CONF.new" "$CONF" # whole: a reload never reads a half-written file
}

# health KEY: a field of /health's config (503 while a sink is unhealthy still has it).
health() {
	req GET /health >/dev/null
	jq -r ".config.$1" "$T/body"
}

program_attached() {
	get /api/programs | jq -r ".programs[] | select(.name == \"$1\") | .attached"
}

# for wait_for, which runs its command again each time
generation_is() {
	[ "$(health generation)" = "$1" ]
}
attached_is() {
	[ "$(program_attached "$1")" = "$2" ]
}

GEN=1
# reload HOW: one reload that must be applied, by SIGHUP, POST /api/reload or ebpf-netmonctl.
reload() {
	GEN=$((GEN + 1))
	if [ "$1" = ctl ]; then
		"$CTL" -s "$SOCK" reload >"$T/ctl.out" 2>&1 || fail "ebpf-netmonctl reload: $(cat "$T/ctl.out")"
		grep -q "^applied: generation $GEN," "$T/ctl.out" || fail "ebpf-netmonctl reload: $(cat "$T/ctl.out")"
	elif [ "$1" = hup ]; then
		kill -HUP "$AGENT_PID"
		wait_for generation_is "$GEN" ||
			fail "SIGHUP: generation $(health generation), expected $GEN"
	else
		expect 200 POST /api/reload
		jq -e ".status == \"applied\" and .generation == $GEN" "$T/body" >/dev/null ||
			fail "POST /api/reload: $(cat "$T/body")"
	fi
}

chmod 755 "$T" # nobody must reach the socket in it
conf o1 false 0 1
start_agent "$CONF"
[ "$(health generation)" = 1 ] || fail "generation at start: $(health generation)"
START_AT=$(health loaded_at)
echo "$START_AT" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' || fail "loaded_at: $START_AT"
[ "$(program_attached tcp_lifecycle)" = false ] || fail "tcp_lifecycle attached at start"

# the storm: bursts until the reloads are done (bounded, so the disk is not filled on a fast
# machine nor the reloads outlast it on a slow one)
: >"$T/storm.out"
(
	while [ ! -e "$T/storm.stop" ]; do
		"$CONNECT" -4 -n 2000 -p "$PORT" -c "$COMM" >>"$T/storm.out" || exit 1
		sleep 0.01
	done
) &
storm=$!
sleep 0.5

conf o2 false 0 1; reload hup  # 2: other changed
conf o2 true 0 1; reload post  # 3: a program enabled
wait_for attached_is tcp_lifecycle true || fail "tcp_lifecycle not attached"
conf o2 true 1 1; reload hup   # 4: a sink added
sleep 0.5
conf o2 true 1 0; reload post  # 5: a sink removed
jq -e '.sinks.removed == 1 and .sinks.unchanged == 3' "$T/body" >/dev/null ||
	fail "removal: $(cat "$T/body")"
conf o2 false 1 0; reload hup  # 6: the program disabled
wait_for attached_is tcp_lifecycle false || fail "tcp_lifecycle still attached"

# refused: not privileged; a syntax error (with its file:line), a key that cannot change
: >"$T/nbody"
chmod 666 "$T/nbody"
s=$(setpriv --reuid=nobody --regid=nogroup --clear-groups curl -sS --unix-socket "$SOCK" \
	-o "$T/nbody" -w '%{http_code}' -X POST http://localhost/api/reload)
[ "$s" = 403 ] && jq -e '.error | test("uid 0")' "$T/nbody" >/dev/null ||
	fail "reload by nobody: $s $(cat "$T/nbody")"
expect 405 GET /api/reload
cp "$CONF" "$T/good.conf"
printf 'sinks = ( { name = "x"; type = "file" ' >"$CONF"
expect 422 POST /api/reload
jq -e --arg f "$CONF" '.errors | length >= 1 and (.[0] | startswith($f + ":"))' "$T/body" >/dev/null ||
	fail "syntax error: no file:line: $(cat "$T/body")"
[ "$(jq .generation "$T/body")" = "$GEN" ] || fail "refused, yet generation $(jq .generation "$T/body")"
sed "s|socket = \"$SOCK\"|socket = \"$T/elsewhere.sock\"|" "$T/good.conf" >"$CONF"
expect 422 POST /api/reload
jq -e --arg f "$CONF" '.errors | any(. == $f + ":2: control.socket cannot change at run time: restart the agent for that")' "$T/body" >/dev/null ||
	fail "control.socket change not refused by name: $(cat "$T/body")"
sed 's|path = "'"$T"'/truth.ndjson";|path = "'"$T"'/truth.ndjson"; bogus_key = 1;|' "$T/good.conf" >"$CONF"
kill -HUP "$AGENT_PID"
wait_for grep -q "bogus_key" "$T/agent.log" || fail "SIGHUP with a bad config: nothing logged"
grep "reload refused" "$T/agent.log" >/dev/null || fail "SIGHUP refusal not logged as such"
[ "$(health generation)" = "$GEN" ] || fail "refused by SIGHUP, yet generation $(health generation)"
[ -e "$T/elsewhere.sock" ] && fail "a refused config was applied"
REFUSED=3
if [ -x "$CTL" ]; then
	printf 'sinks = ( { name = "x"; type = "nope"; path = "/x"; } );\ncontrol = { socket = "%s"; };\n' "$SOCK" >"$CONF"
	"$CTL" -s "$SOCK" reload >"$T/ctl.out" 2>&1 && fail "ebpf-netmonctl reload: a bad config accepted"
	grep -q "^  $CONF:1: " "$T/ctl.out" || fail "ebpf-netmonctl reload: no file:line: $(cat "$T/ctl.out")"
	REFUSED=4
fi
get /api/stats | jq -e ".reload.refused == $REFUSED" >/dev/null || fail "refused count: $(get /api/stats | jq -c .reload)"

conf o3 false 1 0; reload post # 7: other changed again
conf o3 false 1 0; reload hup  # 8: the same file again: nothing changes, a new generation
# the CLI where it is built (libcurl): the same request, its errors printed one a line
if [ -x "$CTL" ]; then HOW=ctl; else HOW=post; fi
conf o3 true 1 0; reload $HOW  # 9
conf o4 true 1 0 'exclude_ports = [ 9 ];'; reload hup # 10: and a filter
get /api/programs/tcp_lifecycle/filter | jq -e '. == {exclude_ports: [9]}' >/dev/null ||
	fail "filter not in force after the reload: $(cat "$T/body")"
conf o4 false 1 0; reload post # 11
[ "$(health generation)" = 11 ] || fail "generation after 10 reloads: $(health generation)"
[ "$(health loaded_at)" != "$START_AT" ] || fail "loaded_at did not move"
get /api/stats | jq -e ".reload.applied == 10 and .reload.refused == $REFUSED" >/dev/null ||
	fail "reload counters: $(get /api/stats | jq -c .reload)"
get /metrics >"$T/metrics"
grep -q '^ebpf_netmon_reload_applied_total 10$' "$T/metrics" || fail "no reload counter in /metrics"
grep -q '^ebpf_netmon_reload_generation 11$' "$T/metrics" || fail "no generation in /metrics"
touch "$T/storm.stop"
wait "$storm" || fail "the storm failed"
sleep 1
get /api/stats >"$T/stats.json"
stop_agent
CONNECTS=$(sed -n 's/^connects=\([0-9]*\) .*/\1/p' "$T/storm.out" | awk '{ n += $1 } END { print n }')
echo "storm: $CONNECTS connects in $(wc -l <"$T/storm.out") bursts"

# every seq exactly once, in order, in the unchanged sink; the others without gap or repeat too
$PY - "$T" "$COMM" "$CONNECTS" <<'PY' || fail "events lost or repeated across the reloads"
import json, sys, msgpack
t, comm, connects = sys.argv[1], sys.argv[2], int(sys.argv[3])
def json_seqs(*names):
    out = []
    for n in names:
        try:
            out += [json.loads(l)["seq"] for l in open(f"{t}/{n}", "rb")]
        except FileNotFoundError:
            pass
    return out
def check(name, seqs, whole):
    if not seqs:
        sys.exit(f"{name}: no events")
    dup = len(seqs) - len(set(seqs))
    gaps = (max(seqs) - min(seqs) + 1) - len(set(seqs))
    print(f"{name}: {len(seqs)} events, seq {min(seqs)}..{max(seqs)}, {dup} repeated, {gaps} missing")
    if dup or gaps or (whole and min(seqs) != 1):
        sys.exit(f"{name}: not every seq exactly once")
    return set(seqs)
truth = check("truth", json_seqs("truth.ndjson"), True)
storm = sum(1 for l in open(f"{t}/truth.ndjson", "rb")
            if (e := json.loads(l)).get("command") == comm and e["type"] == "connection")
print(f"truth: {storm} connection events of the storm's {connects} connects")
# nor did the kernel lose any while a reload held the reader (a program's load, a swap)
if storm != connects or storm < 1000:
    sys.exit("the storm's events are not all there")
# the changed sink: four instances in turn, one queue: together every seq once
other = check("other (o1..o4)", json_seqs("o1.ndjson", "o2.ndjson", "o3.ndjson", "o4.ndjson"), True)
for n in ("o1", "o2", "o3", "o4"):
    if not json_seqs(f"{n}.ndjson"):
        sys.exit(f"other: instance {n} wrote nothing")
added = check("added", [m["seq"] for m in msgpack.Unpacker(open(f"{t}/added.bin", "rb"), raw=False)], False)
gone = check("gone", json_seqs("gone.ndjson"), True)
if not (other <= truth and added <= truth and gone <= truth):
    sys.exit("a sink has events the unchanged one has not")
if max(added) != max(truth):
    sys.exit("added: stopped receiving before the end")
if max(gone) >= max(truth):
    sys.exit("gone: received events after its removal")
PY

# the removed sink delivered what it held before it went
# shellcheck disable=SC2046 # the four numbers, split on purpose
set -- $(final_books gone)
[ "$#" = 4 ] || fail "no final books for the removed sink"
[ "$1" = "$2" ] && [ "$3" = 0 ] || fail "removed sink: received $1 delivered $2 dropped $3"
[ "$2" = "$(wc -l <"$T/gone.ndjson")" ] || fail "removed sink: delivered $2, file has $(wc -l <"$T/gone.ndjson")"
jq -e '.sinks[] | select(.name == "truth") | .dropped == 0 and .delivered == .delivery_latency_seconds.count' \
	"$T/stats.json" >/dev/null || fail "truth: drops, or latency count != delivered"

# the built-in default (no -c): nothing to re-read, so 409, and SIGHUP only reopens. Its socket
# is /run/ebpf-netmon/control.sock: in a mount namespace of its own, with a /run of its own.
cat >"$T/default.sh" <<'SH'
set -u
mount -t tmpfs tmpfs /run || exit 1
"$1" -q >/dev/null 2>"$2/default.log" &
agent=$!
s=/run/ebpf-netmon/control.sock
for _ in $(seq 1 100); do [ -S $s ] && break; sleep 0.1; done
st=$(curl -sS --unix-socket $s -o "$2/default.body" -w '%{http_code}' -X POST http://localhost/api/reload)
kill -HUP $agent
sleep 0.3
gen=$(curl -sS --unix-socket $s http://localhost/health | jq .config.generation)
kill -TERM $agent
wait $agent
echo "$st $gen $?"
SH
# shellcheck disable=SC2046 # status, generation, exit status
set -- $(unshare -m --propagation private sh "$T/default.sh" "$AGENT" "$T")
[ "${1:-}" = 409 ] || fail "reload without -c: status ${1:-none}: $(cat "$T/default.body" "$T/default.log")"
jq -e '.error | test("without -c")' "$T/default.body" >/dev/null || fail "409 body: $(cat "$T/default.body")"
[ "${2:-}" = 1 ] && [ "${3:-}" = 0 ] || fail "without -c, after SIGHUP: generation ${2:-} exit ${3:-}"
echo "PASS: 10 reloads through a storm: every seq once in the unchanged, changed, added and removed sinks; bad configs refused"

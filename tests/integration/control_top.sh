#!/bin/sh
# control_top.sh - ebpf-netmonctl top: --json lines with rates and top talkers (a hostile
# command name escaped), and the live terminal view in tmux, quit with q or ^C, the terminal
# restored.
. "$(dirname "$0")/control_lib.sh"

command -v tmux >/dev/null 2>&1 || fail "tmux missing"
PORT=$(closed_port)
X=$(unique_comm tp)
write_conf
start_agent "$T/agent.conf"
ctl() { "$CTL" --socket "$SOCK" "$@"; }
# traffic for the whole test: 100 connects every 0.2 s under $X
(while :; do "$CONNECT" -n 100 -p "$PORT" -c "$X" >/dev/null 2>&1; sleep 0.2; done) &
TRAFFIC=$!
echo "kill $TRAFFIC" >"$T/traffic.cleanup"

ctl --json top -n 3 >"$T/top.json" || fail "top --json: $(cat "$T/top.json")"
[ "$(wc -l <"$T/top.json")" = 3 ] || fail "top -n 3 gave $(wc -l <"$T/top.json") lines"
jq -e --arg x "$X" 'select(.interval_seconds > 0.5 and .interval_seconds < 3) |
	(.programs[] | select(.name == "connection") | .attached and .events_per_second > 0) and
	(.sinks[] | select(.name == "f") | .healthy and .delivered_per_second > 0) and
	(.top_commands | map(.command) | index($x) != null) and
	(.top_destinations | map(.destination) | index("127.0.0.1:'"$PORT"'") != null)' \
	"$T/top.json" >"$T/jq.out" || fail "top --json content: $(cat "$T/top.json")"
[ "$(grep -c true "$T/jq.out")" = 3 ] || fail "not every line had it: $(cat "$T/top.json")"

# a command name with a quote, a backslash and an escape byte: still valid JSON, the same bytes
H=$(printf 'q"b\\\033z')
(for _ in 1 2 3 4 5 6; do "$CONNECT" -n 50 -p "$PORT" -c "$H" >/dev/null 2>&1; sleep 0.2; done) &
ctl --json top -n 2 >"$T/hostile.json" || fail "top --json (hostile)"
jq -e --arg h "$H" '.top_commands | map(.command) | index($h) != null' "$T/hostile.json" |
	grep -q true || fail "hostile command: $(cat "$T/hostile.json")"

# the terminal view: q quits within a second, the terminal's modes are as they were
cat >"$T/run-top.sh" <<SH
trap true INT # ^C is for top: this shell goes on to tell how top ended
stty -g >"$T/stty.before"
"$CTL" --socket "$SOCK" top
echo "exit \$?" >"$T/top.exit"
stty -g >"$T/stty.after"
sleep 30
SH
for key in q C-c; do
	rm -f "$T/top.exit"
	S=nmtop$$$key # a server of its own each round: a new one on a socket just killed may fail
	TERM=xterm tmux -L "$S" new-session -d -s top -x 120 -y 40 "sh $T/run-top.sh"
	echo "tmux -L $S kill-server" >"$T/tmux.cleanup"
	sleep 2.5
	TERM=xterm tmux -L "$S" capture-pane -p -t top >"$T/screen"
	grep -q '^PROGRAM .*EVENTS/S' "$T/screen" || fail "no view on the screen: $(cat "$T/screen")"
	grep -Eq "^$X +[0-9]+" "$T/screen" || fail "$X not among the top talkers: $(cat "$T/screen")"
	grep -q '(q to quit)' "$T/screen" || fail "no quit hint: $(cat "$T/screen")"
	TERM=xterm tmux -L "$S" send-keys -t top "$key"
	wait_for test -s "$T/top.exit" || fail "$key did not quit top"
	grep -q '^exit 0$' "$T/top.exit" || fail "$key: top exited with $(cat "$T/top.exit")"
	cmp -s "$T/stty.before" "$T/stty.after" || fail "$key: the terminal was not restored"
	TERM=xterm tmux -L "$S" kill-server
	echo "top: '$key' quit it, terminal restored"
done
echo "PASS"

#!/bin/sh
# file_unwritable.sh - the output directory made unwritable while the live file is gone: the
# sink counts and logs (rate-limited) the refused open, keeps the events queued, and a second
# sink keeps flowing; writable again, the file comes back within a second with every event once.
# The agent keeps no CAP_DAC_OVERRIDE once attached, so a mode stops it as it stops any user.
. "$(dirname "$0")/file_lib.sh"

OUT=$T/out
OTHER=$T/other
LIVE=$OUT/ev.ndjson
mkdir -m 0750 "$OUT" "$OTHER"
cat >"$T/agent.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$LIVE"; },
          { name = "g"; type = "file"; format = "json"; path = "$OTHER/ev.ndjson"; } );
control = { socket = "$SOCK"; };
CONF
start_agent "$T/agent.conf"
grep -q 'CapEff:.*' "/proc/$AGENT_PID/status" || fail "no CapEff"
eff=$(sed -n 's/^CapEff:\t//p' "/proc/$AGENT_PID/status")
# CAP_DAC_OVERRIDE is bit 1: without it the directory's mode binds the agent
[ $((0x$eff >> 1 & 1)) = 0 ] || fail "the agent kept CAP_DAC_OVERRIDE (CapEff $eff)"
C1=$(unique_comm u1)
traffic 20 "$C1"
wait_comm 20 "$C1" "$LIVE"

rm "$LIVE"
chmod 0550 "$OUT"
echo "chmod 0750 '$OUT'" >"$T/mode.cleanup"
C2=$(unique_comm u2)
traffic 200 "$C2"
# the other sink is not held up
wait_comm 200 "$C2" "$OTHER/ev.ndjson"
sleep 1
[ ! -e "$LIVE" ] || fail "a file was created in a directory the agent cannot write"
[ "$(sink_stat healthy)" = false ] || fail "sink f reports itself healthy"
errs=$(sink_stat open_errors)
[ "$errs" -ge 2 ] || fail "the failed opens were not counted (open_errors $errs)"
q=$(sink_stat queued)
[ "$q" -ge 200 ] || fail "only $q events held while the directory was unwritable"
n=$(grep -c 'ev.ndjson' "$T/agent.log")
[ "$n" -le 5 ] || fail "$n log lines about the file in 1 s: not rate-limited"

chmod 0750 "$OUT"
ms=$(within_ms 1000 test -f "$LIVE") || fail "not back within 1 s after the directory was writable"
echo "file back $ms ms after the directory became writable"
wait_comm 200 "$C2" "$LIVE"
[ "$(sink_stat healthy)" = true ] || fail "sink f still unhealthy"
stop_agent
[ "$(count_comm "$C2" "$LIVE")" = 200 ] || fail "duplicates or losses in the new file"
echo "PASS"

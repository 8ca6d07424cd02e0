#!/bin/sh
# file_vanish.sh - the output file deleted, its directory removed and recreated, or removed for
# good: the sink notices within a second, recreates them, counts it, and nothing goes to the void.
. "$(dirname "$0")/file_lib.sh"

OUT=$T/out
LIVE=$OUT/ev.ndjson
mkdir -m 0750 "$OUT"
file_conf "$LIVE"
start_agent "$T/agent.conf"
C1=$(unique_comm v1)
traffic 20 "$C1"
wait_comm 20 "$C1" "$LIVE"

# 1. rm of the live file. The agent is stopped around the rm, so everything written to the old
# file after what it held then went into the void: each such event must be in the new file too.
kill -STOP "$AGENT_PID"
exec 3<"$LIVE"
held=$(wc -l <"$LIVE")
rm "$LIVE"
kill -CONT "$AGENT_PID"
C2=$(unique_comm v2)
traffic 300 "$C2"
ms=$(within_ms 1000 test -f "$LIVE") || fail "the deleted file was not recreated within 1 s"
echo "deleted file recreated after $ms ms"
wait_comm 300 "$C2" "$LIVE"
cat <&3 >"$T/void.ndjson"
exec 3<&-
tail -n +$((held + 1)) "$T/void.ndjson" >"$T/void.tail"
$PY - "$T/void.tail" "$LIVE" <<'PY' || fail "events delivered into the deleted file only"
import json, sys
void = [json.loads(l)["id"] for l in open(sys.argv[1], "rb")]
new = {json.loads(l)["id"] for l in open(sys.argv[2], "rb")}
lost = [i for i in void if i not in new]
assert not lost, f"{len(lost)} of {len(void)} events written after the rm are only in the void"
print(f"{len(void)} events written to the deleted file, all written again to the new one")
PY
[ "$(sink_stat reopened_deleted)" -ge 1 ] || fail "the deletion was not counted"
grep -q "the file was deleted" "$T/agent.log" || fail "the deletion was not logged"

# 2. rm -r of the directory, then mkdir
rm -r "$OUT"
mkdir -m 0750 "$OUT"
C3=$(unique_comm v3)
traffic 100 "$C3"
ms=$(within_ms 1000 test -f "$LIVE") || fail "not back within 1 s after rm -r and mkdir"
echo "file back after rm -r and mkdir after $ms ms"
wait_comm 100 "$C3" "$LIVE"
[ "$(sink_stat reopened_dir_gone)" -ge 1 ] || fail "the directory's removal was not counted"

# 3. rm -r of the directory, nobody recreates it: the sink does, with dir_mode
rm -r "$OUT"
C4=$(unique_comm v4)
traffic 100 "$C4"
ms=$(within_ms 1000 test -f "$LIVE") || fail "not back within 1 s after rm -r"
echo "directory and file recreated after rm -r after $ms ms"
wait_comm 100 "$C4" "$LIVE"
[ "$(stat -c %a "$OUT")" = 750 ] || fail "recreated directory has mode $(stat -c %a "$OUT")"
[ "$(stat -c %a "$LIVE")" = 640 ] || fail "recreated file has mode $(stat -c %a "$LIVE")"
[ "$(sink_stat reopened_dir_gone)" -ge 2 ] || fail "the second removal was not counted"
[ "$(sink_stat healthy)" = true ] || fail "not healthy after recovering"
stop_agent
exit 0

#!/bin/sh
# file_full.sh - a full disk: writing resumes within a second of space coming back, into whatever
# room there is, whatever the backlog; every line stays whole, none is lost or repeated.
. "$(dirname "$0")/file_lib.sh"

mkdir "$T/mnt"
mount -t tmpfs -o size=1m,mode=0700 nm-test "$T/mnt" || fail "cannot mount a tmpfs"
echo "umount -l '$T/mnt'" >"$T/mnt.cleanup"
LIVE=$T/mnt/ev.ndjson
file_conf "$LIVE" "rotate_bytes = 0;"
start_agent "$T/agent.conf"

# fill the disk, then queue more events than half of it can hold
dd if=/dev/zero of="$T/mnt/fill" bs=4096 2>/dev/null
C=$(unique_comm fu)
N=1200 # ~600 KB: more than the half that is freed, less than the whole disk
traffic $N "$C"
sleep 1
[ "$(sink_stat healthy)" = false ] || fail "healthy on a full disk"
[ "$(sink_stat write_errors)" -ge 1 ] || fail "write errors not counted"
before=$(stat -c %s "$LIVE")
backlog=$(($(sink_stat queued_bytes) + 0))

# free half of the filler: writing resumes within a second and fills the room it got
freed=$(($(stat -c %s "$T/mnt/fill") / 2))
truncate -s "$freed" "$T/mnt/fill"
grown() { [ "$(stat -c %s "$LIVE")" -gt $((before + 4096)) ]; }
ms=$(within_ms 1000 grown) || fail "nothing written within 1 s of $freed bytes freed (backlog $backlog bytes)"
sleep 1
after=$(stat -c %s "$LIVE")
[ $((after - before)) -ge $((freed / 2)) ] ||
	fail "only $((after - before)) of $freed freed bytes used"
echo "resumed after $ms ms; $((after - before)) bytes of $freed freed written; backlog was $backlog"

# room for all (the agent sees every process's traffic, others' too): every event arrives, once,
# every line whole
rm "$T/mnt/fill"
mount -o remount,size=64m "$T/mnt" || fail "cannot grow the tmpfs"
wait_comm $N "$C" "$LIVE"
for _ in $(seq 1 20); do [ "$(sink_stat healthy)" = true ] && break; sleep 0.1; done
[ "$(sink_stat healthy)" = true ] || fail "not healthy with space back"

# stopped while the disk is full: the record begun is cut, no torn line is left
dd if=/dev/zero of="$T/mnt/fill" bs=4096 2>/dev/null
sleep 0.5
C2=$(unique_comm f2)
traffic 2000 "$C2"
sleep 0.5
stop_agent
count_comm "$C2" "$LIVE" >/dev/null
exit 0

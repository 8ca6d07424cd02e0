#!/bin/sh
# container_id.sh - events from tasks in cgroups the test creates carry the cgroup v2 path, and
# the container id, runtime or systemd unit that the path shows (docker, podman, containerd,
# cri-o, Kubernetes' bare id, a .service); the host's root cgroup gives nulls.
. "$(dirname "$0")/control_lib.sh"

CG=$(awk '$9 == "cgroup2" && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG" ] || fail "no cgroup2 hierarchy mounted"
PORT=$(closed_port)
TOP=nmtest-$$.slice
D=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
P=fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210
K=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
# name relative path runtime id unit: one cgroup per case
CASES="docker $TOP/docker-$D.scope docker $D -
podman $TOP/user.slice/libpod-$P.scope podman $P -
containerd $TOP/kubepods-pod1.slice/cri-containerd-$K.scope containerd $K -
crio $TOP/crio-$D.scope cri-o $D -
kube $TOP/kubepods/burstable/pod1/$P kubernetes $P -
dockerfs $TOP/docker/$K docker $K -
unit $TOP/system.slice/nginx.service - - nginx.service
plain $TOP/plain - - -"
echo "rmdir_all() { find '$CG/$TOP' -depth -type d -exec rmdir {} + 2>/dev/null; }; rmdir_all" \
	>"$T/cgroups.cleanup"
echo "$CASES" | while read -r name rel rt id unit; do
	mkdir -p "$CG/$rel" || fail "cannot create cgroup $rel"
done

write_conf
start_agent "$T/agent.conf"
n=0
echo "$CASES" | while read -r name rel rt id unit; do
	n=$((n + 1))
	C=cg$n-$$ # a task name: 15 bytes at most
	# the connects come from a shell moved into the cgroup first
	sh -c "echo \$\$ >'$CG/$rel/cgroup.procs' && exec '$CONNECT' -n 3 -p $PORT -c '$C'" >/dev/null ||
		fail "$name: cannot run in $rel"
	wait_count 3 "type=connection&command=$C"
	get "/api/events?type=connection&command=$C&limit=1" | jq -c '.events[0]' >"$T/ev"
	jq -e --arg p "/$rel" '.cgroup == $p and .cgroup_id > 1' "$T/ev" >/dev/null ||
		fail "$name: cgroup path: $(cat "$T/ev")"
	[ "$rt" = - ] && rt=null || rt="\"$rt\""
	[ "$id" = - ] && id=null || id="\"$id\""
	[ "$unit" = - ] && unit=null || unit="\"$unit\""
	jq -e ".container_runtime == $rt and .container_id == $id and .systemd_unit == $unit" \
		"$T/ev" >/dev/null || fail "$name: identity: $(cat "$T/ev")"
	# the file sink wrote the same: encoded once, for every output
	grep "\"command\":\"$C\"" "$T/events.ndjson" | head -1 | jq -e --arg p "/$rel" \
		'.cgroup == $p' >/dev/null || fail "$name: not in the file sink"
	echo "$name: /$rel -> runtime $rt, id $id, unit $unit"
done || exit 1
# a container started after the agent, its task gone before its events are read: found by a
# walk of the hierarchy (at most every 250 ms)
L=$TOP/docker-$P.scope
mkdir "$CG/$L" || fail "cannot create $L"
sleep 0.3
C=cglate$$
sh -c "echo \$\$ >'$CG/$L/cgroup.procs' && exec '$CONNECT' -n 1 -p $PORT -c '$C'" >/dev/null
wait_count 1 "type=connection&command=$C"
get "/api/events?command=$C&limit=1" | jq -e --arg p "/$L" --arg id "$P" '.events[0] |
	.cgroup == $p and .container_id == $id and .container_runtime == "docker"' >/dev/null ||
	fail "late container: $(cat "$T/body")"
# a task in the root cgroup: its path is "/" and nothing more
C=cgroot$$
"$CONNECT" -n 1 -p "$PORT" -c "$C" >/dev/null
wait_count 1 "type=connection&command=$C"
get "/api/events?command=$C&limit=1" | jq -e '.events[0] | .cgroup != null and
	.container_id == null and .container_runtime == null' >/dev/null ||
	fail "root cgroup: $(cat "$T/body")"
# events without a task (packet drops in softirq) carry the four fields as null
get "/api/events?type=packet_drop&limit=20" | jq -e '[.events[] | select(.pid == null)] |
	all(has("cgroup") and .cgroup == null and .container_id == null)' >/dev/null ||
	fail "drops without a task: $(cat "$T/body" | head -c 400)"
echo "PASS"

# file_lib.sh - shared by the file_*.sh fault tests: a file sink "f" beside the control socket.
# Source it; it sources control_lib.sh (and so lib.sh) and adds the helpers below.
. "$(dirname "$0")/control_lib.sh"

PORT=$(closed_port)

# file_conf PATH [SINK_KEYS]: $T/agent.conf with the file sink "f" at PATH and the control socket.
file_conf() {
	cat >"$T/agent.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; };
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$1"; ${2:-} } );
control = { socket = "$SOCK"; };
CONF
}

# sink_stat KEY: a field of sink f in /api/stats.
sink_stat() {
	get /api/stats | jq -r ".sinks[] | select(.name == \"f\") | .$1"
}

# traffic N COMM: N connection events by process COMM.
traffic() {
	"$CONNECT" -4 -n "$1" -p "$PORT" -c "$2" >/dev/null || fail "traffic $2"
}

# count_comm COMM 'FILE|GLOB...': events by COMM in the files, globs expanded now, missing files
# skipped (.gz read through gzip). Fails the test on any line that is not one whole JSON document
# ending in a newline.
count_comm() {
	# shellcheck disable=SC2086 # the globs are meant to expand here
	$PY - "$1" $2 <<'PY' || fail "a torn or invalid line in $*"
import gzip, json, sys
comm, n = sys.argv[1], 0
for path in sys.argv[2:]:
    if "*" in path:
        continue
    data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    if data and not data.endswith(b"\n"):
        sys.exit(f"{path}: last line not whole: {data[-80:]!r}")
    for line in data.splitlines():
        n += json.loads(line)["command"] == comm
print(n)
PY
}

# wait_comm N COMM 'FILE|GLOB...': until the files hold N events by COMM (10 s).
wait_comm() {
	for _ in $(seq 1 100); do
		[ "$(count_comm "$2" "$3" 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "$(count_comm "$2" "$3") events by $2 in $3, expected $1"
}

# within_ms MS CMD...: CMD succeeds within MS milliseconds (polled every 20 ms); prints the time.
within_ms() {
	_limit=$1
	shift
	_t0=$(date +%s%N)
	while :; do
		_el=$((($(date +%s%N) - _t0) / 1000000))
		if "$@"; then
			echo "$_el"
			return 0
		fi
		[ "$_el" -ge "$_limit" ] && return 1
		sleep 0.02
	done
}

# a root-only file to plant symlinks to; its content and mode must never change
make_secret() {
	printf 'root-only secret\n' >"$T/secret"
	chmod 0600 "$T/secret"
	cp -p "$T/secret" "$T/secret.orig"
}

# plant_symlink NAME: NAME becomes a symlink to the secret in one rename, as an attacker would
plant_symlink() {
	ln -s "$T/secret" "$T/planted.link" && mv -T "$T/planted.link" "$1" || fail "cannot plant $1"
}

secret_unchanged() {
	cmp -s "$T/secret" "$T/secret.orig" || fail "$1: the symlink's target was written"
	[ "$(stat -c %a "$T/secret")" = 600 ] || fail "$1: the target's mode changed"
}

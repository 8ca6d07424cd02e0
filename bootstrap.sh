#!/bin/sh
# bootstrap.sh - from a fresh Debian 12 machine to a running agent or a tested build.
#
#   sudo ./bootstrap.sh run     install dependencies, build, run the agent on its built-in
#                               default (events as JSON lines on stdout, control socket up)
#   sudo ./bootstrap.sh check   install dependencies, build, run the whole test suite
#                               (make check), then again under ASan+UBSan, then each libFuzzer
#                               harness for FUZZ_SECONDS (60); print the totals
#   ./bootstrap.sh deps         install dependencies only
set -eu

cd "$(dirname "$0")"
SRC=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

DEBIAN_PACKAGES="build-essential autoconf automake libtool pkg-config clang libclang-rt-dev clang-format llvm bpftool
	libbpf-dev libelf-dev zlib1g-dev libmsgpack-dev libconfig-dev librdkafka-dev
	libmosquitto-dev libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev mosquitto
	mosquitto-clients kcat curl jq openssl e2fsprogs python3 python3-msgpack util-linux iproute2 procps
	prometheus tmux"

say() { printf '==> %s\n' "$*" >&2; }

deps() {
	missing=""
	for p in $DEBIAN_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		say "missing packages:$missing"
		say "run as root (sudo ./bootstrap.sh ...) to install them"
		exit 1
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# build DIR [configure args...]
build() {
	dir=$1
	shift
	[ -x "$SRC/configure" ] || (cd "$SRC" && ./autogen.sh >/dev/null 2>&1)
	mkdir -p "$dir"
	cd "$dir"
	if [ ! -f Makefile ] || [ "$SRC/configure" -nt Makefile ]; then
		say "configuring in $dir"
		"$SRC/configure" --quiet "$@"
	fi
	say "building in $dir"
	make -j"$JOBS" >build.log 2>&1 || { tail -40 build.log; exit 1; }
	make -j"$JOBS" check TESTS= >>build.log 2>&1 || { tail -40 build.log; exit 1; }
	cd "$SRC"
}

# suite DIR [make args]: run make check there; add its totals to the running sums.
suite() {
	dir=$1
	shift
	say "make check in $dir $*"
	(cd "$dir" && make check "$@") || true
	log=$dir/test-suite.log
	[ -f "$log" ] || { say "no $log: the suite did not run"; FAILED=$((FAILED + 1)); return; }
	p=$(sed -n 's/^# PASS: *//p' "$log")
	f=$(sed -n 's/^# FAIL: *//p' "$log")
	e=$(sed -n 's/^# ERROR: *//p' "$log")
	s=$(sed -n 's/^# SKIP: *//p' "$log")
	x=$(sed -n 's/^# XPASS: *//p' "$log")
	PASSED=$((PASSED + ${p:-0}))
	FAILED=$((FAILED + ${f:-0} + ${e:-0} + ${x:-0}))
	SKIPPED=$((SKIPPED + ${s:-0}))
	grep -E '^(FAIL|ERROR|XPASS|SKIP):' "$log" >&2 || true
}

# fuzz DIR: make fuzz there; each harness is one test in the sums, passed or failed (a crash,
# with its input and the command that reproduces it in the output).
fuzz() {
	dir=$1
	say "make fuzz in $dir (${FUZZ_SECONDS:-60} s per harness)"
	(cd "$dir" && make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}") >"$dir/fuzz.log" 2>&1 || true
	grep -E '^(PASS|FAIL): fuzz_|^    ' "$dir/fuzz.log" >&2 || true
	p=$(grep -c '^PASS: fuzz_' "$dir/fuzz.log" || true)
	f=$(grep -c '^FAIL: fuzz_' "$dir/fuzz.log" || true)
	if [ "${p:-0}" = 0 ] && [ "${f:-0}" = 0 ]; then
		say "the fuzzers did not run: see $dir/fuzz.log"
		tail -20 "$dir/fuzz.log" >&2
		f=1
	fi
	PASSED=$((PASSED + ${p:-0}))
	FAILED=$((FAILED + ${f:-0}))
}

# distcheck DIR: the release tarball builds, installs and uninstalls out of tree (the suite already
# ran: TESTS= builds its programs only); one test in the sums.
distcheck() {
	dir=$1
	say "make distcheck in $dir"
	if (cd "$dir" && make -j"$JOBS" distcheck TESTS=) >"$dir/distcheck.log" 2>&1; then
		echo "PASS: distcheck" >&2
		PASSED=$((PASSED + 1))
	else
		echo "FAIL: distcheck (see $dir/distcheck.log)" >&2
		tail -20 "$dir/distcheck.log" >&2
		FAILED=$((FAILED + 1))
	fi
}

case "${1:-}" in
deps)
	deps
	;;
run)
	deps
	build "$SRC/_build"
	say "starting the agent (built-in default); stop it with Ctrl-C"
	say "query it: curl --unix-socket /run/ebpf-netmon/control.sock http://localhost/health"
	exec "$SRC/_build/src/ebpf-netmon"
	;;
check)
	deps
	PASSED=0 FAILED=0 SKIPPED=0
	build "$SRC/_build"
	suite "$SRC/_build"
	distcheck "$SRC/_build"
	san="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	build "$SRC/_build-asan" CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined"
	export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
	suite "$SRC/_build-asan"
	unset ASAN_OPTIONS UBSAN_OPTIONS
	# libFuzzer harnesses (tests/fuzz): clang, ASan+UBSan, FUZZ_SECONDS each
	build "$SRC/_build-fuzz" --enable-fuzzers
	fuzz "$SRC/_build-fuzz"
	# Kafka and MQTT as dlopen'ed modules: what changes in that build, tested again.
	build "$SRC/_build-shared" --with-sink-kafka=shared --with-sink-mqtt=shared
	suite "$SRC/_build-shared" TESTS="tests/integration/sink_module.sh \
		tests/integration/kafka_basic.sh tests/integration/mqtt_basic.sh"
	echo "(every test ran twice, plain and under ASan+UBSan; the sink tests once more with shared modules;"
	echo " each fuzzer ${FUZZ_SECONDS:-60} s, one test each; make distcheck one test)"
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" = 0 ]
	;;
*)
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
	exit 64
	;;
esac

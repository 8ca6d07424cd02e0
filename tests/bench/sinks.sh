#!/bin/sh
# sinks.sh - each sink's delivered events/s beside its transport's own tool, same payloads, same run.
#
# N storm events (a refused loopback connect and its drop, alternating) are encoded once by the
# pipeline and replayed into one sink with its real config (tests/bench/bench_sinks.c says why a
# replay); the clock stops when the outlet counts N delivered: Kafka delivery reports, MQTT
# PUBACKs, bytes written. The reference tools get the very same payloads from a file:
#   file          vs  dd (same bytes, 256 KiB writes); gzip on: dd, then gzip -6 of what the
#                     agent compressed (its rotated files)
#   kafka         vs  kcat -P into the same mock cluster (tests/helpers/nm-kafka-mock), same
#                     properties: acks=all, idempotence, lz4, linger.ms, queue bound, same key
#                     and headers
#   mqtt QoS 1    vs  mosquitto_pub -l -q 1 -M 256 (its own network thread, queues without bound),
#                     and tests/bench/bench_mqtt_pub (libmosquitto alone, one thread, the sink's
#                     bounds: 256 on the wire, 4096 unacknowledged) into one local mosquitto
# A broker sink starts warm (connected, producer id acquired: 1000 messages delivered before the
# clock starts), as in a running agent; the tools are timed from their start, connect included.
# Ratios matter, not rates: the rounds interleave agent and reference, and the summary gives the
# median ratio over rounds.
#
#   top_builddir=_build sh tests/bench/sinks.sh     (needs root: the pipeline loads its BPF objects)
#   NM_BENCH_N=1000000 events, NM_BENCH_ROUNDS=3, NM_BENCH_SINKS="file gzip kafka mqtt"
set -u
B=${top_builddir:-$(pwd)}
N=${NM_BENCH_N:-1000000}
ROUNDS=${NM_BENCH_ROUNDS:-3}
SINKS=${NM_BENCH_SINKS:-file gzip kafka mqtt}
BENCH=$B/tests/bench/bench_sinks
PUB=$B/tests/bench/bench_mqtt_pub
MOCK=$B/tests/helpers/nm-kafka-mock
HOST=$(hostname)
# the agent's defaults, passed to the references too (sinks/kafka/kafka.c, sinks/mqtt/mqtt.c)
LINGER_MS=20
KAFKA_QUEUE=32768
MQTT_INFLIGHT=256
MQTT_QUEUE=4096

T=$(mktemp -d /tmp/nm-bench-sinks.XXXXXX)
chmod 700 "$T"
PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
[ -x "$BENCH" ] || { echo "$BENCH not built (make bench-sinks)" >&2; exit 1; }

now() { date +%s.%N; }
rate() { echo "$N / ($2 - $1)" | bc -l | xargs printf '%.0f'; } # rate T0 T1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# agent NAME CONF [PAYLOADS]: the sink's rate, or fail
agent() {
	"$BENCH" "$N" "$2" "${3:--}" >"$T/$1.out" 2>"$T/$1.err" || {
		echo "bench_sinks $1 failed:" >&2
		cat "$T/$1.out" "$T/$1.err" >&2
		exit 1
	}
	sed -n 's/.* = \([0-9]*\) events\/s.*/\1/p' "$T/$1.out"
}

# row ROUND SINK AGENT_RATE REF_NAME REF_RATE: one line, and the ratio kept for the summary
row() {
	r=$(echo "$3 / $5" | bc -l)
	printf '%-6s %-12s %12s  %-26s %12s %7.2f\n' "$1" "$2" "$3" "$4" "$5" "$r"
	echo "$2 vs $4|$r" >>"$T/ratios"
}

conf() { # conf NAME SINK-SETTINGS
	printf 'sinks = ( { name = "%s"; format = "json"; %s queue = { when_full = "block"; }; } );\ncontrol = { enabled = false; };\n' \
		"$1" "$2" >"$T/$1.conf"
}

mkdir -m 700 "$T/out"
conf file "type = \"file\"; path = \"$T/out/events.ndjson\"; rotate_bytes = 0;"

# The payloads: the first run of the file sink writes them too.
agent payloads "$T/file.conf" "$T/payloads.json" >/dev/null
rm -f "$T"/out/*
BYTES=$(stat -c %s "$T/payloads.json")
# gzip on: about 8 rotations, so that most of what is written is compressed
ROTATE=$((BYTES / 8 > 1048576 ? BYTES / 8 : 1048576))
conf gzip "type = \"file\"; path = \"$T/out/events.ndjson\"; rotate_bytes = $ROTATE; compress = true; rotate_keep = 1000;"
echo "sinks.sh: $N events, $BYTES bytes of JSON ($((BYTES / N)) per event), $ROUNDS rounds, host $HOST"

case " $SINKS " in *" kafka "*)
	if [ -x "$MOCK" ] && command -v kcat >/dev/null; then
		mkfifo -m 600 "$T/kafka.cmd"
		"$MOCK" -p 1 -t nmbench -c "$T/kafka.cmd" >"$T/kafka.boot" 2>"$T/kafka.log" &
		PIDS="$PIDS $!"
		for _ in $(seq 1 100); do [ -s "$T/kafka.boot" ] && break; sleep 0.05; done
		BOOT=$(head -1 "$T/kafka.boot")
		# one topic, one partition, keyed by host: the agent's default key, and kcat's -K
		conf kafka "type = \"kafka\"; brokers = \"$BOOT\"; topic = \"nmbench\";"
		sed "s/^/$HOST	/" "$T/payloads.json" >"$T/payloads.kv"
		KAFKA_SENT=0
	else
		echo "kafka: skipped (no nm-kafka-mock or kcat)"
		SINKS=$(echo "$SINKS" | sed 's/kafka//')
	fi ;;
esac
case " $SINKS " in *" mqtt "*)
	MOSQUITTO=$(PATH=$PATH:/usr/sbin command -v mosquitto)
	if [ -n "$MOSQUITTO" ] && command -v mosquitto_pub >/dev/null && [ -x "$PUB" ]; then
		MQTT_PORT=$(free_port)
		printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n' \
			"$MQTT_PORT" >"$T/mosquitto.conf"
		"$MOSQUITTO" -c "$T/mosquitto.conf" >/dev/null 2>&1 &
		PIDS="$PIDS $!"
		sleep 0.5
		conf mqtt "type = \"mqtt\"; host = \"127.0.0.1\"; port = $MQTT_PORT; qos = 1;"
	else
		echo "mqtt: skipped (no mosquitto, mosquitto_pub or bench_mqtt_pub)"
		SINKS=$(echo "$SINKS" | sed 's/mqtt//')
	fi ;;
esac

# kafka_check: every message so far is in the topic (the last offset), or fail
kafka_check() {
	last=$(timeout 30 kcat -C -q -b "$BOOT" -t nmbench -o -1 -c 1 -e -f '%o\n' 2>/dev/null)
	[ "$last" = $((KAFKA_SENT - 1)) ] || { echo "kafka: $KAFKA_SENT sent, last offset '$last'" >&2; exit 1; }
}

printf '%-6s %-12s %12s  %-26s %12s %7s\n' round sink "events/s" reference "events/s" ratio
for round in $(seq 1 "$ROUNDS"); do
	for sink in $SINKS; do
		case $sink in
		file)
			a=$(agent file "$T/file.conf")
			rm -f "$T"/out/*
			t0=$(now)
			dd if="$T/payloads.json" of="$T/out/dd" bs=256k 2>/dev/null
			t1=$(now)
			rm -f "$T"/out/*
			row "$round" file "$a" "dd bs=256k" "$(rate "$t0" "$t1")"
			;;
		gzip)
			a=$(agent gzip "$T/gzip.conf")
			# what the agent compressed: everything but its live file
			live=$(stat -c %s "$T/out/events.ndjson")
			rm -f "$T"/out/*
			t0=$(now)
			dd if="$T/payloads.json" of="$T/out/dd" bs=256k 2>/dev/null
			head -c $((BYTES - live)) "$T/out/dd" | gzip -6 >"$T/out/dd.gz"
			t1=$(now)
			rm -f "$T"/out/*
			row "$round" "file+gzip" "$a" "dd + gzip -6" "$(rate "$t0" "$t1")"
			;;
		kafka)
			a=$(agent kafka "$T/kafka.conf")
			warm=$(sed -n 's/^warm-up //p' "$T/kafka.out")
			KAFKA_SENT=$((KAFKA_SENT + N + ${warm:-0}))
			kafka_check
			t0=$(now)
			kcat -P -b "$BOOT" -t nmbench -K '	' -l \
				-X enable.idempotence=true -X acks=all -X compression.codec=lz4 \
				-X linger.ms=$LINGER_MS -X queue.buffering.max.messages=$KAFKA_QUEUE \
				-H content-type=application/json -H type=connection -H host="$HOST" \
				"$T/payloads.kv" 2>"$T/kcat.err" || { cat "$T/kcat.err" >&2; exit 1; }
			t1=$(now)
			KAFKA_SENT=$((KAFKA_SENT + N))
			kafka_check
			row "$round" kafka "$a" "kcat -P" "$(rate "$t0" "$t1")"
			;;
		mqtt)
			a=$(agent mqtt "$T/mqtt.conf")
			t0=$(now)
			mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -M $MQTT_INFLIGHT \
				-t "netmon/$HOST/connection" -l <"$T/payloads.json" || exit 1
			t1=$(now)
			row "$round" mqtt "$a" "mosquitto_pub -l -q 1" "$(rate "$t0" "$t1")"
			p=$("$PUB" "$MQTT_PORT" "netmon/$HOST/connection" $MQTT_INFLIGHT "$T/payloads.json" $MQTT_QUEUE |
				sed -n 's/.* = \([0-9]*\) messages\/s.*/\1/p')
			[ -n "$p" ] || exit 1
			row "$round" mqtt "$a" "libmosquitto (1 thread)" "$p"
			;;
		esac
	done
done

echo
echo "median ratio over $ROUNDS rounds (agent / reference, same run):"
cut -d'|' -f1 "$T/ratios" | awk '!seen[$0]++' | while read -r what; do
	grep -F "$what|" "$T/ratios" | cut -d'|' -f2 | sort -n |
		awk -v w="$what" '{ v[NR] = $1 } END { printf "  %-40s %.2f\n", w, v[int((NR + 1) / 2)] }'
done

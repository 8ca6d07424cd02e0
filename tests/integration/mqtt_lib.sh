# mqtt_lib.sh - sourced by mqtt_*.sh after lib.sh: a private mosquitto broker and mosquitto_sub.

for b in mosquitto mosquitto_sub; do
	PATH=$PATH:/usr/sbin command -v $b >/dev/null 2>&1 && continue
	apt-get install -y -q mosquitto mosquitto-clients >/dev/null 2>&1 || {
		echo "SKIP: $b missing and cannot be installed"
		exit 77
	}
done
MOSQUITTO=$(PATH=$PATH:/usr/sbin command -v mosquitto)
MQTT_PORT=$(closed_port)
MQTT_PID=

# start_broker: mosquitto on 127.0.0.1:$MQTT_PORT, anonymous, no persistence.
start_broker() {
	cat >"$T/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
user root
persistence false
log_dest file $T/mosquitto.log
max_queued_messages 100000
CONF
	"$MOSQUITTO" -c "$T/mosquitto.conf" >/dev/null 2>&1 &
	MQTT_PID=$!
	echo "kill -KILL $MQTT_PID" >"$T/mosquitto.cleanup"
	for _ in $(seq 1 50); do
		mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t probe -W 1 -C 1 >/dev/null 2>&1
		[ $? = 27 ] && return 0 # timed out waiting for a message: connected fine
		sleep 0.1
	done
	fail "mosquitto did not start on port $MQTT_PORT"
}

stop_broker() {
	kill -TERM "$MQTT_PID" 2>/dev/null
	wait "$MQTT_PID" 2>/dev/null
	MQTT_PID=
}

# subscribe FILE TOPIC...: mosquitto_sub in the background, QoS 1, persistent session.
subscribe() {
	out=$1
	shift
	args=
	for t in "$@"; do args="$args -t $t"; done
	# shellcheck disable=SC2086
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -c -i "nmtest-$$" -v $args >>"$out" 2>>"$T/sub.log" &
	SUB_PID=$!
	echo "kill -KILL $SUB_PID" >"$T/sub.cleanup"
	sleep 0.5
}

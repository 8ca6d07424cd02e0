#!/bin/sh
# mqtt_tls.sh - the MQTT sink over TLS to a real mosquitto: delivered when the broker's certificate
# checks out against ca_file; nothing delivered (and nothing lost silently) when it does not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/kafka_lib.sh" 2>/dev/null || true # count_ids

command -v openssl >/dev/null || fail "openssl missing (bootstrap.sh deps installs it)"
N=100
COMM=$(unique_comm tls)
PORT=$(closed_port)

# A CA, a broker certificate for 127.0.0.1 signed by it, and an unrelated CA.
cd "$T" || fail "cd"
for ca in ca wrong; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nm-test-$ca" \
		-keyout $ca.key -out $ca.crt >/dev/null 2>&1 || fail "openssl $ca"
done
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout broker.key -out broker.csr \
	>/dev/null 2>&1 || fail "openssl csr"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
	-extfile san.ext -out broker.crt >/dev/null 2>&1 || fail "openssl sign"
cd - >/dev/null || fail "cd"

cat >"$T/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
cafile $T/ca.crt
certfile $T/broker.crt
keyfile $T/broker.key
allow_anonymous true
user root
persistence false
log_dest file $T/mosquitto.log
CONF
"$MOSQUITTO" -c "$T/mosquitto.conf" >/dev/null 2>&1 &
MQTT_PID=$!
echo "kill -KILL $MQTT_PID" >"$T/mosquitto.cleanup"
sub_tls() { mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$T/ca.crt" "$@"; }
for _ in $(seq 1 50); do
	sub_tls -t probe -W 1 -C 1 >/dev/null 2>&1
	[ $? = 27 ] && break
	sleep 0.1
done
sub_tls -q 1 -v -t 'tls/#' >"$T/sub.out" 2>"$T/sub.log" &
SUB_PID=$!
echo "kill -KILL $SUB_PID" >"$T/sub.cleanup"
sleep 0.5

write_conf() { # write_conf CA_FILE
	cat >"$T/agent.conf" <<CONF
programs = { packet_drop = { enabled = false; }; tcp_lifecycle = { enabled = false; }; };
control = { socket = "$T/ctl.sock"; };
sinks = ( { name = "edge"; type = "mqtt"; format = "json"; host = "127.0.0.1"; port = $MQTT_PORT;
            topic = "tls/\${type}"; ca_file = "$1"; queue = { max_events = 1000; }; } );
CONF
}

# The right CA: every event arrives, encrypted.
write_conf "$T/ca.crt"
start_agent "$T/agent.conf"
wait_for grep -q "connected to" "$T/agent.log" || fail "no TLS connection to the broker"
"$CONNECT" -n $N -p "$PORT" -c "$COMM" >/dev/null || fail "traffic"
sleep 1
stop_agent
set -- $(count_ids "$T/sub.out" "$COMM")
[ "$1" = $N ] || fail "over TLS: $1 of $N events arrived"

# The wrong CA: the agent refuses the broker; events wait in the queue, counted, none delivered.
mv "$T/agent.log" "$T/agent1.log"
write_conf "$T/wrong.crt"
start_agent "$T/agent.conf"
"$CONNECT" -n $N -p "$PORT" -c "${COMM}w" >/dev/null || fail "traffic"
sleep 1.5
curl -sS --unix-socket "$T/ctl.sock" http://localhost/api/stats >"$T/s.json"
jq -e --argjson n $N '.sinks[0] | .connected == false and .delivered == 0 and
	.received >= $n and .received == .delivered + .dropped + .queued' "$T/s.json" >/dev/null ||
	fail "wrong CA: $(jq -c '.sinks[0]' "$T/s.json")"
stop_agent
sleep 0.5
kill "$SUB_PID"
grep -q "${COMM}w" "$T/sub.out" && fail "an event reached the broker through an unverified TLS session"
exit 0

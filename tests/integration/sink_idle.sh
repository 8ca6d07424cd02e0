#!/bin/sh
# sink_idle.sh - sinks whose broker is down hold their backlog without spinning: the agent waits in
# each sink's poll (its reconnect timer, its socket) instead of offering the same event in a loop.
. "$(dirname "$0")/lib.sh"

PORT=$(closed_port)
DEAD=$(closed_port)
cat >"$T/agent.conf" <<CONF
control = { enabled = false; };
programs = { tcp_retransmit = { enabled = false; }; udp_send = { enabled = false; }; };
sinks = (
  { name = "mq"; type = "mqtt"; format = "json"; host = "127.0.0.1"; port = $DEAD;
    topic = "netmon/\${type}"; qos = 1; queue = { max_events = 100000; when_full = "drop_newest"; }; },
  { name = "kf"; type = "kafka"; format = "json"; brokers = "127.0.0.1:$DEAD";
    topic = "netmon"; queue = { max_events = 100000; when_full = "drop_newest"; }; }
);
CONF
start_agent "$T/agent.conf"
"$CONNECT" -n 2000 -p "$PORT" -c "$(unique_comm idle)" >/dev/null
sleep 1

# cpu: the agent's user + system time in clock ticks, every thread
cpu() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
hz=$(getconf CLK_TCK)
c0=$(cpu)
sleep 3
c1=$(cpu)
used=$((c1 - c0))
echo "agent CPU with both brokers down and a backlog queued: $used ticks in 3 s ($hz per second)"
# one core spinning is 3 s of CPU; waiting in poll is a few hundredths
[ "$used" -le $((hz * 3 / 10)) ] || fail "the agent spun: $used ticks of CPU in 3 s (busy retry of a down sink)"
kill -0 "$AGENT_PID" || fail "agent died"
stop_agent
exit 0

#!/bin/sh
# control_metrics.sh - GET /metrics: the Prometheus text format that promtool accepts, every
# /api/stats counter under its name and labels, GET only.
. "$(dirname "$0")/control_lib.sh"

command -v promtool >/dev/null 2>&1 || fail "promtool missing (Debian's prometheus package)"
PORT=$(closed_port)
# a second sink: names may hold '.' and '-' (the config allows no more; label values are escaped
# all the same)
cat >"$T/agent.conf" <<CONF
sinks = ( { name = "f"; type = "file"; format = "json"; path = "$T/events.ndjson"; },
          { name = "edge-1.b"; type = "file"; format = "msgpack"; path = "$T/events.msgpack"; } );
control = { socket = "$SOCK"; };
CONF
start_agent "$T/agent.conf"
C=$(unique_comm mt)
"$CONNECT" -n 20 -p "$PORT" -c "$C" >/dev/null || fail "traffic"
wait_count 20 "type=connection&command=$C"
# the store has them before the file sinks report them delivered (their next write, ~100 ms)
delivered_both() {
	get /api/stats | jq -e '[.sinks[] | .delivered >= 20] | all' >/dev/null
}
wait_for delivered_both || fail "the sinks did not deliver 20 events: $(get /api/stats | jq -c '[.sinks[] | {name, received, delivered}]')"

curl -sS --unix-socket "$SOCK" -D "$T/headers" -o "$T/metrics" http://localhost/metrics ||
	fail "GET /metrics: curl failed"
head -1 "$T/headers" | grep -q ' 200 ' || fail "GET /metrics: $(head -1 "$T/headers")"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$T/headers" ||
	fail "content type: $(grep -i content-type "$T/headers")"
promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1 ||
	fail "promtool: $(cat "$T/promtool.out")"
echo "promtool accepts $(grep -vc '^#' "$T/metrics") samples in $(grep -c '^# TYPE' "$T/metrics") metrics"

# every family has its HELP and TYPE, and appears once (the format's grouping rule)
[ "$(grep '^# TYPE' "$T/metrics" | sort | uniq -d | wc -l)" = 0 ] || fail "a metric typed twice"

# the numbers are /api/stats's, under the documented names
get /api/stats >"$T/stats"
m() { grep "^$1 " "$T/metrics" | cut -d' ' -f2; }
[ "$(m 'ebpf_netmon_store_capacity')" = "$(jq .store.capacity "$T/stats")" ] || fail "store capacity"
[ "$(m 'ebpf_netmon_control_max_clients')" = "$(jq .control.max_clients "$T/stats")" ] ||
	fail "max_clients"
grep -q '^# TYPE ebpf_netmon_sink_delivered_total counter$' "$T/metrics" || fail "delivered TYPE"
grep -q '^# TYPE ebpf_netmon_sink_queued gauge$' "$T/metrics" || fail "queued TYPE"
for r in queue_full delivery_failed shutdown; do
	grep -q "^ebpf_netmon_sink_dropped_total{sink=\"f\",reason=\"$r\"} 0$" "$T/metrics" ||
		fail "dropped reason $r"
done
n=$(m 'ebpf_netmon_sink_received_total{sink="f"}')
[ -n "$n" ] && [ "$n" -ge 20 ] && [ "$n" -le "$(jq '.sinks[0].received' "$T/stats")" ] ||
	fail "received: $n in /metrics"
grep -q '^ebpf_netmon_program_attached{program="connection"} 1$' "$T/metrics" ||
	fail "program label"
grep -q '^ebpf_netmon_sink_received_total{sink="edge-1.b"} ' "$T/metrics" || fail "second sink"
# delivery latency: a histogram per sink, its count the sink's delivered (the same snapshot)
grep -q '^# TYPE ebpf_netmon_sink_delivery_latency_seconds histogram$' "$T/metrics" ||
	fail "no delivery latency histogram"
for s in f edge-1.b; do
	h=ebpf_netmon_sink_delivery_latency_seconds
	count=$(m "${h}_count{sink=\"$s\"}")
	[ -n "$count" ] && [ "$count" = "$(m "ebpf_netmon_sink_delivered_total{sink=\"$s\"}")" ] ||
		fail "$s: latency count '$count' is not delivered"
	[ "$count" -ge 20 ] || fail "$s: latency count $count"
	[ "$(m "${h}_bucket{sink=\"$s\",le=\"+Inf\"}")" = "$count" ] || fail "$s: +Inf bucket"
	[ -n "$(m "${h}_sum{sink=\"$s\"}")" ] || fail "$s: no latency sum"
	# cumulative: 13 finite bounds from 1 ms to 10 s, never decreasing
	grep "^${h}_bucket{sink=\"$s\"," "$T/metrics" | sed 's/.*le="\([^"]*\)"} \(.*\)/\1 \2/' >"$T/buckets"
	[ "$(head -1 "$T/buckets" | cut -d' ' -f1)" = 0.001 ] && [ "$(wc -l <"$T/buckets")" = 14 ] ||
		fail "$s: buckets: $(cat "$T/buckets")"
	sort -s -k2,2n "$T/buckets" | cmp -s - "$T/buckets" || fail "$s: buckets not cumulative"
done
jq -e '.sinks[0] | (.delivery_latency_seconds.buckets | length) == 13 and
	.delivery_latency_seconds.count == .delivered' "$T/stats" >/dev/null ||
	fail "/api/stats: delivery_latency_seconds: $(jq -c .sinks[0] "$T/stats")"
# every /api/stats number of a sink is there (only the per-reason dropped replaces the sum)
for k in $(jq -r '.sinks[0] | to_entries[] | select(.value | type == "number") | .key' \
	"$T/stats"); do
	case $k in dropped | dropped_*) continue ;; esac
	grep -q "^ebpf_netmon_sink_${k}\(_total\)\?{sink=\"f\"} " "$T/metrics" ||
		fail "sink field $k missing from /metrics"
done

expect 405 POST /metrics
stop_agent

# metrics.listen: the same on TCP, scraped by a real Prometheus (Debian's)
command -v prometheus >/dev/null 2>&1 || fail "prometheus missing (Debian's prometheus package)"
MPORT=$(closed_port)
PPORT=$(closed_port)
[ "$MPORT" != "$PPORT" ] || PPORT=$((MPORT + 1))
sed -i "s|^control = .*|&\nmetrics = { listen = \"127.0.0.1:$MPORT\"; };|" "$T/agent.conf"
start_agent "$T/agent.conf"
curl -sS "http://127.0.0.1:$MPORT/metrics" >"$T/tcp.metrics" || fail "GET /metrics over TCP"
promtool check metrics <"$T/tcp.metrics" >"$T/promtool.out" 2>&1 ||
	fail "promtool (TCP): $(cat "$T/promtool.out")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/api/stats")" = 404 ] ||
	fail "the TCP listener serves more than /metrics"
cat >"$T/prom.yml" <<YML
global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: netmon
    static_configs: [ { targets: ["127.0.0.1:$MPORT"] } ]
YML
prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address="127.0.0.1:$PPORT" >"$T/prometheus.log" 2>&1 &
echo "kill -KILL $!" >"$T/prometheus.cleanup"
# query PROMQL: the number of series Prometheus has for it
query() {
	curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		jq '.data.result | length' 2>/dev/null
}
scraped() { [ "$(query 'up{job="netmon"} == 1')" = 1 ] && [ "$(query 'ebpf_netmon_sink_received_total')" = 2 ]; }
wait_for scraped || wait_for scraped ||
	fail "Prometheus did not scrape the agent: $(tail -5 "$T/prometheus.log")"
echo "Prometheus scraped the agent: up = 1, $(query '{__name__=~"ebpf_netmon_.*"}') series"
echo "PASS"

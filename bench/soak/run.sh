#!/usr/bin/env bash
# Soak: one dnsd under HTTP churn (ephemeral and persistent registrations, beats,
# deregistrations, expiry, config publishes and deletes, service lists) and DNS load (dnsperf
# at a fixed rate on registry names plus a SOA check every 50 ms) for a fixed time. Prints
# RSS, open descriptors, request rate, CPU and errors every interval, then a summary and
# dnsperf's figures. Exit status 1 on any error.
#
#   bench/soak/run.sh [seconds=1800] [interval=60] [dns-qps=2000]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-1800}
interval=${2:-60}
qps=${3:-2000}
bin=build/bin/dnsd
[[ -x $bin ]] || { echo "build dnsd first (tools/test.sh or cmake --build build)"; exit 1; }
command -v dnsperf >/dev/null || { echo "dnsperf is missing: apt-get install dnsperf"; exit 1; }
source bench/lib.sh
data=$(mktemp -d)
port=$(free_port)
cat > "$data/soak.toml" <<TOML
[naming]
heartbeat_interval_ms = 1000
heartbeat_timeout_ms = 3000
ip_delete_timeout_ms = 6000
TOML
$bin --config "$data/soak.toml" --health-check off --http-address 127.0.0.1 --http-port "$port" --grpc-port 0 \
  --dns-port 0 --data-dir "$data/data" --log-level warn >"$data/out" 2>"$data/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
wait_ready "$data/out"
dns_port=$(grep -o 'dns=[0-9]*' "$data/out" | cut -d= -f2)
for w in 0 1 2; do
  for n in $(seq 0 5 199); do echo "soak-$w-$n.svc.nacos.internal A"; done
done >"$data/queries"
echo "nacos.internal SOA" >>"$data/queries"
echo "soak: ${duration} s, dnsd pid $pid, http $port, dns $dns_port, dnsperf at $qps qps"
dnsperf -s 127.0.0.1 -p "$dns_port" -d "$data/queries" -l "$duration" -Q "$qps" -c 4 -q 100 \
  >"$data/dnsperf" 2>&1 &
perf_pid=$!
status=0
/usr/bin/python3 bench/soak/soak.py "$pid" "$port" "$dns_port" "$duration" "$interval" || status=$?
wait $perf_pid || true
echo "dnsperf:"
grep -E "Queries sent|Queries completed|Queries lost|Response codes|Queries per second" "$data/dnsperf" | sed 's/^/  /'
echo "dnsd stderr lines: $(wc -l <"$data/err")"
head -5 "$data/err"
exit $status

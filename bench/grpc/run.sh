#!/usr/bin/env bash
# gRPC benchmark: registrations/s over the Nacos gRPC API, the time from a registration to
# its push reaching each of 1,000 subscribers, and 10,000 idle connections with dnsd's RSS
# per connection. The load tool is build/bench/grpc_load (bench/grpc/grpc_load.cc).
#
#   bench/grpc/run.sh [seconds] [clients]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
clients=${2:-8}
bin=build/bin/dnsd
load=build/bench/grpc_load
[[ -x $bin && -x $load ]] || { echo "build dnsd and the bench tools first (cmake --build build)"; exit 1; }
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) > 10100 )) || { echo "need more than 10,100 open files (ulimit -Hn is $(ulimit -Hn))"; exit 1; }
source bench/lib.sh
data=$(mktemp -d)
port=$(free_port); grpc_port=$(free_port)
$bin --http-address 127.0.0.1 --http-port "$port" --grpc-port "$grpc_port" --dns-port 0 \
  --data-dir "$data" --log-level warn > "$data/stdout" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
wait_ready "$data/stdout"
echo "dnsd gRPC benchmark ($(nproc) cores, dnsd default threads, load tool on the same cores)"

before=$(cpu_ticks)
out=$($load register "$grpc_port" "$duration" "$clients")
after=$(cpu_ticks)
echo "$out"
count=$(sed -E 's/.*\(([0-9]+) ok.*/\1/' <<<"$out")
printf "  dnsd CPU per registration: %.2f us; RSS %s MB\n" \
  "$(echo "($after - $before) * 1000000 / $ticks / $count" | bc -l)" "$(rss_mb)"

$load push "$grpc_port" 1000 30
echo "  RSS with 1,000 subscribers connected: $(rss_mb) MB"

sleep 1
rss_before=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
$load idle "$grpc_port" 10000 15 &
load_pid=$!
for _ in $(seq 600); do
  n=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^dnsd_grpc_connections / {print $2}')
  [[ ${n%.*} -ge 10000 ]] && break
  sleep 0.1
done
sleep 2
rss_with=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "idle connections: ${n%.*}; dnsd RSS $(echo "$rss_before / 1024" | bc) MB before, $(echo "$rss_with / 1024" | bc) MB with them: $(echo "($rss_with - $rss_before) / ${n%.*}" | bc -l | xargs printf "%.1f") KB per connection"
wait $load_pid

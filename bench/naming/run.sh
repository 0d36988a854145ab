#!/usr/bin/env bash
# Naming HTTP benchmark: registrations and instance-list queries against a registry of
# 10,000 services x 10 instances (100,000 instances), with wrk as the load generator on the
# same machine. Prints requests/s, server CPU microseconds per request (from /proc/<pid>/stat)
# and RSS.
#
#   bench/naming/run.sh [seconds-per-phase] [pinned|shared]
#
# pinned (default): dnsd with one HTTP thread on core 0, wrk (1 thread) on core 1: the cost of
#   a request on one core. shared: dnsd with its default threads (one per core) and wrk with
#   2 threads, all sharing both cores: what this machine serves.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
mode=${2:-pinned}
bin=build/bin/dnsd
[[ -x $bin ]] || { echo "build dnsd first (tools/test.sh or cmake --build build)"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }

server_cpu="taskset -c 0"; client_cpu="taskset -c 1"; http_threads=1; wrk_threads=1
(( $(nproc) < 2 )) && server_cpu="" && client_cpu=""
if [[ $mode == shared ]]; then
  server_cpu=""; client_cpu=""; http_threads=0; wrk_threads=2
fi
data=$(mktemp -d)
source bench/lib.sh
port=$(free_port)
# Instances must outlive the run without a client beating for them.
cat > "$data/bench.toml" <<TOML
[naming]
heartbeat_timeout_ms = 3600000
ip_delete_timeout_ms = 3600000
TOML
$server_cpu $bin --config "$data/bench.toml" --http-address 127.0.0.1 --http-port "$port" \
  --http-threads "$http_threads" --dns-port 0 --grpc-port 0 --data-dir "$data" --log-level warn > "$data/stdout" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
wait_ready "$data/stdout"

if [[ $mode == shared ]]; then
  echo "dnsd naming HTTP benchmark ($(nproc) cores, ${duration}s per phase, shared: dnsd default threads + wrk -t2 on all cores)"
else
  echo "dnsd naming HTTP benchmark ($(nproc) cores, ${duration}s per phase, pinned: 1 HTTP thread on core 0, wrk on core 1)"
fi
wrk_phase "register (POST)" bench/naming/register.lua 64
curl -s "http://127.0.0.1:$port/nacos/v1/ns/operator/metrics?onlyStatus=false" | \
  /usr/bin/python3 -c 'import json,sys; m=json.load(sys.stdin); print("registry:", m["serviceCount"], "services,", m["instanceCount"], "instances")'
wrk_phase "list (GET)" bench/naming/list.lua 64
echo "RSS at 100,000 instances: $(rss_mb) MB"

#!/usr/bin/env bash
# Config center benchmark: durable publishes and gets over HTTP (wrk on the same machine),
# then long-poll fan-out: 10,000 parked listeners on one config, one publish, time until the
# last listener is answered. Prints requests/s, server CPU per request and RSS.
#
#   bench/config/run.sh [seconds-per-phase] [shared|pinned]
#
# shared (default): dnsd with its default threads and wrk -t2 on both cores (what this
#   machine serves). pinned: one HTTP thread on core 0, wrk on core 1 (the cost on one core).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
mode=${2:-shared}
bin=${DNSD_BIN:-build/bin/dnsd}  # DNSD_BIN: another build, for side-by-side runs
fanout=build/bench/longpoll_fanout
[[ -x $bin && -x $fanout ]] || { echo "build dnsd and the bench tools first (cmake --build build)"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
# 10,000 parked polls are 10,000 sockets on each side.
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) > 10100 )) || { echo "need more than 10,100 open files (ulimit -Hn is $(ulimit -Hn))"; exit 1; }

server_cpu=""; client_cpu=""; http_threads=0; wrk_threads=2
if [[ $mode == pinned ]] && (( $(nproc) >= 2 )); then
  server_cpu="taskset -c 0"; client_cpu="taskset -c 1"; http_threads=1; wrk_threads=1
fi
source bench/lib.sh
data=$(mktemp -d)
port=$(free_port)
# The 10,000 parked polls all come from this one address: lift the per-client cap.
printf '[http]\nmax_connections = 15000\nmax_connections_per_client = 15000\n' > "$data/bench.toml"
$server_cpu $bin --config "$data/bench.toml" --http-address 127.0.0.1 --http-port "$port" \
  --http-threads "$http_threads" --dns-port 0 --grpc-port 0 --data-dir "$data/data" \
  --log-level warn > "$data/stdout" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
wait_ready "$data/stdout"

echo "dnsd config benchmark ($(nproc) cores, ${duration}s per phase, $mode; data on $(df --output=source "$data" | tail -1))"
wrk_phase "publish (POST, fsync)" bench/config/publish.lua 64
wrk_phase "get (GET)" bench/config/get.lua 64
echo "configs: $(curl -s "http://127.0.0.1:$port/metrics" | awk '/^dnsd_config_configs / {print $2}'), log entries: $(curl -s "http://127.0.0.1:$port/metrics" | awk '/^dnsd_raft_applied_index / {print $2}')"
$fanout "$port" 10000
echo "RSS with 10,000 polls answered: $(rss_mb) MB"

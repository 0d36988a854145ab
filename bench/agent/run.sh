#!/usr/bin/env bash
# DNS-F agent benchmark (issue 12): the agent answering from what it follows against the
# server answering from its registry, in the same run with the same pinning (each on core 0
# with one DNS thread, dnsperf on core 1) and the same queries (1,000 services x 3 instances,
# A and SRV mixed, 5% unknown names; bench/dns/workload.py). Prints, per round, QPS and CPU
# microseconds per query of each and their ratio (target: agent <= 1.05 x server); then the
# time from a registration on the server to the agent's DNS answer holding it (a push; target
# p99 < 100 ms over >= 500 changes) next to the server's own; then the agent's RSS following
# the 1,000 services (target < 20 MB) and idle.
#
#   bench/agent/run.sh [seconds-per-run] [rounds] [changes]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
rounds=${2:-3}
changes=${3:-500}
bin=${DNSD_BIN:-$PWD/build/bin/dnsd}
py=/usr/bin/python3
command -v dnsperf >/dev/null || { echo "missing dnsperf (apt-get install dnsperf)"; exit 1; }
[[ -x $bin ]] || { echo "build dnsd first (cmake --build build)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
server_cpu="taskset -c 0"; client_cpu="taskset -c 1"
(( $(nproc) < 2 )) && server_cpu="" && client_cpu=""
ticks=$(getconf CLK_TCK)
proc_ticks() { sed 's/.*) //' /proc/$1/stat | awk '{print $12 + $13}'; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$1/status; }
# Resident anonymous memory: the process's own; the rest of RSS is shared library code
# (libgrpc, libprotobuf, ...) that every dnsd process on the host maps from the same files.
anon_mb() { awk '/RssAnon/ {printf "%.1f", $2 / 1024}' /proc/$1/status; }
wait_line() {  # file pattern
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "no '$2' in $1:"; cat "$1"; exit 1
}

$py bench/dns/workload.py queries "$work/queries"
http=$(free_port); grpc=$(free_port); server_dns=$(free_port)
printf '[forward]\nenabled = false\n' > "$work/server.toml"
$server_cpu "$bin" --config "$work/server.toml" --http-address 127.0.0.1 --http-port "$http" --http-threads 1 \
  --grpc-port "$grpc" --dns-port "$server_dns" --dns-workers 1 --data-dir "$work/server-data" \
  --zones "$work/none" --log-level warn > "$work/server.out" 2>&1 &
server_pid=$!; pids+=($server_pid)
wait_line "$work/server.out" "dnsd ready"
$py bench/dns/workload.py register "$http"

# An agent that follows nothing yet, for its idle footprint.
idle_dns=$(free_port)
printf '[forward]\nenabled = false\n[agent]\nhttp_port = -1\n' > "$work/idle.toml"
"$bin" agent --server "127.0.0.1:$grpc" --config "$work/idle.toml" --dns-port "$idle_dns" \
  --dns-workers 1 --data-dir "$work/idle-data" --zones "$work/none" --log-level warn > "$work/idle.out" 2>&1 &
idle_pid=$!; pids+=($idle_pid)
wait_line "$work/idle.out" "dnsd agent ready"

# The agent under test follows the 1,000 services from start.
agent_dns=$(free_port); status=$(free_port)
{
  printf '[forward]\nenabled = false\n[agent]\nservices = ['
  for s in $(seq 0 999); do printf '"svc-%d",' "$s"; done
  printf ']\n'
} > "$work/agent.toml"
$server_cpu "$bin" agent --server "127.0.0.1:$grpc" --config "$work/agent.toml" --status-port "$status" \
  --dns-port "$agent_dns" --dns-workers 1 --data-dir "$work/agent-data" --zones "$work/none" \
  --log-level warn > "$work/agent.out" 2>&1 &
agent_pid=$!; pids+=($agent_pid)
wait_line "$work/agent.out" "dnsd agent ready"
for _ in $(seq 300); do
  fresh=$(curl -s "http://127.0.0.1:$status/metrics" | awk '$1 == "dnsd_agent_services{state=\"fresh\"}" {print $2}')
  [[ ${fresh:-0} == 1000 ]] && break; sleep 0.1
done
echo "agent following ${fresh:-0} services (fresh)"
# The footprint target's condition: 1,000 services followed, before any query.
sleep 2
following_rss=$(rss_mb "$agent_pid"); following_anon=$(anon_mb "$agent_pid")

run() {  # name pid port seconds
  local before after out
  before=$(proc_ticks "$2")
  out=$($client_cpu dnsperf -s 127.0.0.1 -p "$3" -d "$work/queries" -l "$4" -c 16 -T 1 -q 200 2>&1)
  after=$(proc_ticks "$2")
  local qps completed
  qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
  completed=$(awk '/Queries completed/ {print $3}' <<<"$out")
  cpu=$(echo "($after - $before) * 1000000 / $ticks / $completed" | bc -l)
  printf "  %-8s %10s qps  %6.3f us CPU/query\n" "$1" "$qps" "$cpu"
}
# Warm-up: the agent's first queries for the unknown names subscribe to them (once).
run warmup "$agent_pid" "$agent_dns" 3 > /dev/null
echo "DNS ($(nproc) cores, ${seconds}s per run, $rounds rounds; server and agent on core 0, dnsperf on core 1)"
ratios=()
for r in $(seq "$rounds"); do
  echo "round $r"
  run server "$server_pid" "$server_dns" "$seconds"; server_cpu_q=$cpu
  run agent "$agent_pid" "$agent_dns" "$seconds"; agent_cpu_q=$cpu
  ratio=$(printf "%.3f" "$(echo "$agent_cpu_q / $server_cpu_q" | bc -l)")
  ratios+=("$ratio")
  echo "  agent / server CPU per query: $ratio"
done
sorted=($(printf '%s\n' "${ratios[@]}" | sort -n))
echo "agent / server CPU per query: median ${sorted[$(( ${#sorted[@]} / 2 ))]} (runs: ${ratios[*]})"

echo "registration on the server -> answer ($changes changes to followed services)"
printf "  server: "; $client_cpu $py bench/dns/workload.py change-latency "$http" "$server_dns" "$changes" 201
printf "  agent:  "; $client_cpu $py bench/dns/workload.py change-latency "$http" "$agent_dns" "$changes" 202
# After the runs the agent also follows the ~1,000 unknown names the queries asked for (lazy
# following), and has applied every change; memory is read once it settles (its snapshot is
# written and freed pages handed back within a second or two).
sleep 2
echo "memory"
printf "  %-44s RSS %6s MB, of which anonymous %6s MB\n" "agent following 1,000 services, before queries" \
  "$following_rss" "$following_anon"
for who in "agent after the DNS runs and the changes:$agent_pid" "idle agent:$idle_pid" "server:$server_pid"; do
  printf "  %-44s RSS %6s MB, of which anonymous %6s MB\n" "${who%%:*}" "$(rss_mb "${who##*:}")" "$(anon_mb "${who##*:}")"
done
echo "  (the agent is dnsd-agent: $(ldd "${bin}-agent" | grep -c '=>') shared libraries, no gRPC or protobuf)"

#!/usr/bin/env bash
# DNS benchmark: dnsperf against dnsd (1,000 services from the registry, A and SRV mixed, 5%
# unknown names) and, in the same run with the same pinning (server on core 0, dnsperf on
# core 1, one server thread each), against NSD and gdnsd serving the equivalent static zone.
# Reports QPS and server CPU microseconds per query (from /proc), then dnsd again while the
# registry takes ~1,000 changes per second, then registration-to-DNS latency. A responder
# that does no DNS work (floor_responder) is measured alongside as the floor of this machine.
# The servers run side by side and are measured in turn, round after round, so that a
# slow or fast phase of the (virtual) machine falls on all of them alike; the summary gives
# each server's median.
#
#   bench/dns/run.sh [seconds-per-run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
rounds=${2:-3}
bin=$PWD/build/bin/dnsd
py=/usr/bin/python3
for tool in dnsperf nsd gdnsd; do command -v $tool >/dev/null || { echo "missing $tool (apt-get install dnsperf nsd gdnsd)"; exit 1; }; done
floor_bin=$PWD/build/bench/floor_responder
[[ -x $bin && -x $floor_bin ]] || { echo "build dnsd and the bench tools first (cmake --build build)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
server_cpu="taskset -c 0"; client_cpu="taskset -c 1"
(( $(nproc) < 2 )) && server_cpu="" && client_cpu=""
ticks=$(getconf CLK_TCK)

# CPU ticks of a process and all its descendants (NSD serves from a grandchild process).
tree_ticks() {
  local total=0 p pending=("$1")
  while ((${#pending[@]})); do
    p=${pending[0]}; pending=("${pending[@]:1}")
    # utime and stime, counted after the "(comm)" field, which may contain spaces ("nsd: main").
    [[ -r /proc/$p/stat ]] && total=$(( total + $(sed 's/.*) //' /proc/$p/stat | awk '{print $12 + $13}') ))
    pending+=($(pgrep -P "$p" || true))
  done
  echo $total
}

# CPU ticks of the threads of process $1 whose name starts with $2 (dnsd names its threads).
thread_ticks() {
  local total=0 t
  for t in /proc/$1/task/*; do
    [[ $(cat "$t/comm" 2>/dev/null) == "$2"* ]] || continue
    total=$(( total + $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}') ))
  done
  echo $total
}

declare -A cpu_runs qps_runs
measure() {  # name pid port
  local name=$1 pid=$2 port=$3 before after out qps completed
  before=$(tree_ticks "$pid")
  out=$($client_cpu dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$seconds" -c 16 -T 1 -q 200 2>&1)
  after=$(tree_ticks "$pid")
  qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
  completed=$(awk '/Queries completed/ {print $3}' <<<"$out")
  local lost=$(awk '/Queries lost/ {print $3}' <<<"$out")
  local cpu_us=$(( (after - before) * 1000000 / ticks ))
  local per_query; per_query=$(printf "%.3f" "$(echo "$cpu_us / $completed" | bc -l)")
  printf "%-28s %12s qps  %6.2f us CPU/query  lost %s\n" "$name" "$qps" "$per_query" "$lost"
  last_completed=$completed
  cpu_runs[$name]+="$per_query "
  qps_runs[$name]+="${qps%.*} "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

$py bench/dns/workload.py zone "$work/nacos.internal"
$py bench/dns/workload.py queries "$work/queries"

echo "DNS benchmark ($(nproc) cores, ${seconds}s per run, $rounds rounds; servers on core 0, dnsperf on core 1)"

# Starts a single-threaded dnsd pinned like the others, registers the workload's services in
# it, and sets <prefix>_pid, <prefix>_http and <prefix>_dns.
start_dnsd() {  # prefix, extra TOML
  local prefix=$1 http dns
  http=$(free_port); dns=$(free_port)
  printf '[forward]\nenabled = false\n%b' "$2" > "$work/$prefix.toml"
  $server_cpu "$bin" --config "$work/$prefix.toml" --health-check off --http-address 127.0.0.1 --http-port "$http" --http-threads 1 \
    --grpc-port 0 --dns-port "$dns" --dns-workers 1 --data-dir "$work/$prefix-data" --zones "$work/none" \
    --log-level warn > "$work/$prefix.out" 2>&1 &
  local pid=$!; pids+=($pid)
  for _ in $(seq 50); do grep -q ready "$work/$prefix.out" 2>/dev/null && break; sleep 0.1; done
  $py bench/dns/workload.py register "$http"
  printf -v "${prefix}_pid" %s "$pid"; printf -v "${prefix}_http" %s "$http"; printf -v "${prefix}_dns" %s "$dns"
}
start_dnsd dnsd ""
# dnsd with dns.minimal_responses: SRV answers without the targets' addresses, which is what
# gdnsd sends for the same zone (it adds no additional records to SRV answers; NSD does), so
# dnsd and gdnsd answers are the same size.
start_dnsd min '[dns]\nminimal_responses = true\n'

# NSD
nsd_port=$(free_port)
mkdir -p "$work/nsd"
cp "$work/nacos.internal" "$work/nsd/zone"
cat > "$work/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$nsd_port
  zonesdir: $work/nsd
  pidfile: $work/nsd/nsd.pid
  database: ""
  xfrdfile: $work/nsd/xfrd.state
  zonelistfile: $work/nsd/zone.list
  username: ""
  verbosity: 0
  server-count: 1
  # NSD rate-limits responses per client network by default; a benchmark client is one client.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: nacos.internal
  zonefile: zone
CONF
$server_cpu nsd -d -c "$work/nsd/nsd.conf" > "$work/nsd.log" 2>&1 &
nsd_pid=$!; pids+=($nsd_pid)
for _ in $(seq 50); do dig @127.0.0.1 -p "$nsd_port" +short +time=1 nacos.internal SOA | grep -q . && break; sleep 0.1; done

# gdnsd
gd_port=$(free_port)
mkdir -p "$work/gdnsd/zones"
cp "$work/nacos.internal" "$work/gdnsd/zones/nacos.internal"
cat > "$work/gdnsd/config" <<CONF
options => {
  listen => [ 127.0.0.1 ]
  dns_port => $gd_port
  udp_threads => 1
  tcp_threads => 1
}
CONF
$server_cpu gdnsd -c "$work/gdnsd" start > "$work/gdnsd.log" 2>&1 &
gd_pid=$!; pids+=($gd_pid)
for _ in $(seq 50); do dig @127.0.0.1 -p "$gd_port" +short +time=1 nacos.internal SOA | grep -q . && break; sleep 0.1; done

# The floor: a responder that does no DNS work (bench/dns/floor_responder.cc), with dnsd's
# receive/send loop and three A records per answer. What it costs is the kernel's UDP path
# and the wake-ups of this closed-loop load; no server can go below it here.
floor_port=$(free_port)
$server_cpu "$floor_bin" "$floor_port" 3 > "$work/floor.out" 2>&1 &
floor_pid=$!; pids+=($floor_pid)
for _ in $(seq 50); do grep -q ready "$work/floor.out" 2>/dev/null && break; sleep 0.1; done

names=("dnsd (registry zone)" "dnsd minimal_responses" "NSD (static zone)" "gdnsd (static zone)"
       "floor (no DNS work)")
pids_of=("$dnsd_pid" "$min_pid" "$nsd_pid" "$gd_pid" "$floor_pid")
ports_of=("$dnsd_dns" "$min_dns" "$nsd_port" "$gd_port" "$floor_port")
ratios=""
last() { awk '{print $NF}' <<<"${cpu_runs[$1]}"; }  # a server's latest CPU per query
for round in $(seq "$rounds"); do
  # Each round starts with the next server, so none is always measured first or last.
  for k in "${!names[@]}"; do
    i=$(( (k + round - 1) % ${#names[@]} ))
    measure "${names[$i]}" "${pids_of[$i]}" "${ports_of[$i]}"
  done
  # The pair that matters, taken within one round: dnsd over the better reference server.
  ratios+="$(awk -v d="$(last "dnsd (registry zone)")" -v n="$(last "NSD (static zone)")" \
    -v g="$(last "gdnsd (static zone)")" 'BEGIN { printf "%.4f", d / (n < g ? n : g) }') "
done
echo "medians of $rounds rounds:"
for name in "${names[@]}"; do
  printf "  %-26s %10s qps  %6.2f us CPU/query   (runs: %s)\n" "$name" "$(median "${qps_runs[$name]}")" \
    "$(median "${cpu_runs[$name]}")" "${cpu_runs[$name]% }"
done
sorted=$(tr ' ' '\n' <<<"$ratios" | grep . | sort -n)
printf "  dnsd CPU/query over the best reference, per round: median %.3f, range %.3f-%.3f\n" \
  "$(median "$ratios")" "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")"
kill "$nsd_pid" "$gd_pid" "$min_pid" "$floor_pid"

# dnsd while the registry changes ~1,000 times per second (the load runs on core 1 too).
$client_cpu $py bench/dns/workload.py churn "$dnsd_http" 1000 "$((seconds + 1))" > "$work/churn.out" &
churn_pid=$!
sleep 0.5
dns_before=$(thread_ticks "$dnsd_pid" dns-)
measure "dnsd + 1,000 changes/s" "$dnsd_pid" "$dnsd_dns"
dns_after=$(thread_ticks "$dnsd_pid" dns-)
# The total above includes applying the changes (HTTP and the registry writer, which also
# rebuilds the answer sets); this is what the DNS threads themselves spent per query.
printf "  of which the DNS threads: %.2f us CPU/query\n" \
  "$(echo "($dns_after - $dns_before) * 1000000 / $ticks / $last_completed" | bc -l)"
wait $churn_pid; cat "$work/churn.out"

$py bench/dns/workload.py latency "$dnsd_http" "$dnsd_dns" 300

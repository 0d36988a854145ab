#!/usr/bin/env bash
# Restart after many writes: a 3-member Raft cluster (127.0.0.1-3) takes N config publishes
# through its leader (wrk, 64 connections); then every member is killed with SIGKILL and
# restarted. Prints a member's data directory (the Raft log, bounded by its snapshot and at
# most cluster.snapshot_every entries after it, and the config store, which keeps every
# config's history) and the time from exec to its ready line and to the first config served.
#
#   bench/cluster/restart.sh [writes=1000000]
set -euo pipefail
cd "$(dirname "$0")/../.."
writes=${1:-1000000}
bin=$PWD/build/bin/dnsd
[[ -x $bin ]] || { echo "build dnsd first (cmake --build build)"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
work=$(mktemp -d)
ips=(127.0.0.1 127.0.0.2 127.0.0.3)
declare -A pid
trap 'kill "${pid[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
printf '%s:38848\n' "${ips[@]}" > "$work/cluster.conf"
start() {  # ip
  "$bin" --cluster-conf "$work/cluster.conf" --advertise-ip "$1" --http-address "$1" \
    --http-port 38848 --dns-port 0 --data-dir "$work/data-$1" --log-level "${2:-warn}" \
    >"$work/out-$1" 2>>"$work/log-$1" &
  pid[$1]=$!
}
applied() { curl -s "http://$1:38848/metrics" | awk '/^dnsd_raft_applied_index / {print int($2)}'; }
leader() {
  for _ in $(seq 200); do
    for ip in "${ips[@]}"; do
      curl -s -m 1 "http://$ip:38848/nacos/v1/core/cluster/self" | grep -q '"raftRole":"LEADER"' &&
        { echo "$ip"; return; }
    done
    sleep 0.05
  done
  return 1
}

for ip in "${ips[@]}"; do start "$ip"; done
lead=$(leader)
began=$(date +%s)
while (( $(applied "$lead") < writes )); do
  wrk -t2 -c64 -d20s -s bench/config/publish.lua "http://$lead:38848" >/dev/null
  echo "  $(applied "$lead") entries applied"
done
elapsed=$(( $(date +%s) - began ))
echo "$(applied "$lead") entries applied in ${elapsed} s ($(( $(applied "$lead") / (elapsed > 0 ? elapsed : 1) )) writes/s)"
sleep 1
kill -9 "${pid[@]}"; wait 2>/dev/null || true
node=127.0.0.1
echo "data directory of $node after the kill: raft log $(du -sh "$work/data-$node/raft" | cut -f1), config store $(du -sh "$work/data-$node/config" | cut -f1)"

t0=$(date +%s.%N)
: >"$work/log-$node"
for ip in "${ips[@]}"; do start "$ip" info; done
until grep -q "dnsd ready" "$work/out-$node" 2>/dev/null; do
  kill -0 "${pid[$node]}" 2>/dev/null || { echo "dnsd did not restart:"; cat "$work/log-$node"; exit 1; }
  sleep 0.01
done
t1=$(date +%s.%N)
until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$node:38848/nacos/v1/cs/configs?dataId=bench-1.properties&group=DEFAULT_GROUP") == 200 ]]; do
  sleep 0.01
done
t2=$(date +%s.%N)
printf 'restart: ready after %.2f s, first config served after %.2f s; %s entries applied\n' \
  "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t0" | bc -l)" "$(applied "$node")"
echo "start-up of $node, from its log:"
sed -n '1,/dnsd listening/p' "$work/log-$node"

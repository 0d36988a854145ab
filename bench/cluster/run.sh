#!/usr/bin/env bash
# Raft writes through a 3-node dnsd cluster next to a 3-member etcd 3.4 (Debian's
# etcd-server), in the same run and with the same load generator (wrk): config publishes of
# ~200 bytes into 1,000 configs against etcd puts of the same sizes, at 1 connection and at
# 64, both sent to the leader. Then failover: the dnsd leader is killed with SIGKILL N times;
# each time, the time from the kill to the first acknowledged write through a survivor.
#
#   bench/cluster/run.sh [seconds-per-phase] [kills]
#
# The members listen on 127.0.0.1-3 (dnsd HTTP 28848, peers 29849; etcd 22379/22380).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
kills=${2:-20}
bin=$PWD/build/bin/dnsd
[[ -x $bin ]] || { echo "build dnsd first (cmake --build build)"; exit 1; }
for tool in wrk etcd etcdctl; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install wrk etcd-server etcd-client"; exit 1; }
done
work=$(mktemp -d)
ips=(127.0.0.1 127.0.0.2 127.0.0.3)
declare -A dnsd_pid etcd_pid
cleanup() {
  kill "${dnsd_pid[@]}" "${etcd_pid[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
printf '%s:28848\n' "${ips[@]}" > "$work/cluster.conf"

start_dnsd() {  # ip
  local ip=$1
  "$bin" --cluster-conf "$work/cluster.conf" --advertise-ip "$ip" --http-address "$ip" --http-port 28848 \
    --dns-address "$ip" --dns-port 0 --data-dir "$work/dnsd-$ip" --log-level warn \
    >"$work/dnsd-$ip.out" 2>>"$work/dnsd-$ip.log" &
  dnsd_pid[$ip]=$!
}
role() { curl -s -m 2 "http://$1:28848/nacos/v1/core/cluster/self" | sed -n 's/.*"raftRole":"\([A-Z_]*\)".*/\1/p'; }
dnsd_leader() {  # [excluded ip]
  for _ in $(seq 300); do
    for ip in "${ips[@]}"; do
      [[ $ip == "${1:-}" ]] && continue
      [[ $(role "$ip") == LEADER ]] && { echo "$ip"; return 0; }
    done
    sleep 0.02
  done
  return 1
}
for ip in "${ips[@]}"; do start_dnsd "$ip"; done

initial=""
for ip in "${ips[@]}"; do initial+="${initial:+,}e-$ip=http://$ip:22380"; done
for ip in "${ips[@]}"; do
  etcd --name "e-$ip" --data-dir "$work/etcd-$ip" --listen-client-urls "http://$ip:22379" \
    --advertise-client-urls "http://$ip:22379" --listen-peer-urls "http://$ip:22380" \
    --initial-advertise-peer-urls "http://$ip:22380" --initial-cluster "$initial" \
    --initial-cluster-state new --log-level error >"$work/etcd-$ip.log" 2>&1 &
  etcd_pid[$ip]=$!
done
leader=$(dnsd_leader)
endpoints=$(printf 'http://%s:22379,' "${ips[@]}"); endpoints=${endpoints%,}
for _ in $(seq 100); do etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
etcd_leader=$(etcdctl --endpoints "$endpoints" endpoint status -w simple | awk -F', ' '$5 == "true" {sub("http://", "", $1); sub(":22379", "", $1); print $1}')

phase() {  # name, url, lua, connections
  local out threads=1
  (( $4 > 1 )) && threads=2
  out=$(wrk --latency -t$threads -c"$4" -d"${duration}s" -s "$3" "$2")
  printf "%-34s %9s writes/s  p50 %-8s p99 %-8s non-2xx %s\n" "$1" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
}
echo "Raft writes, 3 members on one machine ($(nproc) cores, ${duration}s per phase, data on $(df --output=source "$work" | tail -1))"
echo "dnsd leader $leader, etcd leader $etcd_leader ($(etcd --version | head -1))"
for conns in 1 64; do
  phase "dnsd publish, $conns conn" "http://$leader:28848" bench/config/publish.lua "$conns"
  phase "etcd put, $conns conn" "http://$etcd_leader:22379" bench/cluster/etcd_put.lua "$conns"
done
kill "${etcd_pid[@]}" 2>/dev/null || true

echo "failover: kill -9 of the dnsd leader to the first acknowledged write through a survivor ($kills kills)"
times=()
for k in $(seq "$kills"); do
  leader=$(dnsd_leader)
  survivors=()
  for ip in "${ips[@]}"; do [[ $ip != "$leader" ]] && survivors+=("$ip"); done
  start=$(date +%s.%N)
  kill -9 "${dnsd_pid[$leader]}"; wait "${dnsd_pid[$leader]}" 2>/dev/null || true
  n=0
  while :; do
    target=${survivors[$((n % 2))]}; n=$((n + 1))
    if [[ $(curl -s -m 5 -X POST "http://$target:28848/nacos/v1/cs/configs" -d "dataId=failover-$k" \
          -d group=DEFAULT_GROUP -d content=x) == true ]]; then break; fi
  done
  times+=("$(echo "$(date +%s.%N) - $start" | bc -l)")
  start_dnsd "$leader"
  for _ in $(seq 100); do grep -q "dnsd ready" "$work/dnsd-$leader.out" 2>/dev/null && break; sleep 0.1; done
  sleep 1
done
printf '%s\n' "${times[@]}" | sort -n | awk '{t[NR] = $1} END {
  p50 = t[int((NR + 1) / 2)]; p99 = t[NR > 1 ? int(NR * 0.99 + 0.5) : 1];
  printf "failover over %d kills: p50 %.2f s, p99 %.2f s, min %.2f s, max %.2f s\n", NR, p50, p99, t[1], t[NR] }'

#!/usr/bin/env bash
# Builds dnsd and starts a 3-node cluster on this machine: the nodes listen on 127.0.0.1,
# 127.0.0.2 and 127.0.0.3 (Linux routes all of 127.0.0.0/8 to loopback), each with Nacos's
# ports at its own address (HTTP 8848, gRPC 9848, peer 9849) and DNS on port 53 (5353 when not
# root; DNSD_DNS_PORT overrides). Data and logs go under ./data-cluster. Ctrl-C stops all three.
# Extra arguments go to every node, e.g. tools/run_cluster.sh --log-level debug.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDNSD_BUILD_TESTS=OFF -DDNSD_BUILD_BENCH=OFF >/dev/null
cmake --build build --target dnsd

default_dns_port=53
[[ $(id -u) -ne 0 ]] && default_dns_port=5353
dns_port=${DNSD_DNS_PORT:-$default_dns_port}
work=data-cluster
mkdir -p "$work"
printf '# written by tools/run_cluster.sh\n127.0.0.1:8848\n127.0.0.2:8848\n127.0.0.3:8848\n' >"$work/cluster.conf"
# The key the members prove to each other on their peer ports (node/peer_auth.h).
[[ -s $work/cluster.key ]] || (umask 077 && head -c 32 /dev/urandom | base64 >"$work/cluster.key")

pids=()
stop_all() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait
}
trap stop_all EXIT INT TERM
for i in 1 2 3; do
  ip=127.0.0.$i
  build/bin/dnsd --cluster-conf "$work/cluster.conf" --advertise-ip "$ip" --http-address "$ip" \
    --dns-address "$ip" --dns-port "$dns_port" --data-dir "$work/node$i" \
    --cluster-key-file "$work/cluster.key" "$@" 2>>"$work/node$i.log" &
  pids+=($!)
done
echo "3 nodes starting; logs in $work/node{1,2,3}.log. Try:"
echo "  curl -s http://127.0.0.1:8848/nacos/v1/core/cluster/nodes"
echo "  curl -s -X POST 'http://127.0.0.2:8848/nacos/v1/cs/configs' -d dataId=app.yaml -d group=DEFAULT_GROUP -d content=hello"
echo "  curl -s 'http://127.0.0.3:8848/nacos/v1/cs/configs?dataId=app.yaml&group=DEFAULT_GROUP'"
# Runs until a node exits or Ctrl-C; then the others are stopped too.
wait -n

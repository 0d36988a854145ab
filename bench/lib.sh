# Helpers shared by the HTTP benchmark scripts (sourced, not run). They expect $pid (the
# dnsd under test), $port, $duration, $client_cpu and $wrk_threads to be set.

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$pid/status; }

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ready() {  # stdout-file
  for _ in $(seq 100); do grep -q "dnsd ready" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "dnsd did not start:"; cat "$1"; return 1
}

# One wrk run: prints requests/s, server CPU per request, latency percentiles, errors, RSS.
wrk_phase() {  # name, lua script path, connections
  local name=$1 script=$2 conns=$3
  local before after out rps requests errors cpu_us
  before=$(cpu_ticks)
  out=$($client_cpu wrk --latency -t"$wrk_threads" -c"$conns" -d"${duration}s" -s "$script" "http://127.0.0.1:$port")
  after=$(cpu_ticks)
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); errors=${errors:-0}
  cpu_us=$(( (after - before) * 1000000 / ticks ))
  printf "%-22s %10s req/s  %6.2f us CPU/req  p50 %-8s p99 %-8s errors %s  RSS %s MB\n" \
    "$name" "$rps" "$(echo "$cpu_us / $requests" | bc -l)" \
    "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
    "$errors" "$(rss_mb)"
}

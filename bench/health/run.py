#!/usr/bin/python3
"""Health checks at scale: 1,000 persistent instances (100 services x 10) whose ports are real
listeners (a separate process accepting on 1,000 loopback ports), checked by one dnsd with the
checks off, at Nacos's pace (every 5 s) and five times faster (every 1 s). For each mode it
prints the checks made per second, dnsd's CPU use and thread count while only checking, and the
latency (p50/p99/max) of DNS queries and of HTTP instance lists measured sequentially while the
checks run, so a check that delayed either would show.

  bench/health/run.py [instances=1000] [seconds=10]
dnsd runs on core 0, the listeners and the clients on core 1 (taskset).
"""
import http.client
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DNSD = os.environ.get("DNSD_BIN", os.path.join(ROOT, "build", "bin", "dnsd"))
TICKS = os.sysconf("SC_CLK_TCK")

LISTENERS = r"""
import selectors, socket, sys
count = int(sys.argv[1])
sel = selectors.DefaultSelector()
ports = []
for _ in range(count):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(256)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    ports.append(s.getsockname()[1])
print(" ".join(map(str, ports)), flush=True)
while True:
    for key, _ in sel.select():
        try:
            key.fileobj.accept()[0].close()
        except OSError:
            pass
"""


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def metric(conn, name):
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.split()[-1])
    return total


def dns_query(name, qid):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x00\x01\x00\x01"


def percentiles(samples):
    samples.sort()
    return (statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99)] * 1e3, samples[-1] * 1e3)


def run_mode(label, interval_ms, ports, seconds):
    work = tempfile.mkdtemp(prefix="dnsd-health-bench-")
    config = os.path.join(work, "dnsd.toml")
    with open(config, "w") as f:
        f.write(f"[naming]\nhealth_check = {'true' if interval_ms else 'false'}\n"
                f"health_check_interval_ms = {interval_ms or 5000}\n")
    proc = subprocess.Popen(["taskset", "-c", "0", DNSD, "--config", config, "--http-address", "127.0.0.1",
                             "--http-port", "0", "--dns-port", "0", "--grpc-port", "0", "--http-threads", "1",
                             "--dns-workers", "1", "--data-dir", os.path.join(work, "data"),
                             "--log-level", "warn"], stdout=subprocess.PIPE, text=True)
    try:
        fields = dict(f.split("=") for f in proc.stdout.readline().split()[2:])
        http_port, dns_port = int(fields["http"]), int(fields["dns"])
        conn = http.client.HTTPConnection("127.0.0.1", http_port)
        for i, port in enumerate(ports):
            conn.request("POST", f"/nacos/v1/ns/instance?serviceName=svc-{i // 10}&ip=127.0.0.1&port={port}"
                                 "&ephemeral=false")
            assert conn.getresponse().read() == b"ok"
        if interval_ms:
            deadline = time.time() + 30
            while metric(conn, "dnsd_health_check_targets") < len(ports) and time.time() < deadline:
                time.sleep(0.2)
        time.sleep(1.0)
        # Checking only: CPU, threads, checks per second.
        checks0, cpu0, t0 = metric(conn, "dnsd_health_checks_total"), cpu_seconds(proc.pid), time.time()
        time.sleep(seconds)
        checks1, cpu1, t1 = metric(conn, "dnsd_health_checks_total"), cpu_seconds(proc.pid), time.time()
        unhealthy = metric(conn, "dnsd_health_check_flips_total")
        # Latency while checking: sequential DNS queries and HTTP lists.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        dns_samples, http_samples = [], []
        end = time.time() + seconds / 2
        n = 0
        while time.time() < end:
            q = dns_query(f"svc-{n % 100}.svc.nacos.internal", n & 0xFFFF)
            start = time.perf_counter()
            sock.sendto(q, ("127.0.0.1", dns_port))
            sock.recv(4096)
            dns_samples.append(time.perf_counter() - start)
            n += 1
        end = time.time() + seconds / 2
        while time.time() < end:
            start = time.perf_counter()
            conn.request("GET", f"/nacos/v1/ns/instance/list?serviceName=svc-{n % 100}")
            conn.getresponse().read()
            http_samples.append(time.perf_counter() - start)
            n += 1
        d50, d99, dmax = percentiles(dns_samples)
        h50, h99, hmax = percentiles(http_samples)
        print(f"{label:<22} {(checks1 - checks0) / (t1 - t0):>9.0f} {100 * (cpu1 - cpu0) / (t1 - t0):>7.1f}% "
              f"{threads(proc.pid):>8} {int(unhealthy):>6}   "
              f"{d50:6.3f} {d99:6.3f} {dmax:6.2f}   {h50:6.3f} {h99:6.3f} {hmax:6.2f}")
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["rm", "-rf", work])


def main():
    instances = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    listeners = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", LISTENERS, str(instances)],
                                 stdout=subprocess.PIPE, text=True)
    os.sched_setaffinity(0, {1})
    try:
        ports = [int(p) for p in listeners.stdout.readline().split()]
        print(f"health checks: {instances} persistent instances on live ports, {seconds:.0f} s per mode "
              f"({os.cpu_count()} cores; dnsd on core 0, listeners and clients on core 1)")
        print(f"{'mode':<22} {'checks/s':>9} {'CPU':>8} {'threads':>8} {'flips':>6}   "
              f"{'DNS ms p50/p99/max':>20}   {'HTTP list ms p50/p99/max':>24}")
        run_mode("checks off", 0, ports, seconds)
        run_mode("every 5 s (default)", 5000, ports, seconds)
        run_mode("every 1 s", 1000, ports, seconds)
    finally:
        listeners.kill()


if __name__ == "__main__":
    main()

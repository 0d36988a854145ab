#!/usr/bin/python3
"""Distro benchmark: ephemeral instances replicated across a 3-node dnsd cluster on this machine.

  bench/distro/run.py [registrations] [wrk-seconds (20)]

1. Visibility: register on node A (HTTP, one instance in a new service each time), then ask
   node C over DNS every 0.5 ms until it answers; the time from sending the registration to
   C's answer, over N registrations (default 1,000). Nacos takes ~1.5 s (1 s sync delay).
2. Cost per change: Distro payload bytes sent per change per peer, and CPU microseconds the
   receiving node spends per change (its CPU during phase 1, minus its idle rate).
3. Throughput: wrk registers 100,000 instances (10,000 services x 10) through all three nodes
   at once (64 connections each), next to one single node in the same run.
4. At 100,000 instances: RSS of each node, and the verify traffic of the idle cluster.

Nodes listen on 127.0.0.1-3 (HTTP 38848, peers 39849); the single node on 127.0.0.4.
"""
import functools
import http.client
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

print = functools.partial(print, flush=True)  # noqa: A001 - progress shows as it happens
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "bin", "dnsd")
PORT = 38848
IPS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
SINGLE = "127.0.0.4"
TICKS = os.sysconf("SC_CLK_TCK")
CONFIG = """
[naming]
heartbeat_timeout_ms = 3600000
ip_delete_timeout_ms = 3600000
"""


class Node:
    def __init__(self, work, ip, cluster_conf):
        self.ip = ip
        data = os.path.join(work, ip)
        os.makedirs(data)
        config = os.path.join(data, "dnsd.toml")
        with open(config, "w") as f:
            f.write(CONFIG)
        args = [BIN, "--config", config, "--advertise-ip", ip, "--http-address", ip, "--http-port", str(PORT),
                "--dns-address", ip, "--dns-port", "0", "--data-dir", data, "--log-level", "warn"]
        if cluster_conf:
            args += ["--cluster-conf", cluster_conf]
        self.log = open(os.path.join(data, "stderr.log"), "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)

    def wait_ready(self):
        line = self.proc.stdout.readline()
        fields = dict(f.split("=") for f in line.split()[2:] if "=" in f)
        if not line.startswith("dnsd ready"):
            raise RuntimeError(f"{self.ip} did not start: {line!r}")
        self.dns_port = int(fields["dns"])

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024

    def metric(self, name):
        conn = http.client.HTTPConnection(self.ip, PORT, timeout=10)
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
        conn.close()
        m = re.search(rf"^{name} (\S+)$", body, re.M)
        return float(m.group(1)) if m else 0.0

    def instances(self):
        return self.metric("dnsd_registry_instances")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


def dns_query(name, qid):
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + qname + struct.pack(">HH", 1, 1)


def answered(sock, node, name, ip, qid):
    """True when `node` answers `name` with A `ip` (looked for in the answer's bytes)."""
    sock.sendto(dns_query(name, qid), (node.ip, node.dns_port))
    try:
        reply, _ = sock.recvfrom(4096)
    except socket.timeout:
        return False
    ancount = struct.unpack(">H", reply[6:8])[0]
    return ancount > 0 and socket.inet_aton(ip) in reply


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def post(conn, path, body):
    conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    return conn.getresponse().read()


def owner_of(conn, ip):
    conn.request("GET", f"/nacos/v1/ns/operator/distro/client?ip={ip}&port=8080")
    return re.search(rb'"responsibleServer":"([^"]+)"', conn.getresponse().read()).group(1).decode()


def cost_per_change(a, b, count):
    """Registers `count` instances whose client A owns (no forwarding) as fast as one
    connection goes; B only receives them. B's CPU beyond its idle rate, per change."""
    conn = http.client.HTTPConnection(a.ip, PORT, timeout=10)
    ips = []
    i = 0
    while len(ips) < count:
        ip = f"10.{80 + i // 65536}.{i // 256 % 256}.{i % 256}"
        i += 1
        if owner_of(conn, ip) == f"{a.ip}:{PORT}":
            ips.append(ip)
    start = b.cpu_seconds()
    time.sleep(3)
    idle_rate = (b.cpu_seconds() - start) / 3
    bytes_before = a.metric("dnsd_distro_sync_bytes_total")
    cpu_before = b.cpu_seconds()
    started = time.monotonic()
    for n, ip in enumerate(ips):
        if post(conn, "/nacos/v1/ns/instance", f"serviceName=cost-{n % 100}&ip={ip}&port=8080") != b"ok":
            raise RuntimeError(f"registration of {ip} failed")
    while b.instances() < a.instances():
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    cpu = b.cpu_seconds() - cpu_before - idle_rate * elapsed
    sync_bytes = a.metric("dnsd_distro_sync_bytes_total") - bytes_before
    conn.close()
    return cpu / count, sync_bytes / (2 * count)


def visibility(a, c, count):
    conn = http.client.HTTPConnection(a.ip, PORT, timeout=10)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.05)
    latencies = []
    for i in range(count):
        ip = f"10.{60 + i // 65536}.{i // 256 % 256}.{i % 256}"
        service = f"lat-{i}"
        body = f"serviceName={service}&ip={ip}&port=8080"
        sent = time.monotonic()
        conn.request("POST", "/nacos/v1/ns/instance", body=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        reply = conn.getresponse().read()
        if reply != b"ok":
            raise RuntimeError(f"registration {i}: {reply!r}")
        qid = 0
        while not answered(sock, c, f"{service}.svc.nacos.internal", ip, qid & 0xFFFF):
            qid += 1
            if time.monotonic() - sent > 5:
                raise RuntimeError(f"{service} not answered by {c.ip} after 5 s")
            time.sleep(0.0005)
        latencies.append((time.monotonic() - sent) * 1000)
    conn.close()
    return latencies


def wrk(targets, seconds):
    """wrk (64 connections) against each target at once; total requests per second (which
    register and re-register the 100,000 instances of bench/naming/register.lua)."""
    script = os.path.join(ROOT, "bench", "naming", "register.lua")
    procs = [subprocess.Popen(["wrk", "-t1", "-c64", f"-d{seconds}s", "-s", script, f"http://{ip}:{PORT}",
                               "--", str(k * 100_000 // len(targets))],
                              stdout=subprocess.PIPE, text=True) for k, ip in enumerate(targets)]
    total = 0.0
    for p in procs:
        out = p.communicate()[0]
        total += float(re.search(r"Requests/sec:\s+(\S+)", out).group(1))
        if "Non-2xx" in out:
            print("  wrk saw errors:", re.search(r"Non-2xx.*", out).group(0))
    return total


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    # Long enough for the load to create all 100,000 instances through the cluster.
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    if not os.access(BIN, os.X_OK):
        sys.exit("build dnsd first (tools/test.sh or cmake --build build)")
    work = tempfile.mkdtemp(prefix="dnsd-distro-bench-")
    conf = os.path.join(work, "cluster.conf")
    with open(conf, "w") as f:
        f.writelines(f"{ip}:{PORT}\n" for ip in IPS)
    nodes = [Node(work, ip, conf) for ip in IPS]
    single = Node(work, SINGLE, None)
    try:
        for n in nodes + [single]:
            n.wait_ready()
        a, b, c = nodes
        time.sleep(2)  # every member sees the others up
        print(f"dnsd Distro benchmark ({os.cpu_count()} cores; 3 nodes on {', '.join(IPS)})")

        latencies = visibility(a, c, count)
        print(f"registration on A -> answered in DNS on C, {count} registrations: "
              f"p50 {percentile(latencies, 50):.1f} ms, p90 {percentile(latencies, 90):.1f} ms, "
              f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms (Nacos: ~1,500 ms)")
        cpu, payload = cost_per_change(a, b, 2000)
        print(f"cost per change (2,000 registrations of clients A owns): {payload:.0f} payload bytes per "
              f"peer; {cpu * 1e6:.0f} us CPU on a receiving node")

        cluster_rps = wrk(IPS, seconds)
        single_rps = wrk([SINGLE], seconds)
        print(f"registrations/s (wrk, 64 connections per target, {seconds} s): 3-node cluster through all "
              f"three {cluster_rps:,.0f}; one node {single_rps:,.0f}")

        def converged():
            counts = {n.ip: n.instances() for n in nodes}
            return len(set(counts.values())) == 1, counts
        deadline = time.monotonic() + 60
        ok, counts = converged()
        while not ok and time.monotonic() < deadline:
            time.sleep(0.5)
            ok, counts = converged()
        print(f"instances per node after the load: {counts}" + ("" if ok else " (NOT converged)"))
        print("RSS right after the load: " + ", ".join(f"{n.ip} {n.rss_mb():.1f} MB" for n in nodes) +
              f"; single node {single.rss_mb():.1f} MB")

        idle = 20
        verify_before = sum(n.metric("dnsd_distro_verify_bytes_total") for n in nodes)
        sync_before = sum(n.metric("dnsd_distro_sync_bytes_total") for n in nodes)
        time.sleep(idle)
        verify = sum(n.metric("dnsd_distro_verify_bytes_total") for n in nodes) - verify_before
        sync = sum(n.metric("dnsd_distro_sync_bytes_total") for n in nodes) - sync_before
        print(f"idle cluster at {counts[IPS[0]]:,.0f} instances, {idle} s: verify {verify / idle:,.0f} B/s, "
              f"sync {sync / idle:,.0f} B/s in all (Nacos: one verify request per client per peer every 5 s)")
        print("RSS per node, idle at that size: " + ", ".join(f"{n.ip} {n.rss_mb():.1f} MB" for n in nodes) +
              f"; single node {single.rss_mb():.1f} MB (target < 150 MB at 100,000 instances)")
    finally:
        for n in nodes + [single]:
            n.stop()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

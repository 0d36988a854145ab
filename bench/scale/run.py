#!/usr/bin/python3
"""Scale: one dnsd grown to N instances in 100,000 services (10 per service at a million),
registered over HTTP by wrk (bench/scale/register.lua). At each checkpoint it prints the
registration rate and wrk's p99 and slowest registration of that step, RSS (once no snapshot
is being written) and its peak so far, and p50/p99 of a service-list page (pageNo=500,
pageSize=100), an instance list and a DNS query (sequential Python clients: their own time is
inside; a DNS reply without A records is reported), and how many services the DNS zone
answers for. Then:
  restart   the same data directory (persistent instances: Raft snapshot and log), time to
            "dnsd ready" and to the first answered list;
  expiry    as many ephemeral instances registered on a fresh dnsd and left without beats:
            p50/p99/max of a DNS query, an instance list and a registration (which waits for
            the registry's writer lock) while they all expire, and the same on the quiet
            registry just before (the baseline), each probe in a process of its own.

  bench/scale/run.py [checkpoints=10000,100000,1000000] [all|grow|expiry]
dnsd and wrk share both cores.
"""
import http.client
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
DNSD = os.environ.get("DNSD_BIN", os.path.join(ROOT, "build", "bin", "dnsd"))
SERVICES = 100_000


class Dnsd:
    def __init__(self, config, data=None):
        self.work = tempfile.mkdtemp(prefix="dnsd-scale-")
        self.data = data or os.path.join(self.work, "data")
        self.config = os.path.join(self.work, "dnsd.toml")
        with open(self.config, "w") as f:
            f.write(config)

    def start(self):
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([DNSD, "--config", self.config, "--http-address", "127.0.0.1",
                                      "--http-port", "0", "--dns-port", "0", "--grpc-port", "0",
                                      "--health-check", "off", "--data-dir", self.data,
                                      "--log-level", "warn"], stdout=subprocess.PIPE, text=True)
        fields = dict(f.split("=") for f in self.proc.stdout.readline().split()[2:])
        self.ready_s = time.perf_counter() - t0
        self.http, self.dns = int(fields["http"]), int(fields["dns"])
        return self

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)

    def rss_mb(self, field="VmRSS"):
        """Resident MB now; field="VmHWM": the most it has been resident (the peak)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1)) / 1024

    def metric(self, name):
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=30)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0


def dns_query(name, qid):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x00\x01\x00\x01"


def timed(fn, count):
    samples = []
    for i in range(count):
        t0 = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return statistics.median(samples) * 1e3, p99(samples) * 1e3


def p99(ordered):
    return ordered[int(len(ordered) * 0.99)]


def latencies(d, services, count=200):
    """Samples services svc-0 .. svc-(services - 1), which all have instances."""
    conn = http.client.HTTPConnection("127.0.0.1", d.http, timeout=30)

    def get(path):
        conn.request("GET", path)
        conn.getresponse().read()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)

    unanswered = []

    def dns(i):
        sock.sendto(dns_query(f"svc-{i * 37 % services}.svc.nacos.internal", i & 0xFFFF), ("127.0.0.1", d.dns))
        reply = sock.recv(65535)
        if reply[3] & 0x0F != 0 or int.from_bytes(reply[6:8], "big") == 0:
            unanswered.append(i)
    page = timed(lambda i: get("/nacos/v1/ns/service/list?pageNo=500&pageSize=100"), count)
    instances = timed(lambda i: get(f"/nacos/v1/ns/instance/list?serviceName=svc-{i * 37 % services}"), count)
    dns_times = timed(dns, count)
    if unanswered:
        print(f"  {len(unanswered)} of {count} DNS queries had no A records (first: svc-{unanswered[0] * 37 % services})")
    return page, instances, dns_times


def dns_services(d):
    """Services the DNS zone holds answers for (/dnsd/v1/dns/overview)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.http, timeout=30)
    conn.request("GET", "/dnsd/v1/dns/overview")
    return json.loads(conn.getresponse().read())["registryZone"]["services"]


def grow(d, first, count, persistent):
    """Registers instances [first, first + count) with wrk; returns registrations/s and wrk's
    p99 and slowest registration in ms (16 connections: a stall shows as their wait)."""
    target = d.metric("dnsd_registry_instances") + count
    wrk = subprocess.Popen(["wrk", "-t2", "-c16", "-d3600s", "--latency", "-s", os.path.join(HERE, "register.lua"),
                            f"http://127.0.0.1:{d.http}", "--", str(first), str(count), str(SERVICES), "2",
                            "persistent" if persistent else "ephemeral"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    t0 = time.perf_counter()
    while d.metric("dnsd_registry_instances") < target:
        time.sleep(0.2)
    elapsed = time.perf_counter() - t0
    wrk.send_signal(signal.SIGINT)  # wrk stops and prints its summary
    report = wrk.communicate()[0]
    return count / elapsed, wrk_ms(report, r"^\s+99%\s+(\S+)"), wrk_ms(report, r"^\s+Latency\s+\S+\s+\S+\s+(\S+)")


def wrk_ms(report, pattern):
    """A latency from wrk's summary ("812.00us", "1.20ms", "2.01s") in ms; nan if absent."""
    m = re.search(pattern, report, re.M)
    if not m:
        return float("nan")
    value = re.match(r"([\d.]+)(us|ms|s|m)$", m.group(1))
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[value.group(2)]
    return float(value.group(1)) * scale


def main():
    checkpoints = [int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "10000,100000,1000000").split(",")]
    phases = sys.argv[2] if len(sys.argv) > 2 else "all"
    if phases in ("all", "grow"):
        grow_and_restart(checkpoints)
    if phases in ("all", "expiry"):
        mass_expiry(checkpoints[-1])


def grow_and_restart(checkpoints):
    long_lived = "[naming]\nheartbeat_timeout_ms = 3600000\nip_delete_timeout_ms = 3600000\n"
    print(f"scale: persistent instances in {SERVICES} services ({os.cpu_count()} cores, dnsd and wrk sharing them)")
    print(f"{'instances':>10} {'reg/s':>8} {'reg p99/max ms':>16} {'RSS MB':>8} {'peak MB':>8}   {'list page p50/p99 ms':>20} "
          f"{'instance list p50/p99':>22} {'DNS p50/p99 ms':>16} {'DNS services':>13}")
    d = Dnsd(long_lived).start()
    have = 0
    try:
        for target in checkpoints:
            rate, reg_p99, reg_max = grow(d, have, target - have, persistent=True)
            have = target
            # A snapshot still being written beside the Raft thread holds its ~65 MB buffer
            # (at a million): RSS is read once it is on disk (the peak column includes it).
            while d.metric("dnsd_raft_snapshot_in_progress"):
                time.sleep(0.05)
            page, instances, dns = latencies(d, min(have, SERVICES))
            print(f"{target:>10} {rate:>8.0f} {reg_p99:>7.1f} / {reg_max:<6.1f} {d.rss_mb():>8.1f} {d.rss_mb('VmHWM'):>8.1f}   "
                  f"{page[0]:>9.3f} / {page[1]:<8.3f} "
                  f"{instances[0]:>10.3f} / {instances[1]:<9.3f} {dns[0]:>7.3f} / {dns[1]:<7.3f} "
                  f"{dns_services(d):>13}")
        d.stop()
        d.start()
        conn = http.client.HTTPConnection("127.0.0.1", d.http, timeout=60)
        t0 = time.perf_counter()
        while True:
            conn.request("GET", "/nacos/v1/ns/instance/list?serviceName=svc-1")
            body = conn.getresponse().read()
            if b"10.0." in body:
                break
            time.sleep(0.05)
        print(f"restart with {have} persistent instances: ready after {d.ready_s:.2f} s, "
              f"first list answered {d.ready_s + time.perf_counter() - t0:.2f} s after start; "
              f"RSS {d.rss_mb():.1f} MB")
    finally:
        d.stop()
        subprocess.run(["rm", "-rf", d.work])



def probe(kind, d, stop, results):
    """One probe in its own process (the server's stall, not another probe's turn at Python's
    lock): DNS queries 1 ms apart, instance lists and registrations 5 ms apart, each timed;
    the latencies (seconds) go to `results` when `stop` is set."""
    samples = []
    if kind == "dns":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(5)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", d.http, timeout=60)
    i = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        if kind == "dns":
            sock.sendto(dns_query(f"svc-{i % SERVICES}.svc.nacos.internal", i & 0xFFFF), ("127.0.0.1", d.dns))
            sock.recv(65535)
        elif kind == "list":
            conn.request("GET", f"/nacos/v1/ns/instance/list?serviceName=svc-{i % SERVICES}")
            conn.getresponse().read()
        else:
            # One instance of a service of its own, registered again and again (which keeps it
            # alive): each registration waits for the registry's writer lock.
            conn.request("POST", "/nacos/v1/ns/instance?serviceName=probe&ip=10.255.0.1&port=80")
            conn.getresponse().read()
        samples.append(time.perf_counter() - t0)
        i += 1
        time.sleep(0.001 if kind == "dns" else 0.005)
    results.put((kind, samples))


def probed(d, until):
    """Runs the three probes until `until()` is true; returns {kind: sorted latencies in ms}."""
    ctx = multiprocessing.get_context("fork")
    stop, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=probe, args=(kind, d, stop, results)) for kind in ("dns", "list", "write")]
    for p in procs:
        p.start()
    while not until():
        time.sleep(0.5)
    stop.set()
    out = {}
    for _ in procs:
        kind, samples = results.get()
        out[kind] = sorted(x * 1e3 for x in samples)
    for p in procs:
        p.join()
    return out


def summary(ms):
    return f"{statistics.median(ms):.2f} / {p99(ms):.2f} / {ms[-1]:.1f}"


def mass_expiry(count):
    # Ephemeral instances left without beats: the timeouts outlast the loading (12,000-20,000
    # registrations a second here; sized for 8,000, since instances that expire before the
    # loading ends are registered again and the count would never be reached), so that they
    # all expire within about one loading time. Between the loading and the first expiry the
    # same probes run on the quiet registry, as the baseline.
    timeout_s = 20 + count // 8_000
    e = Dnsd(f"[naming]\nheartbeat_timeout_ms = {timeout_s * 1000}\n"
             f"ip_delete_timeout_ms = {(timeout_s + 5) * 1000}\n").start()
    try:
        loading_started = time.perf_counter()
        rate = grow(e, 0, count, persistent=False)[0]
        first_expiry = loading_started + timeout_s
        quiet_s = max(1.0, min(30.0, first_expiry - time.perf_counter() - 5))
        quiet_end = time.perf_counter() + quiet_s
        quiet = probed(e, lambda: time.perf_counter() >= quiet_end)
        t0 = time.perf_counter()
        expiring = probed(e, lambda: e.metric("dnsd_registry_instances") <= 1 or time.perf_counter() - t0 > 600)
        took = time.perf_counter() - t0
        print(f"mass expiry: {count} ephemeral instances registered at {rate:.0f}/s; all gone {took:.1f} s "
              f"after the quiet window")
        print(f"{'p50 / p99 / max ms':>22} {'DNS query':>22} {'instance list':>22} {'registration':>22}")
        for label, run in ((f"quiet ({quiet_s:.0f} s)", quiet), ("while expiring", expiring)):
            print(f"{label:>22} {summary(run['dns']):>22} {summary(run['list']):>22} {summary(run['write']):>22}")
    finally:
        e.stop()
        subprocess.run(["rm", "-rf", e.work])


if __name__ == "__main__":
    main()

"""Soak driver: churn on the HTTP API and DNS queries against one dnsd for a fixed time,
printing RSS, descriptors, throughput and errors every interval and a summary at the end.

Churn per round: ephemeral instances registered, beaten and deregistered (and some left to
expire), persistent instances registered and deregistered, configs published and deleted,
service lists read. DNS: dnsperf at a fixed rate (run by run.sh) plus a check query here.
Any non-200 answer, DNS failure or dnsd exit counts as an error."""
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

import dns.message
import dns.query
import dns.rcode

pid, http_port, dns_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
duration, interval = float(sys.argv[4]), float(sys.argv[5])


def rss_mb(field="VmRSS"):
    """VmRSS, or RssAnon (heap: what a leak grows) / RssFile (LevelDB's mapped tables)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def fds():
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_s():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    def __init__(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)

    def call(self, method, path, params):
        body = urllib.parse.urlencode(params)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                # The idle timeout may have closed a kept-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
        return 0, b""


stats = {"requests": 0, "errors": 0, "dns": 0, "dns_errors": 0}
lock = threading.Lock()
stop = threading.Event()


def count(ok, kind="requests"):
    with lock:
        stats[kind if kind == "requests" else "dns"] += 1
        if not ok:
            stats["errors" if kind == "requests" else "dns_errors"] += 1


def churn(worker):
    c = Client()
    rng = random.Random(worker)
    n = 0
    while not stop.is_set():
        svc = f"soak-{worker}-{n % 200}"
        ip = f"10.{100 + worker}.{(n // 250) % 250}.{n % 250 + 1}"
        ephemeral = {"serviceName": svc, "ip": ip, "port": 8080}
        s, _ = c.call("POST", "/nacos/v1/ns/instance", ephemeral)
        count(s == 200)
        s, _ = c.call("PUT", "/nacos/v1/ns/instance/beat", ephemeral)
        count(s == 200)
        if rng.random() < 0.7:  # the rest expire on their own
            s, _ = c.call("DELETE", "/nacos/v1/ns/instance", ephemeral)
            count(s == 200)
        # A bounded working set (50 services x 100 addresses per worker), so that RSS growth
        # over the run would be a leak, not more data.
        persistent = {"serviceName": f"soak-db-{worker}-{n % 50}", "ip": f"10.{200 + worker}.0.{n % 100 + 1}",
                      "port": 5432, "ephemeral": "false"}
        s, _ = c.call("POST", "/nacos/v1/ns/instance", persistent)
        count(s == 200)
        if n % 3 == 0:
            s, _ = c.call("DELETE", "/nacos/v1/ns/instance", persistent)
            count(s == 200)
        cfg = {"dataId": f"soak-{worker}-{n % 100}.yaml", "group": "SOAK", "content": f"n: {n}\n" + "x" * rng.randint(10, 2000)}
        s, _ = c.call("POST", "/nacos/v1/cs/configs", cfg)
        count(s == 200)
        if n % 5 == 0:
            s, _ = c.call("DELETE", "/nacos/v1/cs/configs", {"dataId": cfg["dataId"], "group": "SOAK"})
            count(s == 200)
        if n % 10 == 0:
            s, _ = c.call("GET", "/nacos/v2/ns/service/list", {"pageSize": 100})
            count(s == 200)
        n += 1


def dns_check():
    q = dns.message.make_query("nacos.internal.", "SOA")
    while not stop.is_set():
        try:
            r = dns.query.udp(q, "127.0.0.1", port=dns_port, timeout=2)
            count(r.rcode() == dns.rcode.NOERROR, "dns")
        except Exception:
            count(False, "dns")
        stop.wait(0.05)


threads = [threading.Thread(target=churn, args=(w,)) for w in range(3)] + [threading.Thread(target=dns_check)]
for t in threads:
    t.start()
start = time.time()
rss_seen, anon_seen = [], []
last_requests, last_cpu, last_t = 0, cpu_s(), start
print(f"{'t (s)':>7} {'RSS MB':>8} {'anon MB':>8} {'fds':>5} {'req/s':>8} {'CPU %':>6} {'errors':>7} {'dns errors':>10}", flush=True)
try:
    while time.time() - start < duration:
        time.sleep(interval)
        if not os.path.exists(f"/proc/{pid}"):
            print("dnsd exited", flush=True)
            stats["errors"] += 1
            break
        now, cpu = time.time(), cpu_s()
        with lock:
            req = stats["requests"]
            line = (f"{now - start:7.0f} {rss_mb():8.1f} {rss_mb('RssAnon'):8.1f} {fds():5d} {(req - last_requests) / (now - last_t):8.0f} "
                    f"{100 * (cpu - last_cpu) / (now - last_t):6.1f} {stats['errors']:7d} {stats['dns_errors']:10d}")
        rss_seen.append(rss_mb())
        anon_seen.append(rss_mb("RssAnon"))
        last_requests, last_cpu, last_t = req, cpu, now
        print(line, flush=True)
finally:
    stop.set()
    for t in threads:
        t.join()
summary = {"seconds": round(time.time() - start), "requests": stats["requests"], "errors": stats["errors"],
           "dns_checks": stats["dns"], "dns_errors": stats["dns_errors"],
           "rss_first_mb": round(rss_seen[0], 1) if rss_seen else None,
           "rss_max_mb": round(max(rss_seen), 1) if rss_seen else None,
           "rss_last_mb": round(rss_seen[-1], 1) if rss_seen else None,
           "anon_first_mb": round(anon_seen[0], 1) if anon_seen else None,
           "anon_last_mb": round(anon_seen[-1], 1) if anon_seen else None}
print("summary " + json.dumps(summary), flush=True)
sys.exit(1 if stats["errors"] or stats["dns_errors"] else 0)

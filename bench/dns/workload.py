#!/usr/bin/python3
"""Generates the DNS benchmark data: 1,000 services x 3 instances registered in dnsd over HTTP,
the same names as a static zone file for NSD and gdnsd, and a dnsperf query file mixing A and
SRV with 5% unknown names. Also drives registry churn and measures registration-to-DNS latency.

  workload.py register <http_port>              register the services in dnsd
  workload.py zone <file>                       write the equivalent static zone
  workload.py queries <file>                    write the dnsperf query file
  workload.py churn <http_port> <per_second> <seconds>
  workload.py latency <http_port> <dns_port> <samples>
  workload.py change-latency <http_port> <dns_port> <samples> [second octet of the new IPs]
"""
import http.client
import random
import socket
import sys
import time

SERVICES, PER_SERVICE, ZONE = 1000, 3, "nacos.internal."


def ip(service, k):
    return f"10.{k + 1}.{service // 256}.{service % 256}"


def post(conn, path):
    conn.request("POST", path)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {body!r}")


def register(port):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for s in range(SERVICES):
        for k in range(PER_SERVICE):
            # Heartbeat-free persistent instances keep the registry stable for the whole run.
            post(conn, f"/nacos/v1/ns/instance?serviceName=svc-{s}&ip={ip(s, k)}&port={8000 + k}"
                       f"&weight={k + 1}&ephemeral=false")


def hexname(addr):
    return "".join(f"{int(o):02x}" for o in addr.split(".")) + ".addr"


def zone(path):
    with open(path, "w") as f:
        f.write(f"$ORIGIN {ZONE}\n$TTL 5\n@ IN SOA ns1 hostmaster 1 3600 600 86400 5\n@ IN NS ns1\n"
                "ns1 IN A 127.0.0.1\n")
        for s in range(SERVICES):
            for k in range(PER_SERVICE):
                f.write(f"svc-{s}.svc IN A {ip(s, k)}\n")
                f.write(f"svc-{s}.svc IN SRV 10 {(k + 1) * 100} {8000 + k} {hexname(ip(s, k))}.{ZONE}\n")
                f.write(f"{hexname(ip(s, k))} 3600 IN A {ip(s, k)}\n")


def queries(path):
    rng = random.Random(1)
    with open(path, "w") as f:
        for _ in range(100_000):
            r = rng.random()
            s = rng.randrange(SERVICES)
            if r < 0.05:
                f.write(f"unknown-{s}.svc.{ZONE} A\n")
            elif r < 0.55:
                f.write(f"svc-{s}.svc.{ZONE} A\n")
            else:
                f.write(f"svc-{s}.svc.{ZONE} SRV\n")


def churn(port, per_second, seconds):
    """Re-registers instances with alternating weights: every request is a registry change."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    rng = random.Random(2)
    end = time.time() + seconds
    sent = 0
    start = time.time()
    while time.time() < end:
        s, k = rng.randrange(SERVICES), rng.randrange(PER_SERVICE)
        post(conn, f"/nacos/v1/ns/instance?serviceName=svc-{s}&ip={ip(s, k)}&port={8000 + k}"
                   f"&weight={1 + (sent % 2)}&ephemeral=false")
        sent += 1
        ahead = sent / per_second - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)
    print(f"churn: {sent / (time.time() - start):.0f} changes/s")


def latency(http_port, dns_port, samples):
    """Time from sending a registration to the first DNS answer that contains it."""
    import dns.message
    import dns.query
    conn = http.client.HTTPConnection("127.0.0.1", http_port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    results = []
    for i in range(samples):
        name = f"fresh-{i}.svc.{ZONE}"
        t0 = time.perf_counter()
        post(conn, f"/nacos/v1/ns/instance?serviceName=fresh-{i}&ip=10.200.{i // 250}.{i % 250 + 1}&port=80")
        while True:
            r = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=dns_port, sock=sock)
            if r.answer:
                break
        results.append((time.perf_counter() - t0) * 1000)
    results.sort()
    print(f"registration -> DNS answer: p50 {results[len(results) // 2]:.2f} ms, "
          f"p99 {results[int(len(results) * 0.99) - 1]:.2f} ms, max {results[-1]:.2f} ms ({samples} samples)")


def change_latency(http_port, dns_port, samples, second_octet=201):
    """Time from sending a new instance of an existing service (one a DNS-F agent already
    follows) to the first DNS answer that contains it: the path of a push."""
    import dns.message
    import dns.query
    conn = http.client.HTTPConnection("127.0.0.1", http_port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    results = []
    for i in range(samples):
        s = i % SERVICES
        added = f"10.{second_octet}.{i // 250}.{i % 250 + 1}"
        query = dns.message.make_query(f"svc-{s}.svc.{ZONE}", "A", use_edns=0, payload=1232)
        t0 = time.perf_counter()
        post(conn, f"/nacos/v1/ns/instance?serviceName=svc-{s}&ip={added}&port=80&ephemeral=false")
        while True:
            r = dns.query.udp(query, "127.0.0.1", port=dns_port, sock=sock, timeout=2)
            if any(rd.to_text() == added for rrset in r.answer for rd in rrset):
                break
        results.append((time.perf_counter() - t0) * 1000)
    results.sort()
    print(f"change -> DNS answer: p50 {results[len(results) // 2]:.2f} ms, "
          f"p99 {results[int(len(results) * 0.99) - 1]:.2f} ms, max {results[-1]:.2f} ms ({samples} samples)")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "register":
        register(int(sys.argv[2]))
    elif cmd == "zone":
        zone(sys.argv[2])
    elif cmd == "queries":
        queries(sys.argv[2])
    elif cmd == "churn":
        churn(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "latency":
        latency(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "change-latency":
        change_latency(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                       int(sys.argv[5]) if len(sys.argv) > 5 else 201)

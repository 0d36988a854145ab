#!/usr/bin/python3
"""DNS amplification: how many bytes dnsd sends back per byte of a small UDP query, for its
largest answers, with and without response rate limiting.

First, one query of each kind from a client that is not limited: the answer's size over the
query's. UDP answers never exceed 1,232 bytes (or the client's smaller EDNS size; 512 without
EDNS), which bounds the factor for any query. Then a flood from one source, as a spoofed
reflection attack would send it: N queries for the largest answer in one second, and the
bytes that came back over the bytes sent, with RRL at its defaults (500 answers/s per /24,
slip 1) and with RRL off.

  bench/dns/amplification.py [queries=5000]
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import dns.message

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DNSD = os.environ.get("DNSD_BIN", os.path.join(ROOT, "build", "bin", "dnsd"))
ZONE = "nacos.internal."


def start(rrl):
    work = tempfile.mkdtemp(prefix="dnsd-amp-")
    config = os.path.join(work, "dnsd.toml")
    with open(config, "w") as f:
        f.write(f"[dns]\nrrl_responses_per_second = {500 if rrl else 0}\nrrl_exempt = []\n"
                "[naming]\nheartbeat_timeout_ms = 600000\nip_delete_timeout_ms = 1200000\n")
    proc = subprocess.Popen([DNSD, "--config", config, "--http-address", "127.0.0.1", "--http-port", "0",
                             "--dns-port", "0", "--grpc-port", "0", "--data-dir", os.path.join(work, "data"),
                             "--health-check", "off", "--log-level", "warn"], stdout=subprocess.PIPE, text=True)
    fields = dict(f.split("=") for f in proc.stdout.readline().split()[2:])
    http, port = int(fields["http"]), int(fields["dns"])
    for i in range(60):
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{http}/nacos/v1/ns/instance?serviceName=big&ip=10.9.0.{i + 1}&port={7000 + i}",
            method="POST")).read()
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{http}/nacos/v1/ns/instance?serviceName=big6&ip=2001:db8::{i + 1:x}&port={7000 + i}",
            method="POST")).read()
    return proc, port, work


def one(port, name, rdtype, edns):
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else None, payload=4096)
    wire = q.to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(wire, ("127.0.0.1", port))
    answer = s.recv(65535)
    s.close()
    return len(wire), len(answer), bool(dns.message.from_wire(answer).flags & 0x0200)


def flood(port, count, name, rdtype):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root): no answer lost here
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("127.0.0.50", 0))
    wire = dns.message.make_query(name, rdtype, use_edns=0, payload=4096).to_wire()
    sent = received = answers = 0
    start = time.perf_counter()
    for i in range(count):
        s.sendto(wire, ("127.0.0.1", port))
        sent += len(wire)
        if i % 50 == 49:  # about one second for the whole flood
            time.sleep(max(0.0, start + (i + 1) / count - time.perf_counter()))
    s.settimeout(0.5)
    try:
        while True:
            received += len(s.recv(65535))
            answers += 1
    except socket.timeout:
        pass
    return sent, received, answers


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    proc, port, work = start(rrl=False)
    try:
        print("largest answers to single UDP queries (client not limited)")
        print(f"{'query':<40} {'query B':>8} {'answer B':>9} {'factor':>7}")
        cases = [("big.svc." + ZONE, "A", True), ("big6.svc." + ZONE, "AAAA", True),
                 ("big.svc." + ZONE, "SRV", True), ("big.svc." + ZONE, "SRV", False),
                 ("big.svc." + ZONE, "ANY", True), ("nope.svc." + ZONE, "A", True), (ZONE, "SOA", True)]
        for name, rdtype, edns in cases:
            q, a, tc = one(port, name, rdtype, edns)
            label = f"{rdtype} {name}{'' if edns else ' (no EDNS)'}{' TC' if tc else ''}"
            print(f"{label:<40} {q:>8} {a:>9} {a / q:>7.1f}")
        sent, received, answers = flood(port, count, "big.svc." + ZONE, "A")
        print(f"\nflood of {count} A queries in ~1 s from one source, RRL off: "
              f"{answers} answers, {received / sent:.1f}x the bytes sent")
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["rm", "-rf", work])
    proc, port, work = start(rrl=True)
    try:
        sent, received, answers = flood(port, count, "big.svc." + ZONE, "A")
        print(f"flood of {count} A queries in ~1 s from one source, RRL 500/s slip 1: "
              f"{answers} answers, {received / sent:.1f}x the bytes sent")
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

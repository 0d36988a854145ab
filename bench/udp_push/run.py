#!/usr/bin/python3
"""UDP push fan-out (Nacos 1.x clients): one dnsd, N subscribers (UDP sockets that made a list
query with udpPort, as the nacos npm SDK does), then R changes to the service; for each change,
the time from sending the registration to each subscriber's receipt of its push. Every push is
acknowledged as the SDK would (so nothing is resent). Prints p50/p99/max over all receipts and
how long the last subscriber of a change waited.

  bench/udp_push/run.py [subscribers=1000] [changes=20]
"""
import http.client
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DNSD = os.environ.get("DNSD_BIN", os.path.join(ROOT, "build", "bin", "dnsd"))


def main():
    subscribers = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    changes = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    work = tempfile.mkdtemp(prefix="dnsd-udp-bench-")
    proc = subprocess.Popen([DNSD, "--http-address", "127.0.0.1", "--http-port", "0", "--dns-port", "0",
                             "--grpc-port", "0", "--data-dir", os.path.join(work, "data"), "--log-level", "warn"],
                            stdout=subprocess.PIPE, text=True)
    try:
        fields = dict(f.split("=") for f in proc.stdout.readline().split()[2:])
        port = int(fields["http"])
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def call(method, path):
            conn.request(method, path)
            r = conn.getresponse()
            r.read()
            assert r.status == 200, (path, r.status)

        call("POST", "/nacos/v1/ns/instance?serviceName=fanout&ip=10.0.0.1&port=80")
        selector = selectors.DefaultSelector()
        socks = []
        for _ in range(subscribers):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
            socks.append(s)
            call("GET", f"/nacos/v1/ns/instance/list?serviceName=fanout&udpPort={s.getsockname()[1]}"
                        "&clientIP=127.0.0.1")
        delays, last = [], []
        for i in range(changes):
            received = 0
            t0 = time.perf_counter()
            call("POST", f"/nacos/v1/ns/instance?serviceName=fanout&ip=10.1.{i // 250}.{i % 250 + 1}&port=80")
            deadline = t0 + 10
            while received < subscribers and time.perf_counter() < deadline:
                for key, _ in selector.select(timeout=1):
                    try:
                        data, addr = key.fileobj.recvfrom(65535)
                    except BlockingIOError:
                        continue
                    now = time.perf_counter()
                    packet = json.loads(data)
                    key.fileobj.sendto(json.dumps({"type": "push-ack", "lastRefTime": packet["lastRefTime"],
                                                   "data": ""}).encode(), addr)
                    if f'"10.1.{i // 250}.{i % 250 + 1}' not in packet["data"]:
                        continue  # a resend of an earlier change
                    delays.append((now - t0) * 1000)
                    received += 1
            last.append(max(delays[-received:]) if received else float("nan"))
            if received < subscribers:
                print(f"change {i}: only {received} of {subscribers} pushes arrived")
            time.sleep(0.2)
        delays.sort()
        last.sort()
        print(f"UDP push fan-out to {subscribers} subscribers, {changes} changes: "
              f"p50 {delays[len(delays) // 2]:.2f} ms, p99 {delays[int(len(delays) * 0.99) - 1]:.2f} ms, "
              f"max {delays[-1]:.2f} ms; last subscriber of a change: median {last[len(last) // 2]:.2f} ms")
        _, body = None, None
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
        print(" ".join(line for line in body.splitlines() if line.startswith(("dnsd_udp_push_sent_total",
              "dnsd_udp_push_acked_total", "dnsd_udp_push_retries_total", "dnsd_udp_push_failed_total"))))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()

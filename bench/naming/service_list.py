#!/usr/bin/python3
"""Service list pages at scale: one dnsd grown to N services (one ephemeral instance each, in
the default group), then pages 1, N/200 and N/100 of /nacos/v1/ns/service/list and
/nacos/v2/ns/service/list with pageSize=100, timed sequentially (Python client, keep-alive).
Run it against two builds to compare (DNSD_BIN=other/build/bin/dnsd).

  bench/naming/service_list.py [services=100000] [requests=50]
"""
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DNSD = os.environ.get("DNSD_BIN", os.path.join(ROOT, "build", "bin", "dnsd"))


def main():
    services = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    work = tempfile.mkdtemp(prefix="dnsd-list-bench-")
    config = os.path.join(work, "dnsd.toml")
    with open(config, "w") as f:
        f.write("[naming]\nheartbeat_timeout_ms = 3600000\nip_delete_timeout_ms = 3600000\n")
    proc = subprocess.Popen([DNSD, "--config", config, "--http-address", "127.0.0.1", "--http-port", "0",
                             "--dns-port", "0", "--grpc-port", "0", "--data-dir", os.path.join(work, "data"),
                             "--log-level", "warn"], stdout=subprocess.PIPE, text=True)
    try:
        fields = dict(f.split("=") for f in proc.stdout.readline().split()[2:])
        conn = http.client.HTTPConnection("127.0.0.1", int(fields["http"]))
        start = time.time()
        for i in range(services):
            conn.request("POST", f"/nacos/v1/ns/instance?serviceName=svc-{i:07d}"
                                 f"&ip=10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}&port=80")
            conn.getresponse().read()
        print(f"{DNSD}: "
              f"{services} services registered in {time.time() - start:.1f} s")
        for version in ("v1", "v2"):
            for page in (1, services // 200, services // 100):
                samples = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    conn.request("GET", f"/nacos/{version}/ns/service/list?pageNo={page}&pageSize=100")
                    body = conn.getresponse().read()
                    samples.append(time.perf_counter() - t0)
                assert b"svc-" in body or page * 100 > services, body[:200]
                samples.sort()
                print(f"  {version} page {page:>5}: p50 {statistics.median(samples) * 1e3:8.3f} ms, "
                      f"p99 {samples[int(len(samples) * 0.99)] * 1e3:8.3f} ms")
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

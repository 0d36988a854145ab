#!/usr/bin/python3
"""What Nacos auth costs per request: one dnsd with auth off and one with auth on, each with
one service of 10 instances, pinned to core 0 with one HTTP thread; wrk on core 1 asks for the
instance list over keep-alive connections. Modes: auth off; auth on with a token
(`Authorization: Bearer`); auth on with `username` + `password` parameters on every request
(as the nacos npm SDK sends them; verified once, then remembered). Prints requests/s, wrk's
latency p50/p99 and dnsd's CPU microseconds per request, then the cost of a login (bcrypt at
cost 10, the work a password guesser must do per guess).

  bench/auth/run.py [seconds=5]
"""
import base64
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DNSD = os.environ.get("DNSD_BIN", os.path.join(ROOT, "build", "bin", "dnsd"))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start(work, auth):
    config = os.path.join(work, "dnsd.toml")
    with open(config, "w") as f:
        if auth:
            f.write(f'[auth]\nenabled = true\ntoken_secret = "{base64.b64encode(os.urandom(32)).decode()}"\n')
    proc = subprocess.Popen(["taskset", "-c", "0", DNSD, "--config", config, "--http-port", "0",
                             "--dns-port", "0", "--grpc-port", "0", "--http-threads", "1",
                             "--data-dir", os.path.join(work, "data"), "--log-level", "warn",
                             "--health-check", "off"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    port = int(dict(f.split("=") for f in line.split()[2:])["http"])
    return proc, port


def call(port, method, path, params):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = urllib.parse.urlencode(params)
    conn.request(method, path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    return r.status, r.read().decode()


def wrk(port, path, seconds, header=None):
    args = ["taskset", "-c", "1", "wrk", "-t", "1", "-c", "16", "-d", f"{seconds}s", "--latency"]
    if header:
        args += ["-H", header]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, total, lat.get("50"), lat.get("99"), int(non2xx.group(1)) if non2xx else 0


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rows = []
    for auth in (False, True):
        work = tempfile.mkdtemp(prefix="dnsd-bench-auth-")
        proc, port = start(work, auth)
        try:
            token_params = {}
            header = None
            if auth:
                assert call(port, "POST", "/nacos/v1/auth/users/admin", {"password": "bench-pw"})[0] == 200
                token = json.loads(call(port, "POST", "/nacos/v1/auth/users/login",
                                        {"username": "nacos", "password": "bench-pw"})[1])["accessToken"]
                token_params = {"accessToken": token}
                header = f"Authorization: Bearer {token}"
            for i in range(10):
                status, text = call(port, "POST", "/nacos/v1/ns/instance",
                                    dict(token_params, serviceName="bench", ip=f"10.0.0.{i + 1}", port=80,
                                         ephemeral="false"))
                assert status == 200, text
            path = "/nacos/v1/ns/instance/list?serviceName=bench"
            modes = [("auth off", path, None)] if not auth else [
                ("auth on, token", path, header),
                ("auth on, username+password", path + "&username=nacos&password=bench-pw", None)]
            for name, p, h in modes:
                wrk(port, p, 1, h)  # warm-up (and the password's one bcrypt)
                before = cpu_seconds(proc.pid)
                rate, total, p50, p99, bad = wrk(port, p, seconds, h)
                cpu_us = (cpu_seconds(proc.pid) - before) / total * 1e6
                rows.append((name, rate, p50, p99, cpu_us, bad))
            if auth:
                # What a password guesser pays per guess: a wrong password is never remembered.
                n = 20
                before = cpu_seconds(proc.pid)
                start_time = time.perf_counter()
                for i in range(n):
                    assert call(port, "POST", "/nacos/v1/auth/users/login",
                                {"username": "nacos", "password": f"guess-{i}"})[0] == 403
                login_ms = (time.perf_counter() - start_time) / n * 1000
                login_cpu_ms = (cpu_seconds(proc.pid) - before) / n * 1000
        finally:
            proc.terminate()
            proc.wait()
    print(f"{'mode':30} {'req/s':>9} {'p50':>9} {'p99':>9} {'CPU us/req':>11} {'non-2xx':>8}")
    for name, rate, p50, p99, cpu_us, bad in rows:
        print(f"{name:30} {rate:9.0f} {p50:>9} {p99:>9} {cpu_us:11.1f} {bad:8d}")
    print(f"failed login (bcrypt cost 10): {login_ms:.1f} ms each, {login_cpu_ms:.1f} ms of dnsd CPU")


if __name__ == "__main__":
    main()

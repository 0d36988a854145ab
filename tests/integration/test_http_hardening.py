"""The probe's HTTP defects against a real dnsd: slowloris headers, short bodies, idle
connection floods, request smuggling with conflicting framing, HTTP/1.1 without Host, wrong
methods, and garbage names. Attackers connect from other loopback addresses (127.0.0.2-5)
than the normal client (127.0.0.1), as they would from other hosts."""
import json
import socket
import threading
import time
import unittest

from harness import SharedDnsdTest, wait_until

CONFIG = """
[http]
header_timeout_ms = 1500
body_timeout_ms = 1500
idle_timeout_ms = 2500
max_connections_per_client = 50
"""


def metric(d, name):
    _, text = d.curl("GET", "/metrics")
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.split()[-1])
            found = True
    return total if found else None


class HttpHardeningTest(SharedDnsdTest):
    dnsd_config = CONFIG

    def connect(self, source="127.0.0.1"):
        s = socket.create_connection(("127.0.0.1", self.dnsd.port), timeout=10,
                                     source_address=(source, 0))
        return s

    def read_until_closed(self, s, timeout=10):
        """Everything the server sends until it closes; None if it never closes in time."""
        s.settimeout(timeout)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk
        except socket.timeout:
            return None
        except ConnectionResetError:
            return data

    def exchange(self, raw, source="127.0.0.1"):
        s = self.connect(source)
        s.sendall(raw)
        data = self.read_until_closed(s)
        s.close()
        return data

    def register(self, name, ip):
        return self.dnsd.curl("POST", "/nacos/v1/ns/instance",
                              {"serviceName": name, "ip": ip, "port": 80, "ephemeral": "false"})

    def hosts(self, name):
        status, text = self.dnsd.curl("GET", "/nacos/v1/ns/instance/list", {"serviceName": name})
        return json.loads(text)["hosts"] if status == 200 else []

    # Defect 5: slowloris headers never closed; the normal client must keep working meanwhile.
    def test_slowloris_is_cut_off_while_a_normal_client_keeps_registering(self):
        before = metric(self.dnsd, "dnsd_api_http_timeouts_total") or 0
        attackers = []
        for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
            for _ in range(40):
                s = self.connect(source)
                s.sendall(b"POST /nacos/v1/ns/instance HTTP/1.1\r\nHo")
                attackers.append(s)
        stop = threading.Event()

        def drip():
            while not stop.is_set():
                for s in attackers:
                    try:
                        s.send(b"s")
                    except OSError:
                        pass
                stop.wait(0.4)

        dripper = threading.Thread(target=drip)
        dripper.start()
        try:
            started = time.time()
            for i in range(40):
                status, body = self.register("steady", f"10.55.0.{i + 1}")
                self.assertEqual((status, body), (200, "ok"))
            self.assertLess(time.time() - started, 20)
            answers = [self.read_until_closed(s, timeout=10) for s in attackers]
        finally:
            stop.set()
            dripper.join()
            for s in attackers:
                s.close()
        self.assertTrue(all(a is not None for a in answers), "a slow client was never closed")
        self.assertTrue(all(a.startswith(b"HTTP/1.1 408") for a in answers if a),
                        [a[:40] for a in answers if a][:3])
        self.assertEqual(len(self.hosts("steady")), 40)
        self.assertGreaterEqual(metric(self.dnsd, "dnsd_api_http_timeouts_total") - before, 160)

    # Defect 5: a body shorter than its Content-Length used to wait for ever.
    def test_short_body_gets_408_and_close(self):
        started = time.time()
        data = self.exchange(b"POST /nacos/v1/cs/configs HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: application/x-www-form-urlencoded\r\n"
                             b"Content-Length: 100\r\n\r\ndataId=a&gr")
        self.assertIsNotNone(data, "the connection was never closed")
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:60])
        self.assertLess(time.time() - started, 8)

    # Defect 5: idle connections from one client took every descriptor.
    def test_idle_connections_are_capped_per_client_and_closed(self):
        held = [self.connect("127.0.0.6") for _ in range(80)]
        try:
            refused = 0
            for s in held:
                s.settimeout(0.05)
                try:
                    data = s.recv(4096)
                    if data.startswith(b"HTTP/1.1 429"):
                        refused += 1
                except (socket.timeout, ConnectionResetError):
                    pass
            wait_until(lambda: (metric(self.dnsd, "dnsd_api_http_refused_connections_total") or 0) >= 30)
            self.assertGreaterEqual(metric(self.dnsd, "dnsd_api_http_refused_connections_total"), 30)
            # Another client is served meanwhile.
            self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/ns/operator/metrics")[0], 200)
            # Idle connections go away after the idle timeout.
            closed = sum(1 for s in held if self.read_until_closed(s, timeout=8) is not None)
            self.assertEqual(closed, 80)
        finally:
            for s in held:
                s.close()

    # Defect 7: two Content-Length values; the rest of the body ran as a second request.
    def test_conflicting_framing_is_refused_not_smuggled(self):
        smuggled = (b"POST /nacos/v1/ns/instance?serviceName=smuggled&ip=10.66.0.1&port=1"
                    b"&ephemeral=false HTTP/1.1\r\nHost: x\r\n\r\n")
        for framing in (b"Content-Length: 0\r\nContent-Length: %d\r\n" % len(smuggled),
                        b"Content-Length: %d\r\nContent-Length: 0\r\n" % len(smuggled),
                        b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
                        b"Content-Length: 0, %d\r\n" % len(smuggled),
                        b"Transfer-Encoding: gzip, chunked, identity\r\n"):
            data = self.exchange(b"POST /nacos/v1/ns/instance?serviceName=front&ip=10.66.0.2&port=1"
                                 b"&ephemeral=false HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n" + smuggled)
            self.assertIsNotNone(data)
            self.assertRegex(data[:12], rb"HTTP/1.1 (400|501)", (framing, data[:80]))
            self.assertEqual(data.count(b"HTTP/1.1"), 1, "one answer, then the connection closes")
        self.assertEqual(self.hosts("smuggled"), [])
        self.assertEqual(self.hosts("front"), [])

    def test_chunked_body_and_pipelining_work(self):
        body = b"serviceName=chunky&ip=10.67.0.1&port=1&ephemeral=false"
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        second = b"GET /nacos/v1/ns/instance/list?serviceName=chunky HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        data = self.exchange(b"POST /nacos/v1/ns/instance HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: application/x-www-form-urlencoded\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n" + chunked + second)
        self.assertIsNotNone(data)
        self.assertEqual(data.count(b"HTTP/1.1 200"), 2, data)
        self.assertIn(b"10.67.0.1", data)

    def test_deep_pipelining_is_answered_in_order_without_exhausting_the_server(self):
        s = self.connect("127.0.0.7")
        try:
            request = b"GET /nacos/v1/console/health/liveness HTTP/1.1\r\nHost: x\r\n\r\n"
            s.sendall(request * 5000)
            s.settimeout(10)
            data = b""
            while data.count(b"HTTP/1.1 200") < 5000:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
            self.assertEqual(data.count(b"HTTP/1.1 200"), 5000)
        finally:
            s.close()
        self.assertIsNone(self.dnsd.proc.poll())

    # Defect 8: HTTP/1.1 without Host, POST /metrics.
    def test_host_is_required_and_methods_are_checked(self):
        data = self.exchange(b"GET /nacos/v1/ns/operator/metrics HTTP/1.1\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:80])
        data = self.exchange(b"GET /nacos/v1/ns/operator/metrics HTTP/1.0\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.0 200"), data[:80])
        status, _ = self.dnsd.curl("POST", "/metrics", body="x=1")
        self.assertEqual(status, 405)
        data = self.exchange(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        self.assertIn(b"\r\nAllow: GET, HEAD\r\n", data)
        data = self.exchange(b"BREW /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 501"), data[:80])
        data = self.exchange(b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 505"), data[:80])

    # Defect 8: names with NUL, newline, malformed UTF-8; huge metadata and cluster names.
    def test_garbage_names_are_refused_and_listings_stay_valid_json(self):
        d = self.dnsd
        cases = [
            {"serviceName": "bad\x00name"},
            {"serviceName": "bad\nname"},
            {"serviceName": b"bad\xffname".decode("latin-1")},
            {"serviceName": "fine", "metadata": json.dumps({"k": "v" * (1 << 20)})},
            {"serviceName": "fine", "clusterName": "c" * 10000},
        ]
        for case in cases:
            params = {"ip": "10.68.0.1", "port": 80, "ephemeral": "false", **case}
            if case["serviceName"].startswith("bad\xff") or "\xff" in case["serviceName"]:
                # Send the raw byte 0xFF, not its UTF-8 encoding.
                status, body = d.curl("POST", "/nacos/v1/ns/instance?serviceName=bad%FFname"
                                      "&ip=10.68.0.1&port=80&ephemeral=false")
            else:
                status, body = d.curl("POST", "/nacos/v1/ns/instance", body=params)
            self.assertEqual(status, 400, (list(case), body))
        listing = d.json("GET", "/nacos/v2/ns/service/list", {"pageSize": 500})
        self.assertFalse([n for n in listing["data"]["services"] if n.startswith("bad")])
        self.assertEqual(self.hosts("fine"), [])
        # Configs may hold any bytes; their JSON views must still parse.
        status, _ = d.curl("POST", "/nacos/v1/cs/configs?dataId=bytes&group=G&appName=a%FF%00b&content=x%FFy")
        self.assertEqual(status, 200)
        status, text = d.curl("GET", "/nacos/v1/cs/configs",
                              {"search": "blur", "dataId": "bytes", "group": "G", "pageNo": 1, "pageSize": 10})
        self.assertEqual(status, 200)
        found = json.loads(text)
        self.assertEqual(found["totalCount"], 1, text)


if __name__ == "__main__":
    unittest.main()

"""Server health checks of persistent instances against real targets: a TCP listener and an
HTTP server started and stopped by the test, seen through curl (the HTTP lists and the instance
JSON) and dig (the DNS answers), with the cluster API that chooses the check."""
import json
import subprocess
import time
import unittest

from check_targets import HttpTarget, TcpTarget
from harness import DnsdProcess, wait_until

ZONE = "nacos.internal."
# Checks every 200 ms, two results in a row flip the health: a flip within about half a second.
CONFIG = """[naming]
health_check_interval_ms = 200
health_check_timeout_ms = 500
health_check_times = 2
"""


def dig_a(dns_port, name):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(dns_port), "+short", "+tries=1", "+time=2",
                          "A", name], capture_output=True, text=True, timeout=10)
    return sorted(line for line in out.stdout.split() if line)


class HealthCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dnsd = DnsdProcess(config_text=CONFIG, health_check=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.dnsd.cleanup()

    def register(self, service, ip, port, cluster="DEFAULT"):
        status, body = self.dnsd.curl("POST", "/nacos/v1/ns/instance",
                                      {"serviceName": service, "ip": ip, "port": port,
                                       "clusterName": cluster, "ephemeral": "false"})
        self.assertEqual((status, body), (200, "ok"))

    def hosts(self, service):
        return {(h["ip"], h["port"]): h for h in
                self.dnsd.json("GET", "/nacos/v1/ns/instance/list", {"serviceName": service})["hosts"]}

    def health(self, service, ip, port):
        host = self.hosts(service).get((ip, port))
        return host and (host["healthy"], host.get("healthReason"))

    def set_cluster(self, service, cluster, checker, **extra):
        return self.dnsd.curl("PUT", "/nacos/v1/ns/cluster",
                              {"serviceName": service, "clusterName": cluster,
                               "healthChecker": json.dumps(checker), **extra})

    def metric(self, series):
        status, text = self.dnsd.curl("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return None

    def test_tcp_check_follows_the_listener_in_lists_and_dns(self):
        up = TcpTarget("127.0.0.11")
        down = TcpTarget("127.0.0.12")
        self.addCleanup(up.stop)
        self.register("tcp-db", up.ip, up.port)
        self.register("tcp-db", down.ip, down.port)
        name = "tcp-db.svc." + ZONE
        self.assertTrue(wait_until(lambda: down.accepted >= 2), "the server checks the listener")
        self.assertEqual(dig_a(self.dnsd.dns_port, name), ["127.0.0.11", "127.0.0.12"])
        self.assertEqual(self.health("tcp-db", down.ip, down.port), (True, "registered"))

        down.stop()
        self.assertTrue(wait_until(lambda: not self.health("tcp-db", down.ip, down.port)[0]))
        self.assertEqual(self.health("tcp-db", down.ip, down.port),
                         (False, "health check failed: connection refused"))
        self.assertEqual(dig_a(self.dnsd.dns_port, name), ["127.0.0.11"], "left out of DNS")
        healthy_only = self.dnsd.json("GET", "/nacos/v1/ns/instance/list",
                                      {"serviceName": "tcp-db", "healthyOnly": "true"})["hosts"]
        self.assertEqual([h["ip"] for h in healthy_only], ["127.0.0.11"])

        back = TcpTarget(down.ip, down.port)
        self.addCleanup(back.stop)
        self.assertTrue(wait_until(lambda: self.health("tcp-db", down.ip, down.port)[0]))
        self.assertEqual(self.health("tcp-db", down.ip, down.port), (True, "health check passed"))
        self.assertEqual(dig_a(self.dnsd.dns_port, name), ["127.0.0.11", "127.0.0.12"])
        self.assertGreaterEqual(self.metric('dnsd_health_check_flips_total{to="unhealthy"}'), 1)
        self.assertGreaterEqual(self.metric('dnsd_health_check_flips_total{to="healthy"}'), 1)
        self.assertGreater(self.metric('dnsd_health_checks_total{type="tcp",result="failed"}'), 0)

    def test_http_check_expecting_200_marks_503_unhealthy(self):
        web = HttpTarget("127.0.0.13")
        self.addCleanup(web.stop)
        spare = TcpTarget("127.0.0.14")
        self.addCleanup(spare.stop)
        self.register("web", web.server.server_address[0], web.port, cluster="WEB")
        self.register("web", spare.ip, spare.port, cluster="SPARE")
        status, body = self.set_cluster("web", "WEB", {"type": "HTTP", "path": "/healthz",
                                                       "headers": "X-Probe|dnsd",
                                                       "expectedResponseCode": 200})
        self.assertEqual((status, body), (200, "ok"))
        self.assertTrue(wait_until(lambda: "/healthz" in web.paths))
        self.assertEqual(web.headers[-1].get("X-Probe"), "dnsd")
        self.assertEqual(self.health("web", web.server.server_address[0], web.port)[0], True)

        web.status = 503
        self.assertTrue(wait_until(lambda: not self.health("web", "127.0.0.13", web.port)[0]))
        self.assertEqual(self.health("web", "127.0.0.13", web.port)[1],
                         "health check failed: unexpected HTTP status")
        self.assertEqual(dig_a(self.dnsd.dns_port, "web.svc." + ZONE), ["127.0.0.14"])
        web.status = 200
        self.assertTrue(wait_until(lambda: self.health("web", "127.0.0.13", web.port)[0]))
        self.assertEqual(dig_a(self.dnsd.dns_port, "web.svc." + ZONE), ["127.0.0.13", "127.0.0.14"])

        # The service shows its clusters' checkers, as Nacos's service API does.
        v1 = self.dnsd.json("GET", "/nacos/v1/ns/service", {"serviceName": "web"})
        clusters = {c["name"]: c for c in v1["clusters"]}
        self.assertEqual(clusters["WEB"]["healthChecker"],
                         {"type": "HTTP", "path": "/healthz", "headers": "X-Probe|dnsd",
                          "expectedResponseCode": 200})
        self.assertEqual(clusters["SPARE"]["healthChecker"], {"type": "TCP"})
        v2 = self.dnsd.json("GET", "/nacos/v2/ns/service", {"serviceName": "web"})["data"]
        self.assertEqual(v2["clusterMap"]["WEB"]["healthChecker"]["type"], "HTTP")
        self.assertTrue(v2["clusterMap"]["SPARE"]["useIPPort4Check"])

    def test_check_port_and_manual_health_for_none(self):
        check = TcpTarget("127.0.0.15")
        self.addCleanup(check.stop)
        # The instance's own port has no listener; the cluster is checked on checkPort.
        self.register("side", "127.0.0.15", 1, cluster="SIDE")
        status, _ = self.set_cluster("side", "SIDE", {"type": "TCP"}, checkPort=check.port,
                                     useInstancePort4Check="false")
        self.assertEqual(status, 200)
        self.assertTrue(wait_until(lambda: check.accepted >= 2))
        self.assertEqual(self.health("side", "127.0.0.15", 1)[0], True)

        # While the server checks, the health API refuses (Nacos: 21011 in v2).
        params = {"serviceName": "side", "ip": "127.0.0.15", "port": 1, "clusterName": "SIDE",
                  "healthy": "false"}
        status, body = self.dnsd.curl("PUT", "/nacos/v1/ns/health/instance", params)
        self.assertEqual(status, 400)
        self.assertIn("health check is still working", body)
        status, body = self.dnsd.curl("PUT", "/nacos/v2/ns/health/instance", params)
        self.assertEqual(json.loads(body)["code"], 21011)

        # NONE: health is the health API's, and DNS follows at once.
        # (A second, healthy instance first: with none healthy, the protect threshold would
        # answer every instance as healthy.)
        status, _ = self.set_cluster("side", "SIDE", {"type": "NONE"})
        self.assertEqual(status, 200)
        self.register("side", "127.0.0.16", 2, cluster="SIDE")
        accepted = check.accepted
        status, body = self.dnsd.curl("PUT", "/nacos/v1/ns/health/instance", params)
        self.assertEqual((status, body), (200, "ok"))
        self.assertEqual(self.health("side", "127.0.0.15", 1), (False, "set through the health API"))
        self.assertEqual(dig_a(self.dnsd.dns_port, "side.svc." + ZONE), ["127.0.0.16"])
        time.sleep(0.6)
        self.assertLessEqual(check.accepted - accepted, 1, "no checks of a NONE cluster")

    def test_bad_cluster_requests_are_refused(self):
        self.register("strict", "127.0.0.17", 1, cluster="DEFAULT")
        cases = [({"type": "MYSQL"}, {}, "not supported"),
                 ({"type": "UDP"}, {}, "unknown"),
                 ({"type": "HTTP", "path": "no-slash"}, {}, "path"),
                 ({"type": "HTTP", "expectedResponseCode": 42}, {}, "expectedResponseCode"),
                 ({"type": "HTTP", "headers": "only-a-name"}, {}, "headers"),
                 ({"type": "TCP"}, {"checkPort": "70000"}, "checkPort")]
        for checker, extra, message in cases:
            status, body = self.set_cluster("strict", "DEFAULT", checker, **extra)
            self.assertEqual(status, 400, (checker, body))
            self.assertIn(message, body)
        status, body = self.dnsd.curl("PUT", "/nacos/v1/ns/cluster",
                                      {"serviceName": "strict", "clusterName": "DEFAULT",
                                       "healthChecker": "{not json"})
        self.assertEqual(status, 400)
        status, body = self.set_cluster("no-such-service", "DEFAULT", {"type": "TCP"})
        self.assertIn(status, (400, 404))
        status, body = self.dnsd.curl("PUT", "/nacos/v1/ns/cluster", {"serviceName": "strict"})
        self.assertEqual(status, 400)
        self.assertIn("clusterName", body)


class HealthCheckDurabilityTest(unittest.TestCase):
    def test_cluster_definitions_and_health_survive_kill_9(self):
        d = DnsdProcess(config_text=CONFIG, health_check=True).start()
        try:
            d.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "keep", "ip": "127.0.0.18",
                                                     "port": 1, "ephemeral": "false"})
            status, _ = d.curl("PUT", "/nacos/v1/ns/cluster",
                               {"serviceName": "keep", "clusterName": "DEFAULT",
                                "healthChecker": json.dumps({"type": "HTTP", "path": "/up"})})
            self.assertEqual(status, 200)
            # Nothing listens: the HTTP check fails and the instance turns unhealthy. (Read with
            # GET /instance: a list would apply the protect threshold to a lone unhealthy host.)
            instance = {"serviceName": "keep", "ip": "127.0.0.18", "port": 1}
            self.assertTrue(wait_until(
                lambda: not d.json("GET", "/nacos/v1/ns/instance", instance)["healthy"]))
            d.kill9()
            d.start()
            v1 = d.json("GET", "/nacos/v1/ns/service", {"serviceName": "keep"})
            self.assertEqual(v1["clusters"][0]["healthChecker"]["path"], "/up")
            host = d.json("GET", "/nacos/v1/ns/instance", instance)
            self.assertEqual((host["healthy"], host["healthReason"]),
                             (False, "health check failed: connection refused"))
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

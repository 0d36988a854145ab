"""Health checks in a 3-node cluster of real processes: each service is checked by one member
(the Distro ring's owner of its name), the flips are written through Raft and answered by every
member (HTTP lists and DNS), and when the checking member is killed another one takes over.

Runs in a private network namespace like the other cluster tests (cluster_harness)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_targets import TcpTarget  # noqa: E402
from cluster_harness import IPS, Cluster, call, enter_private_network_namespace  # noqa: E402
from harness import wait_until  # noqa: E402

if __name__ == "__main__":
    enter_private_network_namespace(__file__)

import dns.message  # noqa: E402
import dns.query  # noqa: E402

CONFIG = """
[cluster]
snapshot_every = 1000
[naming]
health_check_interval_ms = 200
health_check_timeout_ms = 500
health_check_times = 2
"""
ZONE = "nacos.internal"
SERVICES = [f"db-{n}" for n in range(8)]


class ClusterHealthCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(config_text=CONFIG, health_check=True)
        cls.cluster.start_all()
        cls.cluster.leader()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def targets(self, nodes):
        return {ip: self.cluster.metric(ip, "dnsd_health_check_targets") for ip in nodes}

    def healthy(self, node, service, ip):
        status, body = call(node, "GET", "/nacos/v1/ns/instance/list", {"serviceName": service})
        if status != 200:
            return None
        hosts = [h for h in json.loads(body)["hosts"] if h["ip"] == ip]
        return hosts[0]["healthy"] if hosts else None

    def dns_addresses(self, node, service):
        query = dns.message.make_query(f"{service}.svc.{ZONE}", "A")
        answer = dns.query.udp(query, node, port=self.cluster.nodes[node].dns_port, timeout=2)
        return sorted(r.address for rrset in answer.answer for r in rrset)

    def everywhere(self, nodes, predicate):
        return all(predicate(node, service) for node in nodes for service in SERVICES)

    def test_one_member_checks_each_service_and_every_member_answers_the_result(self):
        flaky = TcpTarget("127.0.0.20")
        steady = TcpTarget("127.0.0.21")
        self.addCleanup(steady.stop)
        for n, service in enumerate(SERVICES):
            for target in (flaky, steady):
                status, body = call(IPS[n % 3], "POST", "/nacos/v1/ns/instance",
                                    {"serviceName": service, "ip": target.ip, "port": target.port,
                                     "ephemeral": "false"})
                self.assertEqual((status, body), (200, "ok"))
        # Every instance is checked, and by one member only.
        self.assertTrue(wait_until(lambda: sum(self.targets(IPS).values()) == 2 * len(SERVICES),
                                   timeout=20), self.targets(IPS))
        checkers = [ip for ip, n in self.targets(IPS).items() if n > 0]
        print(f"\nchecking members: {self.targets(IPS)}")

        flaky.stop()
        self.assertTrue(wait_until(lambda: self.everywhere(
            IPS, lambda node, s: self.healthy(node, s, "127.0.0.20") is False), timeout=20))
        self.assertTrue(wait_until(lambda: self.everywhere(
            IPS, lambda node, s: self.dns_addresses(node, s) == ["127.0.0.21"]), timeout=10))

        # The member checking the most services dies: the others take its services over.
        victim = max(checkers, key=lambda ip: self.targets(IPS)[ip])
        self.cluster.nodes[victim].kill9()
        survivors = [ip for ip in IPS if ip != victim]
        self.assertTrue(wait_until(
            lambda: sum(n or 0 for n in self.targets(survivors).values()) == 2 * len(SERVICES),
            timeout=30), self.targets(survivors))
        back = TcpTarget("127.0.0.20", flaky.port)
        self.addCleanup(back.stop)
        self.assertTrue(wait_until(lambda: self.everywhere(
            survivors, lambda node, s: self.healthy(node, s, "127.0.0.20") is True), timeout=30))
        self.assertTrue(wait_until(lambda: self.everywhere(
            survivors, lambda node, s: self.dns_addresses(node, s) == ["127.0.0.20", "127.0.0.21"]),
            timeout=10))

        # The restarted member catches up through Raft and answers the same.
        self.cluster.start(victim)
        self.assertTrue(wait_until(lambda: self.everywhere(
            [victim], lambda node, s: self.healthy(node, s, "127.0.0.20") is True), timeout=30))
        self.assertTrue(wait_until(lambda: sum(self.targets(IPS).values()) == 2 * len(SERVICES),
                                   timeout=30), self.targets(IPS))


if __name__ == "__main__":
    unittest.main(verbosity=2)

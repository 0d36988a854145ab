"""`dnsd agent` beside a real 3-node dnsd cluster (issue 12's scenario): instances registered
through the nacos npm SDK answer in A and SRV through the agent (dig), changes arrive by push,
glibc resolves through the agent set as the resolv.conf nameserver (getent hosts/ahosts, for a
service and for an outside name via the forwarder), the agent fails over when the server it is
connected to is killed and stays current, and when every server is gone it keeps answering what
it knows with EDE 3, never NXDOMAIN.

Runs in a private network namespace (as the cluster tests do) so the agent can own port 53 on
its loopback; getent runs in a private mount namespace inside it with its own resolv.conf.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import (  # noqa: E402
    GRPC_PORT, HTTP_PORT, IPS, JS_DIR, Cluster, enter_private_network_namespace, getent)
from harness import wait_until  # noqa: E402

if __name__ == "__main__":
    enter_private_network_namespace(__file__)

import dns.edns  # noqa: E402
import dns.rcode  # noqa: E402

from test_agent import Agent, ede  # noqa: E402
from test_cluster_distro import LONG_LIVED, register  # noqa: E402
from upstream import UPSTREAM_ZONE, NsdUpstream  # noqa: E402

SERVICE = "shop.svc.nacos.internal"


def dig(*args):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", "53", "+time=2", "+tries=1"] + list(args),
                         capture_output=True, text=True, timeout=20)
    return out.stdout


def dig_short(name, rdtype="A"):
    return sorted(dig("+short", name, rdtype).split("\n")[:-1])


class AgentWithClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()
        cls.cluster.start_all()
        cls.cluster.leader()
        cls.upstream = NsdUpstream("upstream.test", UPSTREAM_ZONE).start()
        servers = [f"{ip}:{GRPC_PORT}" for ip in IPS]
        cls.agent = Agent(servers, None,
                          f'[forward]\nupstreams = ["127.0.0.1:{cls.upstream.port}"]\n'
                          "[agent]\nfresh_hysteresis_ms = 300\n", dns_port=53)
        server_list = ",".join(f"{ip}:{HTTP_PORT}" for ip in IPS)
        cls.sdk = subprocess.Popen(["node", os.path.join(JS_DIR, "register_instances.js"), server_list,
                                    "shop", "10.60.1.", "2"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)

    @classmethod
    def tearDownClass(cls):
        cls.sdk.stdin.close()
        cls.sdk.wait(timeout=20)
        cls.agent.stop()
        cls.upstream.cleanup()
        cls.cluster.cleanup()

    def connected_server(self):
        code, body = self.agent.http("/status")
        return json.loads(body)["server"] if code == 200 else ""

    def test_1_sdk_registrations_answer_through_the_agent_and_survive_failover(self):
        self.assertEqual(json.loads(self.sdk.stdout.readline())["registered"], ["10.60.1.1", "10.60.1.2"])
        self.assertTrue(wait_until(lambda: dig_short(SERVICE) == ["10.60.1.1", "10.60.1.2"], timeout=15),
                        dig_short(SERVICE))
        srv = dig_short(SERVICE, "SRV")
        self.assertEqual(len(srv), 2, srv)
        self.assertTrue(all(r.startswith("10 ") and " 8080 " in r for r in srv), srv)

        # A registration on another member reaches the agent through a push.
        self.assertEqual(register(IPS[2], "shop", "10.60.2.1")[0], 200)
        self.assertTrue(wait_until(lambda: "10.60.2.1" in dig_short(SERVICE)), dig_short(SERVICE))

        # glibc through the agent: the service, and an outside name via the forwarder.
        out = getent(f"hosts {SERVICE}", f"ahosts {SERVICE}", "hosts www.upstream.test")
        hosts = out.split("== ")[1]
        self.assertRegex(hosts, r"10\.60\.(1\.[12]|2\.1) +" + SERVICE.replace(".", r"\."), out)
        ahosts = out.split("== ")[2]
        for ip in ("10.60.1.1", "10.60.1.2", "10.60.2.1"):
            self.assertIn(ip, ahosts, out)
        self.assertRegex(out.split("== ")[3], r"(192\.0\.2\.80|2001:db8::80) +www\.upstream\.test", out)

        # Kill the server the agent is connected to: it fails over and stays current.
        victim = self.connected_server().split(":")[0]
        self.assertIn(victim, IPS)
        self.cluster.nodes[victim].kill9()
        survivor = next(ip for ip in IPS if ip != victim)
        self.assertTrue(wait_until(lambda: self.connected_server().split(":")[0] not in ("", victim),
                                   timeout=30), self.connected_server())
        self.assertEqual(register(survivor, "shop", "10.60.3.1", metadata=LONG_LIVED)[0], 200)
        self.assertTrue(wait_until(lambda: "10.60.3.1" in dig_short(SERVICE), timeout=20), dig_short(SERVICE))
        self.assertTrue(wait_until(lambda: ede(self.agent.reply(SERVICE)) == [], timeout=10))
        self.assertEqual(self.agent.reply(SERVICE).rcode(), dns.rcode.NOERROR)

    def test_2_with_every_server_gone_known_services_answer_stale_never_nxdomain(self):
        before = dig_short(SERVICE)
        self.assertIn("10.60.3.1", before)
        for ip in self.cluster.alive():
            self.cluster.nodes[ip].kill9()
        self.assertTrue(wait_until(lambda: ede(self.agent.reply(SERVICE)) == [dns.edns.EDECode.STALE_ANSWER],
                                   timeout=20))
        for _ in range(5):
            reply = self.agent.reply(SERVICE)
            self.assertEqual(reply.rcode(), dns.rcode.NOERROR)
            self.assertEqual(ede(reply), [3])
        self.assertEqual(dig_short(SERVICE), before)
        self.assertIn("Stale Answer", dig(SERVICE, "A"))
        # A service never asked about cannot be fetched now: SERVFAIL, not NXDOMAIN.
        reply = self.agent.reply("never.svc.nacos.internal")
        self.assertEqual((reply.rcode(), ede(reply)), (dns.rcode.SERVFAIL, [22]))
        self.assertEqual(self.agent.http("/ready"), (200, "ready\n"), "stale data is still served")


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""Instances registered with a host name instead of an IP (Nacos accepts any host name in `ip`):
A/AAAA answer the addresses the names resolve to, SRV targets are the names themselves. The
names resolve through dnsd's own listener: one from a static zone file, one from a real upstream
(NSD) through the forwarder, where it is a CNAME chain. Clients: dig and glibc's getent (with
dnsd as the resolv.conf nameserver, so the test runs in a private network namespace with dnsd on
port 53, and getent in a private mount namespace with its own resolv.conf)."""
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import enter_private_network_namespace, getent  # noqa: E402
from harness import DnsdProcess, wait_until  # noqa: E402
from upstream import NsdUpstream  # noqa: E402

if __name__ == "__main__":
    enter_private_network_namespace(__file__)

ZONE = "nacos.internal."
NAME = "pg.svc." + ZONE


def static_zone(db1):
    # TTL 5: the shortest refresh dnsd's resolver uses, so a change shows within seconds.
    return f"""$ORIGIN example.test.
$TTL 5
@   IN SOA ns hostmaster 1 3600 600 86400 5
    IN NS  ns
ns  IN A   127.0.0.1
db1 IN A   {db1}
db2 IN A   127.0.0.32
db2 IN AAAA fd00::32
"""


UPSTREAM = """$ORIGIN ext.test.
$TTL 300
@ IN SOA ns.ext.test. admin.ext.test. 1 3600 600 86400 60
  IN NS ns.ext.test.
ns IN A 127.0.0.1
alias IN CNAME real.ext.test.
real IN A 127.0.0.36
"""


def dig(*args):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", "53", "+tries=1", "+time=2"] + list(args),
                         capture_output=True, text=True, timeout=10)
    return out.stdout


def dig_short(name, rdtype="A"):
    return sorted(line for line in dig("+short", name, rdtype).splitlines() if line)


class HostNameInstancesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = NsdUpstream("ext.test", UPSTREAM).start()
        cls.zones = tempfile.mkdtemp(prefix="dnsd-zones-")
        cls.zone_file = os.path.join(cls.zones, "example.test.zone")
        with open(cls.zone_file, "w") as f:
            f.write(static_zone("127.0.0.31"))
        cls.dnsd = DnsdProcess(extra_args=["--zones", cls.zones], config_text=(
            f'[forward]\nupstreams = ["127.0.0.1:{cls.upstream.port}"]\n'
            "[naming]\nheartbeat_timeout_ms = 600000\nip_delete_timeout_ms = 1200000\n"))
        cls.dnsd.dns_port = 53
        cls.dnsd.start()
        for host, port in [("db1.example.test", 5432), ("db2.example.test", 5433),
                           ("alias.ext.test", 5434), ("127.0.0.33", 5435)]:
            status, body = cls.dnsd.curl("POST", "/nacos/v1/ns/instance",
                                         {"serviceName": "pg", "ip": host, "port": port})
            assert (status, body) == (200, "ok"), body

    @classmethod
    def tearDownClass(cls):
        cls.dnsd.cleanup()
        cls.upstream.cleanup()

    def metric(self, name):
        _, text = self.dnsd.curl("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None

    def test_1_a_and_aaaa_answer_the_resolved_addresses(self):
        want = ["127.0.0.31", "127.0.0.32", "127.0.0.33", "127.0.0.36"]
        self.assertTrue(wait_until(lambda: dig_short(NAME) == want), dig_short(NAME))
        self.assertEqual(dig_short(NAME, "AAAA"), ["fd00::32"])
        self.assertEqual(self.metric("dnsd_dns_host_names"), 3)
        self.assertGreater(self.metric("dnsd_dns_host_lookups_total"), 0)

    def test_2_srv_targets_are_the_host_names(self):
        answer = dig("+noall", "+answer", "_pg._tcp.svc." + ZONE, "SRV")
        targets = sorted((line.split()[-2], line.split()[-1]) for line in answer.splitlines() if "SRV" in line)
        self.assertEqual(targets, [("5432", "db1.example.test."), ("5433", "db2.example.test."),
                                   ("5434", "alias.ext.test."), ("5435", "7f000021.addr." + ZONE)])
        # Only the .addr target gets glue: the host names belong to other zones.
        additional = dig("+noall", "+additional", "_pg._tcp.svc." + ZONE, "SRV")
        self.assertIn("7f000021.addr." + ZONE, additional)
        self.assertNotIn("db1.example.test", additional)

    def test_3_glibc_resolves_the_service(self):
        self.assertTrue(wait_until(lambda: len(dig_short(NAME)) == 4))
        # (ahosts, not ahostsv4: getaddrinfo's AI_ADDRCONFIG finds no IPv4 address besides
        # loopback in this namespace and answers nothing, for any name.)
        out = getent(f"ahosts {NAME.rstrip('.')}", "hosts db1.example.test")
        for address in ["127.0.0.31", "127.0.0.32", "127.0.0.33", "127.0.0.36"]:
            self.assertIn(address, out)
        self.assertNotIn("exit ", out)

    def test_4_a_changed_zone_is_followed(self):
        self.assertTrue(wait_until(lambda: "127.0.0.31" in dig_short(NAME)))
        with open(self.zone_file, "w") as f:
            f.write(static_zone("127.0.0.41"))
        self.dnsd.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "127.0.0.41" in dig_short(NAME), timeout=20), dig_short(NAME))
        self.assertNotIn("127.0.0.31", dig_short(NAME))

    def test_5_unknown_names_and_deregistration(self):
        status, _ = self.dnsd.curl("POST", "/nacos/v1/ns/instance",
                                   {"serviceName": "lonely", "ip": "missing.example.test", "port": 80})
        self.assertEqual(status, 200)
        self.assertTrue(wait_until(lambda: self.metric("dnsd_dns_host_lookups_total") > 0))
        # NXDOMAIN for the host: no address, the SRV record still names it.
        self.assertEqual(dig_short("lonely.svc." + ZONE), [])
        self.assertIn("NOERROR", dig("lonely.svc." + ZONE, "A"))
        self.assertEqual(dig_short("lonely.svc." + ZONE, "SRV"), ["10 100 80 missing.example.test."])
        before = self.metric("dnsd_dns_host_names")
        status, _ = self.dnsd.curl("DELETE", "/nacos/v1/ns/instance",
                                   {"serviceName": "lonely", "ip": "missing.example.test", "port": 80})
        self.assertEqual(status, 200)
        self.assertTrue(wait_until(lambda: self.metric("dnsd_dns_host_names") == before - 1))


if __name__ == "__main__":
    unittest.main(verbosity=2)

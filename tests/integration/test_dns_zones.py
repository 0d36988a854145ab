"""Static zone files (loaded with ldns at start and on SIGHUP) and the compatibility names."""
import os
import shutil
import signal
import tempfile
import unittest

import dns.flags
import dns.rcode
import dns.rdatatype

from dns_client import addresses, query
from harness import DnsdProcess, wait_until

REPO = os.path.join(os.path.dirname(__file__), "..", "..")


class StaticZonesTest(unittest.TestCase):
    def setUp(self):
        self.zones = tempfile.mkdtemp(prefix="dnsd-zones-")
        shutil.copy(os.path.join(REPO, "zones", "example.zone"), self.zones)
        self.dnsd = DnsdProcess(extra_args=["--zones", self.zones], config_text="[forward]\nenabled = false\n").start()
        self.port = self.dnsd.dns_port

    def tearDown(self):
        self.dnsd.cleanup()
        shutil.rmtree(self.zones, ignore_errors=True)

    def test_example_zone(self):
        www = query(self.port, "www.example.internal.")
        self.assertTrue(www.flags & dns.flags.AA)
        self.assertEqual(sorted(addresses(www)), ["192.0.2.10", "192.0.2.11"])
        self.assertEqual(www.answer[0].ttl, 300)
        cname = query(self.port, "docs.example.internal.")
        self.assertEqual(cname.answer[0].rdtype, dns.rdatatype.CNAME)
        # The chain is followed inside the zone (RFC 1034 4.3.2): the target's addresses follow.
        self.assertEqual(str(cname.answer[1].name), "www.example.internal.")
        self.assertEqual(sorted(addresses(cname)), ["192.0.2.10", "192.0.2.11"])
        self.assertEqual(cname.rcode(), dns.rcode.NOERROR)
        self.assertEqual(str(query(self.port, "docs.example.internal.", "AAAA").answer[1][0]), "2001:db8::10")
        nodata = query(self.port, "docs.example.internal.", "TXT")
        self.assertEqual([rrset.rdtype for rrset in nodata.answer], [dns.rdatatype.CNAME])
        self.assertEqual(nodata.authority[0].rdtype, dns.rdatatype.SOA, "NODATA at the target")
        self.assertEqual(addresses(query(self.port, "anything.apps.example.internal.")), ["192.0.2.50"])
        mx = query(self.port, "example.internal.", "MX")
        self.assertEqual(str(mx.answer[0][0].exchange), "mail.example.internal.")
        srv = query(self.port, "_http._tcp.example.internal.", "SRV")
        self.assertEqual(srv.answer[0][0].port, 8080)
        nx = query(self.port, "nope.example.internal.")
        self.assertEqual(nx.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(nx.authority[0].rdtype, dns.rdatatype.SOA)
        self.assertEqual(nx.authority[0].ttl, 60, "negative TTL = min(SOA TTL, MINIMUM)")
        ent = query(self.port, "branch.example.internal.")
        self.assertEqual((ent.rcode(), ent.answer), (dns.rcode.NOERROR, []), "empty non-terminal")
        nodata = query(self.port, "www.example.internal.", "TXT")
        self.assertEqual((nodata.rcode(), nodata.answer), (dns.rcode.NOERROR, []))
        # Not ours and forwarding is off: REFUSED.
        self.assertEqual(query(self.port, "example.com.").rcode(), dns.rcode.REFUSED)

    def test_cname_chains_dangling_targets_and_loops(self):
        with open(os.path.join(self.zones, "chain.zone"), "w") as f:
            f.write("$ORIGIN chain.test.\n$TTL 60\n@ IN SOA ns hm 1 1 1 1 30\n"
                    "a IN CNAME B\nb IN CNAME c.chain.test.\nc IN A 192.0.2.77\n"
                    "gone IN CNAME missing\nout IN CNAME www.elsewhere.example.\n"
                    "loop1 IN CNAME loop2\nloop2 IN CNAME loop1\n")
        self.dnsd.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: query(self.port, "c.chain.test.").answer))
        chain = query(self.port, "a.chain.test.")
        self.assertEqual([(str(r.name).lower(), r.rdtype) for r in chain.answer],
                         [("a.chain.test.", dns.rdatatype.CNAME), ("b.chain.test.", dns.rdatatype.CNAME),
                          ("c.chain.test.", dns.rdatatype.A)])
        self.assertEqual(addresses(chain), ["192.0.2.77"])
        gone = query(self.port, "gone.chain.test.")
        self.assertEqual(gone.rcode(), dns.rcode.NXDOMAIN, "RFC 6604: the rcode of the chain's end")
        self.assertEqual(gone.answer[0].rdtype, dns.rdatatype.CNAME)
        self.assertEqual(gone.authority[0].rdtype, dns.rdatatype.SOA)
        out = query(self.port, "out.chain.test.")
        self.assertEqual((out.rcode(), len(out.answer)), (dns.rcode.NOERROR, 1), "not our zone: left to the resolver")
        loop = query(self.port, "loop1.chain.test.")
        self.assertEqual(loop.rcode(), dns.rcode.NOERROR)
        self.assertLessEqual(len(loop.answer), 9)

    def test_sighup_reloads_and_a_bad_file_keeps_the_old_zones(self):
        extra = os.path.join(self.zones, "extra.zone")
        with open(extra, "w") as f:
            f.write("$ORIGIN extra.internal.\n$TTL 60\n@ IN SOA ns hm 1 1 1 1 1\nhost IN A 192.0.2.99\n")
        self.dnsd.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: addresses(query(self.port, "host.extra.internal.")) == ["192.0.2.99"]))
        # Break the example zone: it keeps serving its previous version; the error names file and line.
        with open(os.path.join(self.zones, "example.zone"), "a") as f:
            f.write("broken IN A not-an-address\n")
        with open(extra, "w") as f:
            f.write("$ORIGIN extra.internal.\n$TTL 60\n@ IN SOA ns hm 1 1 1 1 1\nhost IN A 192.0.2.100\n")
        self.dnsd.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: addresses(query(self.port, "host.extra.internal.")) == ["192.0.2.100"]))
        self.assertEqual(sorted(addresses(query(self.port, "www.example.internal."))), ["192.0.2.10", "192.0.2.11"])
        with open(self.dnsd.log_path) as f:
            log = f.read()
        self.assertRegex(log, r"example\.zone:\d+: ")


class CompatibilityNamesTest(unittest.TestCase):
    def test_bare_names_and_nacos_suffix(self):
        config = '[dns]\nbare_names = true\ncompat_suffix = "nacos."\n[forward]\nenabled = false\n'
        d = DnsdProcess(config_text=config).start()
        try:
            d.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "orders.shop.example", "ip": "10.0.0.1", "port": 80})
            d.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "cart", "groupName": "SHOP", "ip": "10.0.0.2", "port": 80})
            d.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "plain", "ip": "10.0.0.3", "port": 80})
            self.assertEqual(addresses(query(d.dns_port, "orders.shop.example.")), ["10.0.0.1"], "DNS-F bare name")
            self.assertEqual(query(d.dns_port, "other.shop.example.").rcode(), dns.rcode.REFUSED)
            self.assertEqual(addresses(query(d.dns_port, "plain.nacos.")), ["10.0.0.3"])
            self.assertEqual(addresses(query(d.dns_port, "cart.shop.nacos.")), ["10.0.0.2"])
            deep = query(d.dns_port, "a.b.c.nacos.")
            self.assertEqual(deep.rcode(), dns.rcode.NXDOMAIN)
            self.assertEqual(str(deep.authority[0].name), "nacos.")
            self.assertEqual(query(d.dns_port, "plain.nacos.", "TXT").authority[0].rdtype, dns.rdatatype.SOA)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

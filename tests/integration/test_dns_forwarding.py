"""Forwarding through a real upstream (NSD on loopback), the cache, failover, serve-stale,
the allow-list, and dnsd as the system resolver of a process (glibc in a private namespace)."""
import subprocess
import tempfile
import textwrap
import time
import unittest

import dns.edns
import dns.flags
import dns.rcode

from dns_client import addresses, query
from harness import DNSD, DnsdProcess, free_port
from upstream import UPSTREAM_ZONE, NsdUpstream


def metric(dnsd, name):
    _, text = dnsd.curl("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            if line.split(" ")[0] == name or line.startswith(name + "{"):
                return float(line.split()[-1])
    return 0.0


class DnsForwardingTest(unittest.TestCase):
    def setUp(self):
        self.upstream = NsdUpstream("upstream.test", UPSTREAM_ZONE).start()
        dead = free_port()
        config = textwrap.dedent(f"""
            [forward]
            upstreams = ["127.0.0.1:{self.upstream.port}"]
            timeout_ms = 300
            stale_max_s = 3600
            """)
        self.dnsd = DnsdProcess(config_text=config).start()
        self.port = self.dnsd.dns_port
        self.dead = dead

    def tearDown(self):
        self.dnsd.cleanup()
        self.upstream.cleanup()

    def test_forwards_and_caches(self):
        r = query(self.port, "WwW.Upstream.Test.")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(addresses(r), ["192.0.2.80"])
        self.assertEqual(str(r.question[0].name), "WwW.Upstream.Test.")
        self.assertTrue(r.flags & dns.flags.RA)
        self.assertFalse(r.flags & dns.flags.AA)
        sent = metric(self.dnsd, 'dnsd_forward_upstream_queries_total')
        again = query(self.port, "www.upstream.test.")
        self.assertEqual(addresses(again), ["192.0.2.80"])
        self.assertLessEqual(again.answer[0].ttl, 300)
        self.assertEqual(metric(self.dnsd, 'dnsd_forward_upstream_queries_total'), sent, "second answer came from the cache")
        self.assertGreaterEqual(metric(self.dnsd, "dnsd_forward_cache_hits_total"), 1)
        self.assertEqual(addresses(query(self.port, "www.upstream.test.", "AAAA")), ["2001:db8::80"])
        # Registry names are still ours.
        self.assertEqual(query(self.port, "nothing.svc.nacos.internal.").rcode(), dns.rcode.NXDOMAIN)

    def test_negative_answers_pass_through_with_soa(self):
        nx = query(self.port, "missing.upstream.test.")
        self.assertEqual(nx.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(nx.authority[0].rdtype, dns.rdatatype.SOA)
        nodata = query(self.port, "www.upstream.test.", "MX")
        self.assertEqual((nodata.rcode(), nodata.answer), (dns.rcode.NOERROR, []))
        self.assertIsNone(query(self.port, "www.upstream.test.", use_edns=None).opt)

    def test_large_answers_truncate_over_udp_and_complete_over_tcp(self):
        udp = query(self.port, "big.upstream.test.", "TXT")
        self.assertTrue(udp.flags & dns.flags.TC)
        tcp = query(self.port, "big.upstream.test.", "TXT", tcp=True)
        self.assertEqual(len(tcp.answer[0]), 80)

    def test_upstream_down_serves_stale_then_servfail(self):
        self.assertEqual(addresses(query(self.port, "brief.upstream.test.")), ["192.0.2.81"])
        self.upstream.stop()
        time.sleep(1.5)  # the TTL of 1 s has passed
        stale = query(self.port, "brief.upstream.test.")
        self.assertEqual(stale.rcode(), dns.rcode.NOERROR)
        self.assertEqual(addresses(stale), ["192.0.2.81"])
        self.assertEqual(stale.answer[0].ttl, 30)
        ede = [o for o in stale.options if o.otype == 15]
        self.assertTrue(ede and ede[0].to_wire()[:2] == b"\x00\x03", "EDE 3 Stale Answer")
        unknown = query(self.port, "never-seen.upstream.test.")
        self.assertEqual(unknown.rcode(), dns.rcode.SERVFAIL, "an outage is never NXDOMAIN")
        self.assertGreaterEqual(metric(self.dnsd, "dnsd_forward_stale_answers_total"), 1)


class FailoverAndAllowListTest(unittest.TestCase):
    def setUp(self):
        self.upstream = NsdUpstream("upstream.test", UPSTREAM_ZONE).start()

    def tearDown(self):
        self.upstream.cleanup()

    def test_failover_to_the_next_upstream(self):
        dead = free_port()
        config = f'[forward]\nupstreams = ["127.0.0.1:{dead}", "127.0.0.1:{self.upstream.port}"]\ntimeout_ms = 200\n'
        d = DnsdProcess(config_text=config).start()
        try:
            for name in ("www.upstream.test.", "ns.upstream.test."):
                self.assertEqual(query(d.dns_port, name).rcode(), dns.rcode.NOERROR)
            _, text = d.curl("GET", "/metrics")
            self.assertIn(f'dnsd_forward_upstream_failures_total{{upstream="127.0.0.1:{dead}"}}', text)
            failures = [l for l in text.splitlines()
                        if l.startswith(f'dnsd_forward_upstream_failures_total{{upstream="127.0.0.1:{dead}"}}')]
            self.assertGreaterEqual(float(failures[0].split()[-1]), 1)
        finally:
            d.cleanup()

    def test_clients_outside_the_allow_list_are_refused(self):
        config = f'[dns]\nforward_allow = ["10.0.0.0/8"]\n[forward]\nupstreams = ["127.0.0.1:{self.upstream.port}"]\n'
        d = DnsdProcess(config_text=config).start()
        try:
            self.assertEqual(query(d.dns_port, "www.upstream.test.").rcode(), dns.rcode.REFUSED)
            d.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "mine", "ip": "10.0.0.1", "port": 1})
            self.assertEqual(addresses(query(d.dns_port, "mine.svc.nacos.internal.")), ["10.0.0.1"])
        finally:
            d.cleanup()


class SystemResolverTest(unittest.TestCase):
    """dnsd as the resolver in /etc/resolv.conf of a process, in private network and mount
    namespaces so it can own port 53 on a loopback of its own."""

    def test_getent_resolves_a_service_and_an_outside_name(self):
        work = tempfile.mkdtemp(prefix="dnsd-ns-")
        script = textwrap.dedent(f"""
            set -e
            ip link set lo up
            cat > {work}/nsd.conf <<EOF
            server:
              ip-address: 127.0.0.1@5300
              zonesdir: {work}
              pidfile: {work}/nsd.pid
              database: ""
              xfrdfile: {work}/xfrd.state
              zonelistfile: {work}/zone.list
              username: ""
              verbosity: 0
            remote-control:
              control-enable: no
            zone:
              name: upstream.test
              zonefile: zone
            EOF
            cat > {work}/zone <<'EOF'
            {UPSTREAM_ZONE.replace(chr(10), chr(10) + "            ")}
            EOF
            nsd -d -c {work}/nsd.conf & NSD=$!
            printf '[forward]\\nupstreams = ["127.0.0.1:5300"]\\n' > {work}/dnsd.toml
            {DNSD} --config {work}/dnsd.toml --dns-port 53 --http-address 127.0.0.1 --http-port 8848 \\
                --data-dir {work}/data --log-level warn > {work}/ready 2>{work}/dnsd.log & DNSD=$!
            for i in $(seq 50); do grep -q ready {work}/ready 2>/dev/null && break; sleep 0.1; done
            for i in $(seq 50); do dig @127.0.0.1 -p 5300 +short +time=1 +tries=1 upstream.test SOA | grep -q . && break; sleep 0.1; done
            curl -s -X POST 'http://127.0.0.1:8848/nacos/v1/ns/instance?serviceName=orders&ip=10.20.30.40&port=80' >/dev/null
            echo 'nameserver 127.0.0.1' > {work}/resolv.conf
            mount --bind {work}/resolv.conf /etc/resolv.conf
            echo "SERVICE $(getent hosts orders.svc.nacos.internal)"
            echo "OUTSIDE $(getent hosts www.upstream.test)"
            kill $DNSD $NSD
            """)
        out = subprocess.run(["unshare", "--net", "--mount", "bash", "-c", script],
                             capture_output=True, text=True, timeout=60)
        self.assertIn("SERVICE 10.20.30.40", out.stdout, out.stdout + out.stderr)
        # glibc prefers the AAAA answer when there is one; either comes from the upstream zone.
        self.assertRegex(out.stdout, r"OUTSIDE (192\.0\.2\.80|2001:db8::80) +www\.upstream\.test")


if __name__ == "__main__":
    unittest.main()

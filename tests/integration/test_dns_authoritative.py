"""The registry zone over DNS: dig and dnspython against a real dnsd fed over HTTP.

Covers the RFC checklist of ../shared/reference/dns.md part B for authoritative answers."""
import collections
import json
import random
import socket
import struct
import subprocess
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from dns_client import addresses, header, query, raw_udp
from harness import DnsdProcess, SharedDnsdTest, wait_until

ZONE = "nacos.internal."


class DnsAuthoritativeTest(SharedDnsdTest):
    # The instances are registered once, with no heartbeats after: long timeouts keep them
    # healthy however long the suite takes on a loaded machine (with the defaults, 15 s).
    dnsd_config = "[naming]\nheartbeat_timeout_ms = 600000\nip_delete_timeout_ms = 1200000\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port = cls.dnsd.dns_port
        reg = cls.register
        for i in range(1, 4):
            reg("orders", f"10.0.0.{i}", 8080 + i, weight=i)
        reg("orders", "2001:db8::7", 9000)
        reg("big", None, None, many=60)
        reg("api.payments.example.com", "10.1.0.1", 443)
        reg("east-west", "10.2.0.1", 80, clusterName="east")
        reg("east-west", "10.2.0.2", 80, clusterName="west")
        reg("cart", "10.3.0.1", 80, groupName="SHOP_GROUP")
        reg("Dubbo:providers:Demo", "10.4.0.1", 20880)
        reg("disabled-only", "10.5.0.1", 80, enabled="false")
        reg("zero-weight", "10.6.0.1", 80, weight=0)

    @classmethod
    def register(cls, service, ip, port, many=0, **extra):
        if many:
            for i in range(many):
                cls.register(service, f"10.9.{i // 200}.{i % 200 + 1}", 7000 + i, **extra)
            return
        status, body = cls.dnsd.curl("POST", "/nacos/v1/ns/instance",
                                     {"serviceName": service, "ip": ip, "port": port, **extra})
        assert (status, body) == (200, "ok"), body

    def q(self, name, rdtype="A", **kw):
        return query(self.port, name, rdtype, **kw)

    # ---- answers
    def test_a_aaaa_and_srv_with_glue(self):
        r = self.q("orders.svc." + ZONE)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.flags & dns.flags.AA)
        self.assertFalse(r.flags & dns.flags.RA)
        self.assertEqual(sorted(addresses(r)), ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        self.assertEqual(r.answer[0].ttl, 5)
        self.assertEqual(addresses(self.q("orders.svc." + ZONE, "AAAA")), ["2001:db8::7"])
        srv = self.q("_http._tcp.orders.svc." + ZONE, "SRV")
        records = {(rd.port, rd.weight, rd.priority, str(rd.target)) for rd in srv.answer[0]}
        self.assertIn((8081, 100, 10, "0a000001.addr." + ZONE), records)
        self.assertIn((8083, 300, 10, "0a000003.addr." + ZONE), records)
        self.assertEqual(len(records), 4)
        glue = {str(rrset.name): [rd.address for rd in rrset] for rrset in srv.additional}
        self.assertEqual(glue["0a000002.addr." + ZONE], ["10.0.0.2"])
        self.assertEqual(glue["20010db8000000000000000000000007.addr." + ZONE], ["2001:db8::7"])
        # The glue names resolve on their own.
        self.assertEqual(addresses(self.q("0a000002.addr." + ZONE)), ["10.0.0.2"])
        self.assertEqual(self.q("0a000002.addr." + ZONE, "AAAA").answer, [])
        self.assertEqual(self.q("zz000002.addr." + ZONE).rcode(), dns.rcode.NXDOMAIN)
        # A/AAAA at an SRV owner: NODATA.
        nodata = self.q("_http._tcp.orders.svc." + ZONE, "A")
        self.assertEqual((nodata.rcode(), nodata.answer), (dns.rcode.NOERROR, []))
        # RFC 2782 style owner.
        self.assertEqual(len(self.q("_orders._tcp.svc." + ZONE, "SRV").answer[0]), 4)

    def test_srv_target_is_not_compressed(self):
        raw = dns.message.make_query("orders.svc." + ZONE, "SRV").to_wire()
        answer = raw_udp(self.port, raw)
        rr_start = answer.find(b"\xc0\x0c\x00\x21")  # owner pointer, type SRV
        self.assertGreater(rr_start, 0)
        target = answer[rr_start + 18:rr_start + 18 + 10]
        self.assertEqual(target[0], 8, "the target starts with a plain 8-byte label, not a pointer")

    def test_groups_clusters_namespaces_and_encoded_names(self):
        self.assertEqual(addresses(self.q("cart.svc.shop-group.grp." + ZONE)), ["10.3.0.1"])
        self.assertEqual(addresses(self.q("cart.svc.shop-group.grp.public.ns." + ZONE)), ["10.3.0.1"])
        self.assertEqual(self.q("cart.svc." + ZONE).rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(self.q("cart.svc.no-group.grp." + ZONE).rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(addresses(self.q("east-west.svc.east.cl." + ZONE)), ["10.2.0.1"])
        self.assertEqual(sorted(addresses(self.q("east-west.svc." + ZONE))), ["10.2.0.1", "10.2.0.2"])
        self.assertEqual(self.q("east-west.svc.north.cl." + ZONE).answer, [])
        # "Dubbo:providers:Demo" is not a host name: only its .enc form answers.
        import base64
        enc = base64.b32hexencode(b"Dubbo:providers:Demo").decode().rstrip("=").lower()
        self.assertEqual(addresses(self.q(f"{enc}.enc." + ZONE)), ["10.4.0.1"])

    def test_negative_answers_carry_the_soa(self):
        nx = self.q("nope.svc." + ZONE)
        self.assertEqual(nx.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(nx.authority[0].rdtype, dns.rdatatype.SOA)
        self.assertEqual(str(nx.authority[0].name), ZONE)
        self.assertEqual(nx.authority[0].ttl, 5)
        self.assertEqual(nx.authority[0][0].minimum, 5)
        for name, rdtype in [("orders.svc." + ZONE, "TXT"), ("orders.svc." + ZONE, "TYPE65280"),
                             ("example.com.svc." + ZONE, "A"), ("payments.example.com.svc." + ZONE, "A"),
                             ("svc." + ZONE, "A"), ("public.ns." + ZONE, "A"),
                             ("disabled-only.svc." + ZONE, "A"), ("zero-weight.svc." + ZONE, "A")]:
            with self.subTest(name=name, rdtype=rdtype):
                r = self.q(name, rdtype)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR, "NODATA, never NXDOMAIN (RFC 8020)")
                self.assertEqual(r.answer, [])
                self.assertEqual(r.authority[0].rdtype, dns.rdatatype.SOA)
        self.assertEqual(addresses(self.q("api.payments.example.com.svc." + ZONE)), ["10.1.0.1"])

    def test_apex(self):
        soa = self.q(ZONE, "SOA")
        self.assertEqual(soa.answer[0][0].mname.to_text(), "ns1." + ZONE)
        ns = self.q(ZONE, "NS")
        self.assertEqual(str(ns.answer[0][0].target), "ns1." + ZONE)
        self.assertEqual([rd.address for rd in ns.additional[0]], ["127.0.0.1"])
        self.assertEqual(self.q(ZONE, "A").answer, [])

    def test_soa_serial_follows_registry_changes(self):
        before = self.q(ZONE, "SOA").answer[0][0].serial
        self.register("serial-bump", "10.7.0.1", 1)
        self.assertGreater(self.q(ZONE, "SOA").answer[0][0].serial, before)

    # ---- protocol
    def test_question_case_is_echoed(self):
        name = "oRdErS.SvC.NaCoS.iNtErNaL."
        r = self.q(name)
        self.assertEqual(str(r.question[0].name), name)
        self.assertEqual(len(r.answer[0]), 3)
        tcp = self.q(name, tcp=True)
        self.assertEqual(str(tcp.question[0].name), name)

    def test_truncation_and_tcp_fallback(self):
        no_edns = self.q("big.svc." + ZONE, use_edns=None)
        self.assertTrue(no_edns.flags & dns.flags.TC, "60 A records do not fit in 512 bytes")
        self.assertEqual(no_edns.answer, [], "whole RRsets only")
        self.assertEqual(len(addresses(self.q("big.svc." + ZONE, payload=1232))), 60, "but fit in 1232")
        srv = self.q("big.svc." + ZONE, "SRV", payload=1232)
        self.assertTrue(srv.flags & dns.flags.TC)
        self.assertIsNotNone(srv.opt, "a truncated answer still carries the OPT")
        full = self.q("big.svc." + ZONE, "SRV", tcp=True)
        self.assertFalse(full.flags & dns.flags.TC)
        self.assertEqual(len(full.answer[0]), 60)
        self.assertEqual(sum(len(rrset) for rrset in full.additional), 60)
        # A small EDNS size below 512 counts as 512.
        self.assertTrue(self.q("big.svc." + ZONE, payload=100).flags & dns.flags.TC)

    def test_edns(self):
        r = self.q("orders.svc." + ZONE, use_edns=0, payload=4096)
        self.assertEqual(r.payload, 1232, "we advertise our own size")
        self.assertIsNone(self.q("orders.svc." + ZONE, use_edns=None).opt, "no OPT without EDNS")
        self.assertTrue(self.q("orders.svc." + ZONE, want_dnssec=True).ednsflags & dns.flags.DO)
        self.assertFalse(self.q("orders.svc." + ZONE).ednsflags & dns.flags.DO)
        bad = query(self.port, "orders.svc." + ZONE, use_edns=1)
        self.assertEqual(bad.rcode(), dns.rcode.BADVERS)
        self.assertEqual(bad.edns, 0)
        self.assertEqual(bad.answer, [])
        unknown = dns.edns.GenericOption(65001, b"\x01\x02")
        cookie = dns.edns.GenericOption(10, b"12345678")
        r = self.q("orders.svc." + ZONE, options=[unknown, cookie])
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        # Unknown options are not echoed; the cookie is answered with ours (RFC 7873).
        self.assertEqual([o.otype for o in r.options], [10])
        self.assertEqual(r.options[0].to_wire()[:8], b"12345678")

    def test_formerr_notimp_any_and_two_opts(self):
        base = dns.message.make_query("orders.svc." + ZONE, "A").to_wire()
        # QDCOUNT 0 and 2.
        for qd in (0, 2):
            raw = base[:4] + struct.pack("!H", qd) + base[6:]
            self.assertEqual(header(raw_udp(self.port, raw))["rcode"], dns.rcode.FORMERR)
        # Unknown opcode 3.
        flags = struct.unpack("!H", base[2:4])[0] | (3 << 11)
        answer = raw_udp(self.port, base[:2] + struct.pack("!H", flags) + base[4:])
        self.assertEqual(header(answer)["rcode"], dns.rcode.NOTIMP)
        # Two OPT records.
        msg = dns.message.make_query("orders.svc." + ZONE, "A", use_edns=0).to_wire()
        opt = msg[-11:]
        two = msg[:10] + struct.pack("!H", 2) + msg[12:] + opt
        self.assertEqual(header(raw_udp(self.port, two))["rcode"], dns.rcode.FORMERR)
        # ANY is answered minimally (RFC 8482).
        anyr = self.q("orders.svc." + ZONE, "ANY")
        self.assertEqual(anyr.rcode(), dns.rcode.NOERROR)
        self.assertEqual(len(anyr.answer), 1)

    def test_malformed_and_truncated_packets(self):
        base = dns.message.make_query("orders.svc." + ZONE, "A", use_edns=0).to_wire()
        rng = random.Random(7)
        packets = [base[:n] for n in range(len(base))]
        packets += [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80))) for _ in range(300)]
        packets += [base[:12] + b"\xc0\x0c" + base[14:], base[:12] + b"\x40abc" + base[16:]]
        for p in packets:
            answer = raw_udp(self.port, p, timeout=0.05)
            if answer is not None and len(p) >= 12:
                h = header(answer)
                self.assertTrue(h["qr"])
                self.assertEqual(h["id"], struct.unpack("!H", p[:2])[0])
        self.assertEqual(self.q("orders.svc." + ZONE).rcode(), dns.rcode.NOERROR, "still serving")
        # A response sent to us is ignored.
        self.assertIsNone(raw_udp(self.port, base[:2] + b"\x81\x00" + base[4:], timeout=0.2))

    def test_tcp_pipelining(self):
        names = ["orders.svc." + ZONE, "cart.svc.shop-group.grp." + ZONE, "nope.svc." + ZONE]
        msgs = [dns.message.make_query(n, "A") for n in names]
        wire = b"".join(struct.pack("!H", len(m.to_wire())) + m.to_wire() for m in msgs)
        with socket.create_connection(("127.0.0.1", self.port), timeout=3) as s:
            s.sendall(wire)
            got = {}
            buf = b""
            while len(got) < 3:
                chunk = s.recv(65535)
                self.assertTrue(chunk, "connection closed early")
                buf += chunk
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                    size = struct.unpack("!H", buf[:2])[0]
                    reply = dns.message.from_wire(buf[2:2 + size])
                    buf = buf[2 + size:]
                    got[reply.id] = reply
        for m in msgs:
            self.assertIn(m.id, got)
        self.assertEqual(got[msgs[2].id].rcode(), dns.rcode.NXDOMAIN)

    def test_dig_and_kdig(self):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+short", "SRV",
                              "orders.svc." + ZONE], capture_output=True, text=True, timeout=10).stdout
        self.assertIn("8081 0a000001.addr.nacos.internal.", out)
        out = subprocess.run(["kdig", "@127.0.0.1", "-p", str(self.port), "+tcp", "+short",
                              "cart.svc.shop-group.grp." + ZONE], capture_output=True, text=True, timeout=10).stdout
        self.assertEqual(out.strip(), "10.3.0.1")

    # ---- registry semantics
    def test_weights_are_honoured(self):
        self.register("weighted", "10.8.0.1", 80, weight=1)
        self.register("weighted", "10.8.0.2", 80, weight=3)
        first = collections.Counter(addresses(self.q("weighted.svc." + ZONE))[0] for _ in range(1200))
        ratio = first["10.8.0.2"] / max(1, first["10.8.0.1"])
        self.assertGreater(ratio, 2.2, first)  # expected 3; 1,200 draws keep this far from chance
        self.assertLess(ratio, 4.2, first)

    def test_protect_threshold(self):
        self.register("shaky", "10.10.0.1", 80, healthy="false")
        self.register("shaky", "10.10.0.2", 80, healthy="false")
        # Every instance unhealthy: Nacos fails open, every enabled instance is returned.
        self.assertEqual(sorted(addresses(self.q("shaky.svc." + ZONE))), ["10.10.0.1", "10.10.0.2"])
        srv = self.q("shaky.svc." + ZONE, "SRV")
        self.assertEqual({rd.priority for rd in srv.answer[0]}, {20})
        self.register("shaky", "10.10.0.3", 80)
        self.assertEqual(addresses(self.q("shaky.svc." + ZONE)), ["10.10.0.3"])
        # A threshold of 0.5 with 1 healthy of 3 (0.33): protection, healthy first.
        self.assertEqual(self.dnsd.curl("PUT", "/nacos/v1/ns/service", {"serviceName": "shaky", "protectThreshold": 0.5}),
                         (200, "ok"))
        answer = addresses(self.q("shaky.svc." + ZONE))
        self.assertEqual(answer[0], "10.10.0.3")
        self.assertEqual(len(answer), 3)
        srv = self.q("shaky.svc." + ZONE, "SRV")
        self.assertEqual(sorted(rd.priority for rd in srv.answer[0]), [10, 20, 20])

    def test_registration_and_deregistration_are_reflected_at_once(self):
        self.register("fresh", "10.11.0.1", 80)
        self.assertEqual(addresses(self.q("fresh.svc." + ZONE)), ["10.11.0.1"])
        self.dnsd.curl("DELETE", "/nacos/v1/ns/instance", {"serviceName": "fresh", "ip": "10.11.0.1", "port": 80})
        r = self.q("fresh.svc." + ZONE)
        self.assertEqual((r.rcode(), r.answer), (dns.rcode.NOERROR, []))

    def test_expiry_is_reflected(self):
        meta = json.dumps({"preserved.heart.beat.interval": "500", "preserved.heart.beat.timeout": "1000",
                           "preserved.ip.delete.timeout": "2000"})
        self.register("expiring", "10.12.0.1", 80, metadata=meta)
        self.register("expiring", "10.12.0.2", 80, metadata=meta)
        deadline = time.time() + 8
        while time.time() < deadline:
            self.dnsd.curl("PUT", "/nacos/v1/ns/instance/beat", {"serviceName": "expiring", "ip": "10.12.0.2", "port": 80})
            if addresses(self.q("expiring.svc." + ZONE)) == ["10.12.0.2"]:
                break
            time.sleep(0.3)
        self.assertEqual(addresses(self.q("expiring.svc." + ZONE)), ["10.12.0.2"])



class MinimalResponsesTest(unittest.TestCase):
    """dns.minimal_responses: SRV answers without the targets' addresses."""

    def test_srv_without_additional_addresses(self):
        d = DnsdProcess(config_text="[dns]\nminimal_responses = true\n").start()
        try:
            for i in (1, 2):
                status, body = d.curl("POST", "/nacos/v1/ns/instance",
                                      {"serviceName": "orders", "ip": f"10.0.0.{i}", "port": 8080})
                self.assertEqual((status, body), (200, "ok"))
            wait_until(lambda: len(query(d.dns_port, "orders.svc." + ZONE, "SRV").answer) == 1)
            srv = query(d.dns_port, "orders.svc." + ZONE, "SRV")
            self.assertEqual(sorted(rd.target.to_text() for rd in srv.answer[0]),
                             ["0a000001.addr." + ZONE, "0a000002.addr." + ZONE])
            self.assertEqual(srv.additional, [])
            # The targets still resolve when asked.
            self.assertEqual(addresses(query(d.dns_port, "0a000002.addr." + ZONE, "A")), ["10.0.0.2"])
        finally:
            d.cleanup()

if __name__ == "__main__":
    unittest.main()

"""TCP connection limits and idle timeout, answer matching against a misbehaving upstream,
and cache prefetch."""
import socket
import struct
import threading
import time
import unittest

import dns.message
import dns.rcode
import dns.rrset

from dns_client import addresses, query
from harness import DnsdProcess, free_port, wait_until
from upstream import UPSTREAM_ZONE, NsdUpstream


def metric(dnsd, prefix):
    _, text = dnsd.curl("GET", "/metrics")
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(prefix))


class TcpLimitsTest(unittest.TestCase):
    def test_per_client_cap_and_idle_timeout(self):
        config = "[dns]\ntcp_max_per_client = 2\ntcp_idle_timeout_ms = 300\n[forward]\nenabled = false\n"
        d = DnsdProcess(config_text=config).start()
        try:
            conns = [socket.create_connection(("127.0.0.1", d.dns_port), timeout=2) for _ in range(3)]
            q = dns.message.make_query("nacos.internal.", "SOA").to_wire()

            def answers(c):
                try:
                    c.sendall(struct.pack("!H", len(q)) + q)
                    return len(c.recv(4096)) > 12
                except OSError:
                    return False

            # Workers accept in parallel, so any one of the three may be the one refused.
            served = [c for c in conns if answers(c)]
            self.assertEqual(len(served), 2, "two connections per client")
            # Idle connections are closed after the timeout.
            time.sleep(0.8)
            self.assertEqual(served[0].recv(10), b"")
            self.assertGreaterEqual(metric(d, "dnsd_dns_tcp_refused_connections_total"), 1)
            for c in conns:
                c.close()
        finally:
            d.cleanup()


class SpoofingUpstream:
    """A UDP 'upstream' that answers every query three times: first with a wrong id, then
    with the wrong question, then correctly. Only the last may be accepted."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.running = True
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            q = dns.message.from_wire(data)
            good = dns.message.make_response(q)
            good.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "192.0.2.1"))
            wrong_id = dns.message.make_response(q)
            wrong_id.id = (q.id + 1) % 65536
            wrong_id.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "6.6.6.6"))
            other = dns.message.make_query("evil.example.", "A")
            other.id = q.id
            wrong_q = dns.message.make_response(other)
            wrong_q.answer.append(dns.rrset.from_text("evil.example.", 60, "IN", "A", "6.6.6.7"))
            for m in (wrong_id, wrong_q, good):
                self.sock.sendto(m.to_wire(), peer)

    def stop(self):
        self.running = False
        self.sock.close()


class UpstreamMatchingTest(unittest.TestCase):
    def test_only_the_matching_answer_is_accepted(self):
        up = SpoofingUpstream()
        d = DnsdProcess(config_text=f'[forward]\nupstreams = ["127.0.0.1:{up.port}"]\n').start()
        try:
            for name in ("a.example.", "b.example."):
                self.assertEqual(addresses(query(d.dns_port, name)), ["192.0.2.1"])
            self.assertGreaterEqual(metric(d, "dnsd_forward_mismatched_answers_total"), 4)
        finally:
            d.cleanup()
            up.stop()


class PrefetchTest(unittest.TestCase):
    def test_an_entry_asked_for_near_expiry_is_refreshed(self):
        zone = UPSTREAM_ZONE + "ten 10 IN A 192.0.2.10\n"
        upstream = NsdUpstream("upstream.test", zone).start()
        d = DnsdProcess(config_text=f'[forward]\nupstreams = ["127.0.0.1:{upstream.port}"]\n').start()
        try:
            self.assertEqual(addresses(query(d.dns_port, "ten.upstream.test.")), ["192.0.2.10"])
            sent = metric(d, "dnsd_forward_upstream_queries_total")
            time.sleep(9.3)  # into the last tenth of the 10 s TTL
            self.assertEqual(addresses(query(d.dns_port, "ten.upstream.test.")), ["192.0.2.10"])
            self.assertTrue(wait_until(lambda: metric(d, "dnsd_forward_upstream_queries_total") > sent, 3))
            self.assertEqual(metric(d, "dnsd_forward_prefetches_total"), 1)
            time.sleep(1.5)  # past the original expiry: still a cache hit thanks to the refresh
            hits = metric(d, "dnsd_forward_cache_hits_total")
            r = query(d.dns_port, "ten.upstream.test.")
            self.assertEqual(addresses(r), ["192.0.2.10"])
            self.assertEqual(metric(d, "dnsd_forward_cache_hits_total"), hits + 1)
            self.assertGreater(r.answer[0].ttl, 5)
        finally:
            d.cleanup()
            upstream.cleanup()


if __name__ == "__main__":
    unittest.main()

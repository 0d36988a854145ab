"""DNS abuse controls against a real dnsd: response rate limiting (RRL) of UDP answers per
client prefix (bursts of queries from loopback source addresses, which are exempt by default,
so the tests empty the exempt list, counted as full answers, truncated "slipped" answers and
silence; TCP stays unlimited), and DNS Cookies (RFC 7873/9018) with dig and dnspython: a
client that returns our cookie is not rate limited."""
import os
import socket
import subprocess
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode

from harness import DnsdProcess

ZONE = "nacos.internal."
RATE = 50
BURST = 600


def config(rate=RATE, slip=1, exempt="[]"):
    return (f"[dns]\nrrl_responses_per_second = {rate}\nrrl_slip = {slip}\nrrl_exempt = {exempt}\n"
            "[naming]\nheartbeat_timeout_ms = 600000\nip_delete_timeout_ms = 1200000\n")


def cookie_query(name, cookie):
    q = dns.message.make_query(name, "A", use_edns=0)
    q.use_edns(0, options=[dns.edns.GenericOption(10, cookie)])
    return q


def cookie_of(answer):
    for option in answer.options:
        if option.otype == 10:
            return option.data if hasattr(option, "data") else option.to_wire()
    return None


def burst(port, source, count=BURST, name="web.svc." + ZONE, cookie=None):
    """Sends `count` queries from `source` as fast as it can; returns (full, truncated, wire sizes)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((source, 0))
    queries = []
    for i in range(count):
        q = cookie_query(name, cookie) if cookie else dns.message.make_query(name, "A")
        q.id = i
        queries.append(q.to_wire())
    # Paced at about 4,000 queries/s: far above the limit, far below what would overflow the
    # server's socket buffer (a lost query would look like a dropped answer).
    for i, wire in enumerate(queries):
        sock.sendto(wire, ("127.0.0.1", port))
        if i % 20 == 19:
            time.sleep(0.005)
    full, truncated, sizes = 0, 0, []
    sock.settimeout(1.0)
    try:
        while full + truncated < count:
            data, _ = sock.recvfrom(65535)
            answer = dns.message.from_wire(data)
            sizes.append(len(data))
            if answer.flags & dns.flags.TC:
                truncated += 1
                assert not answer.answer, "a slipped answer carries no records"
            else:
                full += 1
    except socket.timeout:
        pass
    sock.close()
    return full, truncated, sizes


class RateLimitTest(unittest.TestCase):
    def start(self, **kw):
        d = DnsdProcess(config_text=config(**kw)).start()
        self.addCleanup(d.cleanup)
        status, _ = d.curl("POST", "/nacos/v1/ns/instance",
                           {"serviceName": "web", "ip": "10.0.0.1", "port": 80})
        self.assertEqual(status, 200)
        return d

    def metric(self, d, name):
        _, text = d.curl("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    def test_over_the_rate_answers_are_truncated_and_tcp_still_answers(self):
        d = self.start()
        full, truncated, sizes = burst(d.dns_port, "127.0.0.5")
        # The burst spans at most two one-second windows of RATE answers each.
        self.assertLessEqual(full, 2 * RATE)
        self.assertGreaterEqual(full, RATE)
        self.assertEqual(full + truncated, BURST, "slip 1 truncates every limited answer, drops none")
        query_size = len(dns.message.make_query("web.svc." + ZONE, "A").to_wire())
        self.assertLessEqual(min(sizes), query_size, "a slipped answer is no larger than the query")
        self.assertEqual(self.metric(d, "dnsd_dns_rrl_slipped_total"), truncated)
        # TCP proves the address: never limited.
        tcp = dns.query.tcp(dns.message.make_query("web.svc." + ZONE, "A"), "127.0.0.1",
                            port=d.dns_port, source="127.0.0.5", timeout=2)
        self.assertEqual([r.address for rrset in tcp.answer for r in rrset], ["10.0.0.1"])
        # Another /24 has its own count.
        full, truncated, _ = burst(d.dns_port, "127.0.1.5", count=RATE // 2)
        self.assertEqual((full, truncated), (RATE // 2, 0))
        # The next second the prefix is answered again.
        time.sleep(1.1)
        full, truncated, _ = burst(d.dns_port, "127.0.0.6", count=10)
        self.assertEqual((full, truncated), (10, 0))

    def test_slip_zero_drops_every_limited_answer(self):
        d = self.start(slip=0)
        full, truncated, _ = burst(d.dns_port, "127.0.0.7")
        self.assertEqual(truncated, 0)
        self.assertLessEqual(full, 2 * RATE)
        self.assertEqual(self.metric(d, "dnsd_dns_rrl_dropped_total"), BURST - full)

    def test_exempt_networks_and_rate_zero_are_never_limited(self):
        d = self.start(exempt='["127.0.0.0/8"]')
        self.assertEqual(burst(d.dns_port, "127.0.0.8")[:2], (BURST, 0))
        off = self.start(rate=0)
        self.assertEqual(burst(off.dns_port, "127.0.0.9")[:2], (BURST, 0))


class CookieTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dnsd = DnsdProcess(config_text=config(rate=10)).start()
        cls.dnsd.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "web", "ip": "10.0.0.1", "port": 80})

    @classmethod
    def tearDownClass(cls):
        cls.dnsd.cleanup()

    def ask(self, cookie, source="127.0.0.20"):
        return dns.query.udp(cookie_query("web.svc." + ZONE, cookie), "127.0.0.1",
                             port=self.dnsd.dns_port, source=source, timeout=2)

    def test_dig_gets_a_good_cookie(self):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.dnsd.dns_port), "+cookie",
                              "web.svc." + ZONE], capture_output=True, text=True, timeout=10).stdout
        self.assertRegex(out, r"; COOKIE: [0-9a-f]{48} \(good\)")

    def test_server_cookie_is_returned_and_recognised(self):
        client = os.urandom(8)
        first = self.ask(client)
        cookie = cookie_of(first)
        self.assertEqual(len(cookie), 24)
        self.assertEqual(cookie[:8], client, "the client cookie is echoed")
        self.assertEqual(cookie[8], 1, "RFC 9018 version 1")
        self.assertEqual([r.address for rrset in first.answer for r in rrset], ["10.0.0.1"])
        # Sent back from the same address it is valid; from another address it is not.
        second = self.ask(cookie)
        self.assertEqual(cookie_of(second)[:8], client)
        _, text = self.dnsd.curl("GET", "/metrics")
        self.assertRegex(text, r'dnsd_dns_cookies_total\{server_cookie="valid"\} [1-9]')
        self.ask(cookie, source="127.0.0.21")
        _, text = self.dnsd.curl("GET", "/metrics")
        self.assertRegex(text, r'dnsd_dns_cookies_total\{server_cookie="invalid"\} [1-9]')

    def test_malformed_cookies_are_formerr(self):
        for bad in [b"short", os.urandom(12), os.urandom(41)]:
            answer = self.ask(bad)
            self.assertEqual(answer.rcode(), dns.rcode.FORMERR, len(bad))

    def test_a_valid_cookie_passes_the_rate_limit(self):
        cookie = cookie_of(self.ask(os.urandom(8), source="127.0.2.1"))
        full, truncated, _ = burst(self.dnsd.dns_port, "127.0.2.1", count=200, cookie=cookie)
        self.assertEqual((full, truncated), (200, 0))
        # The same burst without the cookie is limited to the rate.
        full, truncated, _ = burst(self.dnsd.dns_port, "127.0.2.2", count=200)
        self.assertLessEqual(full, 20)
        self.assertEqual(full + truncated, 200)


if __name__ == "__main__":
    unittest.main()

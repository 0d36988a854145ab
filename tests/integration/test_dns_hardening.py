"""The probe's DNS defects against a real dnsd: a DNS-TCP client that sends a byte every few
seconds, accept() when descriptors run out (CPU must stay low and service resume; the gRPC
port's connection cap), and UDP answers from a wildcard address leaving from the address the
query reached."""
import os
import socket
import struct
import time
import unittest

import dns.message
import dns.query
import dns.rcode

from harness import DnsdProcess, wait_until


def metric(dnsd, prefix):
    _, text = dnsd.curl("GET", "/metrics")
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(prefix))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def soa_query():
    return dns.message.make_query("nacos.internal.", "SOA").to_wire()


def tcp_answers(port, timeout=3):
    q = soa_query()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(struct.pack("!H", len(q)) + q)
        data = c.recv(4096)
    return len(data) > 12


class DnsHardeningTest(unittest.TestCase):
    def test_slow_tcp_message_is_cut_off(self):
        config = "[dns]\ntcp_message_timeout_ms = 1000\ntcp_idle_timeout_ms = 60000\n[forward]\nenabled = false\n"
        d = DnsdProcess(config_text=config).start()
        try:
            q = soa_query()
            message = struct.pack("!H", len(q)) + q
            c = socket.create_connection(("127.0.0.1", d.dns_port), timeout=5)
            started = time.time()
            closed = False
            for byte in message:
                try:
                    c.send(bytes([byte]))
                except OSError:
                    closed = True
                    break
                c.settimeout(0.4)
                try:
                    if c.recv(4096) == b"":
                        closed = True
                        break
                except socket.timeout:
                    pass
            c.close()
            self.assertTrue(closed, "a byte-at-a-time client kept its connection")
            self.assertLess(time.time() - started, 5)
            self.assertEqual(metric(d, "dnsd_dns_tcp_message_timeouts_total"), 1)
            self.assertTrue(tcp_answers(d.dns_port), "a normal TCP client is served")
        finally:
            d.cleanup()

    def test_descriptor_exhaustion_keeps_cpu_low_and_service_resumes(self):
        # 200 descriptors. The caps derived from them keep the listeners apart (gRPC gets a
        # quarter of what is left after the reserve); HTTP is configured far above the limit
        # here, so that its idle connections really use every descriptor up.
        config = ("[http]\nmax_connections = 1000\nmax_connections_per_client = 1000\n"
                  "[forward]\nenabled = false\n")
        d = DnsdProcess(max_open_files=200, config_text=config).start()
        held = []
        try:
            grpc = [socket.create_connection(("127.0.0.1", d.grpc_port), timeout=5) for _ in range(40)]
            held += grpc
            self.assertTrue(wait_until(lambda: metric(d, "dnsd_grpc_refused_connections_total") >= 20))
            for _ in range(260):
                held.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
            wait_until(lambda: len(os.listdir(f"/proc/{d.proc.pid}/fd")) >= 199, timeout=10)
            self.assertGreaterEqual(len(os.listdir(f"/proc/{d.proc.pid}/fd")), 199)
            # New DNS-TCP clients wait in the backlog while accept() fails.
            pending = [socket.create_connection(("127.0.0.1", d.dns_port), timeout=5) for _ in range(5)]
            used = cpu_seconds(d.proc.pid)
            time.sleep(3)
            used = cpu_seconds(d.proc.pid) - used
            self.assertLess(used, 0.6, f"dnsd used {used:.2f} s of CPU in 3 s while out of descriptors")
            for s in held + pending:
                s.close()
            held = []
            self.assertTrue(wait_until(lambda: tcp_answers(d.dns_port), timeout=10))
            self.assertEqual(d.curl("GET", "/nacos/v1/ns/operator/metrics")[0], 200)
            # The failed accepts were counted (read now: /metrics needs a descriptor too).
            self.assertGreater(metric(d, "dnsd_dns_tcp_accept_errors_total") +
                               metric(d, "dnsd_api_http_accept_errors_total"), 0)
        finally:
            for s in held:
                s.close()
            d.cleanup()

    def test_wildcard_udp_answers_from_the_address_asked(self):
        d = DnsdProcess(extra_args=["--dns-address", "0.0.0.0"],
                        config_text="[forward]\nenabled = false\n").start()
        try:
            for target in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
                # dnspython refuses an answer from another address than the one asked.
                r = dns.query.udp(dns.message.make_query("nacos.internal.", "SOA"), target,
                                  port=d.dns_port, timeout=2, source="127.0.0.1")
                self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                # A connected socket only ever receives from the address it asked.
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(2)
                    s.connect((target, d.dns_port))
                    s.send(soa_query())
                    self.assertGreater(len(s.recv(4096)), 12, target)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

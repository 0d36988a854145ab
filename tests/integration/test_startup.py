"""Start-up behaviour: defaults, clear errors with exit code 2, graceful shutdown."""
import base64
import os
import socket
import subprocess
import tempfile
import time
import unittest

from harness import DNSD, DnsdProcess


def run_dnsd(*args, timeout=10):
    return subprocess.run([DNSD, *args], capture_output=True, text=True, timeout=timeout)


class StartupTest(unittest.TestCase):
    def write_config(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_unknown_config_key_names_the_key(self):
        path = self.write_config("[http]\nport = 8848\nthreadz = 2\n")
        out = run_dnsd("--config", path)
        self.assertEqual(out.returncode, 2)
        self.assertIn("http.threadz", out.stderr)

    def test_bad_config_value_names_the_key(self):
        path = self.write_config("[naming]\nheartbeat_timeout_ms = \"soon\"\n")
        out = run_dnsd("--config", path)
        self.assertEqual(out.returncode, 2)
        self.assertIn("naming.heartbeat_timeout_ms", out.stderr)

    def test_bad_log_level_and_flag(self):
        out = run_dnsd("--log-level", "loud", "--data-dir", tempfile.mkdtemp())
        self.assertEqual(out.returncode, 2)
        self.assertIn("log", out.stderr)
        out = run_dnsd("--http-port", "99999")
        self.assertEqual(out.returncode, 2)

    def test_port_in_use_is_a_clear_error(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            out = run_dnsd("--http-address", "127.0.0.1", "--http-port", str(port), "--data-dir", tempfile.mkdtemp())
        self.assertEqual(out.returncode, 2)
        self.assertIn(f"127.0.0.1:{port}", out.stderr)
        self.assertIn("in use", out.stderr)

    def test_data_dir_locked_by_another_dnsd(self):
        first = DnsdProcess().start()
        try:
            out = run_dnsd("--http-port", "0", "--data-dir", first.data_dir)
            self.assertEqual(out.returncode, 2)
            self.assertIn("lock", out.stderr.lower())
        finally:
            first.cleanup()

    def test_sigterm_and_sigint_exit_cleanly(self):
        for sig in ("TERM", "INT"):
            d = DnsdProcess().start()
            try:
                import signal
                self.assertEqual(d.stop(getattr(signal, "SIG" + sig)), 0)
            finally:
                d.cleanup()

    def test_example_config_starts(self):
        example = os.path.join(os.path.dirname(__file__), "..", "..", "dnsd.example.toml")
        d = DnsdProcess(extra_args=["--config", example])
        try:
            d.start()
            self.assertEqual(d.json("GET", "/nacos/v1/ns/operator/metrics"), {"status": "UP"})
        finally:
            d.cleanup()

    def test_listen_address_is_loopback_unless_insecure(self):
        data = tempfile.mkdtemp()
        # No --http-address: loopback.
        proc = subprocess.Popen([DNSD, "--http-port", "0", "--dns-port", "0", "--grpc-port", "0",
                                 "--data-dir", data, "--log-level", "info"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = proc.stdout.readline()
            self.assertTrue(ready.startswith("dnsd ready"), ready)
            port = int(dict(f.split("=") for f in ready.split()[2:])["http"])
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=20)
        self.assertIn("dnsd listening: http 127.0.0.1:", err)
        # A wildcard (or any non-loopback) address is refused with auth off and without
        # --insecure, by flag or file.
        out = run_dnsd("--http-address", "0.0.0.0", "--http-port", "0", "--data-dir", tempfile.mkdtemp())
        self.assertEqual(out.returncode, 2)
        self.assertIn("--insecure", out.stderr)
        self.assertIn("auth is off", out.stderr)
        path = self.write_config('[http]\naddress = "::"\n')
        out = run_dnsd("--config", path, "--http-port", "0", "--data-dir", tempfile.mkdtemp())
        self.assertEqual(out.returncode, 2)
        self.assertIn("http.address ::", out.stderr)
        # With it (here from the file), or with auth on, dnsd starts there.
        secret = base64.b64encode(os.urandom(32)).decode()
        for text in ('[server]\ninsecure = true\n[http]\naddress = "0.0.0.0"\n',
                     f'[auth]\nenabled = true\ntoken_secret = "{secret}"\n[http]\naddress = "0.0.0.0"\n'):
            path = self.write_config(text)
            proc = subprocess.Popen([DNSD, "--config", path, "--http-port", "0", "--dns-port", "0",
                                     "--grpc-port", "0", "--data-dir", tempfile.mkdtemp()],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                self.assertTrue(proc.stdout.readline().startswith("dnsd ready"), text)
            finally:
                proc.terminate()
                proc.wait(timeout=20)
                proc.stdout.close()

    def test_threads_are_named_by_role(self):
        d = DnsdProcess(extra_args=["--dns-workers", "2", "--http-threads", "1"]).start()
        try:
            task_dir = f"/proc/{d.proc.pid}/task"
            expected = {"dns-udp-0", "dns-udp-1", "dns-loop-0", "dns-loop-1", "http-0",
                        "grpc-io", "grpc-push", "raft-1"}
            # A thread names itself when it starts, which may be just after "ready".
            deadline = time.time() + 5
            while True:
                names = set()
                for tid in os.listdir(task_dir):
                    try:
                        with open(os.path.join(task_dir, tid, "comm")) as f:
                            names.add(f.read().strip())
                    except FileNotFoundError:
                        pass  # a thread that has just ended
                if expected <= names or time.time() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(expected - names, set())
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

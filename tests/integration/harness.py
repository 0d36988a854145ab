"""Starts real dnsd processes on loopback for integration tests and talks to them with curl.

Each DnsdProcess gets a free port and its own data directory. Nothing here imitates the
server: tests only see what a client on the wire would see.
"""
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

DNSD = os.environ.get("DNSD_BINARY") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin", "dnsd")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DnsdProcess:
    def __init__(self, extra_args=(), data_dir=None, config_text=None, max_open_files=None, env=None,
                 address="127.0.0.1", run_as_uid=None, health_check=False, log_level=None):
        self.owns_dir = data_dir is None
        self.address = address  # HTTP and DNS listen address (a loopback address)
        # Cluster tests run each node under its own uid, so that nftables can tell one node's
        # outgoing packets from another's (on loopback they all leave from 127.0.0.1).
        self.run_as_uid = run_as_uid
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="dnsd-it-")
        # Server health checks are off unless a test asks for them: tests register persistent
        # instances at made-up addresses, which checks would connect to (traffic must stay on
        # loopback) and turn unhealthy while the test looks.
        self.extra_args = list(extra_args) + ["--health-check", "on" if health_check else "off"]
        self.config_text = config_text
        self.max_open_files = max_open_files
        self.env = env  # extra environment variables for the dnsd process
        self.log_level = log_level or os.environ.get("DNSD_TEST_LOG_LEVEL", "warn")
        self.proc = None
        self.port = None

    def start(self, port=None, fresh_ports=False):
        """Starts dnsd. A restart keeps the DNS and gRPC ports unless `fresh_ports`: a port
        freed by a killed dnsd may be taken by another test before it starts again."""
        if fresh_ports:
            self.dns_port = self.grpc_port = 0
        # Port 0 lets dnsd bind a free port itself (a port found free here could be taken
        # before dnsd binds it); the ready line says which.
        args = [DNSD, "--http-address", self.address, "--http-port", str(port or 0),
                "--dns-port", str(getattr(self, "dns_port", 0) or 0),
                "--grpc-port", str(getattr(self, "grpc_port", 0) or 0),
                "--data-dir", self.data_dir, "--log-level", self.log_level] + self.extra_args
        if self.address != "127.0.0.1":
            args += ["--dns-address", self.address]
        if self.config_text is not None:
            path = os.path.join(self.data_dir, "dnsd.toml")
            with open(path, "w") as f:
                f.write(self.config_text)
            args += ["--config", path]
        if self.run_as_uid is not None:
            # setpriv execs dnsd in place (same pid, so kill -9 reaches dnsd); the ambient
            # CAP_DAC_OVERRIDE lets it use directories the test made as root.
            uid = str(self.run_as_uid)
            args = ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups",
                    "--inh-caps=+dac_override", "--ambient-caps=+dac_override"] + args
        self.log_path = os.path.join(self.data_dir, "dnsd.stderr.log")
        with open(self.log_path, "ab") as log:
            limit = self.max_open_files
            preexec = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))) if limit else None
            env = dict(os.environ, **self.env) if self.env else None
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True,
                                         preexec_fn=preexec, env=env)
        line = self.proc.stdout.readline()
        self.proc.stdout.close()
        fields = dict(f.split("=") for f in line.split()[2:] if "=" in f)
        self.port = int(fields.get("http", 0))
        self.dns_port = int(fields.get("dns", 0))
        self.grpc_port = int(fields.get("grpc", 0))
        if not line.startswith("dnsd ready"):
            self.proc.wait(timeout=10)
            with open(self.log_path) as f:
                raise RuntimeError(f"dnsd did not start: {line!r} {f.read()}")
        return self

    @property
    def base(self):
        return f"http://{self.address}:{self.port}"

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        return self.proc.returncode if self.proc else None

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if os.environ.get("DNSD_SANITIZED"):
            # CI runs some suites against an ASan/UBSan build: any report fails the suite.
            with open(self.log_path, errors="replace") as f:
                text = f.read()
            if "Sanitizer" in text or "runtime error:" in text:
                raise AssertionError(f"sanitizer report from dnsd:\n{text[-4000:]}")
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- HTTP with the real curl binary
    def curl(self, method, path, params=None, body=None, headers=None):
        """Returns (status, body text). params go in the query string, body is a form body."""
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, url]
        if body is not None:
            data = body if isinstance(body, str) else urllib.parse.urlencode(body)
            args += ["-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", "@-"]
        for k, v in (headers or {}).items():
            args += ["-H", f"{k}: {v}"]
        out = subprocess.run(args, input=(data if body is not None else None), capture_output=True,
                             text=True, timeout=30)
        text, _, code = out.stdout.rpartition("\n")
        return int(code), text

    def json(self, method, path, params=None, body=None):
        status, text = self.curl(method, path, params, body)
        assert status == 200, f"{method} {path} -> {status}: {text}"
        return json.loads(text)


class SharedDnsdTest(unittest.TestCase):
    """One dnsd for all tests of a class, started with the class's `dnsd_config` (TOML)."""
    dnsd_config = None

    @classmethod
    def setUpClass(cls):
        cls.dnsd = DnsdProcess(config_text=cls.dnsd_config).start()

    @classmethod
    def tearDownClass(cls):
        cls.dnsd.cleanup()


def wait_until(predicate, timeout=10.0, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()

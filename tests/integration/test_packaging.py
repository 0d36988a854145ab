"""The .deb and the systemd unit: CPack builds the package from the build directory; it holds
dnsd, dnsctl, the unit, the configuration (a conffile), the bash completion and the docs, and
declares its library dependencies; the unit passes `systemd-analyze verify` and scores as
hardened by `systemd-analyze security`; the packaged binaries start with the packaged
configuration and answer each other.

The package is unpacked and checked, not installed: tests must not change the machine they
run on."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import DNSD

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(DNSD)))


class PackagingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dnsd-deb-")
        out = subprocess.run(["cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-G", "DEB",
                              "-B", cls.dir], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        debs = [f for f in os.listdir(cls.dir) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.dir, debs[0])
        cls.root = os.path.join(cls.dir, "root")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_contents_and_control(self):
        for path in ("usr/bin/dnsd", "usr/bin/dnsd-agent", "usr/bin/dnsctl",
                     "usr/lib/systemd/system/dnsd.service",
                     "etc/dnsd/dnsd.toml", "usr/share/bash-completion/completions/dnsctl",
                     "usr/share/doc/dnsd/README.md", "usr/share/doc/dnsd/dnsd.example.toml"):
            self.assertTrue(os.path.exists(os.path.join(self.root, path)), path)
        info = subprocess.run(["dpkg-deb", "-I", self.deb], capture_output=True, text=True, check=True).stdout
        self.assertIn("Package: dnsd", info)
        depends = re.search(r"Depends: (.*)", info).group(1)
        for library in ("libldns3", "libleveldb1d", "libssl3", "libevent-openssl", "adduser"):
            self.assertIn(library, depends)
        control = os.path.join(self.dir, "control")
        subprocess.run(["dpkg-deb", "-e", self.deb, control], check=True)
        with open(os.path.join(control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/dnsd/dnsd.toml"])
        with open(os.path.join(control, "postinst")) as f:
            self.assertIn("adduser --system", f.read())
        # `dnsd agent` becomes the dnsd-agent next to it, which links no gRPC library.
        agent = os.path.join(self.root, "usr/bin/dnsd-agent")
        self.assertIn("--server", subprocess.run([agent, "--help"], capture_output=True, text=True).stdout)
        self.assertNotIn("libgrpc", subprocess.run(["ldd", agent], capture_output=True, text=True).stdout)
        completion = os.path.join(self.root, "usr/share/bash-completion/completions/dnsctl")
        self.assertEqual(subprocess.run(["bash", "-n", completion]).returncode, 0)

    def unit_for_this_machine(self):
        """The packaged unit with its ExecStart pointing at the unpacked binary (verify checks
        that the program exists)."""
        with open(os.path.join(self.root, "usr/lib/systemd/system/dnsd.service")) as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/bin/dnsd --config /etc/dnsd/dnsd.toml", text)
        self.assertIn("AmbientCapabilities=CAP_NET_BIND_SERVICE", text)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", text)
        unit_dir = os.path.join(self.dir, "units")
        os.makedirs(unit_dir, exist_ok=True)
        unit = os.path.join(unit_dir, "dnsd.service")
        with open(unit, "w") as f:
            f.write(text.replace("/usr/bin/dnsd", os.path.join(self.root, "usr/bin/dnsd")))
        return unit

    def test_unit_passes_systemd_analyze(self):
        unit = self.unit_for_this_machine()
        out = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
        self.assertEqual((out.returncode, out.stderr.strip()), (0, ""), out.stderr)
        out = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit],
                             capture_output=True, text=True)
        level = float(re.search(r"Overall exposure level for dnsd.service: ([\d.]+)", out.stdout).group(1))
        self.assertLess(level, 3.0, out.stdout[-2000:])  # systemd calls < 3 "OK"

    def test_packaged_binaries_run_with_the_packaged_config(self):
        data = os.path.join(self.dir, "data")
        proc = subprocess.Popen([os.path.join(self.root, "usr/bin/dnsd"), "--config",
                                 os.path.join(self.root, "etc/dnsd/dnsd.toml"), "--data-dir", data,
                                 "--zones", os.path.join(self.dir, "zones"), "--http-port", "0",
                                 "--dns-port", "0", "--grpc-port", "0", "--health-check", "off",
                                 "--log-level", "warn"], stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            self.assertTrue(line.startswith("dnsd ready"), line)
            ports = dict(f.split("=") for f in line.split()[2:])
            dnsctl = [os.path.join(self.root, "usr/bin/dnsctl"), "--server", f"127.0.0.1:{ports['http']}",
                      "--dns", f"127.0.0.1:{ports['dns']}"]
            subprocess.run(dnsctl + ["instance", "register", "pkg", "10.80.0.1", "80", "--persistent"],
                           check=True, capture_output=True)
            out = subprocess.run(dnsctl + ["lookup", "pkg.svc.nacos.internal", "-o", "json"],
                                 check=True, capture_output=True, text=True).stdout
            self.assertEqual([r["data"] for r in json.loads(out)["answer"]], ["10.80.0.1"])
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main()

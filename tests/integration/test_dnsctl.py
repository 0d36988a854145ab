"""dnsctl against real dnsd processes: every command, table and JSON output, the exit codes
(0 done, 1 refused or not found, 2 bad usage, 3 unreachable), a config watch woken by a
publish, credentials (user and password, a token from the environment) on a server with auth,
and HTTPS with --cacert."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import zipfile

from harness import DNSD, DnsdProcess
from tls_certs import make_ca, make_cert

DNSCTL = os.path.join(os.path.dirname(DNSD), "dnsctl")


def dnsctl(*args, env=None, timeout=30):
    out = subprocess.run([DNSCTL, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, **(env or {})))
    return out.returncode, out.stdout, out.stderr


class DnsctlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dnsd = DnsdProcess().start()
        cls.server = ["--server", f"127.0.0.1:{cls.dnsd.port}"]

    @classmethod
    def tearDownClass(cls):
        cls.dnsd.cleanup()

    def ok(self, *args):
        rc, out, err = dnsctl(*self.server, *args)
        self.assertEqual(rc, 0, f"dnsctl {' '.join(map(str, args))}: {err}")
        return out

    def test_services_instances_and_lookup(self):
        self.assertIn("registered 10.70.0.1:8080", self.ok("instance", "register", "shop", "10.70.0.1", 8080,
                                                          "--persistent", "--weight", 3, "--metadata", "zone=a"))
        self.ok("instance", "register", "shop", "10.70.0.2", 8080, "--persistent")
        table = self.ok("instance", "list", "shop")
        self.assertEqual(table.splitlines()[0].split(), ["IP", "PORT", "WEIGHT", "HEALTHY", "ENABLED",
                                                         "EPHEMERAL", "CLUSTER", "METADATA"])
        hosts = json.loads(self.ok("instance", "list", "shop", "-o", "json"))
        self.assertEqual(sorted((h["ip"], h["weight"], h["metadata"]) for h in hosts),
                         [("10.70.0.1", 3.0, {"zone": "a"}), ("10.70.0.2", 1.0, {})])
        self.assertIn("shop", json.loads(self.ok("service", "list", "--output", "json"))["services"])
        self.assertEqual(json.loads(self.ok("service", "get", "shop", "-o", "json"))["serviceName"], "shop")
        # What DNS answers, as dig would show it.
        dns = ["--dns", f"127.0.0.1:{self.dnsd.dns_port}"]
        answer = json.loads(self.ok(*dns, "lookup", "shop.svc.nacos.internal", "A", "-o", "json"))
        self.assertEqual(answer["status"], "NOERROR")
        self.assertEqual(sorted(r["data"] for r in answer["answer"]), ["10.70.0.1", "10.70.0.2"])
        srv = self.ok(*dns, "lookup", "_http._tcp.shop.svc.nacos.internal", "SRV", "--tcp")
        self.assertIn("SRV", srv)
        self.assertIn(" 3", srv.split("10.70")[0] if "10.70" in srv else srv)  # weights shown
        missing = json.loads(self.ok(*dns, "lookup", "nothing.svc.nacos.internal", "-o", "json"))
        self.assertEqual((missing["status"], missing["answer"]), ("NXDOMAIN", []))
        self.assertEqual(missing["authority"][0]["type"], "SOA")
        self.assertIn("deregistered", self.ok("instance", "deregister", "shop", "10.70.0.2", 8080, "--persistent"))
        hosts = json.loads(self.ok("instance", "list", "shop", "-o", "json"))
        self.assertEqual([h["ip"] for h in hosts], ["10.70.0.1"])
        # An ephemeral instance kept by beats from the command line.
        self.ok("instance", "register", "beats", "10.70.0.9", 80)
        self.assertIn("beat sent", self.ok("instance", "beat", "beats", "10.70.0.9", 80))

    def test_configs_history_and_watch(self):
        self.assertIn("published app.yaml", self.ok("config", "set", "app.yaml", "--content", "a: 1", "--type", "yaml"))
        self.assertEqual(self.ok("config", "get", "app.yaml"), "a: 1\n")
        got = json.loads(self.ok("config", "get", "app.yaml", "-o", "json"))
        self.assertEqual(got["md5"], "270f9e65a80226eccd82c99cdd0dd2fb")
        # From stdin, then the history shows both.
        rc = subprocess.run([DNSCTL, *self.server, "config", "set", "app.yaml", "--file", "-"],
                            input="a: 2\n", text=True, capture_output=True, timeout=20).returncode
        self.assertEqual(rc, 0)
        history = json.loads(self.ok("config", "history", "app.yaml", "-o", "json"))
        self.assertEqual([h["opType"] for h in history], ["U", "I"])
        # watch: a long poll that a publish wakes.
        watch = subprocess.Popen([DNSCTL, *self.server, "config", "watch", "app.yaml", "--count", "1"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertTrue(watch.stdout.readline().startswith("watching app.yaml"))
        time.sleep(0.5)
        self.ok("config", "set", "app.yaml", "--content", "a: 3")
        out, err = watch.communicate(timeout=20)
        self.assertEqual(watch.returncode, 0, err)
        self.assertIn("changed", out)
        self.assertIn("a: 3", out)
        self.assertIn("deleted app.yaml", self.ok("config", "delete", "app.yaml"))
        rc, _, err = dnsctl(*self.server, "config", "get", "app.yaml")
        self.assertEqual(rc, 1)
        self.assertIn("config data not exist", err)

    def test_export_and_import_as_nacos_zips(self):
        work = tempfile.mkdtemp(prefix="dnsctl-zip-")
        self.addCleanup(shutil.rmtree, work, True)
        self.ok("--namespace", "src", "--group", "G1", "config", "set", "a.yaml", "--content", "x: 1", "--type", "yaml")
        self.ok("--namespace", "src", "config", "set", "b.json", "--content", '{"b": 2}', "--type", "json")
        archive = os.path.join(work, "src.zip")
        self.assertIn("exported 2 configs", self.ok("--namespace", "src", "config", "export", "--file", archive))
        # A standard zip (Python's zipfile reads it): group/dataId entries and Nacos's metadata.
        with zipfile.ZipFile(archive) as z:
            self.assertEqual(sorted(z.namelist()), [".metadata.yml", "DEFAULT_GROUP/b.json", "G1/a.yaml"])
            self.assertEqual(z.read("G1/a.yaml"), b"x: 1")
            self.assertIn(b"type: yaml", z.read(".metadata.yml"))
        self.assertIn("imported 2 configs", self.ok("--namespace", "dst", "config", "import", archive))
        got = json.loads(self.ok("--namespace", "dst", "--group", "G1", "config", "get", "a.yaml", "-o", "json"))
        self.assertEqual(got["content"], "x: 1")
        # Again: abort (the default) writes nothing and names the clashes; skip and overwrite.
        self.ok("--namespace", "dst", "config", "set", "b.json", "--content", "changed")
        rc, _, err = dnsctl(*self.server, "--namespace", "dst", "config", "import", archive)
        self.assertEqual(rc, 1)
        self.assertIn("DEFAULT_GROUP/b.json", err)
        self.assertIn("skipped 2", self.ok("--namespace", "dst", "config", "import", archive, "--policy", "skip"))
        self.assertEqual(self.ok("--namespace", "dst", "config", "get", "b.json"), "changed\n")
        self.assertIn("imported 2", self.ok("--namespace", "dst", "config", "import", archive, "--policy", "overwrite"))
        self.assertEqual(self.ok("--namespace", "dst", "config", "get", "b.json"), '{"b": 2}\n')
        # A zip written by another tool (deflated entries) imports too; a damaged one is refused.
        other = os.path.join(work, "other.zip")
        with zipfile.ZipFile(other, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("DEFAULT_GROUP/from-python.properties", "k=v\n" * 100)
        self.assertIn("imported 1", self.ok("--namespace", "dst", "config", "import", other))
        self.assertEqual(self.ok("--namespace", "dst", "config", "get", "from-python.properties"), "k=v\n" * 100)
        with open(other, "rb") as f:
            data = bytearray(f.read())
        data[30 + len("DEFAULT_GROUP/from-python.properties") + 2] ^= 0xFF  # in the compressed bytes
        with open(other, "wb") as f:
            f.write(data)
        rc, _, err = dnsctl(*self.server, "--namespace", "dst", "config", "import", other)
        self.assertEqual(rc, 2)
        self.assertIn("not a readable ZIP archive", err)

    def test_namespaces_cluster_and_completion(self):
        self.assertIn("created namespace team", self.ok("namespace", "create", "team", "--name", "Team"))
        rows = json.loads(self.ok("namespace", "list", "-o", "json"))
        self.assertIn({"id": "team", "name": "Team", "description": "", "configs": "0"}, rows)
        self.ok("--namespace", "team", "config", "set", "x", "--content", "1")
        rc, _, err = dnsctl(*self.server, "namespace", "delete", "team")
        self.assertEqual(rc, 1, "a namespace with configs is not deleted")
        self.ok("--namespace", "team", "config", "delete", "x")
        self.assertIn("deleted namespace team", self.ok("namespace", "delete", "team"))
        status = self.ok("cluster", "status")
        self.assertIn(f"127.0.0.1:{self.dnsd.port}", status)
        self.assertIn("UP", status)
        script = self.ok("completion", "bash")
        self.assertEqual(subprocess.run(["bash", "-n"], input=script, text=True).returncode, 0)
        self.assertIn("complete -F _dnsctl dnsctl", script)

    def test_exit_codes_and_messages(self):
        for args in (("service", "lisst"), ("instance", "register", "svc", "10.0.0.1"),
                     ("instance", "register", "svc", "10.0.0.1", "99999"), ("-o", "yaml", "service", "list"),
                     ("instance", "register", "svc", "10.0.0.1", "80", "--metadata", "novalue"),
                     ("config", "set", "x"), ("--server", "nonsense", "service", "list")):
            rc, _, err = dnsctl(*self.server, *args)
            self.assertEqual(rc, 2, f"{args}: {err}")
            self.assertTrue(err.strip(), args)
        rc, _, err = dnsctl("--server", "127.0.0.1:1", "service", "list")
        self.assertEqual(rc, 3)
        self.assertIn("cannot reach the server", err)
        rc, _, err = dnsctl("--dns", "127.0.0.1:1", "lookup", "x.svc.nacos.internal", timeout=30)
        self.assertEqual(rc, 3, err)
        rc, _, err = dnsctl(*self.server, "service", "get", "no-such-service")
        self.assertEqual(rc, 1, err)


class DnsctlAuthTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dnsctl-tls-")
        cls.ca = make_ca(cls.dir, "ca")
        cert, key = make_cert(cls.dir, "server", cls.ca)
        secret = base64.b64encode(os.urandom(32)).decode()
        cls.dnsd = DnsdProcess(config_text=f'[auth]\nenabled = true\ntoken_secret = "{secret}"\n'
                                           f'[tls]\ncert_file = "{cert}"\nkey_file = "{key}"\n').start()
        cls.base = ["--server", f"127.0.0.1:{cls.dnsd.port}", "--cacert", cls.ca[0]]
        out = subprocess.run(["curl", "-s", "--cacert", cls.ca[0], "-X", "POST", "-d", "password=ctl-admin",
                              f"https://127.0.0.1:{cls.dnsd.port}/nacos/v1/auth/users/admin"],
                             capture_output=True, text=True, timeout=20)
        assert json.loads(out.stdout)["username"] == "nacos", out.stdout

    @classmethod
    def tearDownClass(cls):
        cls.dnsd.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_credentials_and_https(self):
        rc, _, err = dnsctl(*self.base, "service", "list")
        self.assertEqual(rc, 1)
        self.assertIn("403", err)
        rc, out, err = dnsctl(*self.base, "--username", "nacos", "--password", "ctl-admin",
                              "config", "set", "secure", "--content", "s")
        self.assertEqual(rc, 0, err)
        rc, out, err = dnsctl(*self.base, "config", "get", "secure",
                              env={"DNSD_USERNAME": "nacos", "DNSD_PASSWORD": "ctl-admin"})
        self.assertEqual((rc, out), (0, "s\n"), err)
        rc, _, err = dnsctl(*self.base, "--username", "nacos", "--password", "wrong", "config", "get", "secure")
        self.assertEqual(rc, 1)
        self.assertIn("unknown user", err)
        # Without the CA, or over plain HTTP, nothing is sent in clear.
        rc, _, err = dnsctl("--server", f"127.0.0.1:{self.dnsd.port}", "service", "list")
        self.assertEqual(rc, 3, err)
        other = make_ca(self.dir, "other")
        rc, _, err = dnsctl("--server", f"127.0.0.1:{self.dnsd.port}", "--cacert", other[0], "service", "list")
        self.assertEqual(rc, 3)
        self.assertIn("TLS handshake failed", err)


if __name__ == "__main__":
    unittest.main()

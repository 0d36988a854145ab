"""`dnsd agent`, the DNS-F sidecar, first step: it follows a real dnsd over the Nacos gRPC
protocol and answers A and SRV for the services it follows from memory; a registration on
the server reaches its answers through a push; it keeps answering what it knows when the
server is gone; names outside the registry zone still go to the forwarder's upstreams."""
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import dns.rcode
import dns.rdatatype

from dns_client import query
from harness import DNSD, DnsdProcess, wait_until
from upstream import UPSTREAM_ZONE, NsdUpstream


class Agent:
    """A `dnsd agent` process. `data_dir` is kept across restarts (its snapshot) when given."""

    def __init__(self, servers, services, config_text="", data_dir=None, dns_port=0):
        self.own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="dnsd-agent-")
        zones = os.path.join(self.dir, "zones")
        os.makedirs(zones, exist_ok=True)
        config = os.path.join(self.dir, "agent.toml")
        with open(config, "w") as f:
            f.write(config_text)
        flags = []
        if servers:
            flags += ["--server", ",".join(servers)]
        if services:
            flags += ["--service", ",".join(services)]
        args = [DNSD, "agent"] + flags + ["--config", config, "--dns-port", str(dns_port),
                "--status-port", "0",
                "--zones", zones, "--data-dir", os.path.join(self.dir, "data"),
                "--log-level", os.environ.get("DNSD_TEST_LOG_LEVEL", "warn")]
        self.log = open(os.path.join(self.dir, "agent.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("dnsd agent ready"):
            self.proc.wait(timeout=10)
            raise RuntimeError(f"agent did not start: {line!r}")
        fields = dict(part.split("=") for part in line.split()[3:])
        self.dns_port = int(fields["dns"])
        self.http_port = int(fields["http"])

    def reply(self, name, rdtype="A"):
        return query(self.dns_port, name, rdtype)

    def answers(self, name, rdtype="A"):
        reply = self.reply(name, rdtype)
        if reply.rcode() != dns.rcode.NOERROR:
            return dns.rcode.to_text(reply.rcode())
        return sorted(r.to_text() for rrset in reply.answer for r in rrset
                      if rrset.rdtype == dns.rdatatype.from_text(rdtype))

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self, keep_dir=False):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.exit_code = self.proc.wait(timeout=10)
        self.log.close()
        if self.own_dir and not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def register(server, service, ip, port=8080, group=None):
    params = {"serviceName": service, "ip": ip, "port": port}
    if group:
        params["groupName"] = group
    return server.curl("POST", "/nacos/v1/ns/instance", params)


class AgentTest(unittest.TestCase):
    def setUp(self):
        self.server = DnsdProcess().start()
        self.upstream = NsdUpstream("upstream.test", UPSTREAM_ZONE).start()
        self.agent = None

    def tearDown(self):
        if self.agent:
            self.agent.stop()
        self.server.cleanup()
        self.upstream.cleanup()

    def test_answers_followed_services_from_pushes_and_keeps_them_when_the_server_goes(self):
        self.assertEqual(register(self.server, "web", "10.40.0.1"), (200, "ok"))
        self.agent = Agent([f"127.0.0.1:{self.server.grpc_port}"], ["web", "g1@@api"],
                           f'[forward]\nupstreams = ["127.0.0.1:{self.upstream.port}"]\n')
        web = "web.svc.nacos.internal"
        self.assertTrue(wait_until(lambda: self.agent.answers(web) == ["10.40.0.1"]),
                        self.agent.answers(web))
        srv = self.agent.answers(f"_http._tcp.{web}", "SRV")
        self.assertEqual(len(srv), 1, srv)
        self.assertTrue(srv[0].startswith("10 100 8080 "), srv)

        # A change on the server reaches the agent's answers through a push.
        self.assertEqual(register(self.server, "web", "10.40.0.2"), (200, "ok"))
        self.assertTrue(wait_until(lambda: self.agent.answers(web) == ["10.40.0.1", "10.40.0.2"]))
        api = "api.svc.g1.grp.nacos.internal"
        self.assertEqual(self.agent.answers(api), "NXDOMAIN")
        self.assertEqual(register(self.server, "api", "10.41.0.1", group="g1"), (200, "ok"))
        self.assertTrue(wait_until(lambda: self.agent.answers(api) == ["10.41.0.1"]))
        # A service the agent did not follow yet is followed from its first query on.
        self.assertEqual(register(self.server, "other", "10.42.0.1"), (200, "ok"))
        self.assertEqual(self.agent.answers("other.svc.nacos.internal"), ["10.42.0.1"])

        # The server goes away: what the agent knows keeps being answered from memory.
        self.server.kill9()
        for _ in range(5):
            self.assertEqual(self.agent.answers(web), ["10.40.0.1", "10.40.0.2"])
        self.assertEqual(self.agent.answers(api), ["10.41.0.1"])
        self.assertIsNone(self.agent.proc.poll(), "the agent must keep running")
        # Every other name goes to the upstreams, registry or not.
        self.assertEqual(self.agent.answers("www.upstream.test."), ["192.0.2.80"])

    def test_follows_what_its_config_file_lists(self):
        self.assertEqual(register(self.server, "cfg", "10.43.0.1"), (200, "ok"))
        self.agent = Agent(None, None, f'[agent]\nservers = ["127.0.0.1:{self.server.grpc_port}"]\n'
                                       f'services = ["cfg"]\nnamespace = "public"\n')
        self.assertTrue(wait_until(lambda: self.agent.answers("cfg.svc.nacos.internal") == ["10.43.0.1"]))

    def test_refuses_to_start_without_a_server(self):
        out = subprocess.run([DNSD, "agent", "--service", "web", "--dns-port", "0"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("--server", out.stderr)


if __name__ == "__main__":
    unittest.main()

"""`dnsd agent`, the DNS-F sidecar, first step: it follows a real dnsd over the Nacos gRPC
protocol and answers A and SRV for the services it follows from memory; a registration on
the server reaches its answers through a push; it keeps answering what it knows when the
server is gone; names outside the registry zone still go to the forwarder's upstreams."""
import json
import os
import time
import shutil
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import dns.edns
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
        self.proc.stdout.close()
        self.log.close()
        if self.own_dir and not keep_dir and not os.environ.get("DNSD_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def ede(reply):
    """The Extended DNS Error codes of a reply."""
    return [int(o.code) for o in reply.options if o.otype == dns.edns.EDE]


def ttls(reply):
    return [rrset.ttl for section in (reply.answer, reply.authority) for rrset in section]


def register(server, service, ip, port=8080, group=None, ephemeral=True):
    params = {"serviceName": service, "ip": ip, "port": port, "ephemeral": str(ephemeral).lower()}
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

class AgentStaleRulesTest(unittest.TestCase):
    """dns.md part D with real processes: lazy following, stale answers when the server is gone,
    the snapshot across an agent restart, expiry after max_stale, recovery when the server is back,
    push-empty protection, idle services, a damaged snapshot."""

    RULES = ("[dns]\nttl = 30\n[agent]\nmax_stale_ms = {max_stale}\nstale_ttl = 1\n"
             "fresh_hysteresis_ms = 300\npush_empty_grace_ms = {grace}\nidle_unsubscribe_ms = {idle}\n")

    def setUp(self):
        self.server = DnsdProcess().start()
        self.agents = []

    def tearDown(self):
        for agent in self.agents:
            agent.stop()
        self.server.cleanup()

    def agent(self, max_stale=600_000, grace=30_000, idle=3_600_000, data_dir=None, services=None):
        agent = Agent([f"127.0.0.1:{self.server.grpc_port}"], services,
                      self.RULES.format(max_stale=max_stale, grace=grace, idle=idle), data_dir=data_dir)
        self.agents.append(agent)
        return agent

    def status(self, agent):
        code, body = agent.http("/status")
        self.assertEqual(code, 200, body)
        return {s["name"]: s for s in json.loads(body)["services"]}

    def metric(self, agent, name):
        _, body = agent.http("/metrics")
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def test_stale_snapshot_expiry_and_recovery(self):
        self.assertEqual(register(self.server, "web", "10.50.0.1", ephemeral=False), (200, "ok"))
        agent = self.agent(max_stale=5_000)
        web = "web.svc.nacos.internal"
        # Lazy: nothing is followed until asked; the first query waits for the list.
        reply = agent.reply(web)
        self.assertEqual(reply.rcode(), dns.rcode.NOERROR)
        self.assertEqual(sorted(r.address for rrset in reply.answer for r in rrset), ["10.50.0.1"])
        self.assertEqual(ede(reply), [])
        self.assertEqual(ttls(reply), [30])
        self.assertEqual(agent.reply("nothere.svc.nacos.internal").rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(agent.http("/ready"), (200, "ready\n"))
        self.assertEqual(self.status(agent)["web"]["state"], "fresh")
        self.assertEqual(self.metric(agent, "dnsd_agent_registry_connected"), 1)
        web_age = 'dnsd_agent_snapshot_age_seconds{namespace="public",group="DEFAULT_GROUP",service="web",state="%s"}'
        self.assertEqual(self.metric(agent, web_age % "fresh"), 0)

        # Every server gone: known answers go on, marked stale with a capped TTL; a known
        # absence is a stale NXDOMAIN; a name never seen is SERVFAIL, never NXDOMAIN.
        self.server.kill9()
        self.assertTrue(wait_until(lambda: ede(agent.reply(web)) == [dns.edns.EDECode.STALE_ANSWER]))
        reply = agent.reply(web)
        self.assertEqual(reply.rcode(), dns.rcode.NOERROR)
        self.assertEqual(sorted(r.address for rrset in reply.answer for r in rrset), ["10.50.0.1"])
        self.assertTrue(all(ttl <= 1 for ttl in ttls(reply)), ttls(reply))
        reply = agent.reply("nothere.svc.nacos.internal")
        self.assertEqual((reply.rcode(), ede(reply)), (dns.rcode.NXDOMAIN, [19]))
        started = time.monotonic()
        reply = agent.reply("never-seen.svc.nacos.internal")
        self.assertEqual((reply.rcode(), ede(reply)), (dns.rcode.SERVFAIL, [22]))
        self.assertGreaterEqual(time.monotonic() - started, 0.4, "it waited for the subscription")
        self.assertEqual(self.metric(agent, "dnsd_agent_registry_connected"), 0)
        self.assertTrue(wait_until(lambda: (self.metric(agent, web_age % "stale") or 0) >= 1))

        # The agent restarts while the servers are down: it answers from its snapshot at once.
        agent.stop(keep_dir=True)
        self.agents.remove(agent)
        agent = self.agent(max_stale=5_000, data_dir=agent.dir)
        reply = agent.reply(web)
        self.assertEqual((reply.rcode(), ede(reply)), (dns.rcode.NOERROR, [3]))
        self.assertEqual(sorted(r.address for rrset in reply.answer for r in rrset), ["10.50.0.1"])
        self.assertEqual(agent.http("/ready"), (200, "ready\n"))
        self.assertTrue(json.loads(agent.http("/status")[1])["snapshotLoaded"])

        # Stale beyond max_stale: SERVFAIL with EDE 22.
        self.assertTrue(wait_until(lambda: agent.reply(web).rcode() == dns.rcode.SERVFAIL, timeout=10))
        self.assertEqual(ede(agent.reply(web)), [22])
        self.assertEqual(self.status(agent)["web"]["state"], "expired")

        # The server comes back: the agent resubscribes, the answers are fresh again and
        # changes flow through pushes.
        self.server.start(port=self.server.port)
        self.assertTrue(wait_until(lambda: ede(agent.reply(web)) == [] and
                                   agent.reply(web).rcode() == dns.rcode.NOERROR, timeout=30))
        self.assertEqual(register(self.server, "web", "10.50.0.2", ephemeral=False), (200, "ok"))
        self.assertTrue(wait_until(lambda: agent.answers(web) == ["10.50.0.1", "10.50.0.2"]))
        self.assertEqual(ede(agent.reply(web)), [])

    def test_push_empty_protection_and_idle_services(self):
        self.assertEqual(register(self.server, "solo", "10.51.0.1"), (200, "ok"))
        self.assertEqual(register(self.server, "once", "10.51.0.2"), (200, "ok"))
        agent = self.agent(grace=2_000, idle=1_500, services=["solo"])
        solo = "solo.svc.nacos.internal"
        self.assertTrue(wait_until(lambda: agent.answers(solo) == ["10.51.0.1"]))
        self.assertEqual(agent.answers("once.svc.nacos.internal"), ["10.51.0.2"])

        # The last instance goes: the empty list is held back (answered stale) for the grace,
        # then applied.
        self.assertEqual(server_call(self.server, "DELETE", "/nacos/v1/ns/instance",
                                     {"serviceName": "solo", "ip": "10.51.0.1", "port": 8080}), (200, "ok"))
        self.assertTrue(wait_until(lambda: self.metric(agent, "dnsd_agent_push_empty_protected_total") == 1))
        reply = agent.reply(solo)
        self.assertEqual((reply.rcode(), ede(reply)), (dns.rcode.NOERROR, [3]))
        # As the server answers it: no address (NODATA while the empty service lingers).
        self.assertTrue(wait_until(lambda: agent.answers(solo) in ([], "NXDOMAIN") and
                                   ede(agent.reply(solo)) == [], timeout=10), agent.answers(solo))
        self.assertEqual(self.metric(agent, "dnsd_agent_push_empty_applied_total"), 1)

        # "once" is not asked again: it is dropped; the pinned "solo" stays however idle.
        self.assertTrue(wait_until(lambda: "once" not in self.status(agent), timeout=10))
        self.assertIn("solo", self.status(agent))
        self.assertGreaterEqual(self.metric(agent, "dnsd_agent_idle_unsubscribed_total"), 1)
        # Asked again, it is followed again.
        self.assertEqual(agent.answers("once.svc.nacos.internal"), ["10.51.0.2"])

    def test_a_deleted_service_is_not_protected(self):
        self.assertEqual(register(self.server, "doomed", "10.53.0.1"), (200, "ok"))
        agent = self.agent(grace=120_000)
        name = "doomed.svc.nacos.internal"
        self.assertTrue(wait_until(lambda: agent.answers(name) == ["10.53.0.1"]))
        self.assertEqual(server_call(self.server, "DELETE", "/nacos/v1/ns/instance",
                                     {"serviceName": "doomed", "ip": "10.53.0.1", "port": 8080}), (200, "ok"))
        self.assertEqual(server_call(self.server, "DELETE", "/nacos/v1/ns/service",
                                     {"serviceName": "doomed"}), (200, "ok"))
        # Far within the 120 s grace: the agent asked, learned it is gone, and let it go.
        self.assertTrue(wait_until(lambda: agent.answers(name) == "NXDOMAIN", timeout=20), agent.answers(name))
        self.assertEqual(ede(agent.reply(name)), [])
        self.assertEqual(self.metric(agent, "dnsd_agent_push_empty_deleted_total"), 1)

    def test_a_damaged_snapshot_is_moved_aside_and_the_agent_starts(self):
        agent = self.agent()
        self.assertEqual(register(self.server, "web", "10.52.0.1"), (200, "ok"))
        self.assertTrue(wait_until(lambda: agent.answers("web.svc.nacos.internal") == ["10.52.0.1"]))
        agent.stop(keep_dir=True)
        self.agents.remove(agent)
        path = os.path.join(agent.dir, "data", "agent-snapshot")
        with open(path, "r+b") as f:
            data = f.read()
            f.seek(len(data) - 5)
            f.write(b"#")
        agent = self.agent(data_dir=agent.dir)
        self.assertEqual(self.metric(agent, "dnsd_agent_snapshot_damaged_total"), 1)
        self.assertFalse(json.loads(agent.http("/status")[1])["snapshotLoaded"])
        moved = [n for n in os.listdir(os.path.dirname(path)) if n.startswith("agent-snapshot.damaged-")]
        self.assertEqual(len(moved), 1)
        self.assertEqual(agent.answers("web.svc.nacos.internal"), ["10.52.0.1"])
        # And it writes a good one again.
        self.assertTrue(wait_until(lambda: os.path.exists(path)))


def server_call(server, method, path, params):
    return server.curl(method, path, params)


if __name__ == "__main__":
    unittest.main()

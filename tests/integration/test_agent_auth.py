"""`dnsd agent` following a dnsd with Nacos auth and TLS on: it logs in on the server's HTTPS
port as a user who may read the namespace, follows over gRPC with TLS and sends its token with
every request; answers and pushes flow as without auth. With a wrong password, or without the
CA, it gets nothing, and answers SERVFAIL rather than inventing an NXDOMAIN."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import dns.rcode

from harness import DnsdProcess, wait_until
from test_agent import Agent
from tls_certs import make_ca, make_cert

WEB = "web.svc.nacos.internal"


class AgentAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dnsd-agent-auth-")
        cls.ca = make_ca(cls.dir, "ca")
        cert, key = make_cert(cls.dir, "server", cls.ca)
        secret = base64.b64encode(os.urandom(32)).decode()
        config = (f'[auth]\nenabled = true\ntoken_secret = "{secret}"\n'
                  f'[tls]\ncert_file = "{cert}"\nkey_file = "{key}"\n')
        cls.server = DnsdProcess(config_text=config).start()
        cls.agents = []
        assert cls.https("POST", "/nacos/v1/auth/users/admin", "password=admin-pw")[0] == "200"
        cls.admin = json.loads(cls.https("POST", "/nacos/v1/auth/users/login",
                                         "username=nacos&password=admin-pw")[1])["accessToken"]
        for path, body in (("/nacos/v1/auth/users", "username=sidecar&password=sidecar-pw"),
                           ("/nacos/v1/auth/roles", "role=readers&username=sidecar"),
                           ("/nacos/v1/auth/permissions", "role=readers&resource=public:*:naming/*&action=r")):
            assert cls.https("POST", f"{path}?accessToken={cls.admin}", body)[0] == "200", path
        cls.password_file = os.path.join(cls.dir, "password")
        with open(cls.password_file, "w") as f:
            f.write("sidecar-pw\n")

    @classmethod
    def tearDownClass(cls):
        for agent in cls.agents:
            agent.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def https(cls, method, path, body=""):
        out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--cacert", cls.ca[0],
                              "-X", method, "--data", body, f"https://127.0.0.1:{cls.server.port}{path}"],
                             capture_output=True, text=True, timeout=20)
        text, _, code = out.stdout.rpartition("\n")
        return code, text

    def register(self, ip):
        code, text = self.https("POST", f"/nacos/v1/ns/instance?accessToken={self.admin}",
                                f"serviceName=web&ip={ip}&port=80&ephemeral=false")
        self.assertEqual((code, text), ("200", "ok"))

    def agent(self, config):
        # The server's ports were picked by the system: tell the agent where its HTTP port is.
        config += f"http_port_offset = {self.server.port - self.server.grpc_port}\n"
        agent = Agent([f"127.0.0.1:{self.server.grpc_port}"], ["web"], config)
        self.agents.append(agent)
        return agent

    def test_agent_logs_in_and_follows_over_tls(self):
        self.register("10.60.0.1")
        agent = self.agent(f'[agent]\nusername = "sidecar"\npassword_file = "{self.password_file}"\n'
                           f'tls_ca_file = "{self.ca[0]}"\n')
        self.assertTrue(wait_until(lambda: agent.answers(WEB) == ["10.60.0.1"], timeout=15))
        self.register("10.60.0.2")  # reaches the agent through a push
        self.assertTrue(wait_until(lambda: agent.answers(WEB) == ["10.60.0.1", "10.60.0.2"], timeout=10))

    def test_wrong_password_or_no_ca_gets_nothing(self):
        self.register("10.60.0.1")
        wrong = self.agent(f'[agent]\nusername = "sidecar"\npassword = "nope"\ntls_ca_file = "{self.ca[0]}"\n')
        no_ca = self.agent('[agent]\nusername = "sidecar"\npassword = "sidecar-pw"\n')
        for agent in (wrong, no_ca):
            reply = agent.reply(WEB)
            self.assertEqual(reply.rcode(), dns.rcode.SERVFAIL)
        with open(wrong.log.name) as f:
            self.assertIn("unknown user!", f.read())


if __name__ == "__main__":
    unittest.main()

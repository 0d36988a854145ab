"""Nacos auth on a real dnsd: the first admin, logins, tokens on every API (HTTP v1/v2 and
gRPC), users, roles and permissions, the nacos npm SDK with username/password, forged tokens
and forged headers, and auth data surviving kill -9.

Tokens the test forges (expired, other key, alg none, tampered) are signed here with Python's
hmac, since the test knows the secret it gave dnsd.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import dns.rdatatype

from dns_client import query
from harness import DNSD, DnsdProcess, wait_until
from nacos_grpc import NacosGrpcClient

SECRET = os.urandom(32)
CONFIG = f'[auth]\nenabled = true\ntoken_secret = "{base64.b64encode(SECRET).decode()}"\n'
JS_DIR = os.path.join(os.path.dirname(__file__), "js")
ADMIN_PASSWORD = "admin-Secret-1"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(sub, exp, key=SECRET, alg="HS256"):
    head = b64url(json.dumps({"alg": alg}).encode())
    body = b64url(json.dumps({"sub": sub, "exp": exp}).encode())
    sig = b64url(hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Info level: the audit lines are part of what is checked.
        cls.dnsd = DnsdProcess(config_text=CONFIG, log_level="info").start()

    @classmethod
    def tearDownClass(cls):
        cls.dnsd.cleanup()

    # ---- helpers
    def call(self, method, path, params=None, token=None, headers=None, body=None):
        params = dict(params or {})
        if token:
            params["accessToken"] = token
        return self.dnsd.curl(method, path, params, body=body, headers=headers)

    def login(self, username, password):
        status, text = self.dnsd.curl("POST", "/nacos/v1/auth/users/login",
                                      body={"username": username, "password": password})
        self.assertEqual(status, 200, text)
        return json.loads(text)["accessToken"]

    def admin_token(self):
        return self.login("nacos", ADMIN_PASSWORD)

    def ensure_user(self, name, password, role=None, grants=()):
        admin = self.admin_token()
        self.call("POST", "/nacos/v1/auth/users", {"username": name, "password": password}, admin)
        if role:
            self.call("POST", "/nacos/v1/auth/roles", {"role": role, "username": name}, admin)
            for resource, action in grants:
                self.call("POST", "/nacos/v1/auth/permissions",
                          {"role": role, "resource": resource, "action": action}, admin)
        return self.login(name, password)

    def test_00_first_admin_is_set_once(self):
        state = json.loads(self.call("GET", "/nacos/v1/console/server/state")[1])
        self.assertEqual(state["auth_enabled"], "true")
        self.assertEqual(state["auth_admin_request"], "true")
        # Before any admin exists nothing else is open.
        status, _ = self.call("POST", "/nacos/v1/ns/instance", {"serviceName": "s", "ip": "10.0.0.1", "port": 80})
        self.assertEqual(status, 403)
        status, text = self.call("POST", "/nacos/v1/auth/users/admin", body={"password": ADMIN_PASSWORD})
        self.assertEqual(status, 200, text)
        self.assertEqual(json.loads(text), {"username": "nacos", "password": ADMIN_PASSWORD})
        status, text = self.call("POST", "/nacos/v1/auth/users/admin", body={"password": "taken-over"})
        self.assertEqual(status, 409, text)
        self.assertEqual(json.loads(self.call("GET", "/nacos/v1/console/server/state")[1])["auth_admin_request"], "false")

    def test_01_login(self):
        for path in ("/nacos/v1/auth/users/login", "/nacos/v1/auth/login"):
            status, text = self.dnsd.curl("POST", path, params={"username": "nacos"},
                                          body={"password": ADMIN_PASSWORD})
            self.assertEqual(status, 200, text)
            answer = json.loads(text)
            self.assertEqual(answer["tokenTtl"], 18000)
            self.assertTrue(answer["globalAdmin"])
            self.assertEqual(answer["username"], "nacos")
            self.assertEqual(answer["accessToken"].count("."), 2)
        for user, password in (("nacos", "wrong"), ("nobody", ADMIN_PASSWORD)):
            status, text = self.dnsd.curl("POST", "/nacos/v1/auth/users/login",
                                          body={"username": user, "password": password})
            self.assertEqual((status, text), (403, "unknown user!"))

    def write_apis(self, tag):
        """Every kind of write, as (name, HTTP call or gRPC call) taking a token."""
        svc = f"auth-{tag}"
        return [
            ("v1 instance", lambda t: self.call("POST", "/nacos/v1/ns/instance", {"serviceName": svc, "ip": "10.1.0.1", "port": 80}, t)),
            ("v2 instance", lambda t: self.call("POST", "/nacos/v2/ns/instance", {"serviceName": svc, "ip": "10.1.0.2", "port": 80}, t)),
            ("v1 persistent", lambda t: self.call("POST", "/nacos/v1/ns/instance", {"serviceName": svc + "-p", "ip": "10.1.0.3", "port": 80, "ephemeral": "false"}, t)),
            ("v1 service", lambda t: self.call("POST", "/nacos/v1/ns/service", {"serviceName": svc + "-s"}, t)),
            ("v1 config", lambda t: self.call("POST", "/nacos/v1/cs/configs", {"dataId": svc, "group": "DEFAULT_GROUP", "content": "x"}, t)),
            ("v2 config", lambda t: self.call("POST", "/nacos/v2/cs/config", {"dataId": svc + "2", "group": "DEFAULT_GROUP", "content": "x"}, t)),
            ("v1 config delete", lambda t: self.call("DELETE", "/nacos/v1/cs/configs", {"dataId": svc, "group": "DEFAULT_GROUP"}, t)),
            ("namespace", lambda t: self.call("POST", "/nacos/v1/console/namespaces", {"customNamespaceId": svc, "namespaceName": svc}, t)),
            ("switches", lambda t: self.call("PUT", "/nacos/v1/ns/operator/switches", {"entry": "checkTimes", "value": "3"}, t)),
        ]

    def test_02_every_write_api_refuses_bad_credentials(self):
        admin = self.admin_token()
        reader = self.ensure_user("reader", "reader-pw", "readers", [("public:*:*", "r")])
        bad = {
            "no token": None,
            "garbage": "not.a.token",
            "expired": forge("nacos", int(time.time()) - 10),
            "other key": forge("nacos", int(time.time()) + 600, key=os.urandom(32)),
            "alg none": b64url(b'{"alg":"none"}') + "." + b64url(json.dumps({"sub": "nacos", "exp": int(time.time()) + 600}).encode()) + ".",
            "tampered": admin.rsplit(".", 2)[0] + "." + b64url(json.dumps({"sub": "nacos", "exp": int(time.time()) + 999999}).encode()) + "." + admin.rsplit(".", 1)[1],
            "no write permission": reader,
        }
        for name, write in self.write_apis("w"):
            for why, token in bad.items():
                status, text = write(token)
                self.assertEqual(status, 403, f"{name} with {why}: {status} {text}")
            status, text = write(admin)
            self.assertEqual(status, 200, f"{name} with the admin's token: {text}")
        # A token signed here with the server's secret is a real token: the secret is the key.
        status, _ = self.call("GET", "/nacos/v1/ns/instance/list", {"serviceName": "auth-w"},
                              forge("nacos", int(time.time()) + 60))
        self.assertEqual(status, 200)

    def test_02b_every_write_route_is_closed_without_a_token(self):
        # Every route that changes something, by method: none answers anything but 403
        # without credentials (the guard runs before the handler, whatever the parameters).
        writes = [("POST", "/nacos/v{}/ns/instance"), ("PUT", "/nacos/v{}/ns/instance"),
                  ("PATCH", "/nacos/v1/ns/instance"), ("DELETE", "/nacos/v{}/ns/instance"),
                  ("PUT", "/nacos/v{}/ns/instance/beat"), ("PUT", "/nacos/v{}/ns/instance/metadata/batch"),
                  ("DELETE", "/nacos/v{}/ns/instance/metadata/batch"), ("PUT", "/nacos/v{}/ns/health/instance"),
                  ("PUT", "/nacos/v1/ns/health"), ("POST", "/nacos/v{}/ns/service"), ("PUT", "/nacos/v{}/ns/service"),
                  ("DELETE", "/nacos/v{}/ns/service"), ("PUT", "/nacos/v{}/ns/cluster"),
                  ("PUT", "/nacos/v{}/ns/operator/switches"), ("POST", "/nacos/v1/cs/configs"),
                  ("DELETE", "/nacos/v1/cs/configs"), ("POST", "/nacos/v2/cs/config"), ("DELETE", "/nacos/v2/cs/config"),
                  ("POST", "/nacos/v1/console/namespaces"), ("PUT", "/nacos/v1/console/namespaces"),
                  ("DELETE", "/nacos/v1/console/namespaces"), ("POST", "/nacos/v2/console/namespace"),
                  ("PUT", "/nacos/v2/console/namespace"), ("DELETE", "/nacos/v2/console/namespace"),
                  ("POST", "/dnsd/v1/cluster/members"), ("POST", "/nacos/v1/auth/users"),
                  ("PUT", "/nacos/v1/auth/users"), ("DELETE", "/nacos/v1/auth/users"),
                  ("POST", "/nacos/v1/auth/roles"), ("DELETE", "/nacos/v1/auth/roles"),
                  ("POST", "/nacos/v1/auth/permissions"), ("DELETE", "/nacos/v1/auth/permissions")]
        params = {"serviceName": "closed", "ip": "10.9.9.9", "port": 80, "dataId": "closed",
                  "group": "DEFAULT_GROUP", "content": "x", "username": "nacos", "newPassword": "x",
                  "role": "r", "resource": "*", "action": "rw", "customNamespaceId": "closed"}
        for method, path in writes:
            for version in ("1", "2") if "{}" in path else ("",):
                route = path.format(version)
                status, text = self.call(method, route, params)
                self.assertEqual(status, 403, f"{method} {route}: {status} {text}")

    def test_03_reads_need_a_token_too(self):
        admin = self.admin_token()
        self.call("POST", "/nacos/v1/cs/configs", {"dataId": "read-me", "group": "DEFAULT_GROUP", "content": "v"}, admin)
        for path, params in (("/nacos/v1/ns/instance/list", {"serviceName": "auth-w"}),
                             ("/nacos/v2/ns/instance/list", {"serviceName": "auth-w"}),
                             ("/nacos/v1/ns/service/list", {"pageNo": 1, "pageSize": 10}),
                             ("/nacos/v1/cs/configs", {"dataId": "read-me", "group": "DEFAULT_GROUP"}),
                             ("/nacos/v2/cs/config", {"dataId": "read-me", "group": "DEFAULT_GROUP"}),
                             ("/nacos/v1/auth/users", {})):
            self.assertEqual(self.call("GET", path, params)[0], 403, path)
            status, text = self.call("GET", path, params, admin)
            self.assertEqual(status, 200, f"{path}: {text}")
        # Token in the Authorization header and in an accessToken header work as the parameter.
        self.assertEqual(self.call("GET", "/nacos/v1/cs/configs", {"dataId": "read-me", "group": "DEFAULT_GROUP"},
                                   headers={"Authorization": f"Bearer {admin}"}), (200, "v"))
        self.assertEqual(self.call("GET", "/nacos/v1/cs/configs", {"dataId": "read-me", "group": "DEFAULT_GROUP"},
                                   headers={"accessToken": admin}), (200, "v"))
        # Open: health probes and metrics.
        self.assertEqual(self.call("GET", "/nacos/v1/console/health/liveness")[0], 200)
        self.assertEqual(self.call("GET", "/metrics")[0], 200)

    def test_04_forged_server_headers_get_nothing(self):
        # Nacos's old bypasses: a server User-Agent, the default identity header, a forwarded mark.
        for headers in ({"User-Agent": "Nacos-Server:v2.4.0"}, {"serverIdentity": "security"},
                        {"User-Agent": "Nacos-Server", "X-Dnsd-Forwarded-By": "127.0.0.1:8848"}):
            status, _ = self.call("POST", "/nacos/v1/ns/instance",
                                  {"serviceName": "hijack", "ip": "10.66.6.6", "port": 80}, headers=headers)
            self.assertEqual(status, 403, headers)
            status, _ = self.call("POST", "/nacos/v1/cs/configs",
                                  {"dataId": "hijack", "group": "DEFAULT_GROUP", "content": "x"}, headers=headers)
            self.assertEqual(status, 403, headers)
        listing = json.loads(self.call("GET", "/nacos/v1/ns/instance/list", {"serviceName": "hijack"}, self.admin_token())[1])
        self.assertEqual(listing["hosts"], [])

    def test_05_permissions_by_namespace_group_and_action(self):
        admin = self.admin_token()
        self.call("POST", "/nacos/v1/console/namespaces", {"customNamespaceId": "dev", "namespaceName": "dev"}, admin)
        dev = self.ensure_user("dev-user", "dev-pw", "developers",
                               [("dev:*:*", "rw"), ("public:DEFAULT_GROUP:naming/*", "r")])
        ok = self.call("POST", "/nacos/v1/ns/instance", {"namespaceId": "dev", "serviceName": "api", "ip": "10.2.0.1", "port": 80}, dev)
        self.assertEqual(ok[0], 200, ok)
        self.assertEqual(self.call("POST", "/nacos/v1/cs/configs", {"tenant": "dev", "dataId": "app", "group": "G", "content": "c"}, dev)[0], 200)
        # Read but not write in public; nothing in another group's configs there.
        self.assertEqual(self.call("GET", "/nacos/v1/ns/instance/list", {"serviceName": "auth-w"}, dev)[0], 200)
        status, text = self.call("POST", "/nacos/v1/ns/instance", {"serviceName": "auth-w", "ip": "10.2.0.9", "port": 80}, dev)
        self.assertEqual(status, 403)
        self.assertIn("public:DEFAULT_GROUP:naming/auth-w", text)
        self.assertEqual(self.call("GET", "/nacos/v1/cs/configs", {"dataId": "read-me", "group": "DEFAULT_GROUP"}, dev)[0], 403)
        # A long poll reads every key it names: one forbidden key refuses the poll.
        listening = "app\x02G\x02\x02dev\x01"
        self.assertEqual(self.call("POST", "/nacos/v1/cs/configs/listener", {"Listening-Configs": listening},
                                   dev, headers={"Long-Pulling-Timeout-No-Hangup": "true"})[0], 200)
        listening += "read-me\x02DEFAULT_GROUP\x02\x01"
        self.assertEqual(self.call("POST", "/nacos/v1/cs/configs/listener", {"Listening-Configs": listening},
                                   dev, headers={"Long-Pulling-Timeout-No-Hangup": "true"})[0], 403)
        # Not an admin: no auth management, no operator writes.
        self.assertEqual(self.call("POST", "/nacos/v1/auth/roles", {"role": "developers", "username": "reader"}, dev)[0], 403)
        self.assertEqual(self.call("PUT", "/nacos/v1/ns/operator/switches", {"entry": "checkTimes", "value": "4"}, dev)[0], 403)
        # Revoking takes effect on the next request, with the same token.
        self.call("DELETE", "/nacos/v1/auth/permissions", {"role": "developers", "resource": "dev:*:*", "action": "rw"}, admin)
        self.assertEqual(self.call("POST", "/nacos/v1/ns/instance", {"namespaceId": "dev", "serviceName": "api", "ip": "10.2.0.2", "port": 80}, dev)[0], 403)
        listed = json.loads(self.call("GET", "/nacos/v1/auth/permissions", {"role": "developers"}, admin)[1])
        self.assertEqual([p["resource"] for p in listed["pageItems"]], ["public:DEFAULT_GROUP:naming/*"])

    def test_06_users_passwords_and_deletion(self):
        admin = self.admin_token()
        token = self.ensure_user("carol", "carol-pw")
        # Her own password: allowed; someone else's: not.
        self.assertEqual(self.call("PUT", "/nacos/v1/auth/users", {"username": "carol", "newPassword": "carol-pw2"}, token)[0], 200)
        self.assertEqual(self.call("PUT", "/nacos/v1/auth/users", {"username": "nacos", "newPassword": "mine"}, token)[0], 403)
        self.assertEqual(self.dnsd.curl("POST", "/nacos/v1/auth/users/login", body={"username": "carol", "password": "carol-pw"})[0], 403)
        token = self.login("carol", "carol-pw2")
        status, text = self.call("POST", "/nacos/v1/auth/users", {"username": "carol", "password": "x"}, admin)
        self.assertEqual(status, 409, text)
        self.assertEqual(self.call("DELETE", "/nacos/v1/auth/users", {"username": "nacos"}, admin)[0], 400, "the admin stays")
        self.assertEqual(self.call("POST", "/nacos/v1/auth/roles", {"role": "ROLE_ADMIN", "username": "carol"}, admin)[0], 400)
        self.assertEqual(self.call("DELETE", "/nacos/v1/auth/users", {"username": "carol"}, admin)[0], 200)
        self.assertEqual(self.call("GET", "/nacos/v1/ns/service/list", {"pageNo": 1, "pageSize": 10}, token)[0], 403, "a deleted user's token is dead")
        users = json.loads(self.call("GET", "/nacos/v1/auth/users", {"search": "blur", "username": "a"}, admin)[1])
        names = [u["username"] for u in users["pageItems"]]
        self.assertIn("nacos", names)
        self.assertNotIn("carol", names)
        self.assertTrue(all("password" not in u for u in users["pageItems"]), "hashes are not handed out")
        self.assertEqual(self.call("POST", "/nacos/v1/auth/users", {"username": "bad name", "password": "x"}, admin)[0], 400)
        self.assertEqual(self.call("POST", "/nacos/v1/auth/users", {"username": "long", "password": "x" * 73}, admin)[0], 400)

    def test_07_grpc(self):
        admin = self.admin_token()
        reader = self.ensure_user("reader", "reader-pw", "readers", [("public:*:*", "r")])
        client = NacosGrpcClient(self.dnsd.grpc_port).connect()  # connecting needs no token
        try:
            instance = {"namespace": "public", "serviceName": "grpc-auth", "groupName": "DEFAULT_GROUP",
                        "type": "registerInstance",
                        "instance": {"ip": "10.3.0.1", "port": 80, "weight": 1.0, "healthy": True,
                                     "enabled": True, "ephemeral": True, "clusterName": "DEFAULT", "metadata": {}}}
            config = {"dataId": "grpc-auth", "group": "DEFAULT_GROUP", "tenant": "", "content": "g"}
            batch = dict(instance, type="batchRegisterInstance", instances=[instance["instance"]])
            persistent = dict(instance, serviceName="grpc-auth-p",
                              instance=dict(instance["instance"], ephemeral=False))
            removed = {"dataId": "grpc-auth-gone", "group": "DEFAULT_GROUP", "tenant": ""}
            for type_name, body in (("InstanceRequest", instance), ("BatchInstanceRequest", batch),
                                    ("PersistentInstanceRequest", persistent),
                                    ("ConfigPublishRequest", config), ("ConfigRemoveRequest", removed)):
                for why, token in (("none", None), ("garbage", "x.y.z"), ("expired", forge("nacos", int(time.time()) - 5)),
                                   ("reader", reader)):
                    headers = {"accessToken": token} if token else {}
                    rtype, answer = client.request(type_name, body, headers=headers)
                    self.assertEqual(answer.get("errorCode"), 403, f"{type_name} with {why}: {rtype} {answer}")
                rtype, answer = client.request(type_name, body, headers={"accessToken": admin})
                self.assertEqual(answer.get("resultCode"), 200, f"{type_name}: {rtype} {answer}")
            rtype, answer = client.request("ConfigQueryRequest", config, headers={"accessToken": reader})
            self.assertEqual((rtype, answer.get("content")), ("ConfigQueryResponse", "g"))
            rtype, answer = client.request("ConfigQueryRequest", config)
            self.assertEqual(answer.get("errorCode"), 403)
        finally:
            client.close()

    def test_08_dns_answers_without_credentials(self):
        admin = self.admin_token()
        self.call("POST", "/nacos/v1/ns/instance", {"serviceName": "dns-auth", "ip": "10.4.0.1", "port": 80}, admin)
        answer = query(self.dnsd.dns_port, "dns-auth.svc.nacos.internal.", "A")
        self.assertEqual([r.address for rrset in answer.answer for r in rrset], ["10.4.0.1"])

    def test_09_nacos_npm_sdk_with_username_and_password(self):
        self.ensure_user("sdk", "sdk-pw", "sdk-role", [("public:*:*", "rw")])
        env = dict(os.environ, NACOS_USERNAME="sdk", NACOS_PASSWORD="sdk-pw")
        server = f"127.0.0.1:{self.dnsd.port}"
        sdk = subprocess.Popen(["node", os.path.join(JS_DIR, "register_instances.js"), server, "sdk-auth", "10.5.0.", "2"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        try:
            line = sdk.stdout.readline()
            self.assertEqual(json.loads(line), {"registered": ["10.5.0.1", "10.5.0.2"]})
            listing = json.loads(self.call("GET", "/nacos/v1/ns/instance/list", {"serviceName": "sdk-auth"}, self.admin_token())[1])
            self.assertEqual(sorted(h["ip"] for h in listing["hosts"]), ["10.5.0.1", "10.5.0.2"])
        finally:
            sdk.stdin.close()
            sdk.wait(timeout=30)
            sdk.stdout.close()
        out = subprocess.run(["node", os.path.join(JS_DIR, "publish_configs.js"), server, "sdk-cfg-", "3"],
                             capture_output=True, text=True, timeout=60, env=env)
        result = json.loads(out.stdout)
        self.assertEqual(result["failed"], [])
        self.assertEqual(result["readBack"], {f"sdk-cfg-{i}": f"content of sdk-cfg-{i}" for i in range(3)})
        # The same SDK with a wrong password gets nothing written.
        env["NACOS_PASSWORD"] = "wrong"
        out = subprocess.run(["node", os.path.join(JS_DIR, "publish_configs.js"), server, "sdk-bad-", "1"],
                             capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(json.loads(out.stdout)["acknowledged"], [])

    def test_09b_audit_names_the_authenticated_user(self):
        token = self.ensure_user("auditor", "auditor-pw", "auditors", [("public:*:*", "rw")])
        # The client claims to be someone else: the history and the log name the token's user.
        status, _ = self.call("POST", "/nacos/v1/cs/configs", {"dataId": "audited", "group": "DEFAULT_GROUP",
                                                                "content": "a", "src_user": "mallory"}, token)
        self.assertEqual(status, 200)
        history = json.loads(self.call("GET", "/nacos/v1/cs/history", {"search": "accurate", "dataId": "audited",
                                                                        "group": "DEFAULT_GROUP"}, token)[1])
        self.assertEqual([h["srcUser"] for h in history["pageItems"]], ["auditor"])
        client = NacosGrpcClient(self.dnsd.grpc_port).connect()
        try:
            rtype, answer = client.request("ConfigPublishRequest", {
                "dataId": "audited", "group": "DEFAULT_GROUP", "tenant": "", "content": "b",
                "additionMap": {"src_user": "mallory"}}, headers={"accessToken": token})
            self.assertEqual(answer.get("resultCode"), 200, answer)
        finally:
            client.close()
        history = json.loads(self.call("GET", "/nacos/v1/cs/history", {"search": "accurate", "dataId": "audited",
                                                                        "group": "DEFAULT_GROUP"}, token)[1])
        self.assertEqual([h["srcUser"] for h in history["pageItems"]], ["auditor", "auditor"])
        self.call("POST", "/nacos/v1/ns/instance", {"serviceName": "x", "ip": "10.7.0.1", "port": 1}, "bad.token.here")

        def audited():
            with open(self.dnsd.log_path) as f:
                log = f.read()
            return ("audit: user=auditor from=127.0.0.1 POST /nacos/v1/cs/configs public:DEFAULT_GROUP:config/audited" in log
                    and "audit: user=auditor from=" in log and "ConfigPublishRequest public:DEFAULT_GROUP:config/audited" in log
                    and "audit: refused user=- from=127.0.0.1 POST /nacos/v1/ns/instance: token invalid!" in log)
        self.assertTrue(wait_until(audited, timeout=5))

    def test_10_auth_data_survives_kill_9_and_failures_are_counted(self):
        self.ensure_user("durable", "durable-pw", "keepers", [("public:*:*", "r")])
        self.dnsd.kill9()
        self.dnsd.start()
        token = self.login("durable", "durable-pw")
        self.assertEqual(self.call("GET", "/nacos/v1/ns/service/list", {"pageNo": 1, "pageSize": 10}, token)[0], 200)
        self.assertEqual(self.call("POST", "/nacos/v1/ns/instance", {"serviceName": "x", "ip": "10.6.0.1", "port": 1}, token)[0], 403)
        self.assertEqual(self.call("POST", "/nacos/v1/auth/users/admin", body={"password": "again"})[0], 409)
        self.call("GET", "/nacos/v1/ns/service/list")
        metrics = self.call("GET", "/metrics")[1]
        failures = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                       if line.startswith("dnsd_auth_failures_total{"))
        self.assertGreaterEqual(failures, 2)


class AuthStartupTest(unittest.TestCase):
    def run_dnsd(self, config):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "c.toml")
        with open(path, "w") as f:
            f.write(config)
        return subprocess.run([DNSD, "--config", path, "--data-dir", d, "--http-port", "0", "--dns-port", "0",
                               "--grpc-port", "0"], capture_output=True, text=True, timeout=20)

    def test_auth_on_needs_a_real_secret(self):
        for config in ("[auth]\nenabled = true\n",
                       f'[auth]\nenabled = true\ntoken_secret = "{base64.b64encode(b"short").decode()}"\n',
                       '[auth]\nenabled = true\ntoken_secret = "not base64!"\n'):
            out = self.run_dnsd(config)
            self.assertEqual(out.returncode, 2, config)
            self.assertIn("secret", out.stderr)


if __name__ == "__main__":
    unittest.main()

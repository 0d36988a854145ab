"""Nacos auth in a 3-node cluster of real processes: users, roles and permissions written
through any member reach every member through Raft; a token signed by one member is taken by
the others (they share the secret); a forwarded ephemeral write passes the guard where the
client sent it; revocations reach every member; auth data survives kill -9 of a member and
reaches a member that was down.

Runs in a private network namespace like the other cluster tests (cluster_harness)."""
import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import IPS, Cluster, call, enter_private_network_namespace  # noqa: E402
from harness import wait_until  # noqa: E402

if __name__ == "__main__":
    enter_private_network_namespace(__file__)

SECRET = base64.b64encode(os.urandom(32)).decode()
CONFIG = f'[cluster]\nsnapshot_every = 50\n[auth]\nenabled = true\ntoken_secret = "{SECRET}"\n'


def with_token(params, token):
    return dict(params, accessToken=token)


class ClusterAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(config_text=CONFIG)
        cls.cluster.start_all()
        # The cluster's own pages need a token too: the first admin is set (through whichever
        # member answers once a leader exists) before the harness looks for the leader.
        assert wait_until(lambda: call(IPS[0], "POST", "/nacos/v1/auth/users/admin",
                                       {"password": "admin-pw"})[0] in (200, 409), timeout=20)
        status, body = call(IPS[0], "POST", "/nacos/v1/auth/users/login", {"username": "nacos", "password": "admin-pw"})
        cls.cluster.token = json.loads(body)["accessToken"]
        cls.cluster.leader()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def login(self, ip, user, password):
        status, body = call(ip, "POST", "/nacos/v1/auth/users/login", {"username": user, "password": password})
        return json.loads(body)["accessToken"] if status == 200 else None

    def test_auth_data_is_replicated_and_tokens_work_on_every_member(self):
        a, b, c = IPS
        leader = self.cluster.leader()
        follower = next(ip for ip in IPS if ip != leader)
        # The first admin (set through whichever member answered first) is on every member.
        for ip in IPS:
            self.assertTrue(wait_until(lambda ip=ip: self.login(ip, "nacos", "admin-pw") is not None), ip)
            self.assertEqual(call(ip, "POST", "/nacos/v1/auth/users/admin", {"password": "x"})[0], 409, ip)
        admin = self.login(a, "nacos", "admin-pw")
        # A user and its grants made through three different members.
        self.assertEqual(call(b, "POST", "/nacos/v1/auth/users", with_token({"username": "app", "password": "app-pw"}, admin))[0], 200)
        self.assertEqual(call(c, "POST", "/nacos/v1/auth/roles", with_token({"role": "apps", "username": "app"}, admin))[0], 200)
        self.assertEqual(call(a, "POST", "/nacos/v1/auth/permissions",
                              with_token({"role": "apps", "resource": "public:*:*", "action": "rw"}, admin))[0], 200)
        token = self.login(c, "app", "app-pw")
        # Ephemeral registrations through every member: a member that does not own the client
        # forwards the write to its owner after its own guard passed it.
        for i, ip in enumerate(IPS):
            status, body = call(ip, "POST", "/nacos/v1/ns/instance",
                                with_token({"serviceName": "auth-svc", "ip": f"10.9.0.{i + 1}", "port": 80}, token))
            self.assertEqual((status, body), (200, "ok"), ip)
            self.assertEqual(call(ip, "POST", "/nacos/v1/ns/instance",
                                  {"serviceName": "auth-svc", "ip": "10.9.9.9", "port": 80})[0], 403, ip)

        def listed(ip):
            status, body = call(ip, "GET", "/nacos/v1/ns/instance/list", with_token({"serviceName": "auth-svc"}, token))
            return status == 200 and sorted(h["ip"] for h in json.loads(body)["hosts"]) == ["10.9.0.1", "10.9.0.2", "10.9.0.3"]
        for ip in IPS:
            self.assertTrue(wait_until(lambda ip=ip: listed(ip)), ip)
        # A persistent write (through Raft) with the same token, through a follower.
        status, body = call(follower, "POST", "/nacos/v1/cs/configs",
                            with_token({"dataId": "auth-cfg", "group": "DEFAULT_GROUP", "content": "v1"}, token))
        self.assertEqual((status, body), (200, "true"))
        # Revoked through one member: refused on every member.
        self.assertEqual(call(b, "DELETE", "/nacos/v1/auth/permissions",
                              with_token({"role": "apps", "resource": "public:*:*", "action": "rw"}, admin))[0], 200)
        for ip in IPS:
            self.assertTrue(wait_until(lambda ip=ip: call(ip, "POST", "/nacos/v1/cs/configs", with_token(
                {"dataId": "auth-cfg", "group": "DEFAULT_GROUP", "content": "v2"}, token))[0] == 403), ip)

    def test_a_member_that_was_down_learns_the_users_made_meanwhile(self):
        leader = self.cluster.leader()
        admin = self.login(leader, "nacos", "admin-pw")
        down = next(ip for ip in IPS if ip != leader)
        self.cluster.nodes[down].kill9()
        # Enough writes that the log is compacted past them: the member catches up by snapshot.
        for i in range(60):
            status, _ = call(leader, "POST", "/nacos/v1/auth/users", with_token({"username": f"late{i}", "password": "pw"}, admin))
            self.assertEqual(status, 200)
        self.cluster.start(down)
        self.assertTrue(wait_until(lambda: self.login(down, "late59", "pw") is not None, timeout=20))
        self.assertIsNotNone(self.login(down, "late0", "pw"))


if __name__ == "__main__":
    unittest.main()

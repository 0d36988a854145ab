"""Nacos auth in a 3-node cluster of real processes: users, roles and permissions written
through any member reach every member through Raft; a token signed by one member is taken by
the others (they share the secret); a forwarded ephemeral write passes the guard where the
client sent it; revocations reach every member; auth data survives kill -9 of a member and
reaches a member that was down. And a cluster whose peer port speaks mutual TLS: it elects and
replicates, while callers without a member certificate get no connection.

Runs in a private network namespace like the other cluster tests (cluster_harness)."""
import base64
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import IPS, PEER_PORT, Cluster, call, config_on, enter_private_network_namespace, publish  # noqa: E402
from harness import wait_until  # noqa: E402
from tls_certs import make_ca, make_cert  # noqa: E402

if __name__ == "__main__":
    enter_private_network_namespace(__file__)

import grpc  # noqa: E402

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


class ClusterPeerTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dnsd-peer-tls-")
        os.chmod(cls.dir, 0o755)
        cls.ca = make_ca(cls.dir, "cluster-ca")
        cls.member = make_cert(cls.dir, "member", cls.ca, ips=IPS)
        for path in os.listdir(cls.dir):
            os.chmod(os.path.join(cls.dir, path), 0o644)
        config = (f'[tls]\ncert_file = "{cls.member[0]}"\nkey_file = "{cls.member[1]}"\n'
                  f'ca_file = "{cls.ca[0]}"\nhttp = false\ngrpc = false\n')
        cls.cluster = Cluster(config_text=config)
        cls.cluster.start_all()
        cls.cluster.leader()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_members_replicate_over_mutual_tls_and_strangers_get_no_connection(self):
        leader = self.cluster.leader()
        follower = next(ip for ip in IPS if ip != leader)
        self.assertTrue(publish(follower, "over-mtls", "v1"))  # forwarded to the leader
        for ip in IPS:
            self.assertTrue(wait_until(lambda ip=ip: config_on(ip, "over-mtls") == "v1"), ip)

        def peer_call(credentials):
            channel = grpc.secure_channel(f"{leader}:{PEER_PORT}", credentials)
            try:
                channel.unary_unary("/dnsd.peer.Peer/Raft")(b"", timeout=3)
            finally:
                channel.close()

        with open(self.ca[0], "rb") as f:
            ca_pem = f.read()
        other_ca = make_ca(self.dir, "other-ca")
        stranger = make_cert(self.dir, "stranger", other_ca, ips=IPS)
        with open(stranger[0], "rb") as c, open(stranger[1], "rb") as k:
            stranger_pem = (c.read(), k.read())
        with open(self.member[0], "rb") as c, open(self.member[1], "rb") as k:
            member_pem = (c.read(), k.read())
        # Trusting the cluster's CA but presenting no certificate, or one of another CA: the
        # handshake fails, no call is made.
        for creds in (grpc.ssl_channel_credentials(root_certificates=ca_pem),
                      grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=stranger_pem[1],
                                                   certificate_chain=stranger_pem[0])):
            with self.assertRaises(grpc.RpcError) as refused:
                peer_call(creds)
            self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # A member's certificate without the cluster key gets a connection but no call.
        with self.assertRaises(grpc.RpcError) as refused:
            peer_call(grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=member_pem[1],
                                                   certificate_chain=member_pem[0]))
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertTrue(publish(leader, "over-mtls", "v2"))


if __name__ == "__main__":
    unittest.main()

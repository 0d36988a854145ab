"""Three real dnsd processes as a Raft cluster on 127.0.0.1, 127.0.0.2 and 127.0.0.3.

The test re-runs itself inside a private network namespace (`unshare -n`), so the nodes can
use Nacos's own ports (HTTP 8848, gRPC 9848, peer 9849) and nftables rules can cut links
without touching the host. On loopback every connection leaves from 127.0.0.1, so each node
runs under its own uid and a rule names a node's outgoing packets by `meta skuid`.

Writes go through every node (followers forward to the leader) with curl, a Nacos gRPC client
and the nacos npm SDK; the leader is killed with SIGKILL in the middle of a publish stream,
again and again; the leader is cut off in a minority. After each, every acknowledged write
must be on every node.
"""
import hashlib
import math
import random
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import (  # noqa: E402
    CONFIG, GRPC_PORT, HTTP_PORT, IPS, PEER_PORT, JS_DIR, SNAPSHOT_EVERY, Cluster, Partition, call, config_on,
    enter_private_network_namespace, publish)
from harness import wait_until  # noqa: E402
from nacos_grpc import NacosGrpcClient  # noqa: E402
import linearizability  # noqa: E402

if __name__ == "__main__":
    enter_private_network_namespace(__file__)


class ClusterRaftTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()
        cls.cluster.start_all()
        cls.cluster.leader()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def setUp(self):
        # Each test starts from a whole, healed cluster.
        for ip in IPS:
            if ip not in self.cluster.alive():
                self.cluster.start(ip)
        self.cluster.leader()

    def assert_everywhere(self, expected, timeout=15):
        """Every node holds every config of `expected` ({dataId: content})."""
        for ip in self.cluster.alive():
            missing = {}

            def all_there():
                missing.clear()
                for data_id, content in expected.items():
                    got = config_on(ip, data_id)
                    if got != content:
                        missing[data_id] = got
                return not missing
            self.assertTrue(wait_until(all_there, timeout=timeout, interval=0.2),
                            f"{ip} lacks {len(missing)} acknowledged writes, e.g. {list(missing.items())[:5]}")

    def test_members_roles_and_states(self):
        leader = self.cluster.leader()
        for ip in IPS:
            status, body = call(ip, "GET", "/nacos/v1/core/cluster/nodes")
            self.assertEqual(status, 200)
            members = {m["address"]: m for m in json.loads(body)["data"]}
            self.assertEqual(set(members), {f"{x}:{HTTP_PORT}" for x in IPS})
            self.assertTrue(wait_until(lambda: all(
                m["state"] == "UP" for m in json.loads(call(ip, "GET", "/nacos/v1/core/cluster/nodes")[1])["data"])))
            for m in members.values():
                self.assertEqual(m["extendInfo"]["raftMetaData"]["metaDataMap"]["dnsd_cp"]["leader"],
                                 f"{leader}:{HTTP_PORT}")
            status, body = call(ip, "GET", "/nacos/v2/core/cluster/node/list")
            self.assertEqual(len(json.loads(body)["data"]), 3)
        roles = sorted(self.cluster.role(ip) for ip in IPS)
        self.assertEqual(roles, ["FOLLOWER", "FOLLOWER", "LEADER"])
        status, metrics  = call(leader, "GET", "/metrics")
        self.assertIn("dnsd_raft_is_leader 1", metrics)
        self.assertIn("dnsd_cluster_members_up 3", metrics)

    def test_peer_port_serves_key_holders_only(self):
        # A client that reaches a member's peer port gets nothing without the cluster key,
        # whatever it claims: no header, a forged one, Nacos's server User-Agent.
        import grpc
        ip = self.cluster.leader()
        before = self.cluster.metric(ip, "dnsd_peer_unauthenticated_calls_total")
        channel = grpc.insecure_channel(f"{ip}:{PEER_PORT}", options=[("grpc.primary_user_agent", "Nacos-Server:v2.4.0")])
        try:
            for method in ("/dnsd.peer.Peer/Raft", "/dnsd.peer.Peer/Forward", "/dnsd.peer.Peer/ForwardHttp"):
                call_peer = channel.unary_unary(method)
                for metadata in ((), (("x-dnsd-peer-auth", f"{int(time.time())}.{'0' * 64}"),),
                                 (("x-dnsd-peer-auth", "Nacos-Server"),)):
                    with self.assertRaises(grpc.RpcError) as refused:
                        call_peer(b"", metadata=metadata, timeout=5)
                    self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAUTHENTICATED, (method, metadata))
        finally:
            channel.close()
        self.assertGreaterEqual(self.cluster.metric(ip, "dnsd_peer_unauthenticated_calls_total") - before, 9)
        # The members themselves, holding the key, carry on.
        self.assertTrue(publish(ip, "after-strangers", "v"))

    def test_writes_through_every_node_with_curl_grpc_and_the_npm_sdk(self):
        leader = self.cluster.leader()
        followers = [ip for ip in IPS if ip != leader]
        expected = {}
        # curl: a config and a persistent instance through every node.
        for n, ip in enumerate(IPS):
            node = self.cluster.nodes[ip]
            status, body = node.curl("POST", "/nacos/v1/cs/configs",
                                     body={"dataId": f"curl-{n}", "group": "DEFAULT_GROUP", "content": f"via {ip}"})
            self.assertEqual((status, body), (200, "true"), ip)
            expected[f"curl-{n}"] = f"via {ip}"
            # Read-your-writes on the node written through, at once.
            self.assertEqual(config_on(ip, f"curl-{n}"), f"via {ip}")
            status, body = node.curl("POST", "/nacos/v1/ns/instance",
                                     {"serviceName": "cluster-svc", "ip": f"10.9.0.{n + 1}", "port": 80,
                                      "ephemeral": "false"})
            self.assertEqual((status, body), (200, "ok"), ip)
        # A CAS publish through a follower: the state machine's refusal comes back as such.
        status, _ = self.cluster.nodes[followers[0]].curl(
            "POST", "/nacos/v1/cs/configs",
            body={"dataId": "curl-0", "group": "DEFAULT_GROUP", "content": "lost", "casMd5": "0" * 32})
        self.assertNotEqual(status, 200)
        # gRPC: a Nacos 2.x client connected to a follower.
        client = NacosGrpcClient(GRPC_PORT, host=followers[1])
        try:
            client.connect()
            rtype, body = client.request("ConfigPublishRequest", {"dataId": "grpc-0", "group": "DEFAULT_GROUP",
                                                                  "content": "via grpc", "module": "config"})
            self.assertEqual((rtype, body["resultCode"]), ("ConfigPublishResponse", 200), body)
            expected["grpc-0"] = "via grpc"
        finally:
            client.close()
        # The nacos npm SDK against a follower.
        out = subprocess.run(["node", os.path.join(JS_DIR, "publish_configs.js"), f"{followers[0]}:{HTTP_PORT}",
                              "sdk-", "5"], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        result = json.loads(out.stdout)
        self.assertEqual(result["failed"], [])
        for data_id in result["acknowledged"]:
            self.assertEqual(result["readBack"][data_id], f"content of {data_id}")
            expected[data_id] = f"content of {data_id}"
        self.assertEqual(len(result["acknowledged"]), 5)

        self.assert_everywhere(expected)
        for ip in IPS:
            def three_instances():
                status, body = call(ip, "GET", "/nacos/v1/ns/instance/list", {"serviceName": "cluster-svc"})
                return status == 200 and sorted(h["ip"] for h in json.loads(body)["hosts"]) == \
                    ["10.9.0.1", "10.9.0.2", "10.9.0.3"]
            self.assertTrue(wait_until(three_instances), ip)

    def test_leader_killed_mid_stream_again_and_again_loses_no_acknowledged_write(self):
        acknowledged = {}
        stop = threading.Event()
        lock = threading.Lock()
        timings = []  # (sent, acknowledged) of each acknowledged write, to measure failover (printed only)

        def publisher(worker):
            i = 0
            while not stop.is_set():
                for ip in IPS:
                    if stop.is_set():
                        break
                    data_id = f"stream-{worker}-{i}"
                    i += 1
                    sent = time.monotonic()
                    if publish(ip, data_id, f"{data_id} via {ip}", timeout=10):
                        with lock:
                            acknowledged[data_id] = f"{data_id} via {ip}"
                            timings.append((sent, time.monotonic()))
                    else:
                        time.sleep(0.02)

        workers = [threading.Thread(target=publisher, args=(w,)) for w in range(3)]
        for t in workers:
            t.start()
        failovers = []
        try:
            for _ in range(3):
                time.sleep(1.0)
                leader = self.cluster.leader()
                before = len(acknowledged)
                killed_at = time.monotonic()
                self.cluster.nodes[leader].kill9()
                survivors = [ip for ip in IPS if ip != leader]
                new_leader = self.cluster.leader(among=survivors)
                self.assertNotEqual(new_leader, leader)
                # Writes resume without the old leader.
                self.assertTrue(wait_until(lambda: len(acknowledged) >= before + 20, timeout=20),
                                f"writes did not resume: {before} -> {len(acknowledged)}")
                with lock:
                    failovers.append(min(acked for sent, acked in timings if sent > killed_at) - killed_at)
                self.cluster.start(leader)
        finally:
            stop.set()
            for t in workers:
                t.join()
        print(f"\nfailover to first acknowledged write (s): {[round(f, 2) for f in failovers]}; "
              f"{len(acknowledged)} writes acknowledged")
        self.cluster.wait_converged()
        self.assert_everywhere(acknowledged)

    def test_leader_cut_off_in_a_minority(self):
        old_leader = self.cluster.leader()
        old_term = self.cluster.term(old_leader)
        majority = [ip for ip in IPS if ip != old_leader]
        self.assertTrue(publish(old_leader, "before-cut", "1"))
        with Partition(self.cluster, old_leader):
            new_leader = self.cluster.leader(among=majority)
            self.assertGreater(self.cluster.term(new_leader), old_term)
            # The old leader steps down once it cannot hear a quorum (check-quorum).
            self.assertTrue(wait_until(lambda: self.cluster.role(old_leader) != "LEADER", timeout=10))
            # Its clients get an error, not a silent acceptance.
            self.assertFalse(publish(old_leader, "written-to-minority", "x", timeout=30))
            # The majority goes on, through its leader and its follower.
            for n, ip in enumerate(majority):
                self.assertTrue(publish(ip, f"majority-{n}", f"during cut via {ip}"))
            self.assertIsNone(config_on(old_leader, "majority-0"))

            def isolated_not_up():
                _, body  = call(new_leader, "GET", "/nacos/v1/core/cluster/nodes")
                return any(m["ip"] == old_leader and m["state"] != "UP" for m in json.loads(body)["data"])
            self.assertTrue(wait_until(isolated_not_up, timeout=15))
        # Healed: the old leader catches up and follows the new leader.
        self.assert_everywhere({"before-cut": "1", "majority-0": f"during cut via {majority[0]}",
                                "majority-1": f"during cut via {majority[1]}"})
        self.cluster.wait_converged()
        self.assertEqual(self.cluster.leader(), new_leader)
        for ip in IPS:
            self.assertIsNone(config_on(ip, "written-to-minority"), ip)
        self.assertTrue(publish(old_leader, "after-heal", "2"))
        self.assert_everywhere({"after-heal": "2"})

    def test_node_restarted_after_compaction_catches_up_by_snapshot(self):
        leader = self.cluster.leader()
        down = next(ip for ip in IPS if ip != leader)
        up = [ip for ip in IPS if ip != down]
        self.cluster.nodes[down].kill9()
        expected = {}
        # Enough writes for the leader to compact past everything the stopped node has.
        for n in range(3 * SNAPSHOT_EVERY):
            ip = up[n % 2]
            self.assertTrue(publish(ip, f"compacted-{n}", f"{n} via {ip}"))
            expected[f"compacted-{n}"] = f"{n} via {ip}"
        for n in range(5):
            status, body = call(up[n % 2], "POST", "/nacos/v1/ns/instance",
                                {"serviceName": "compacted-svc", "ip": f"10.8.0.{n}", "port": 80,
                                 "ephemeral": "false"})
            self.assertEqual((status, body), (200, "ok"))
        # Snapshots are written beside the Raft thread: the log is cut once one is on disk.
        self.assertTrue(wait_until(lambda: (self.cluster.metric(leader, "dnsd_raft_snapshot_index") or 0) > 0,
                                   timeout=10))
        restored_before = self.cluster.metric(leader, "dnsd_raft_snapshots_restored_total")
        self.assertIsNotNone(restored_before)

        self.cluster.start(down)
        self.cluster.wait_converged()
        self.assertGreaterEqual(self.cluster.metric(down, "dnsd_raft_snapshots_restored_total"), 1)
        self.assert_everywhere(expected, timeout=5)
        status, body = call(down, "GET", "/nacos/v1/ns/instance/list", {"serviceName": "compacted-svc"})
        self.assertEqual(sorted(h["ip"] for h in json.loads(body)["hosts"]), [f"10.8.0.{n}" for n in range(5)])

    def test_whole_cluster_killed_and_restarted_after_compaction_loses_nothing(self):
        expected = {}
        for n in range(2 * SNAPSHOT_EVERY + 17):
            ip = IPS[n % 3]
            self.assertTrue(publish(ip, f"restart-{n}", f"{n} via {ip}"))
            expected[f"restart-{n}"] = f"{n} via {ip}"
        status, body = call(IPS[1], "POST", "/nacos/v1/ns/instance",
                            {"serviceName": "restart-svc", "ip": "10.7.0.1", "port": 80, "ephemeral": "false"})
        self.assertEqual((status, body), (200, "ok"))
        self.cluster.wait_converged()
        for ip in IPS:
            self.assertTrue(wait_until(lambda: (self.cluster.metric(ip, "dnsd_raft_snapshot_index") or 0) > 0,
                                       timeout=10), ip)
            self.cluster.nodes[ip].kill9()
        for ip in IPS:
            self.cluster.start(ip)
        self.cluster.leader()
        self.assert_everywhere(expected, timeout=5)
        for ip in IPS:
            status, body = call(ip, "GET", "/nacos/v1/ns/instance/list", {"serviceName": "restart-svc"})
            self.assertEqual([h["ip"] for h in json.loads(body)["hosts"]], ["10.7.0.1"], ip)

    def test_history_under_kills_and_cuts_is_linearizable(self):
        """Concurrent writes, CAS writes and linearizable reads of a few configs through
        random nodes while the leader is killed and, later, cut off; every key's history
        must be linearizable."""
        keys = [f"lin-{k}" for k in range(8)]
        history = {k: [] for k in keys}
        lock = threading.Lock()
        stop = threading.Event()
        t0 = time.monotonic()

        def now():
            return time.monotonic() - t0

        def client(name, seed):
            rng = random.Random(seed)
            seen = {}  # the last value this client read or wrote, per key
            n = 0
            while not stop.is_set():
                key, ip = rng.choice(keys), rng.choice(IPS)
                n += 1
                value = f"{name}-{n}"
                kind = rng.choice(["write", "cas", "read", "read"])
                if kind == "cas" and seen.get(key) is None:
                    kind = "write"
                params = {"dataId": key, "group": "DEFAULT_GROUP"}
                start = now()
                if kind == "read":
                    params["consistency"] = "linearizable"
                    status, body = call(ip, "GET", "/nacos/v1/cs/configs", params, timeout=10)
                    if status not in (200, 404):
                        continue  # an unknown read tells nothing
                    op = linearizability.Op("read", start, now(), "ok", body if status == 200 else None,
                                            client=name)
                    seen[key] = op.value
                else:
                    params["content"] = value
                    expected = seen.get(key) if kind == "cas" else None
                    if kind == "cas":
                        params["casMd5"] = hashlib.md5(expected.encode()).hexdigest()
                    status, body = call(ip, "POST", "/nacos/v1/cs/configs", params, timeout=10)
                    if status == 200 and body == "true":
                        outcome, complete = "ok", now()
                        seen[key] = value
                    elif kind == "cas" and status == 409:
                        outcome, complete = "fail", now()
                    else:
                        outcome, complete = linearizability.UNKNOWN, math.inf
                    op = linearizability.Op(kind, start, complete, outcome, value, expected, client=name)
                with lock:
                    history[key].append(op)

        workers = [threading.Thread(target=client, args=(f"c{w}", 1000 + w)) for w in range(4)]
        for t in workers:
            t.start()
        try:
            time.sleep(2)
            leader = self.cluster.leader()
            self.cluster.nodes[leader].kill9()
            self.cluster.leader(among=[ip for ip in IPS if ip != leader])
            time.sleep(1)
            self.cluster.start(leader)
            time.sleep(1)
            leader = self.cluster.leader()
            with Partition(self.cluster, leader):
                self.cluster.leader(among=[ip for ip in IPS if ip != leader])
                time.sleep(2)
            time.sleep(2)
        finally:
            stop.set()
            for t in workers:
                t.join()
        for key in keys:
            ops = history[key]
            counts = {o: sum(1 for op in ops if op.outcome == o) for o in ("ok", "fail", "unknown")}
            print(f"\n{key}: {len(ops)} operations {counts}")
            self.assertGreater(counts["ok"], 10, key)
            ok, detail = linearizability.check(ops)
            if not ok:
                path = os.path.join(tempfile.gettempdir(), f"dnsd-history-{key}.txt")
                with open(path, "w") as f:
                    f.writelines(f"{op!r}\n" for op in sorted(ops, key=lambda o: o.invoke))
                self.fail(f"{key}: not linearizable; the history is in {path}: {detail[:2000]}")


class ClusterMembershipTest(unittest.TestCase):
    """A fourth node joins as a learner, is promoted, and a voter is removed, while writes go on
    through the members; nothing acknowledged is lost."""
    NEW = "127.0.0.4"

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(joining=[cls.NEW])
        cls.cluster.start_all()
        cls.cluster.leader(among=IPS)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def change(self, via, method, params, expect_ok=True, timeout=20):
        """Sends a membership change through `via`; retries refusals while a previous change
        or the learner's catch-up is still under way."""
        deadline = time.time() + timeout
        while True:
            status, body = call(via, method, "/dnsd/v1/cluster/members", params)
            if status == 200 or time.time() > deadline:
                break
            time.sleep(0.2)
        if expect_ok:
            self.assertEqual(status, 200, body)
        return status, body

    def test_add_a_learner_promote_it_and_remove_a_voter_while_writing(self):
        c = self.cluster
        c.start(self.NEW)
        self.assertEqual(c.membership(self.NEW), "", "a joining node is not a member yet")
        acknowledged, stop, lock = {}, threading.Event(), threading.Lock()
        writers = list(IPS)

        def writer():
            n = 0
            while not stop.is_set():
                ip = writers[n % len(writers)]
                n += 1
                if publish(ip, f"member-{n}", f"{n} via {ip}", timeout=10):
                    with lock:
                        acknowledged[f"member-{n}"] = f"{n} via {ip}"
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            leader = c.leader(among=IPS)
            follower = next(ip for ip in IPS if ip != leader)
            # Added through a follower, which forwards the change to the leader.
            self.change(follower, "POST", {"address": f"{self.NEW}:{HTTP_PORT}"})
            self.assertTrue(wait_until(lambda: c.membership(self.NEW) == "LEARNER", timeout=15))
            self.assertEqual(c.voters(leader), IPS)
            status, _ = self.change(leader, "POST", {"address": f"{self.NEW}:{HTTP_PORT}"},
                                    expect_ok=False, timeout=0)
            self.assertNotEqual(status, 200, "already a member")
            # Once it has caught up it is promoted; the leader refuses while it lags.
            self.change(leader, "PUT", {"address": f"{self.NEW}:{HTTP_PORT}", "action": "promote"})
            self.assertTrue(wait_until(lambda: c.membership(self.NEW) == "VOTER", timeout=15))
            self.assertTrue(wait_until(lambda: c.voters(leader) == sorted(IPS + [self.NEW])))
            writers.append(self.NEW)  # and it takes writes too
            time.sleep(1)
            # Remove a voter that is not the leader, then stop it: three voters remain.
            leader = c.leader(among=IPS + [self.NEW])
            removed = next(ip for ip in IPS if ip != leader)
            writers.remove(removed)
            self.change(self.NEW, "DELETE", {"address": f"{removed}:{HTTP_PORT}"})
            remaining = [ip for ip in IPS + [self.NEW] if ip != removed]
            self.assertTrue(wait_until(lambda: c.voters(leader) == sorted(remaining)))
            c.nodes[removed].kill9()
            before = len(acknowledged)
            self.assertTrue(wait_until(lambda: len(acknowledged) > before + 20, timeout=15),
                            "writes go on without the removed node")
        finally:
            stop.set()
            thread.join()
        for ip in remaining:
            def all_there():
                return all(config_on(ip, k) == v for k, v in acknowledged.items())
            self.assertTrue(wait_until(all_there, timeout=15), ip)
        print(f"\n{len(acknowledged)} writes acknowledged across the membership changes")


RETENTION_S = 8


def history_rows(ip, data_id):
    status, body = call(ip, "GET", "/nacos/v1/cs/history",
                        {"search": "accurate", "dataId": data_id, "group": "DEFAULT_GROUP",
                         "pageNo": 1, "pageSize": 100})
    if status != 200:
        return None
    return [(row["id"], row["content"]) for row in json.loads(body)["pageItems"]]


class ConfigHistoryRetentionTest(unittest.TestCase):
    """History past config.history_retention is dropped by a trim that goes through the Raft
    log: every node drops the same rows, newer rows stay, and a node that was down while the
    trim committed drops them too when it catches up."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(config_text=CONFIG + f"[config]\nhistory_retention_ms = {RETENTION_S * 1000}\n")
        cls.cluster.start_all()
        cls.cluster.leader()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def test_old_history_is_dropped_alike_on_every_node(self):
        leader = self.cluster.leader()
        late = next(ip for ip in IPS if ip != leader)
        for n in range(5):
            self.assertTrue(publish(IPS[n % 3], "kept-short", f"old {n}"))
        old_written = time.time()
        time.sleep(RETENTION_S / 2)
        self.cluster.nodes[late].kill9()  # down while the trim commits
        newer = [f"new {n}" for n in range(2)]
        for content in newer:
            self.assertTrue(publish(leader, "kept-short", content))
        new_written = time.time()
        up = [ip for ip in IPS if ip != late]
        self.assertEqual(len(history_rows(leader, "kept-short")), 7)

        # An update row holds the version it replaced and is as old as the update: five rows
        # (the insert and four updates) are older than the pause, two are newer. The old ones
        # may go in several trims (each takes what is past the cut-off at that moment).
        def old_rows_gone():
            return all(len(history_rows(ip, "kept-short") or [None] * 7) <= 2 for ip in up)
        self.assertTrue(wait_until(old_rows_gone, timeout=RETENTION_S * 3, interval=0.2),
                        "history older than the retention was not dropped")
        observed = time.time()
        self.assertGreaterEqual(observed - old_written, RETENTION_S * 0.9, "dropped before its time")
        rows = {ip: history_rows(ip, "kept-short") for ip in up}
        self.assertEqual(rows[up[0]], rows[up[1]], "nodes dropped different rows")
        if observed < new_written + RETENTION_S - 1:
            # Rows newer than the cut-off stay (checked while they still are).
            self.assertEqual(sorted(c for _, c in rows[leader]), ["new 0", "old 4"], rows[leader])
        self.assertGreaterEqual(self.cluster.metric(leader, "dnsd_config_history_trims_total"), 1)

        self.cluster.start(late)
        self.cluster.wait_converged()
        self.assertTrue(wait_until(lambda: history_rows(late, "kept-short") == history_rows(leader, "kept-short"),
                                   timeout=10), "the restarted node did not drop the same rows")


class LinearizabilityCheckerTest(unittest.TestCase):
    """The checker itself must catch what it is there to catch."""
    Op = linearizability.Op

    def test_accepts_overlapping_operations_in_some_order(self):
        Op = self.Op
        ops = [Op("write", 0, 2, "ok", "a"), Op("read", 1, 3, "ok", None), Op("read", 2.5, 4, "ok", "a"),
               Op("cas", 5, 6, "ok", "b", "a"), Op("write", 5.5, math.inf, linearizability.UNKNOWN, "c"),
               Op("read", 7, 8, "ok", "b"), Op("cas", 9, 10, "fail", "d", "a")]
        self.assertTrue(linearizability.check(ops)[0])

    def test_finds_a_stale_read(self):
        Op = self.Op
        ops = [Op("write", 0, 1, "ok", "a"), Op("write", 2, 3, "ok", "b"), Op("read", 4, 5, "ok", "a")]
        self.assertFalse(linearizability.check(ops)[0])

    def test_finds_a_cas_that_should_have_failed(self):
        Op = self.Op
        ops = [Op("write", 0, 1, "ok", "a"), Op("write", 2, 3, "ok", "b"), Op("cas", 4, 5, "ok", "c", "a")]
        self.assertFalse(linearizability.check(ops)[0])

    def test_an_unknown_write_may_or_may_not_happen(self):
        Op = self.Op
        unknown = Op("write", 1, math.inf, linearizability.UNKNOWN, "x")
        seen = [Op("write", 0, 0.5, "ok", "a"), unknown, Op("read", 2, 3, "ok", "x")]
        unseen = [Op("write", 0, 0.5, "ok", "a"), unknown, Op("read", 2, 3, "ok", "a")]
        self.assertTrue(linearizability.check(seen)[0])
        self.assertTrue(linearizability.check(unseen)[0])
        # but not before it was invoked
        early = [Op("write", 0, 0.5, "ok", "a"), Op("read", 0.6, 0.9, "ok", "x"), unknown]
        self.assertFalse(linearizability.check(early)[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)

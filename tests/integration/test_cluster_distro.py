"""Distro with real processes: ephemeral instances registered on one member of a 3-node cluster
are answered by every member (DNS, HTTP lists, gRPC pushes), through kills, cuts and restarts.

Like test_cluster_raft, the test re-runs itself in a private network namespace, runs each node
under its own uid and cuts links with nftables (cluster_harness). Clients: curl, dnspython,
the nacos npm SDK (register_instances.js) and a Nacos gRPC client.
"""
import json
import os
import random
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import (  # noqa: E402
    GRPC_PORT, HTTP_PORT, IPS, JS_DIR, Cluster, Partition, call, enter_private_network_namespace)
from harness import wait_until  # noqa: E402
from nacos_grpc import NacosGrpcClient  # noqa: E402

if __name__ == "__main__":
    enter_private_network_namespace(__file__)

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402

VERIFY_INTERVAL_MS = 1000
CONFIG = f"""
[cluster]
snapshot_every = 1000
[distro]
verify_interval_ms = {VERIFY_INTERVAL_MS}
lost_owner_grace_ms = 3000
"""
ZONE = "nacos.internal"
# Instances that must not expire while a test runs (they get no heartbeats).
LONG_LIVED = json.dumps({"preserved.heart.beat.timeout": "600000", "preserved.ip.delete.timeout": "600000"})
# Instances kept alive by the test's own beats, and gone soon after they stop.
SHORT_LIVED = json.dumps({"preserved.heart.beat.interval": "500", "preserved.heart.beat.timeout": "2000",
                          "preserved.ip.delete.timeout": "4000"})


def curl(ip, method, path, params):
    """One request with curl (a real client); returns (status, body), status None on failure."""
    args = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "-X", method]
    url = f"http://{ip}:{HTTP_PORT}{path}"
    if method == "GET":
        args += ["-G"]
    for k, v in params.items():
        args += ["--data-urlencode", f"{k}={v}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=20)
    body, _, code = out.stdout.rpartition("\n")
    return (int(code), body) if code.isdigit() and code != "000" else (None, out.stderr)


def members_seen_by(ip):
    status, body = call(ip, "GET", "/nacos/v1/core/cluster/nodes", timeout=5)
    assert status == 200, (status, body)
    return json.loads(body)["data"]


def register(ip, service, instance_ip, port=8080, metadata=LONG_LIVED, **extra):
    return curl(ip, "POST", "/nacos/v1/ns/instance",
                {"serviceName": service, "ip": instance_ip, "port": port, "metadata": metadata, **extra})


def deregister(ip, service, instance_ip, port=8080):
    return curl(ip, "DELETE", "/nacos/v1/ns/instance", {"serviceName": service, "ip": instance_ip, "port": port})


def listed(ip, service):
    status, body = call(ip, "GET", "/nacos/v1/ns/instance/list", {"serviceName": service}, timeout=5)
    return sorted(h["ip"] for h in json.loads(body)["hosts"]) if status == 200 else None


def dump(ip):
    """Every instance a node serves, with what a client sees of it: the node's whole registry."""
    status, body = call(ip, "GET", "/nacos/v1/ns/service/list", {"pageNo": 1, "pageSize": 100000}, timeout=5)
    if status != 200:
        return None
    out = set()
    for name in json.loads(body)["doms"]:
        status, body = call(ip, "GET", "/nacos/v1/ns/instance/list", {"serviceName": name}, timeout=5)
        if status != 200:
            return None
        for h in json.loads(body)["hosts"]:
            out.add((name, h["ip"], h["port"], h["weight"], h["healthy"], json.dumps(h["metadata"], sort_keys=True)))
    return out


def owner_of(ip, instance_ip, port=8080):
    status, body = call(ip, "GET", "/nacos/v1/ns/operator/distro/client", {"ip": instance_ip, "port": port}, timeout=5)
    return json.loads(body)["responsibleServer"] if status == 200 else None


class Beater:
    """An HTTP client's SDK for instances registered with SHORT_LIVED: beats each of `clients` every
    500 ms through whichever of `live` answers. Started before the instances are registered, so none
    of them expires while a loaded machine takes its time to register the rest (a beat for an
    instance not yet registered is answered 20404 and changes nothing)."""

    def __init__(self, service, clients, live):
        self.service, self.clients, self.live = service, clients, live
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        while not self.stop.is_set():
            for ip in self.clients:
                for node in random.sample(self.live, len(self.live)):
                    status, _ = call(node, "PUT", "/nacos/v1/ns/instance/beat",
                                     {"serviceName": self.service, "ip": ip, "port": 8080}, timeout=2)
                    if status == 200:
                        break
            self.stop.wait(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def naming(service, **extra):
    return {"namespace": "public", "serviceName": service, "groupName": "DEFAULT_GROUP", "module": "naming", **extra}


def grpc_instance(ip, port=8080):
    return {"ip": ip, "port": port, "weight": 1.0, "healthy": True, "enabled": True, "ephemeral": True,
            "clusterName": "DEFAULT", "metadata": {}}


class ClusterDistroTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(config_text=CONFIG)
        cls.cluster.start_all()
        cls.cluster.leader()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def setUp(self):
        self.grpc_clients = []
        for ip in IPS:
            if ip not in self.cluster.alive():
                self.cluster.start(ip)
        self.wait_all_up()

    def tearDown(self):
        for c in self.grpc_clients:
            c.close()

    def wait_all_up(self, nodes=None):
        nodes = nodes or IPS

        def all_up():  # every node sees the others UP, and its Distro ring holds them
            for ip in nodes:
                status, body = call(ip, "GET", "/nacos/v1/core/cluster/nodes", timeout=5)
                if status != 200 or any(m["state"] != "UP" or not m["extendInfo"].get("distroInRing", m["ip"] == ip)
                                        for m in json.loads(body)["data"] if m["ip"] in nodes):
                    return False
            return True
        self.assertTrue(wait_until(all_up, timeout=20, interval=0.1))

    def dns_a(self, ip, service, timeout=1.0):
        query = dns.message.make_query(f"{service}.svc.{ZONE}", "A", use_edns=0, payload=4096)
        answer = dns.query.udp(query, ip, port=self.cluster.nodes[ip].dns_port, timeout=timeout)
        return sorted(r.address for rrset in answer.answer if rrset.rdtype == dns.rdatatype.A for r in rrset)

    def grpc(self, ip):
        client = NacosGrpcClient(GRPC_PORT, host=ip)
        client.connect()
        self.grpc_clients.append(client)
        return client

    def metric(self, ip, name):
        return self.cluster.metric(ip, name) or 0

    def assert_everywhere(self, service, ips, nodes=None, timeout=10):
        """Every node answers `service` with exactly `ips`, in DNS and in the HTTP list."""
        for node in nodes or self.cluster.alive():
            seen = {}

            def served():
                seen["dns"], seen["list"] = self.dns_a(node, service), listed(node, service)
                return seen["dns"] == sorted(ips) and seen["list"] == sorted(ips)
            if not wait_until(served, timeout=timeout, interval=0.02):
                self.fail(f"{node} serves {seen} for {service}, expected {sorted(ips)}; "
                          f"how the nodes see each other: {self.cluster_views()}")

    def cluster_views(self):
        """Each live node's view of the members and its Distro backlog, for failure messages
        (a convergence that did not happen is a cluster state worth reading)."""
        views = {}
        for ip in self.cluster.alive():
            status, body = call(ip, "GET", "/nacos/v1/core/cluster/nodes", timeout=5)
            try:
                members = json.loads(body)["data"] if status == 200 else body
                views[ip] = [(m.get("address"), m.get("state"), m.get("extendInfo", {}).get("distroPending"),
                              m.get("extendInfo", {}).get("distroInRing")) for m in members]
            except (ValueError, KeyError, TypeError, AttributeError):
                views[ip] = (status, body[:200])
        return views

    def assert_identical(self, expected=None, timeout=10):
        """Every live node holds the same registry (and, if given, exactly `expected`)."""
        dumps = {}

        def same():
            for ip in self.cluster.alive():
                dumps[ip] = dump(ip)
            values = list(dumps.values())
            return None not in values and all(v == values[0] for v in values) and \
                (expected is None or values[0] == expected)
        ok = wait_until(same, timeout=timeout, interval=0.1)
        if not ok:
            base = next(iter(dumps.values())) or set()
            diffs = {ip: (sorted((d or set()) - base)[:5], sorted(base - (d or set()))[:5]) for ip, d in dumps.items()}
            self.fail(f"registries differ (extra, missing vs the first node): {diffs}")
        return next(iter(dumps.values()))

    # ------------------------------------------------------------------ tests

    def test_instances_registered_on_one_node_are_served_and_pushed_by_every_node(self):
        a, b, c = IPS
        subscriber = self.grpc(c)
        rtype, body = subscriber.request("SubscribeServiceRequest", naming("everywhere", subscribe=True, clusters=""))
        self.assertEqual(rtype, "SubscribeServiceResponse")

        self.assertEqual(register(a, "everywhere", "10.20.0.1"), (200, "ok"))
        sdk = subprocess.Popen(["node", os.path.join(JS_DIR, "register_instances.js"), f"{a}:{HTTP_PORT}",
                                "everywhere", "10.20.1.", "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
        try:
            self.assertEqual(json.loads(sdk.stdout.readline())["registered"], ["10.20.1.1", "10.20.1.2"])
            publisher = self.grpc(a)
            rtype, body = publisher.request("InstanceRequest", naming("everywhere", type="registerInstance",
                                                                      instance=grpc_instance("10.20.2.1")))
            self.assertEqual(body["resultCode"], 200, body)
            all_four = ["10.20.0.1", "10.20.1.1", "10.20.1.2", "10.20.2.1"]
            self.assert_everywhere("everywhere", all_four)
            # The subscriber on C is pushed what was registered on A.
            subscriber.next_push("NotifySubscriberRequest", timeout=10,
                                 predicate=lambda b: sorted(h["ip"] for h in b["serviceInfo"]["hosts"]) == all_four)

            # Deregistration through curl, the SDK, and the gRPC connection going away.
            self.assertEqual(deregister(a, "everywhere", "10.20.0.1"), (200, "ok"))
            self.assert_everywhere("everywhere", all_four[1:])
            sdk.stdin.write("deregister\n")
            sdk.stdin.flush()
            self.assertIn("deregistered", json.loads(sdk.stdout.readline()))
            self.assert_everywhere("everywhere", ["10.20.2.1"])
            publisher.close()
            self.assert_everywhere("everywhere", [])
            subscriber.next_push("NotifySubscriberRequest", timeout=10, predicate=lambda b: b["serviceInfo"]["hosts"] == [])
        finally:
            sdk.stdin.close()
            sdk.wait(timeout=20)

        # Expiry: an instance whose beats stop expires on its owner, and so everywhere.
        with Beater("expiring", ["10.20.3.1"], IPS):
            self.assertEqual(register(b, "expiring", "10.20.3.1", metadata=SHORT_LIVED), (200, "ok"))
            self.assert_everywhere("expiring", ["10.20.3.1"])
        self.assert_everywhere("expiring", [], timeout=15)

    def test_writes_and_beats_reaching_a_non_owner_are_forwarded_to_the_owner(self):
        clients = [f"10.21.0.{i}" for i in range(1, 13)]
        owners = {ip: owner_of(IPS[0], ip) for ip in clients}
        # Every member names the same owner for every client.
        for node in IPS[1:]:
            self.assertEqual({ip: owner_of(node, ip) for ip in clients}, owners, self.cluster_views())
        self.assertEqual(len(set(owners.values())), 3, f"12 clients should land on all 3 members: {owners}")
        forwarded_before = sum(self.metric(ip, "dnsd_distro_forwarded_requests_total") for ip in IPS)
        with Beater("forwarded", clients, IPS):  # until the test's own beats below take over
            for n, ip in enumerate(clients):
                self.assertEqual(register(IPS[n % 3], "forwarded", ip, metadata=SHORT_LIVED), (200, "ok"))
            self.assert_everywhere("forwarded", clients)
        # Beats through every node in turn, for longer than the delete timeout: all stay.
        deadline = time.monotonic() + 6
        turn = 0
        while time.monotonic() < deadline:
            for ip in clients:
                status, body = curl(IPS[turn % 3], "PUT", "/nacos/v1/ns/instance/beat",
                                    {"serviceName": "forwarded", "ip": ip, "port": 8080})
                self.assertEqual(status, 200, body)
                self.assertEqual(json.loads(body)["code"], 10200, body)
                turn += 1
            time.sleep(0.4)
        self.assert_everywhere("forwarded", clients, timeout=1)
        forwarded = sum(self.metric(ip, "dnsd_distro_forwarded_requests_total") for ip in IPS) - forwarded_before
        # Two thirds of the registrations and beats reached a node that does not own the client.
        self.assertGreater(forwarded, 50)
        for ip in clients:
            deregister(IPS[0], "forwarded", ip)
        self.assert_everywhere("forwarded", [])

    def test_kill9_under_a_dns_probe_loses_no_live_instance_and_moves_only_the_victims_clients(self):
        victim, survivors = IPS[0], IPS[1:]
        clients = [f"10.22.0.{i}" for i in range(1, 21)]
        live = list(IPS)
        with Beater("probe", clients, live):
            self.kill9_under_a_dns_probe(victim, survivors, clients, live)
        for ip in clients:
            deregister(survivors[0], "probe", ip)

    def kill9_under_a_dns_probe(self, victim, survivors, clients, live):
        for n, ip in enumerate(clients):
            self.assertEqual(register(IPS[n % 3], "probe", ip, metadata=SHORT_LIVED), (200, "ok"))
        self.assert_everywhere("probe", clients)
        owners_before = {ip: owner_of(survivors[0], ip) for ip in clients}
        victims_clients = [ip for ip in clients if owners_before[ip] == f"{victim}:{HTTP_PORT}"]
        grpc_client = self.grpc(victim)
        grpc_client.request("InstanceRequest", naming("probe-grpc", type="registerInstance",
                                                      instance=grpc_instance("10.22.1.1")))
        self.assert_everywhere("probe-grpc", ["10.22.1.1"])

        stop = threading.Event()
        problems, probes = [], [0]

        def prober():  # a resolver asking the survivors every 10 ms
            while not stop.is_set():
                for node in survivors:
                    try:
                        got = self.dns_a(node, "probe", timeout=0.5)
                        probes[0] += 1
                        if got != sorted(clients):
                            problems.append((node, time.monotonic(), sorted(set(clients) - set(got))))
                    except Exception as e:  # noqa: BLE001 - a timeout is a failed answer too
                        problems.append((node, time.monotonic(), repr(e)))
                stop.wait(0.01)

        moved_before = sum(self.metric(ip, "dnsd_distro_moved_clients_total") for ip in survivors)
        probe_thread = threading.Thread(target=prober)
        probe_thread.start()
        try:
            time.sleep(1)
            self.cluster.nodes[victim].kill9()
            live.remove(victim)
            time.sleep(8)  # past the delete timeout of instances whose beats went to the victim
        finally:
            stop.set()
            probe_thread.join()
        self.assertEqual(problems[:5], [], f"{len(problems)} of {probes[0]} probe answers lacked instances")
        self.assertGreater(probes[0], 300)

        # Only the victim's clients changed owner (consistent hashing); hash % N would move most.
        owners_after = {ip: owner_of(survivors[0], ip) for ip in clients}
        for ip in clients:
            if ip not in victims_clients:
                self.assertEqual(owners_after[ip], owners_before[ip], ip)
            self.assertIn(owners_after[ip], [f"{s}:{HTTP_PORT}" for s in survivors])
        moved = sum(self.metric(ip, "dnsd_distro_moved_clients_total") for ip in survivors) - moved_before
        print(f"\nkill -9 of one of 3: {len(victims_clients)} of {len(clients)} probe clients had that owner; "
              f"survivors adopted {moved:.0f} HTTP clients in all ({moved / max(1, len(clients)):.2f} of the "
              f"probe clients; hash % N would have moved ~{1 - 1 / 2:.2f} of all clients)")

        # The victim's gRPC client is dropped after the grace; reconnected elsewhere, it returns.
        self.assert_everywhere("probe-grpc", [], nodes=survivors, timeout=10)
        again = self.grpc(survivors[1])
        again.request("InstanceRequest", naming("probe-grpc", type="registerInstance",
                                                instance=grpc_instance("10.22.1.1")))
        self.assert_everywhere("probe-grpc", ["10.22.1.1"], nodes=survivors)
        again.close()

    def test_a_cut_off_node_and_the_others_converge_to_identical_registries_after_healing(self):
        a, b, c = IPS
        for n in range(1, 5):
            self.assertEqual(register(IPS[n % 3], "split", f"10.23.0.{n}"), (200, "ok"))
        self.assert_everywhere("split", [f"10.23.0.{n}" for n in range(1, 5)])
        with Partition(self.cluster, a):
            def a_alone():
                status, body = call(a, "GET", "/nacos/v1/core/cluster/nodes", timeout=5)
                return status == 200 and all(m["state"] != "UP" for m in json.loads(body)["data"] if m["ip"] != a)
            self.assertTrue(wait_until(a_alone, timeout=20, interval=0.1))
            # Both sides take writes.
            self.assertEqual(register(a, "split", "10.23.1.1"), (200, "ok"))
            self.assertEqual(register(a, "split", "10.23.1.2"), (200, "ok"))
            self.assertEqual(register(b, "split", "10.23.2.1"), (200, "ok"))
            self.assertEqual(register(c, "split", "10.23.2.2"), (200, "ok"))
            self.assertEqual(deregister(a, "split", "10.23.0.1"), (200, "ok"))
            self.assertEqual(deregister(b, "split", "10.23.0.2"), (200, "ok"))
            self.assertIn("10.23.1.1", listed(a, "split"))
            self.assertNotIn("10.23.1.1", listed(b, "split"))
            # a's member list shows what the others lack of its writes, and for how long.
            self.assertTrue(wait_until(lambda: all(
                m["extendInfo"]["distroPending"] >= 1 and m["extendInfo"]["distroLagMs"] > 0
                for m in members_seen_by(a) if m["ip"] != a), timeout=10))
        healed = time.monotonic()
        # Every write of both sides, on every node; the same registry everywhere.
        expected = ["10.23.0.3", "10.23.0.4", "10.23.1.1", "10.23.1.2", "10.23.2.1", "10.23.2.2"]
        self.assert_everywhere("split", expected, timeout=20)
        self.assert_identical(timeout=10)
        for ip in IPS:  # nothing left to deliver; no Distro lag toward a node itself
            self.assertTrue(wait_until(lambda: all(
                ("distroPending" not in m["extendInfo"]) if m["ip"] == ip else
                (m["extendInfo"]["distroPending"], m["extendInfo"]["distroLagMs"]) == (0, 0)
                for m in members_seen_by(ip)), timeout=10), members_seen_by(ip))
        print(f"\nafter healing a cut: identical registries {time.monotonic() - healed:.2f} s later "
              f"(verify interval {VERIFY_INTERVAL_MS / 1000:.1f} s, plus the time to see the peers again)")
        for ip in expected:
            deregister(b, "split", ip)

    def test_rolling_restart_under_churn_leaves_every_node_equal_to_its_peers(self):
        # The same instance registered twice, through two nodes: the second wins everywhere.
        self.assertEqual(register(IPS[0], "twice", "10.24.9.1", weight=1), (200, "ok"))
        self.assertEqual(register(IPS[2], "twice", "10.24.9.1", weight=3), (200, "ok"))

        def weights():
            return {ip: [h["weight"] for h in json.loads(call(ip, "GET", "/nacos/v1/ns/instance/list",
                                                                  {"serviceName": "twice"})[1])["hosts"]]
                    for ip in IPS}
        self.assertTrue(wait_until(lambda: weights() == {ip: [3.0] for ip in IPS}, timeout=10), weights())

        present, gone, unsure = set(), set(), set()
        lock = threading.Lock()
        stop, pause, paused = threading.Event(), threading.Event(), threading.Event()

        def churn():
            rng = random.Random(7)
            n = 0
            while not stop.is_set():
                if pause.is_set():
                    paused.set()
                    stop.wait(0.02)
                    continue
                paused.clear()
                n += 1
                ip = f"10.24.{n // 250}.{n % 250 + 1}"
                node = rng.choice(self.cluster.alive() or IPS)
                status, body = register(node, "churn", ip)
                with lock:
                    (present if (status, body) == (200, "ok") else unsure).add(ip)
                if n % 3 == 0:
                    with lock:
                        victim = rng.choice(sorted(present)) if present else None
                    if victim:
                        status, body = deregister(rng.choice(self.cluster.alive() or IPS), "churn", victim)
                        with lock:
                            present.discard(victim)
                            (gone if (status, body) == (200, "ok") else unsure).add(victim)

        worker = threading.Thread(target=churn)
        worker.start()
        try:
            for ip in IPS:
                time.sleep(1)
                self.cluster.nodes[ip].stop()
                time.sleep(1)
                self.cluster.start(ip)  # returns once the node has loaded its peers' data
                status, body = call(ip, "GET", "/nacos/v1/console/health/readiness")
                self.assertEqual((status, body), (200, "OK"))
                pause.set()
                self.assertTrue(paused.wait(30))
                registry = self.assert_identical(timeout=15)
                churned = {entry[1] for entry in registry if entry[0] == "churn"}
                with lock:
                    lost = present - unsure - churned
                    views = {n: listed(n, "churn") for n in IPS} if lost else {}
                    self.assertEqual(lost, set(), f"acknowledged registrations lost after restarting {ip}: "
                                     f"{ {n: sorted(lost & set(v or [])) for n, v in views.items()} }")
                    self.assertEqual((gone - unsure) & churned, set(), f"acknowledged deregistrations undone after restarting {ip}")
                pause.clear()
        finally:
            stop.set()
            worker.join()
        self.assertEqual(weights(), {ip: [3.0] for ip in IPS})
        print(f"\nrolling restart under churn: {len(present)} registered, {len(gone)} deregistered, "
              f"{len(unsure)} with an unknown outcome (a node stopping mid-request)")


class ClusterDistroJoinTest(unittest.TestCase):
    """A fourth member added to a running cluster loads every instance before it is ready."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(joining=["127.0.0.4"], config_text=CONFIG)
        cls.cluster.start_all()
        cls.cluster.leader()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def test_a_late_member_answers_dns_for_every_service_once_ready(self):
        services = [f"late-{n}" for n in range(10)]
        for n, service in enumerate(services):
            self.assertEqual(register(IPS[n % 3], service, f"10.25.{n}.1"), (200, "ok"))
        for service, n in zip(services, range(10)):
            self.assertTrue(wait_until(lambda: listed(IPS[2], service) == [f"10.25.{n}.1"], timeout=10))
        fourth = "127.0.0.4"
        started = threading.Thread(target=self.cluster.start, args=(fourth,))
        started.start()  # the new node waits for its data before it says it is ready
        time.sleep(0.5)
        status, body = call(IPS[0], "POST", "/dnsd/v1/cluster/members", {"address": f"{fourth}:{HTTP_PORT}"}, timeout=20)
        self.assertEqual(status, 200, body)
        started.join(timeout=60)
        self.assertFalse(started.is_alive())
        status, body = call(fourth, "GET", "/nacos/v1/console/health/readiness")
        self.assertEqual((status, body), (200, "OK"))
        port = self.cluster.nodes[fourth].dns_port
        for n, service in enumerate(services):
            query = dns.message.make_query(f"{service}.svc.{ZONE}", "A")
            answer = dns.query.udp(query, fourth, port=port, timeout=2)
            self.assertEqual([r.address for rrset in answer.answer for r in rrset], [f"10.25.{n}.1"], service)


if __name__ == "__main__":
    unittest.main(verbosity=2)

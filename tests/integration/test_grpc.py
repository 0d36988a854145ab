"""The Nacos 2.x gRPC API with a Python grpcio client built from the documented wire format:
connection lifecycle, naming with pushes, config with pushes, and what a closing connection
leaves behind (registry, subscribers, DNS)."""
import re
import time
import unittest

from dns_client import addresses, query
from harness import DnsdProcess, SharedDnsdTest, wait_until
from nacos_grpc import NacosGrpcClient, payload

ZONE = "nacos.internal."
CONFIG = """
[grpc]
push_merge_ms = 50
push_ack_timeout_ms = 400
push_max_retries = 2
detection_idle_ms = 1500
detection_timeout_ms = 700
"""


def instance(ip, port=8080, **extra):
    return {"ip": ip, "port": port, "weight": 1.0, "healthy": True, "enabled": True,
            "ephemeral": True, "clusterName": "DEFAULT", "metadata": {}, **extra}


def naming(service, **extra):
    return {"namespace": "public", "serviceName": service, "groupName": "DEFAULT_GROUP",
            "module": "naming", **extra}


class GrpcTest(SharedDnsdTest):
    dnsd_config = CONFIG

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def client(self, connect=True, **kw):
        c = NacosGrpcClient(self.dnsd.grpc_port, **kw)
        self.clients.append(c)
        return c.connect() if connect else c

    def http_hosts(self, service):
        info = self.dnsd.json("GET", "/nacos/v1/ns/instance/list", {"serviceName": service})
        return sorted(h["ip"] for h in info["hosts"])

    def dns_ips(self, service):
        return sorted(addresses(query(self.dnsd.dns_port, f"{service}.svc.{ZONE}")))

    # ---- lifecycle
    def test_server_check_and_requests_before_setup(self):
        c = self.client(connect=False)
        rtype, body = c.request("ServerCheckRequest", {"module": "internal"})
        self.assertEqual(rtype, "ServerCheckResponse")
        self.assertEqual((body["resultCode"], body["errorCode"]), (200, 0))
        self.assertRegex(body["connectionId"], r"^\d+_127\.0\.0\.1_\d+$")
        self.assertFalse(body["supportAbilityNegotiation"])
        # Same transport, same id.
        self.assertEqual(c.request("ServerCheckRequest", {"module": "internal"})[1]["connectionId"],
                         body["connectionId"])
        rtype, body = c.request("InstanceRequest", naming("early", type="registerInstance",
                                                          instance=instance("10.50.0.1")))
        self.assertEqual(rtype, "ErrorResponse")
        self.assertEqual(body["errorCode"], 301)
        self.assertEqual(self.http_hosts("early"), [], "nothing is registered before setup")

    def test_unknown_type_and_bad_bodies(self):
        c = self.client()
        rtype, body = c.request("NoSuchRequest", {"module": "internal"})
        self.assertEqual((rtype, body["errorCode"]), ("ErrorResponse", 302))
        self.assertIn("NoSuchRequest", body["message"])
        rtype, body = c.raw(payload("InstanceRequest", b"{not json"))
        self.assertEqual((rtype, body["errorCode"]), ("ErrorResponse", 502))
        rtype, body = c.request("InstanceRequest", naming("bad", type="registerInstance",
                                                          instance=instance("10.50.0.1", port=70000)))
        self.assertEqual((rtype, body["errorCode"]), ("ErrorResponse", 400))
        rtype, body = c.request("InstanceRequest", naming("", type="registerInstance",
                                                          instance=instance("10.50.0.1")))
        self.assertEqual((rtype, body["errorCode"]), ("ErrorResponse", 400))
        rtype, body = c.request("InstanceRequest", naming("bad", type="updateInstance",
                                                          instance=instance("10.50.0.1")))
        self.assertEqual((rtype, body["errorCode"]), ("ErrorResponse", 400))
        # The access token travels in metadata headers and is accepted (no auth configured).
        rtype, body = c.request("HealthCheckRequest", {"module": "internal"}, headers={"accessToken": "t0k"})
        self.assertEqual((rtype, body["resultCode"]), ("HealthCheckResponse", 200))
        metrics = self.dnsd.curl("GET", "/metrics")[1]
        self.assertRegex(metrics, r'dnsd_grpc_rejected_requests_total\{code="302"\} [1-9]')

    def test_oversized_message_is_refused_by_the_transport(self):
        c = self.client()
        import grpc
        with self.assertRaises(grpc.RpcError) as caught:
            c.request("ConfigPublishRequest", {"dataId": "big", "group": "G", "content": "x" * (11 << 20)})
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)

    # ---- naming
    def test_register_replace_batch_query_list_deregister(self):
        c = self.client()
        rtype, body = c.request("InstanceRequest", naming("grpc-orders", type="registerInstance",
                                                          instance=instance("10.60.0.1", metadata={"v": "1"})))
        self.assertEqual((rtype, body["resultCode"], body["type"]), ("InstanceResponse", 200, "registerInstance"))
        self.assertEqual(self.http_hosts("grpc-orders"), ["10.60.0.1"])
        self.assertEqual(self.dns_ips("grpc-orders"), ["10.60.0.1"])
        # One instance per service per connection: registering again replaces it.
        c.request("InstanceRequest", naming("grpc-orders", type="registerInstance", instance=instance("10.60.0.2")))
        self.assertEqual(self.http_hosts("grpc-orders"), ["10.60.0.2"])
        self.assertEqual(self.dns_ips("grpc-orders"), ["10.60.0.2"])

        rtype, body = c.request("BatchInstanceRequest", naming(
            "grpc-batch", type="batchRegisterInstance",
            instances=[instance("10.61.0.1"), instance("10.61.0.2"), instance("10.61.0.3")]))
        self.assertEqual((rtype, body["type"]), ("BatchInstanceResponse", "batchRegisterInstance"))
        self.assertEqual(self.http_hosts("grpc-batch"), ["10.61.0.1", "10.61.0.2", "10.61.0.3"])
        c.request("BatchInstanceRequest", naming("grpc-batch", type="batchRegisterInstance",
                                                 instances=[instance("10.61.0.3")]))
        self.assertEqual(self.http_hosts("grpc-batch"), ["10.61.0.3"], "a batch replaces the whole set")

        rtype, body = c.request("ServiceQueryRequest", naming("grpc-orders", cluster="", healthyOnly=False))
        self.assertEqual(rtype, "QueryServiceResponse")
        info = body["serviceInfo"]
        self.assertEqual((info["name"], info["groupName"], info["clusters"]), ("grpc-orders", "DEFAULT_GROUP", ""))
        self.assertEqual([(h["ip"], h["serviceName"]) for h in info["hosts"]], [("10.60.0.2", "DEFAULT_GROUP@@grpc-orders")])
        self.assertEqual(info["hosts"][0]["instanceId"], "10.60.0.2#8080#DEFAULT#DEFAULT_GROUP@@grpc-orders")

        rtype, body = c.request("ServiceListRequest", {"namespace": "public", "groupName": "DEFAULT_GROUP",
                                                       "pageNo": 1, "pageSize": 100, "module": "naming"})
        self.assertEqual(rtype, "ServiceListResponse")
        self.assertIn("grpc-orders", body["serviceNames"])
        self.assertEqual(body["count"], len(body["serviceNames"]))

        rtype, body = c.request("InstanceRequest", naming("grpc-orders", type="deregisterInstance",
                                                          instance=instance("10.60.0.2")))
        self.assertEqual((rtype, body["type"]), ("InstanceResponse", "deregisterInstance"))
        self.assertEqual(self.http_hosts("grpc-orders"), [])

    def test_persistent_instance_over_grpc(self):
        c = self.client()
        rtype, body = c.request("PersistentInstanceRequest", naming(
            "grpc-db", type="registerInstance", instance=instance("10.62.0.1", ephemeral=False)))
        self.assertEqual((rtype, body["resultCode"]), ("InstanceResponse", 200))
        c.close()
        self.clients.remove(c)
        time.sleep(0.3)
        info = self.dnsd.json("GET", "/nacos/v1/ns/instance/list", {"serviceName": "grpc-db"})
        self.assertEqual([(h["ip"], h["ephemeral"]) for h in info["hosts"]], [("10.62.0.1", False)],
                         "a persistent instance does not die with the connection")

    def test_subscribe_push_ack_and_connection_close(self):
        publisher = self.client()
        subscriber = self.client()
        rtype, body = subscriber.request("SubscribeServiceRequest", naming("grpc-live", subscribe=True, clusters=""))
        self.assertEqual(rtype, "SubscribeServiceResponse")
        self.assertEqual(body["serviceInfo"]["hosts"], [])

        publisher.request("InstanceRequest", naming("grpc-live", type="registerInstance", instance=instance("10.63.0.1")))
        push = subscriber.next_push("NotifySubscriberRequest",
                                    predicate=lambda b: [h["ip"] for h in b["serviceInfo"]["hosts"]] == ["10.63.0.1"])
        self.assertEqual(push["module"], "naming")
        self.assertRegex(push["requestId"], r"^\d+$")
        self.assertEqual(push["serviceInfo"]["name"], "grpc-live")
        self.assertEqual(self.dns_ips("grpc-live"), ["10.63.0.1"])

        # The publisher goes away: its instance leaves the registry, the subscriber is pushed
        # an empty list, and DNS stops answering with the address.
        publisher.close()
        self.clients.remove(publisher)
        subscriber.next_push("NotifySubscriberRequest", predicate=lambda b: b["serviceInfo"]["hosts"] == [])
        self.assertEqual(self.http_hosts("grpc-live"), [])
        self.assertEqual(self.dns_ips("grpc-live"), [])
        acks = self.dnsd.curl("GET", "/metrics")[1]
        self.assertRegex(acks, r"dnsd_grpc_push_acks_total [1-9]")

    def test_subscribers_are_listed_and_push_latency_is_measured(self):
        def acked_latencies():
            text = self.dnsd.curl("GET", "/metrics")[1]
            found = re.search(r'^dnsd_grpc_push_latency_seconds_count\{module="naming"\} (\d+)$', text, re.M)
            return int(found.group(1))

        subscriber = self.client()
        subscriber.request("SubscribeServiceRequest", naming("grpc-listed", subscribe=True, clusters="east"))
        listed = self.dnsd.json("GET", "/nacos/v1/ns/service/subscribers", {"serviceName": "grpc-listed"})
        self.assertEqual(listed["count"], 1, listed)
        entry = listed["subscribers"][0]
        self.assertEqual((entry["protocol"], entry["clientId"], entry["agent"], entry["cluster"], entry["ip"]),
                         ("grpc", subscriber.connection_id, "Nacos-Python-Test:v2.5.1", "east", "127.0.0.1"))
        # Pages: the second page of one is empty, as is a page whose offset would overflow.
        for page_no in (2, 2**62):
            page = self.dnsd.json("GET", "/nacos/v1/ns/service/subscribers",
                                  {"serviceName": "grpc-listed", "pageNo": page_no, "pageSize": 1 if page_no == 2 else 4})
            self.assertEqual((page["count"], page["subscribers"]), (1, []), page_no)
        v2 = self.dnsd.json("GET", "/nacos/v2/ns/client/service/subscriber/list", {"serviceName": "grpc-listed"})
        self.assertEqual([c["clientId"] for c in v2["data"]], [subscriber.connection_id])

        # A change pushed and acknowledged is one more latency observation.
        before = acked_latencies()
        publisher = self.client()
        publisher.request("InstanceRequest", naming("grpc-listed", type="registerInstance",
                                                    instance=instance("10.66.0.1", clusterName="east")))
        subscriber.next_push("NotifySubscriberRequest", predicate=lambda b: b["serviceInfo"]["hosts"])
        self.assertTrue(wait_until(lambda: acked_latencies() > before))

        subscriber.request("SubscribeServiceRequest", naming("grpc-listed", subscribe=False, clusters="east"))
        listed = self.dnsd.json("GET", "/nacos/v1/ns/service/subscribers", {"serviceName": "grpc-listed"})
        self.assertEqual((listed["count"], listed["subscribers"]), (0, []))
        # A closed connection is no subscriber either.
        again = self.client()
        again.request("SubscribeServiceRequest", naming("grpc-listed", subscribe=True, clusters=""))
        self.assertEqual(self.dnsd.json("GET", "/nacos/v1/ns/service/subscribers", {"serviceName": "grpc-listed"})["count"], 1)
        again.close()
        self.clients.remove(again)
        self.assertTrue(wait_until(lambda: self.dnsd.json(
            "GET", "/nacos/v1/ns/service/subscribers", {"serviceName": "grpc-listed"})["count"] == 0))

    def test_unacked_push_is_retried_and_pushes_are_merged(self):
        deaf = self.client(ack_pushes=False)
        deaf.request("SubscribeServiceRequest", naming("grpc-retry", subscribe=True, clusters=""))
        publisher = self.client()
        publisher.request("InstanceRequest", naming("grpc-retry", type="registerInstance", instance=instance("10.64.0.1")))
        first = deaf.next_push("NotifySubscriberRequest", predicate=lambda b: b["serviceInfo"]["hosts"])
        again = deaf.next_push("NotifySubscriberRequest", timeout=3)
        self.assertNotEqual(again["requestId"], first["requestId"])
        self.assertEqual(again["serviceInfo"]["hosts"], first["serviceInfo"]["hosts"], "a retry resends the same list")

        # Ten changes inside one merge window arrive as far fewer pushes, the last one complete.
        listener = self.client()
        listener.request("SubscribeServiceRequest", naming("grpc-merge", subscribe=True, clusters=""))
        writers = [self.client() for _ in range(10)]
        for i, w in enumerate(writers):
            w.request("InstanceRequest", naming("grpc-merge", type="registerInstance", instance=instance(f"10.65.0.{i + 1}")))
        listener.next_push("NotifySubscriberRequest", predicate=lambda b: len(b["serviceInfo"]["hosts"]) == 10)
        seen = 1
        while not listener.pushes.empty():
            if listener.pushes.get()[0] == "NotifySubscriberRequest":
                seen += 1
        self.assertLess(seen, 10)

    def test_idle_connection_is_probed_and_a_silent_one_dropped(self):
        alive = self.client()
        silent = self.client(answer_detection=False)
        silent.request("InstanceRequest", naming("grpc-silent", type="registerInstance", instance=instance("10.66.0.1")))
        alive.request("InstanceRequest", naming("grpc-alive", type="registerInstance", instance=instance("10.66.0.2")))
        alive.next_push("ClientDetectionRequest", timeout=5)
        silent.next_push("ClientDetectionRequest", timeout=5)
        self.assertTrue(wait_until(lambda: self.http_hosts("grpc-silent") == [], timeout=5),
                        "a connection that never answers the probe is closed and its instance removed")
        self.assertEqual(self.http_hosts("grpc-alive"), ["10.66.0.2"])

    # ---- config
    def test_config_query_publish_cas_remove(self):
        c = self.client()
        rtype, body = c.request("ConfigQueryRequest", {"dataId": "g.yaml", "group": "G", "tenant": "", "module": "config"})
        self.assertEqual((rtype, body["resultCode"], body["errorCode"]), ("ConfigQueryResponse", 500, 300))
        content = "a: 1\nb: \"&=+%\"\n数据\n"
        rtype, body = c.request("ConfigPublishRequest", {"dataId": "g.yaml", "group": "G", "tenant": "public",
                                                         "content": content, "casMd5": "",
                                                         "additionMap": {"type": "yaml", "appName": "shop"},
                                                         "module": "config"})
        self.assertEqual((rtype, body["resultCode"]), ("ConfigPublishResponse", 200))
        rtype, body = c.request("ConfigQueryRequest", {"dataId": "g.yaml", "group": "G", "tenant": "", "module": "config"})
        self.assertEqual((rtype, body["content"], body["contentType"]), ("ConfigQueryResponse", content, "yaml"))
        import hashlib
        self.assertEqual(body["md5"], hashlib.md5(content.encode()).hexdigest())
        # The same config through HTTP: one store.
        self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": "g.yaml", "group": "G"}), (200, content))

        rtype, body = c.request("ConfigPublishRequest", {"dataId": "g.yaml", "group": "G", "content": "lost",
                                                         "casMd5": "0" * 32, "module": "config"})
        self.assertEqual((rtype, body["resultCode"]), ("ConfigPublishResponse", 500))
        self.assertIn("cas", body["message"])
        rtype, body = c.request("ConfigPublishRequest", {"dataId": "bad id", "group": "G", "content": "x", "module": "config"})
        self.assertEqual((body["resultCode"], body["errorCode"]), (500, 400))
        rtype, body = c.request("ConfigRemoveRequest", {"dataId": "g.yaml", "group": "G", "module": "config"})
        self.assertEqual((rtype, body["resultCode"]), ("ConfigRemoveResponse", 200))
        self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": "g.yaml", "group": "G"})[0], 404)

    def test_config_listen_and_change_pushes(self):
        writer = self.client()
        listener = self.client()
        writer.request("ConfigPublishRequest", {"dataId": "w.properties", "group": "G", "tenant": "dev",
                                                "content": "v=1", "module": "config"})
        import hashlib
        current = hashlib.md5(b"v=1").hexdigest()
        rtype, body = listener.request("ConfigBatchListenRequest", {"listen": True, "module": "config",
            "configListenContexts": [
                {"dataId": "w.properties", "group": "G", "tenant": "dev", "md5": current},
                {"dataId": "stale.properties", "group": "G", "tenant": "dev", "md5": "abc"}]})
        self.assertEqual(rtype, "ConfigChangeBatchListenResponse")
        self.assertEqual(body["changedConfigs"], [{"dataId": "stale.properties", "group": "G", "tenant": "dev"}],
                         "only keys whose md5 differs now are reported")

        writer.request("ConfigPublishRequest", {"dataId": "w.properties", "group": "G", "tenant": "dev",
                                                "content": "v=2", "module": "config"})
        push = listener.next_push("ConfigChangeNotifyRequest")
        self.assertEqual((push["dataId"], push["group"], push["tenant"], push["module"]),
                         ("w.properties", "G", "dev", "config"))
        # An HTTP publish reaches gRPC listeners too, and so does a removal.
        self.dnsd.curl("POST", "/nacos/v1/cs/configs", body={"dataId": "w.properties", "group": "G",
                                                             "tenant": "dev", "content": "v=3"})
        listener.next_push("ConfigChangeNotifyRequest")
        writer.request("ConfigRemoveRequest", {"dataId": "w.properties", "group": "G", "tenant": "dev", "module": "config"})
        listener.next_push("ConfigChangeNotifyRequest")
        # Stop listening: no more pushes.
        listener.request("ConfigBatchListenRequest", {"listen": False, "module": "config",
            "configListenContexts": [{"dataId": "w.properties", "group": "G", "tenant": "dev", "md5": ""}]})
        writer.request("ConfigPublishRequest", {"dataId": "w.properties", "group": "G", "tenant": "dev",
                                                "content": "v=4", "module": "config"})
        time.sleep(0.5)
        pending = []
        while not listener.pushes.empty():
            pending.append(listener.pushes.get()[0])
        self.assertNotIn("ConfigChangeNotifyRequest", pending)


class GrpcShutdownTest(unittest.TestCase):
    def test_clients_are_asked_to_reconnect_on_shutdown(self):
        d = DnsdProcess().start()
        try:
            c = NacosGrpcClient(d.grpc_port).connect()
            c.request("InstanceRequest", naming("bye", type="registerInstance", instance=instance("10.67.0.1")))
            d.stop()
            push = c.next_push("ConnectResetRequest", timeout=5)
            self.assertEqual(push["connectionId"], c.connection_id)
            c.close()
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

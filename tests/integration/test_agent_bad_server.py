"""Bad input from a server reaches a real `dnsd agent`: a scripted Nacos 2.x gRPC server (not
dnsd: a misbehaving peer, written here with grpcio from the protocol's proto) accepts the
agent's connection and subscription, then pushes garbage: a body that is not JSON, a JSON
array, a ServiceInfo with a bad host list, a port out of range, a request id that is an
object, an unknown request type. The agent counts each, acknowledges none of them, applies
none, keeps its connection and its answers, and applies the good push that follows."""
import json
import queue
import threading
import unittest
from concurrent import futures

import grpc

from harness import wait_until
from nacos_grpc import payload, pb
from test_agent import Agent

SERVICE_INFO = {"name": "web", "groupName": "DEFAULT_GROUP", "clusters": "", "cacheMillis": 10000,
                "lastRefTime": 1, "checksum": "", "allIPs": False, "reachProtectionThreshold": False,
                "valid": True, "hosts": [{"ip": "10.55.0.1", "port": 80, "weight": 1.0, "healthy": True,
                                          "enabled": True, "ephemeral": True, "clusterName": "DEFAULT",
                                          "serviceName": "DEFAULT_GROUP@@web", "metadata": {}}]}


def info_with(**changes):
    info = json.loads(json.dumps(SERVICE_INFO))
    info.update(changes)
    return info


class ScriptedNacosServer:
    def __init__(self):
        self.acks = []  # requestIds the agent acknowledged
        self.pushes = queue.Queue()  # Payloads to send on the stream
        self.subscribed = threading.Event()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        ser, de = pb.Payload.SerializeToString, pb.Payload.FromString
        unary = grpc.unary_unary_rpc_method_handler(self.request, request_deserializer=de,
                                                    response_serializer=ser)
        stream = grpc.stream_stream_rpc_method_handler(self.bi_stream, request_deserializer=de,
                                                       response_serializer=ser)
        self.server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler("Request", {"request": unary}),
            grpc.method_handlers_generic_handler("BiRequestStream", {"requestBiStream": stream})))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def request(self, p, context):
        kind = p.metadata.type
        ok = {"resultCode": 200, "errorCode": 0}
        if kind == "ServerCheckRequest":
            return payload("ServerCheckResponse", dict(ok, connectionId="scripted-1"))
        if kind == "HealthCheckRequest":
            return payload("HealthCheckResponse", ok)
        if kind == "SubscribeServiceRequest":
            self.subscribed.set()
            return payload("SubscribeServiceResponse", dict(ok, serviceInfo=SERVICE_INFO))
        if kind == "ServiceListRequest":
            return payload("ServiceListResponse", dict(ok, count=1, serviceNames=["web"]))
        return payload("ErrorResponse", {"resultCode": 500, "errorCode": 501, "message": kind})

    def bi_stream(self, requests, context):
        def read():
            try:
                for p in requests:
                    if p.metadata.type == "NotifySubscriberResponse":
                        self.acks.append(json.loads(p.body.value)["requestId"])
            except grpc.RpcError:
                pass  # the agent went away
        threading.Thread(target=read, daemon=True).start()
        while context.is_active():
            try:
                yield self.pushes.get(timeout=0.1)
            except queue.Empty:
                pass

    def push(self, request_id, service_info=None, raw=None, kind="NotifySubscriberRequest"):
        if raw is not None:
            self.pushes.put(payload(kind, raw))
        else:
            self.pushes.put(payload(kind, {"requestId": request_id, "module": "naming", "headers": {},
                                           "serviceInfo": service_info}))

    def stop(self):
        self.server.stop(0)


class AgentBadServerTest(unittest.TestCase):
    def test_bad_pushes_are_counted_not_applied_not_acknowledged(self):
        server = ScriptedNacosServer()
        agent = Agent([f"127.0.0.1:{server.port}"], ["web"])
        try:
            self.assertTrue(wait_until(lambda: agent.answers("web.svc.nacos.internal") == ["10.55.0.1"]))
            server.push(None, raw=b"\x00not json at all")
            server.push(None, raw=b"[1, 2, 3]")
            server.push("bad-hosts", info_with(hosts="everything"))
            server.push("bad-port", info_with(lastRefTime=5, hosts=[{"ip": "10.55.0.9", "port": 99999}]))
            server.push("bad-name", info_with(name=7))
            server.push(None, raw=json.dumps({"requestId": {"nested": True},
                                              "serviceInfo": info_with(lastRefTime=6)}).encode())
            server.push("odd", {}, kind="SomethingNewRequest")
            good = info_with(lastRefTime=10, hosts=[dict(SERVICE_INFO["hosts"][0], ip="10.55.0.2")])
            server.push("good", good)
            self.assertTrue(wait_until(lambda: agent.answers("web.svc.nacos.internal") == ["10.55.0.2"]),
                            agent.answers("web.svc.nacos.internal"))
            self.assertIsNone(agent.proc.poll(), "the agent survives")
            self.assertEqual(server.acks, ["good"], "only the applied push is acknowledged")
            _, metrics = agent.http("/metrics")
            bad = [float(line.split()[1]) for line in metrics.splitlines()
                   if line.startswith("dnsd_agent_bad_messages_total ")]
            self.assertEqual(bad, [7.0], metrics)
            _, status = agent.http("/status")
            self.assertTrue(json.loads(status)["connected"], "the connection holds")
        finally:
            agent.stop()
            server.stop()


if __name__ == "__main__":
    unittest.main()

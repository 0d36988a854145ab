"""A Nacos 2.x gRPC client for tests, written from the documented wire format (protocol
reference §6): Payload{metadata{type, clientIp, headers}, body: Any{value: JSON}} over the
unary /Request/request and the bi-directional /BiRequestStream/requestBiStream.

The Payload classes are generated from proto/nacos_grpc_service.proto with protoc at import
time (into a temporary directory), so the test speaks exactly the bytes a Nacos SDK would.
"""
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

import grpc

_PROTO_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "proto")
_GEN_DIR = tempfile.mkdtemp(prefix="dnsd-proto-py-")
subprocess.run(["protoc", f"--proto_path={_PROTO_DIR}", f"--python_out={_GEN_DIR}",
                "nacos_grpc_service.proto"], check=True)
sys.path.insert(0, _GEN_DIR)
import nacos_grpc_service_pb2 as pb  # noqa: E402

RESPONSE_OF_PUSH = {
    "NotifySubscriberRequest": "NotifySubscriberResponse",
    "ConfigChangeNotifyRequest": "ConfigChangeNotifyResponse",
    "ClientDetectionRequest": "ClientDetectionResponse",
    "ConnectResetRequest": "ConnectResetResponse",
}


def payload(type_name, body, headers=None):
    p = pb.Payload()
    p.metadata.type = type_name
    p.metadata.clientIp = "127.0.0.1"
    for k, v in (headers or {}).items():
        p.metadata.headers[k] = v
    p.body.value = body if isinstance(body, bytes) else json.dumps(body).encode()
    return p


class NacosGrpcClient:
    """One channel = one HTTP/2 connection = one Nacos connection."""

    def __init__(self, port, ack_pushes=True, answer_detection=True, host="127.0.0.1"):
        # A channel of its own transport: gRPC would otherwise share one TCP connection among
        # channels to the same target, and the server tells connections apart by transport.
        self.channel = grpc.insecure_channel(f"{host}:{port}",
                                             options=[("grpc.use_local_subchannel_pool", 1)])
        self._unary = self.channel.unary_unary(
            "/Request/request", request_serializer=pb.Payload.SerializeToString,
            response_deserializer=pb.Payload.FromString)
        self._bidi = self.channel.stream_stream(
            "/BiRequestStream/requestBiStream", request_serializer=pb.Payload.SerializeToString,
            response_deserializer=pb.Payload.FromString)
        self.ack_pushes = ack_pushes
        self.answer_detection = answer_detection
        self.pushes = queue.Queue()  # (type, body) of every server push, in order
        self._outgoing = queue.Queue()
        self._reader = None
        self.connection_id = None

    # ---- unary
    def raw(self, p, timeout=10):
        reply = self._unary(p, timeout=timeout)
        return reply.metadata.type, json.loads(reply.body.value or b"{}")

    def request(self, type_name, body=None, headers=None, timeout=10):
        body = dict(body or {})
        body.setdefault("headers", {})
        return self.raw(payload(type_name, body, headers), timeout)

    # ---- connection lifecycle
    def connect(self, labels=None, tenant=""):
        rtype, body = self.request("ServerCheckRequest", {"module": "internal"})
        assert rtype == "ServerCheckResponse", (rtype, body)
        self.connection_id = body["connectionId"]
        self._outgoing.put(payload("ConnectionSetupRequest", {
            "clientVersion": "Nacos-Python-Test:v2.5.1", "tenant": tenant,
            "labels": labels or {"source": "sdk", "module": "naming"}, "abilityTable": None,
            "module": "internal", "headers": {}}))
        responses = self._bidi(iter(self._outgoing.get, None))
        self._reader = threading.Thread(target=self._read, args=(responses,), daemon=True)
        self._reader.start()
        # The setup travels on the stream; wait until the server has registered it.
        deadline = time.time() + 5
        while time.time() < deadline:
            rtype, body = self.request("HealthCheckRequest", {"module": "internal"})
            if rtype == "HealthCheckResponse":
                return self
            time.sleep(0.02)
        raise AssertionError(f"connection never registered: {rtype} {body}")

    def _read(self, responses):
        try:
            for message in responses:
                type_name = message.metadata.type
                body = json.loads(message.body.value or b"{}")
                self.pushes.put((type_name, body))
                answer = RESPONSE_OF_PUSH.get(type_name)
                if answer is None:
                    continue
                if type_name == "ClientDetectionRequest" and not self.answer_detection:
                    continue
                if type_name != "ClientDetectionRequest" and not self.ack_pushes:
                    continue
                self._outgoing.put(payload(answer, {"resultCode": 200, "errorCode": 0,
                                                    "requestId": body.get("requestId", "")}))
        except grpc.RpcError:
            pass
        self.pushes.put(("<closed>", {}))

    def next_push(self, type_name, timeout=5.0, predicate=None):
        """The next push of `type_name` (others are skipped) that satisfies `predicate`."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"no {type_name} push within {timeout}s")
            try:
                got_type, body = self.pushes.get(timeout=left)
            except queue.Empty:
                continue
            if got_type == type_name and (predicate is None or predicate(body)):
                return body

    def close(self):
        self._outgoing.put(None)
        self.channel.close()

"""dnsd's own HTTP/2 transport for gRPC, at the frame level, with the python3-h2 client (an
independent HTTP/2 and HPACK implementation): flow control in both directions, calls the
transport refuses (unknown method, wrong content type, compressed or oversized messages),
pings, malformed input, and the rule that a broken connection never hurts the others."""
import os
import re
import socket
import struct
import subprocess
import time
import unittest

import h2.config
import h2.connection
import h2.events
import h2.settings

from harness import DnsdProcess, SharedDnsdTest
from nacos_grpc import NacosGrpcClient, payload, pb


def grpc_frame(message_bytes, compressed=False):
    return struct.pack(">BI", 1 if compressed else 0, len(message_bytes)) + message_bytes


class RawH2:
    """A blocking HTTP/2 client over one socket, driven event by event."""

    def __init__(self, port, initial_window=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        if initial_window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window})
        self.flush()
        self.headers, self.trailers, self.data, self.ended, self.resets = {}, {}, {}, set(), {}
        self.events = []
        self.auto_ack = True

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def request(self, path, body=b"", content_type="application/grpc", end=True):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":path", path),
                                     (":authority", "dnsd"), ("content-type", content_type),
                                     ("te", "trailers")])
        if body or end:
            self.conn.send_data(sid, body, end_stream=end)
        self.flush()
        return sid

    def pump(self, until, timeout=5.0):
        deadline = time.time() + timeout
        while not until():
            if time.time() > deadline:
                raise TimeoutError("no answer from dnsd")
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ConnectionError("dnsd closed the connection")
            for event in self.conn.receive_data(chunk):
                self.events.append(event)
                sid = getattr(event, "stream_id", None)
                if isinstance(event, h2.events.ResponseReceived):
                    self.headers[sid] = dict(event.headers)
                elif isinstance(event, h2.events.TrailersReceived):
                    self.trailers[sid] = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    self.data[sid] = self.data.get(sid, b"") + event.data
                    if self.auto_ack:
                        self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
                elif isinstance(event, h2.events.StreamEnded):
                    self.ended.add(sid)
                elif isinstance(event, h2.events.StreamReset):
                    self.resets[sid] = event.error_code
            self.flush()

    def status(self, sid):
        """grpc-status of a finished call (trailers, or headers of a trailers-only answer)."""
        self.pump(lambda: sid in self.ended or sid in self.resets)
        fields = self.trailers.get(sid) or self.headers.get(sid, {})
        return fields.get(b"grpc-status"), fields.get(b"grpc-message", b"").decode()

    def messages(self, sid):
        out, buf = [], self.data.get(sid, b"")
        while len(buf) >= 5:
            flag, length = struct.unpack(">BI", buf[:5])
            out.append(buf[5:5 + length])
            buf = buf[5 + length:]
        return out

    def close(self):
        self.sock.close()


class GrpcHttp2Test(SharedDnsdTest):
    def metric(self, name):
        text = self.dnsd.curl("GET", "/metrics")[1]
        m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def server_check(self, c):
        body = payload("ServerCheckRequest", {"requestId": "1", "headers": {}}).SerializeToString()
        sid = c.request("/Request/request", grpc_frame(body))
        self.assertEqual(c.status(sid), (b"0", ""))
        return pb.Payload.FromString(c.messages(sid)[0])

    def test_unary_call_over_huffman_coded_headers(self):
        c = RawH2(self.dnsd.grpc_port)
        try:
            answer = self.server_check(c)
            self.assertEqual(answer.metadata.type, "ServerCheckResponse")
            self.assertIn(b'"connectionId"', answer.body.value)
            self.assertEqual(c.headers[1][b":status"], b"200")
            self.assertEqual(c.headers[1][b"content-type"], b"application/grpc")
            # Later requests reuse what the client put in its HPACK dynamic table.
            self.server_check(c)
            self.server_check(c)
        finally:
            c.close()

    def test_large_answer_spans_many_frames(self):
        content = "x" * 300_000  # many 16 KiB DATA frames and several of grpcio's windows
        status, text = self.dnsd.curl("POST", "/nacos/v1/cs/configs",
                                      body={"dataId": "big", "group": "G", "content": content})
        self.assertEqual((status, text), (200, "true"))
        nacos = NacosGrpcClient(self.dnsd.grpc_port).connect()
        try:
            rtype, body = nacos.request("ConfigQueryRequest", {"dataId": "big", "group": "G",
                                                               "tenant": "", "module": "config"})
            self.assertEqual((rtype, body["content"]), ("ConfigQueryResponse", content))
        finally:
            nacos.close()

    def test_flow_control_on_a_registered_raw_connection(self):
        content = "y" * 200_000
        self.dnsd.curl("POST", "/nacos/v1/cs/configs",
                       body={"dataId": "big2", "group": "G", "content": content})
        c = RawH2(self.dnsd.grpc_port, initial_window=16384)
        try:
            self.server_check(c)
            setup = payload("ConnectionSetupRequest", {"clientVersion": "raw-h2", "labels": {},
                                                       "tenant": "", "requestId": "s"})
            stream = c.request("/BiRequestStream/requestBiStream", grpc_frame(
                setup.SerializeToString()), end=False)
            time.sleep(0.3)  # the setup is handled on the transport thread, in order
            query = payload("ConfigQueryRequest", {"dataId": "big2", "group": "G", "tenant": "",
                                                   "module": "config", "requestId": "q"})
            c.auto_ack = False
            sid = c.request("/Request/request", grpc_frame(query.SerializeToString()))
            # With no WINDOW_UPDATE the server sends exactly the 16 KiB window, then waits.
            c.pump(lambda: len(c.data.get(sid, b"")) >= 16384)
            time.sleep(0.3)
            c.sock.settimeout(0.3)
            try:
                c.pump(lambda: False, timeout=0.5)
            except TimeoutError:
                pass
            self.assertEqual(len(c.data[sid]), 16384)
            self.assertNotIn(sid, c.ended)
            c.sock.settimeout(5)
            c.auto_ack = True
            c.conn.acknowledge_received_data(16384, sid)
            c.flush()
            self.assertEqual(c.status(sid), (b"0", ""))
            answer = pb.Payload.FromString(c.messages(sid)[0])
            self.assertEqual(answer.metadata.type, "ConfigQueryResponse")
            self.assertIn(content.encode(), answer.body.value)
            self.assertNotIn(stream, c.ended)
        finally:
            c.close()

    def test_request_larger_than_one_window_is_received(self):
        # A 6 MiB publish crosses the 4 MiB stream window: the server must open it again.
        nacos = NacosGrpcClient(self.dnsd.grpc_port).connect()
        try:
            content = "z" * (6 * 1024 * 1024)
            rtype, body = nacos.request("ConfigPublishRequest", {
                "dataId": "huge", "group": "G", "tenant": "", "content": content,
                "casMd5": "", "additionMap": {}, "module": "config"})
            self.assertEqual((rtype, body["resultCode"]), ("ConfigPublishResponse", 200))
        finally:
            nacos.close()
        status, text = self.dnsd.curl("GET", "/nacos/v1/cs/configs",
                                      params={"dataId": "huge", "group": "G"})
        self.assertEqual((status, len(text)), (200, 6 * 1024 * 1024))

    def test_unfinished_messages_cannot_pile_up(self):
        # Four streams each sending most of a 10 MiB message and never finishing it: past
        # 3 x max_inbound_bytes of unfinished data the connection is ended (ENHANCE_YOUR_CALM).
        before = self.metric("dnsd_grpc_protocol_errors_total")
        c = RawH2(self.dnsd.grpc_port)

        def terminated():
            return any(isinstance(e, h2.events.ConnectionTerminated) for e in c.events)

        try:
            chunk = b"p" * 16384
            for _ in range(4):
                if terminated():
                    break
                sid = c.request("/Request/request", b"", end=False)
                c.conn.send_data(sid, struct.pack(">BI", 0, 10 * 1024 * 1024))
                sent = 0
                while sent < 9 * 1024 * 1024 and not terminated():
                    room = min(c.conn.local_flow_control_window(sid), len(chunk))
                    if room == 0:
                        c.flush()
                        c.pump(lambda: c.conn.local_flow_control_window(sid) > 0 or terminated(),
                               timeout=5)
                        continue
                    c.conn.send_data(sid, chunk[:room])
                    sent += room
                    if sent % (1024 * 1024) < 16384:
                        c.flush()
                c.flush()
            c.pump(terminated)
        except (ConnectionError, BrokenPipeError, ConnectionResetError):
            pass  # the server may close before the GOAWAY is read
        finally:
            c.close()
        goaways = [e for e in c.events if isinstance(e, h2.events.ConnectionTerminated)]
        self.assertTrue(goaways, "dnsd kept accepting unfinished data")
        self.assertEqual(goaways[0].error_code, 0xb)
        self.assertEqual(self.metric("dnsd_grpc_protocol_errors_total"), before + 1)

    def test_calls_the_transport_refuses(self):
        before = self.metric("dnsd_grpc_rejected_calls_total")
        c = RawH2(self.dnsd.grpc_port)
        try:
            sid = c.request("/nacos.Unknown/method", grpc_frame(b""))
            code, message = c.status(sid)
            self.assertEqual(code, b"12")  # UNIMPLEMENTED
            self.assertIn("/nacos.Unknown/method", message)

            sid = c.request("/Request/request", b"{}", content_type="application/json")
            c.pump(lambda: sid in c.ended)
            self.assertEqual(c.headers[sid][b":status"], b"415")

            body = payload("ServerCheckRequest", {"requestId": "1"}).SerializeToString()
            sid = c.request("/Request/request", grpc_frame(body, compressed=True))
            self.assertEqual(c.status(sid)[0], b"12")

            sid = c.request("/Request/request", b"")  # no message at all
            self.assertEqual(c.status(sid)[0], b"13")  # INTERNAL

            sid = c.request("/Request/request", grpc_frame(b"\xff\xff\xff"))  # not a Payload
            self.assertEqual(c.status(sid)[0], b"13")

            # The connection is still fine after all that.
            self.server_check(c)
        finally:
            c.close()
        self.assertGreaterEqual(self.metric("dnsd_grpc_rejected_calls_total"), before + 3)

    def test_ping_is_answered(self):
        c = RawH2(self.dnsd.grpc_port)
        try:
            c.conn.ping(b"dnsd-png")
            c.flush()
            c.pump(lambda: any(isinstance(e, h2.events.PingAckReceived) and e.ping_data == b"dnsd-png"
                               for e in c.events))
        finally:
            c.close()

    def test_malformed_input_ends_only_that_connection(self):
        healthy = RawH2(self.dnsd.grpc_port)
        before = self.metric("dnsd_grpc_protocol_errors_total")
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame
        cases = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\0" * 8,  # not HTTP/2 at all
            preface + settings + b"\x00\x00\x04\x09\x04\x00\x00\x00\x01abcd",  # stray CONTINUATION
        ]
        cases.append(preface + settings + b"\x00\x00\x05\x01\x05\x00\x00\x00\x01\xff\xff\xff\xff\xff")
        # ^ HEADERS whose HPACK block is an integer that never ends
        cases.append(preface + settings + b"\x00\x40\x01\x00\x00\x00\x00\x00\x01")  # 16 KiB+1 frame
        cases.append(preface + settings + b"\x00\x00\x08\x06\x00\x00\x00\x00\x03" + b"\0" * 8)
        # ^ PING on a stream
        for raw in cases:
            s = socket.create_connection(("127.0.0.1", self.dnsd.grpc_port), timeout=5)
            s.sendall(raw)
            received = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except (socket.timeout, ConnectionResetError):
                self.fail(f"dnsd kept a broken connection open: {raw[:40]!r}")
            s.close()
            self.assertIn(b"\x07\x00\x00\x00\x00\x00", received, raw[:40])  # a GOAWAY frame
        self.assertGreaterEqual(self.metric("dnsd_grpc_protocol_errors_total"), before + len(cases))
        try:
            self.server_check(healthy)  # an unrelated connection still works
        finally:
            healthy.close()



class GrpcKeepaliveTest(unittest.TestCase):
    def test_silent_connections_are_pinged_then_closed(self):
        d = DnsdProcess(config_text="[grpc]\nkeepalive_time_ms = 300\nkeepalive_timeout_ms = 300\n").start()
        try:
            answering, silent = RawH2(d.grpc_port), RawH2(d.grpc_port)
            # The answering client reads (h2 acknowledges each PING it receives); the silent
            # one sends nothing after its preface.
            answering.sock.settimeout(0.1)
            deadline = time.time() + 2.0
            while time.time() < deadline:
                try:
                    answering.pump(lambda: False, timeout=0.2)
                except TimeoutError:
                    pass
            answering.sock.settimeout(5)
            pings = [e for e in answering.events if isinstance(e, h2.events.PingReceived)]
            self.assertGreaterEqual(len(pings), 2, "dnsd sent no keep-alive PINGs")
            self.assertEqual(answering.status(answering.request(
                "/Request/request", grpc_frame(payload("ServerCheckRequest", {}).SerializeToString()))),
                (b"0", ""))
            silent.sock.settimeout(2)
            received = b""
            while True:
                chunk = silent.sock.recv(65536)
                if not chunk:
                    break
                received += chunk
            self.assertIn(b"\x00\x00\x08\x06\x00", received)  # it was pinged before being closed
            text = d.curl("GET", "/metrics")[1]
            self.assertRegex(text, r"(?m)^dnsd_grpc_keepalive_closes_total [1-9]")
            answering.close()
            silent.close()
        finally:
            d.cleanup()

class GrpcAcceptLimitTest(unittest.TestCase):
    def test_running_out_of_file_descriptors_pauses_accepting(self):
        # The gRPC cap derived from 150 descriptors would stop well before the limit; this test
        # is about what happens at the limit, so the cap is set above it.
        d = DnsdProcess(max_open_files=150, config_text="[grpc]\nmax_connections = 1000\n").start()
        socks = []
        try:
            for _ in range(250):  # more than dnsd can hold: the rest wait in the backlog
                socks.append(socket.create_connection(("127.0.0.1", d.grpc_port), timeout=5))
            # Connections complete in the kernel's backlog before dnsd accepts them: wait until
            # dnsd really holds every descriptor it may open, or the HTTP accept below succeeds.
            fd_dir = f"/proc/{d.proc.pid}/fd"
            deadline = time.time() + 10
            while len(os.listdir(fd_dir)) < 150 and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual(len(os.listdir(fd_dir)), 150, "dnsd did not reach its descriptor limit")
            # An HTTP client now waits in the HTTP port's backlog: that listener pauses too.
            waiting = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                        f"{d.base}/metrics"],
                                       stdout=subprocess.PIPE, text=True)
            time.sleep(0.5)
            for s in socks:
                s.close()
            socks = []
            self.assertEqual(waiting.communicate(timeout=10)[0], "200")
            text = d.curl("GET", "/metrics")[1]
            for name in ("dnsd_grpc_accept_errors_total", "dnsd_api_http_accept_errors_total"):
                errors = float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))
                self.assertGreater(errors, 0, name)
            # Once descriptors are free again, clients are served.
            client = NacosGrpcClient(d.grpc_port).connect()
            try:
                self.assertEqual(client.request("HealthCheckRequest", {})[0], "HealthCheckResponse")
            finally:
                client.close()
        finally:
            for s in socks:
                s.close()
            d.cleanup()

if __name__ == "__main__":
    unittest.main()

"""Targets for server health checks: a TCP listener and an HTTP server on a loopback address,
started and stopped by the tests."""
import http.server
import socket
import threading


class TcpTarget:
    """A TCP listener on a loopback address that accepts and closes, until stopped."""

    def __init__(self, ip, port=0):
        self.ip = ip
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def stop(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class HttpTarget:
    """An HTTP server answering every GET with `status` and recording the paths asked."""

    def __init__(self, ip):
        target = self
        self.status = 200
        self.paths = []
        self.headers = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                target.paths.append(self.path)
                target.headers.append(dict(self.headers))
                self.send_response(target.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((ip, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

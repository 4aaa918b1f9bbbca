"""The OTLP receiver's HTTP/protobuf server: a stdlib threading server, TLS optional, that can drop every
open connection on stop; each POST decoded and answered as the receiver's behaviour says."""

from __future__ import annotations

import gzip
import logging
import select
import socket
import ssl
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from signoz_litellm_run.received import _FAILURES, _RPC_CODES, _SIGNALS, _count_items, _proto_classes, _response

if TYPE_CHECKING:
    from signoz_litellm_run.receiver import Receiver

_log = logging.getLogger("signoz_litellm_run.receiver")


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its Receiver, optionally serves TLS, and can drop
    every open connection on stop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 receiver: Receiver, ssl_context: ssl.SSLContext | None,
                 listening: socket.socket | None = None) -> None:
        self.receiver = receiver
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler, bind_and_activate=listening is None)
        if listening is not None:  # serve a socket bound and listening already (its backlog kept)
            self.socket.close()
            self.socket = listening
            self.server_address = listening.getsockname()

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("OTLP HTTP receiver: error on connection from %s", client_address, exc_info=True)


class _OTLPHTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.ssl_context is not None:
            self.request.settimeout(10)  # bound the handshake: a silent client must not pin a thread
            self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
            self.request.settimeout(None)
        self._conn: socket.socket = self.request
        self.server.track(self._conn, True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self._conn, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        _log.debug("OTLP HTTP receiver: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str = "application/x-protobuf") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_status(self, status: int, code_name: str, text: str) -> None:
        from google.rpc import status_pb2

        self._send(status, status_pb2.Status(code=_RPC_CODES.get(code_name, 2), message=text)
                   .SerializeToString())

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _client_connected(self) -> bool:
        """False once the client closed its side (used while holding a ``hang`` request).

        The connection is closed after a held request, so consuming a byte here is harmless.
        """
        try:
            readable, _, _ = select.select([self._conn], [], [], 0)
            if not readable:
                return True
            self._conn.setblocking(False)
            try:
                return self._conn.recv(1) != b""
            finally:
                self._conn.setblocking(True)
        except (BlockingIOError, ssl.SSLWantReadError):
            return True
        except (OSError, ValueError):
            return False

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        body = self._read_body()
        if len(body) > self.server.receiver.max_request_bytes:
            with self.server.receiver._lock:
                self.server.receiver.too_large += 1
            self._send(413, b"request body too large", "text/plain")
            return
        signal = self.path.split("?", 1)[0].rstrip("/").removeprefix("/v1/")
        if signal not in _SIGNALS:
            self._send(404, b"not found", "text/plain")
            return
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-protobuf":
            self._send(415, b"only application/x-protobuf is supported", "text/plain")
            return
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        request_cls, _ = _proto_classes(signal)
        message = request_cls()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            message.ParseFromString(body)
        except Exception:
            self._send(400, b"malformed OTLP payload", "text/plain")
            return
        receiver = self.server.receiver
        headers = {k.lower(): v for k, v in self.headers.items()}
        outcome = receiver._decide(headers)
        receiver._record(signal, "http", headers, message, outcome, body)
        if outcome == "hang":
            receiver._hold(self._client_connected)
            self.close_connection = True
            return
        if outcome in _FAILURES:
            code_name, status, text = _FAILURES[outcome]
            self._send_status(status, code_name, text)
            return
        rejected = _count_items(signal, message) if outcome == "partial" else None
        self._send(200, _response(signal, rejected).SerializeToString())

    def do_GET(self) -> None:  # noqa: N802
        self._send(405, b"use POST", "text/plain")


# --------------------------------------------------------------------------- helpers

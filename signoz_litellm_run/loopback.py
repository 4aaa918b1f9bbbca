"""Loopback stand-ins for an endpoint that is there but silent, or not there at all: `SilentServer`
(accepts, reads, never answers) and `unused_port()` (nothing listening). Used by tests, benches and
doctor's tests beside the real `Receiver`."""

from __future__ import annotations

import select
import socket
import threading


class SilentServer:
    """A TCP server on loopback that accepts connections, reads and discards, never replies.

    Stands in for "an endpoint that accepts the connection but never answers".
    ``endpoint`` is ``http://127.0.0.1:PORT``; ``connections`` counts accepted connections.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.connections = 0
        self.bytes_received = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SilentServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="silent-server", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        assert self._sock is not None
        clients: list[socket.socket] = []
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([self._sock, *clients], [], [], 0.05)
                for s in readable:
                    if s is self._sock:
                        try:
                            conn, _ = self._sock.accept()
                        except OSError:
                            continue
                        conn.setblocking(False)
                        clients.append(conn)
                        self.connections += 1
                        continue
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        self.bytes_received += len(data)
                    else:
                        clients.remove(s)
                        s.close()
        finally:
            for c in clients:
                c.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SilentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def unused_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` with nothing listening (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]

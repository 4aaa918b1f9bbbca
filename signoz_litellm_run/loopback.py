"""Loopback stand-ins for an endpoint that is there but silent, or not there at all: `SilentServer`
(accepts, reads, never answers) and `unused_port()` (nothing listening). Used by tests, benches and
doctor's tests beside the real `Receiver`."""

from __future__ import annotations

import os
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


# Ports handed out below the kernel's ephemeral range (Linux 32768-60999, macOS 49152-65535): no bind(0) and no
# outgoing connection can take one between our check and the server's bind. Each pytest-xdist worker gets its own
# block, so two workers never hand out the same port either.
_BLOCK_FLOOR = 20000
_BLOCK_SIZE = 256
_handed_out = 0


def _ephemeral_floor() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... under xdist
    return int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def unused_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` with nothing listening, that nothing else will take before the caller binds it.

    Taken from this process's block below the ephemeral range, in turn (starting at a point set by the pid, so
    successive runs do not reuse the same ports at once); falls back to a port the kernel picks if the block is
    used up or the ephemeral range reaches down into it.
    """
    global _handed_out
    start = _BLOCK_FLOOR + _worker_index() * _BLOCK_SIZE
    if start + _BLOCK_SIZE <= _ephemeral_floor():
        for _ in range(_BLOCK_SIZE):
            port = start + (os.getpid() + _handed_out) % _BLOCK_SIZE
            _handed_out += 1
            if _free(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]

"""The loopback stand-ins: an endpoint that accepts and never answers, a port with nothing listening."""

from __future__ import annotations

import os
import socket

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from signoz_litellm_run.loopback import SilentServer, unused_port
from tests.test_receiver import PROTOCOLS, export_spans

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_silent_server_makes_the_exporter_time_out(protocol: str) -> None:
    with SilentServer() as silent:
        result, elapsed = export_spans(protocol, silent.endpoint, timeout=1)
        assert result is SpanExportResult.FAILURE
        assert elapsed >= 0.9  # it waited for an answer until its own timeout (the test's timeout: a hang guard)
        assert silent.connections >= 1 and silent.bytes_received > 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unused_port_refuses(protocol: str) -> None:
    port = unused_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    result, _ = export_spans(protocol, f"http://127.0.0.1:{port}", timeout=1)
    assert result is SpanExportResult.FAILURE


def test_unused_port_is_outside_the_ephemeral_range_and_per_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # A port the kernel could give to bind(0) or to an outgoing connection could be taken between the check and
    # the server's bind (a proxy test once lost its port so); and two xdist workers must not get the same one.
    from signoz_litellm_run import loopback

    ports = {}
    for worker in ("gw0", "gw3"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        ports[worker] = [unused_port() for _ in range(5)]
    floor = loopback._ephemeral_floor()
    for worker, got in ports.items():
        block = loopback._BLOCK_FLOOR + (int(worker[2:]) + 1) * loopback._BLOCK_SIZE
        assert len(set(got)) == 5 and all(block <= p < block + loopback._BLOCK_SIZE < floor for p in got), got
    with socket.socket() as held:  # a port in use is skipped
        monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
        nxt = loopback._BLOCK_FLOOR + loopback._BLOCK_SIZE + (os.getpid() + loopback._handed_out) % loopback._BLOCK_SIZE
        held.bind(("127.0.0.1", nxt))
        held.listen()
        assert unused_port() != nxt

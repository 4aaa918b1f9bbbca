"""The loopback stand-ins: an endpoint that accepts and never answers, a port with nothing listening."""

from __future__ import annotations

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
        assert 0.9 < elapsed < 2.5
        assert silent.connections >= 1 and silent.bytes_received > 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unused_port_refuses(protocol: str) -> None:
    port = unused_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    result, elapsed = export_spans(protocol, f"http://127.0.0.1:{port}", timeout=1)
    assert result is SpanExportResult.FAILURE and elapsed < 2.5

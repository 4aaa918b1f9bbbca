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
        assert elapsed >= 0.9  # it waited for an answer until its own timeout (the test's timeout: a hang guard)
        assert silent.connections >= 1 and silent.bytes_received > 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unused_port_refuses(protocol: str) -> None:
    port = unused_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    result, _ = export_spans(protocol, f"http://127.0.0.1:{port}", timeout=1)
    assert result is SpanExportResult.FAILURE

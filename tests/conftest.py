"""Shared pytest fixtures: a real OTLP receiver, a fake OpenAI-compatible provider, a TLS cert."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# litellm must never reach the network for its model cost map; set before anything imports it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# `run` would otherwise bootstrap the test venv itself (pip, network, extra instrumentations in every child);
# tests/test_bootstrap.py turns it on for its own throwaway environments.
os.environ.setdefault("SIGNOZ_BOOTSTRAP", "false")
# A CI runner (the project's own included) sets CI=true, which turns the job report on by default and with it a
# different start-up; tests run as they would on a laptop, and the ones about CI set its variables themselves.
from signoz_litellm_run.ci import CI_MARKER_VARIABLES  # noqa: E402

for _name in CI_MARKER_VARIABLES:
    os.environ.pop(_name, None)

from signoz_litellm_run.receiver import Receiver  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started OTLP receiver (gRPC + HTTP on ephemeral loopback ports, HTTP bodies kept as posted), stopped
    afterwards."""
    with Receiver(keep_raw=True) as r:
        yield r


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A started fake OpenAI-compatible provider; ``fake_provider.base_url`` ends in ``/v1``."""
    with FakeProvider() as p:
        yield p


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(certfile, keyfile) of a self-signed CA:TRUE cert for localhost / 127.0.0.1.

    The cert file doubles as the CA bundle clients must trust.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not available")
    directory: Path = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return str(cert), str(key)

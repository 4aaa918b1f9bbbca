"""With signoz-litellm installed, a plain `opentelemetry-instrument` (no OTEL_PYTHON_DISTRO) may load our distro,
the first `opentelemetry_distro` entry point it finds: it then behaves as OpenTelemetry's own distro, whichever it
found first. Asked for by name (as `run` does), it is ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.launch import clean_env

pytestmark = pytest.mark.timeout(120)
PROBE = ("import sys; print('httpx' in sys.modules, 'signoz_litellm_run.hook.litellm_arm' in sys.modules, "
         "type(__import__('opentelemetry.trace', fromlist=['x']).get_tracer_provider()).__module__)")


def _instrumented(distro: str | None) -> list[str]:
    env = clean_env({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"})
    if distro is not None:
        env["OTEL_PYTHON_DISTRO"] = distro
    otel = str(Path(sys.executable).parent / "opentelemetry-instrument")
    result = subprocess.run([otel, sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_plain_opentelemetry_instrument_gets_opentelemetrys_behaviour_whichever_distro_comes_first() -> None:
    # OpenTelemetry's distro imports every instrumented library at start (httpx here) and knows nothing of LiteLLM
    assert _instrumented(None) == _instrumented("distro") == ["True", "False", "opentelemetry.sdk.trace"]


def test_asked_for_by_name_it_is_ours() -> None:
    # ours instruments httpx when the program imports it, and arms LiteLLM's callback
    assert _instrumented("signoz_litellm") == ["False", "True", "opentelemetry.sdk.trace"]


def test_our_distro_is_found_first_here_so_the_first_test_means_something() -> None:
    from importlib.metadata import entry_points

    names = [ep.name for ep in entry_points(group="opentelemetry_distro")]
    if names[:1] != ["signoz_litellm"]:
        pytest.skip(f"the distro entry points come in another order here: {names}")

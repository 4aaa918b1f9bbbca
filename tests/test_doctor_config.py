"""doctor's configuration checks, called directly (no network, no subprocess)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signoz_litellm_run import doctor_config
from signoz_litellm_run.doctor_report import Check
from tests.test_doctor import KEY


def test_cloud_configuration_without_network(tmp_path: Path) -> None:
    """SigNoz Cloud settings, checked without touching the network (configuration checks only)."""
    stale = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://elsewhere:4317"}
    settings, checks = doctor_config.configuration_checks({"region": "us"}, stale, tmp_path, None)
    by_name = {c.name: c for c in checks}
    assert settings is not None and settings.endpoint == "https://ingest.us.signoz.cloud:443"
    assert by_name["ingestion-key"].status == "fail" and "SIGNOZ_INGESTION_KEY" in by_name["ingestion-key"].hint
    assert by_name["otel-env"].status == "pass"  # run overrides a per-signal endpoint when a region is given
    _, checks = doctor_config.configuration_checks({"region": "us", "ingestion_key": "short"}, {}, tmp_path, None)
    key_check = {c.name: c for c in checks}["ingestion-key"]
    assert key_check.status == "warn" and "only 5 characters" in key_check.detail and "short" not in key_check.detail
    _, checks = doctor_config.configuration_checks({"endpoint": "https://ingest.mars.signoz.cloud:443"},
                                                   {"SIGNOZ_INGESTION_KEY": KEY}, tmp_path, None)
    assert {c.name: c for c in checks}["region"].status == "fail"


def test_endpoint_and_per_signal_warnings(tmp_path: Path) -> None:
    """Configuration-only checks (no network): ports, paths and per-signal variables that `run` keeps."""
    def checks_for(flags: dict[str, Any], environ: dict[str, str]) -> dict[str, Check]:
        _, checks = doctor_config.configuration_checks(flags, environ, tmp_path, None)
        return {c.name: c for c in checks}

    grpc_on_4318 = checks_for({"endpoint": "http://collector:4318"}, {})["endpoint"]
    assert grpc_on_4318.status == "warn" and "--protocol http/protobuf" in grpc_on_4318.hint
    http_on_4317 = checks_for({"endpoint": "http://collector:4317", "protocol": "http/protobuf"}, {})["endpoint"]
    assert http_on_4317.status == "warn" and "4318" in http_on_4317.hint
    signal_path = checks_for({"endpoint": "http://collector:4318/v1/traces", "protocol": "http"}, {})["endpoint"]
    assert signal_path.status == "warn" and "/v1/traces" in signal_path.hint
    plain_cloud = checks_for({"region": "eu", "insecure": True}, {"SIGNOZ_INGESTION_KEY": KEY})["endpoint"]
    assert plain_cloud.status == "fail"
    # the endpoint comes from the environment, so `run` keeps a per-signal endpoint and per-signal headers
    env = {"SIGNOZ_ENDPOINT": "http://collector:4317", "SIGNOZ_INGESTION_KEY": KEY,
           "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://old:4317", "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x=1",
           "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "httpx"}
    otel = checks_for({}, env)["otel-env"]
    assert otel.status == "warn"
    for text in ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_HEADERS", "turns off httpx"):
        assert text in otel.detail
    assert KEY not in otel.detail + otel.hint

"""The child's environment, built from Settings by pure functions."""

from __future__ import annotations

import json
import os
from pathlib import Path

from signoz_litellm_run import environment
from signoz_litellm_run.settings import resolve

KEY = "0123456789abcdef/KEY+="


def _updates(flags: dict, env: dict | None = None, tmp_path: Path = Path("/tmp")) -> dict[str, str]:
    env = env or {}
    settings = resolve(flags, env, tmp_path, ["python", "job.py"])
    return environment.child_updates(settings, env, cwd="/work/app")


def test_cloud_region_grpc() -> None:
    u = _updates({"region": "eu", "ingestion_key": KEY})
    assert u["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://ingest.eu.signoz.cloud:443"
    assert u["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert u["OTEL_EXPORTER_OTLP_HEADERS"] == "signoz-ingestion-key=0123456789abcdef%2FKEY%2B%3D"
    assert u["OTEL_SERVICE_NAME"] == "job"
    assert u["OTEL_TRACES_EXPORTER"] == u["OTEL_METRICS_EXPORTER"] == u["OTEL_LOGS_EXPORTER"] == "otlp"
    assert u["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] == "openai,click,system_metrics"
    assert u["LITELLM_OTEL_INTEGRATION_ENABLE_METRICS"] == "true"
    assert u["USE_OTEL_LITELLM_REQUEST_SPAN"] == "true"
    assert u["OTEL_METRICS_EXEMPLAR_FILTER"] == "always_off"  # SigNoz does not store exemplars
    assert u["OTEL_PYTHON_DISTRO"] == "signoz_litellm"
    assert "OTEL_EXPORTER_OTLP_INSECURE" not in u


def test_pythonpath_is_composed_like_opentelemetry_instrument() -> None:
    u = _updates({"endpoint": "http://c:4317"}, {"PYTHONPATH": f"/a{os.pathsep}{environment.SITE_DIR}{os.pathsep}/b"})
    assert u["PYTHONPATH"].split(os.pathsep) == [environment.SITE_DIR, "/work/app", "/a", "/b"]
    u = _updates({"endpoint": "http://c:4317"}, {"PYTHONPATH": "/work/app"})
    assert u["PYTHONPATH"].split(os.pathsep) == [environment.SITE_DIR, "/work/app"]
    assert (Path(environment.SITE_DIR) / "sitecustomize.py").is_file()
    assert sorted(p.name for p in Path(environment.SITE_DIR).iterdir() if p.suffix == ".py") == ["sitecustomize.py"]


def test_user_otel_settings_win_over_our_defaults_and_lists_are_merged() -> None:
    env = {"OTEL_METRICS_EXPORTER": "none", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "requests, urllib3",
           "LITELLM_OTEL_INTEGRATION_ENABLE_METRICS": "false", "OTEL_METRICS_EXEMPLAR_FILTER": "trace_based",
           "OTEL_EXPORTER_OTLP_HEADERS": "x-team=a,signoz-ingestion-key=stale"}
    u = _updates({"endpoint": "http://c:4317", "ingestion_key": KEY}, env)
    assert "OTEL_METRICS_EXPORTER" not in u and "LITELLM_OTEL_INTEGRATION_ENABLE_METRICS" not in u
    assert "OTEL_METRICS_EXEMPLAR_FILTER" not in u
    assert u["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] == "requests,urllib3,openai,click,system_metrics"
    assert u["OTEL_EXPORTER_OTLP_HEADERS"].startswith("x-team=a,signoz-ingestion-key=0123")
    assert "stale" not in u["OTEL_EXPORTER_OTLP_HEADERS"]


def test_spans_keep_1024_attributes_unless_the_user_sets_a_limit() -> None:
    assert _updates({"endpoint": "http://c:4317"})["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"] == "1024"
    for name in ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"):  # the general one too
        assert "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT" not in _updates({"endpoint": "http://c:4317"}, {name: "64"})


def test_http_protobuf_and_per_signal_overrides_only_when_a_flag_says_so() -> None:
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://elsewhere:4318/v1/traces"}
    u = _updates({"endpoint": "http://c:4318", "protocol": "http/protobuf"}, env)
    assert u["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert u["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://c:4318/v1/traces"
    assert u["OTEL_EXPORTER_OTLP_INSECURE"] == "true"
    u = _updates({}, {**env, "SIGNOZ_ENDPOINT": "http://c:4318"})
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" not in u  # the user's own per-signal choice stands


def test_resource_attributes_environment_and_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    u = _updates({"endpoint": "https://c:4317", "environment": "prod", "ca_cert": str(ca),
                  "resource_attributes": "team=a b,x=1"}, {}, tmp_path)
    assert u["OTEL_RESOURCE_ATTRIBUTES"] == "team=a b,x=1,deployment.environment=prod"
    assert u["OTEL_EXPORTER_OTLP_CERTIFICATE"] == str(ca)


def test_rendering_masks_the_key_in_every_format() -> None:
    u = _updates({"region": "us", "ingestion_key": KEY})
    hidden = environment.masked(u, KEY)
    for fmt in environment.FORMATS:
        text = environment.render(hidden, fmt)
        assert KEY not in text and "0123456789abcdef%2FKEY" not in text
        assert "signoz-ingestion-key=****" in text
    assert json.loads(environment.render(hidden, "json"))["OTEL_SERVICE_NAME"] == "job"
    assert "export OTEL_SERVICE_NAME=job" in environment.render(hidden, "shell")
    assert 'OTEL_SERVICE_NAME="job"' in environment.render(hidden, "dotenv")
    assert "OTEL_SERVICE_NAME=job" in environment.render(hidden, "github").splitlines()
    shown = environment.render(u, "shell")
    assert "0123456789abcdef%2FKEY%2B%3D" in shown


def test_child_environment_marks_the_top_level_process() -> None:
    settings = resolve({"endpoint": "http://c:4317"}, {}, Path("/tmp"), ["python", "x.py"])
    env = environment.child_environment(settings, {"HOME": "/root"}, cwd="/w", pid=1234)
    assert env["HOME"] == "/root" and env[environment.ROOT_PID_ENV] == "1234"


def test_hook_switches_reach_the_child_and_a_nested_run_resets_them() -> None:
    from signoz_litellm_run.hook import litellm_arm, proxy

    assert environment.RAW_REQUEST_SPAN_ENV == litellm_arm.RAW_REQUEST_SPAN_ENV
    assert environment.TRACE_PROBES_ENV == proxy.TRACE_PROBES_ENV
    dest = {"endpoint": "http://c:4317"}
    u = _updates(dest)
    assert environment.RAW_REQUEST_SPAN_ENV not in u and environment.TRACE_PROBES_ENV not in u
    u = _updates({**dest, "raw_request_span": True, "trace_health_probes": True})
    assert u[environment.RAW_REQUEST_SPAN_ENV] == u[environment.TRACE_PROBES_ENV] == "true"
    u = _updates(dest, {"SIGNOZ_RAW_REQUEST_SPAN": "yes"})
    assert u[environment.RAW_REQUEST_SPAN_ENV] == "true"
    # an outer run's switch does not leak into a nested run that did not ask for it
    u = _updates(dest, {environment.RAW_REQUEST_SPAN_ENV: "true", environment.TRACE_PROBES_ENV: "true"})
    assert u[environment.RAW_REQUEST_SPAN_ENV] == u[environment.TRACE_PROBES_ENV] == "false"


def test_each_run_has_its_own_report_directory() -> None:
    settings = resolve({"endpoint": "http://c:4317"}, {}, Path("/tmp"), ["python", "job.py"])
    outer = {environment.JOB_DIR_ENV: "/tmp/signoz-litellm-job-outer"}
    env = environment.child_environment(settings, outer, cwd="/w", pid=7)
    assert environment.JOB_DIR_ENV not in env  # a nested run is not counted into (or removing) the outer job's
    env = environment.child_environment(settings, outer, cwd="/w", pid=7, job_dir="/tmp/signoz-litellm-job-inner")
    assert env[environment.JOB_DIR_ENV] == "/tmp/signoz-litellm-job-inner"


def test_litellm_otel_v2_is_turned_off_with_a_notice() -> None:
    for value in ("true", "1", "Yes", " on "):
        env = {"LITELLM_OTEL_V2": value}
        assert _updates({"endpoint": "http://127.0.0.1:4317"}, env)["LITELLM_OTEL_V2"] == "false"
        [notice] = environment.notices(env)
        assert notice.startswith("LITELLM_OTEL_V2 is set") and "LITELLM_OTEL_V2=false" in notice
    for env in ({}, {"LITELLM_OTEL_V2": "false"}, {"LITELLM_OTEL_V2": "0"}, {"LITELLM_OTEL_V2": ""}):
        assert "LITELLM_OTEL_V2" not in _updates({"endpoint": "http://127.0.0.1:4317"}, env)
        assert environment.notices(env) == []


def test_span_detail_reaches_the_child_and_a_nested_run_resets_it() -> None:
    from signoz_litellm_run.hook import span_detail

    assert environment.SPAN_DETAIL_ENV == span_detail.SPAN_DETAIL_ENV
    dest = {"endpoint": "http://c:4317"}
    assert environment.SPAN_DETAIL_ENV not in _updates(dest)  # lean, the hook's default
    assert _updates({**dest, "span_detail": "full"})[environment.SPAN_DETAIL_ENV] == "full"
    assert _updates(dest, {"SIGNOZ_LITELLM_SPAN_DETAIL": "FULL"})[environment.SPAN_DETAIL_ENV] == "full"
    # A run inside a full one, asked for lean: the inherited variable is overwritten.
    nested = _updates({**dest, "span_detail": "lean"}, {environment.SPAN_DETAIL_ENV: "full"})
    assert nested[environment.SPAN_DETAIL_ENV] == "lean"

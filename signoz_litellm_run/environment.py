"""Pure functions from `Settings` to the child's environment, and its renderings for `env`.

`child_updates()` is the single source of what `run` changes in the environment: `run` applies it,
`env` prints it, `doctor` checks it. Nothing here reads or writes the real environment.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from signoz_litellm_run import ci, delivery
from signoz_litellm_run.settings import KEY_HEADER, Settings, mask_secret

SITE_DIR = str(Path(__file__).resolve().parent / "_site")
DISTRO_NAME = "signoz_litellm"
# Instrumentations the command never gets, and why (bootstrap does not install them either).
DISABLED_REASONS = {
    "openai": "LiteLLM makes these spans",  # the OpenAI instrumentor would report every call twice
    # A span around a whole click command run: a server started by a click CLI (`litellm --config`,
    # `uvicorn`) would put every request it ever serves in that one never-ending trace.
    "click": "it would put every request of a server started by a click CLI (litellm, uvicorn) in one trace",
    # Started by the hook itself, in the job's main process only (hook/system_metrics.py): every process of a
    # job repeating the host's series would multiply them, and psutil would load in each.
    "system_metrics": "signoz-litellm starts it in the job's main process only (--system-metrics)",
}
ALWAYS_DISABLED = tuple(DISABLED_REASONS)
SIGNALS = ("traces", "metrics", "logs")
HTTP_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}
SHUTDOWN_TIMEOUT_ENV = "SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT"
MAX_REQUEST_BYTES_ENV = "SIGNOZ_LITELLM_MAX_REQUEST_BYTES"  # read by hook/export_size.py
TRACE_PROBES_ENV = "SIGNOZ_LITELLM_TRACE_HEALTH_PROBES"  # read by hook/proxy.py
RAW_REQUEST_SPAN_ENV = "SIGNOZ_LITELLM_RAW_REQUEST_SPAN"  # read by hook/litellm_arm.py
SYSTEM_METRICS_ENV = "SIGNOZ_LITELLM_SYSTEM_METRICS"  # read (and claimed) by hook/system_metrics.py
SPAN_DETAIL_ENV = "SIGNOZ_LITELLM_SPAN_DETAIL"  # read by hook/span_detail.py
LITELLM_OTEL_V2_ENV = "LITELLM_OTEL_V2"
_TRUE_WORDS = ("1", "on", "t", "true", "y", "yes")  # what LiteLLM (pydantic) reads as true
REPORT_ENV = delivery.REPORT_ENV
REPORT_FILE_ENV = delivery.REPORT_FILE_ENV
JOB_DIR_ENV = delivery.JOB_DIR_ENV
ROOT_PID_ENV = delivery.ROOT_PID_ENV
# Batch processors sized for bursts (the SDK's 2,048-span queue overflows at 5,000 calls at concurrency
# 50) and exporting every second, so little is left to deliver at exit. The user's own values win.
BATCH_DEFAULTS = {
    "OTEL_BSP_MAX_QUEUE_SIZE": "16384",
    "OTEL_BSP_SCHEDULE_DELAY": "1000",
    "OTEL_BLRP_MAX_QUEUE_SIZE": "16384",
    "OTEL_BLRP_SCHEDULE_DELAY": "1000",
}
# OpenTelemetry keeps 128 attributes a span and evicts the oldest beyond that. LiteLLM sets about 32 on a
# `litellm_request` span, its model, tokens and cost first, then 3 per tool the call offers: from 33 tools on
# (an agent with an MCP server or two), the cost, then the model and the tokens were evicted. 1,024 holds the
# 128 tools OpenAI takes at most. Not set when the user sets either limit (the general one included).
SPAN_ATTRIBUTE_LIMIT = ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1024")
USER_ATTRIBUTE_LIMITS = ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT")
# Our own switches the hook reads, which the user's environment may pre-set.
OUR_DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_PYTHON_DISTRO": DISTRO_NAME,
    # LiteLLM's GenAI histograms (token usage, operation duration, cost, ...) are off unless asked for.
    "LITELLM_OTEL_INTEGRATION_ENABLE_METRICS": "true",
    # A call inside a span the application has open gets its own litellm_request child span instead
    # of LiteLLM writing (or losing) its attributes on the application's span.
    "USE_OTEL_LITELLM_REQUEST_SPAN": "true",
    # SigNoz stores no exemplars (the trace pointer the SDK attaches to a data point recorded inside a
    # sampled span, such as every httpx duration): building and exporting them is pure cost.
    "OTEL_METRICS_EXEMPLAR_FILTER": "always_off",
    # Should someone capture HTTP headers on client spans (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_*),
    # the provider's key must not travel with them: OpenTelemetry redacts nothing unless told to.
    # Regexes searched in the header name: Authorization, api-key / x-api-key / x-goog-api-key, cookies, tokens.
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "authorization,api-key,cookie,token,secret",
}


def compose_pythonpath(existing: str | None, cwd: str) -> str:
    """Our sitecustomize directory first, then the working directory, then the user's entries:
    the order `opentelemetry-instrument` uses, with our directory in place of its own."""
    entries = [p for p in (existing.split(os.pathsep) if existing else []) if p != SITE_DIR]
    if cwd not in entries:
        entries.insert(0, cwd)
    return os.pathsep.join([SITE_DIR, *entries])


def merge_csv(existing: str | None, required: Sequence[str]) -> str:
    items = [x.strip() for x in (existing or "").split(",") if x.strip()]
    return ",".join(items + [r for r in required if r not in items])


def merge_headers(existing: str | None, key: str | None) -> str | None:
    """The user's OTLP headers plus the ingestion key header (ours replaces a stale one)."""
    parts = [p.strip() for p in (existing or "").split(",") if p.strip()]
    if key:
        parts = [p for p in parts if p.split("=", 1)[0].strip().lower() != KEY_HEADER]
        parts.append(f"{KEY_HEADER}={quote(key, safe='')}")
    return ",".join(parts) or None


def _signal_endpoint(settings: Settings, signal: str) -> str:
    assert settings.endpoint
    if settings.protocol == "http/protobuf":
        return settings.endpoint + HTTP_PATHS[signal]
    return settings.endpoint


def child_updates(settings: Settings, base_env: Mapping[str, str], *, cwd: str) -> dict[str, str]:
    """Every variable `run` sets or changes in the child's environment, in a stable order."""
    updates: dict[str, str] = {"PYTHONPATH": compose_pythonpath(base_env.get("PYTHONPATH"), cwd)}
    for name, value in {**OUR_DEFAULTS, **BATCH_DEFAULTS}.items():
        if not base_env.get(name):
            updates[name] = value
    if not any(base_env.get(name) for name in USER_ATTRIBUTE_LIMITS):
        updates[SPAN_ATTRIBUTE_LIMIT[0]] = SPAN_ATTRIBUTE_LIMIT[1]
    updates["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = merge_csv(
        base_env.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"), ALWAYS_DISABLED
    )
    if settings.endpoint:
        updates["OTEL_EXPORTER_OTLP_ENDPOINT"] = settings.endpoint
        updates["OTEL_EXPORTER_OTLP_PROTOCOL"] = settings.protocol
        # A per-signal variable would silently send one signal elsewhere: when the destination comes
        # from a flag, it is overridden too; otherwise the user's own per-signal setting stands.
        flagged = settings.source("endpoint").startswith(("flag", "region")) or settings.source(
            "protocol").startswith("flag")
        for signal in SIGNALS:
            for suffix, value in (("ENDPOINT", _signal_endpoint(settings, signal)), ("PROTOCOL", settings.protocol)):
                name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}"
                if base_env.get(name) and flagged:
                    updates[name] = value
        if settings.insecure or settings.endpoint.startswith("http://"):
            updates["OTEL_EXPORTER_OTLP_INSECURE"] = "true"
    headers = merge_headers(base_env.get("OTEL_EXPORTER_OTLP_HEADERS"), settings.ingestion_key)
    if headers and headers != base_env.get("OTEL_EXPORTER_OTLP_HEADERS"):
        updates["OTEL_EXPORTER_OTLP_HEADERS"] = headers
    if settings.ca_cert:
        updates["OTEL_EXPORTER_OTLP_CERTIFICATE"] = str(Path(settings.ca_cert).resolve())
    if settings.service_name:
        updates["OTEL_SERVICE_NAME"] = settings.service_name
    attributes = dict(settings.resource_attributes)
    for key, value in ci.resource_attributes(base_env).items():
        attributes.setdefault(key, value)  # CI/CD and VCS attributes never override the user's
    if settings.environment:
        attributes["deployment.environment"] = settings.environment
    if attributes:
        updates["OTEL_RESOURCE_ATTRIBUTES"] = ",".join(
            f"{k}={quote(str(v), safe='/:@.-_~ ')}" for k, v in attributes.items()
        )
    updates[SHUTDOWN_TIMEOUT_ENV] = f"{settings.shutdown_timeout:g}"
    updates[MAX_REQUEST_BYTES_ENV] = str(settings.max_request_size)
    if settings.trace_health_probes or base_env.get(TRACE_PROBES_ENV):
        updates[TRACE_PROBES_ENV] = "true" if settings.trace_health_probes else "false"
    if settings.raw_request_span or base_env.get(RAW_REQUEST_SPAN_ENV):
        updates[RAW_REQUEST_SPAN_ENV] = "true" if settings.raw_request_span else "false"
    updates[SYSTEM_METRICS_ENV] = "true" if settings.system_metrics else "false"
    if settings.span_detail != "lean" or base_env.get(SPAN_DETAIL_ENV):
        updates[SPAN_DETAIL_ENV] = settings.span_detail
    if litellm_otel_v2_requested(base_env):
        updates[LITELLM_OTEL_V2_ENV] = "false"  # see notices()
    updates[REPORT_ENV] = "1" if ci.report_enabled(settings.report, base_env) else "0"
    if settings.report_file:
        updates[REPORT_FILE_ENV] = str(Path(cwd, settings.report_file).resolve())
    return updates


def litellm_otel_v2_requested(base_env: Mapping[str, str]) -> bool:
    return base_env.get(LITELLM_OTEL_V2_ENV, "").strip().lower() in _TRUE_WORDS


def notices(base_env: Mapping[str, str]) -> list[str]:
    """What `run` tells the user about the environment it changed against their setting (stderr, before the
    command starts)."""
    found = []
    if litellm_otel_v2_requested(base_env):
        # LiteLLM's experimental V2 OTel logger builds its own exporters: under `run` not one LLM span or GenAI
        # metric reached the endpoint (only the HTTP client spans did).
        found.append("LITELLM_OTEL_V2 is set, but LiteLLM's V2 OTel logger sends no LLM spans or metrics through "
                     "signoz-litellm; the command runs with LiteLLM's standard OTel logger (LITELLM_OTEL_V2=false).")
    return found


def child_environment(settings: Settings, base_env: Mapping[str, str], *, cwd: str, pid: int,
                      job_dir: str | None = None) -> dict[str, str]:
    """The whole environment the command is exec'd (or spawned) with. `job_dir`: where its processes leave
    their delivery counts for the report (`delivery`); an outer job's is never inherited."""
    env = dict(base_env)
    env.update(child_updates(settings, base_env, cwd=cwd))
    env[ROOT_PID_ENV] = str(pid)  # the exec keeps the pid: the hook knows the top-level process
    env.pop(JOB_DIR_ENV, None)
    if job_dir:
        env[JOB_DIR_ENV] = job_dir
    return env


# --------------------------------------------------------------------------------------------- rendering

FORMATS = ("shell", "dotenv", "json", "github")


def masked(updates: Mapping[str, str], key: str | None) -> dict[str, str]:
    """The same variables with the ingestion key replaced by its masked form."""
    if not key:
        return dict(updates)
    hidden = (key, quote(key, safe=""))
    result = {}
    for name, value in updates.items():
        for secret in hidden:
            value = value.replace(secret, mask_secret(key))
        result[name] = value
    return result


def render(updates: Mapping[str, str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(dict(updates), indent=2, sort_keys=False)
    lines = []
    for name, value in updates.items():
        if fmt == "shell":
            lines.append(f"export {name}={shlex.quote(value)}")
        elif fmt == "dotenv":
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{name}="{escaped}"')
        elif fmt == "github":  # lines for $GITHUB_ENV
            if "\n" in value:
                lines += [f"{name}<<SIGNOZ_EOF", value, "SIGNOZ_EOF"]
            else:
                lines.append(f"{name}={value}")
        else:
            raise ValueError(fmt)
    return "\n".join(lines)

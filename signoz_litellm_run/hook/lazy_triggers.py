"""Whether telemetry may start at a process's first use of it (hook/lazy_start.py), and which imports are that use.

A lazy start-up must give the same result as one at the process's start, so it is armed only where what the
start-up would do is known: our distro and OpenTelemetry's configurator, no job report directory, no log
correlation, OTLP variables OpenTelemetry reads only when it builds the exporters, every installed instrumentor one
that waits for its library (`LAZY_MODULES`) or one of those listed below, none of those libraries imported yet
(`SIGNOZ_LITELLM_LAZY_START=false`: never). The installed instrumentors come from hook/entry_point_survey.py.
"""

from __future__ import annotations

import os
import sys

from signoz_litellm_run.hook.entry_point_survey import entry_point_survey

# entry point name -> the module whose import triggers it (hook/distro.py loads each instrumentor then)
LAZY_MODULES = {
    "httpx": "httpx",
    "httpx2": "httpx2",
    "aiohttp-client": "aiohttp",
    "aiohttp-server": "aiohttp",
    "requests": "requests",
    "urllib3": "urllib3",
    "urllib": "urllib.request",
    "fastapi": "fastapi",
    "starlette": "starlette",
    "flask": "flask",
    "django": "django",
    "falcon": "falcon",
    "tornado": "tornado",
    "redis": "redis",
    "sqlalchemy": "sqlalchemy",
    "sqlite3": "sqlite3",
    "psycopg": "psycopg",
    "psycopg2": "psycopg2",
    "asyncpg": "asyncpg",
    "pymongo": "pymongo",
    "pymysql": "pymysql",
    "botocore": "botocore",
    "aiobotocore": "aiobotocore",  # opentelemetry-instrumentation-botocore's second entry point
    "boto3sqs": "boto3",
    "boto3": "boto3",  # opentelemetry-instrumentation-boto3sqs's entry point is named boto3
    "tortoiseorm": "tortoise",
    "celery": "celery",
    "jinja2": "jinja2",
    "click": "click",
    "openai_v2": "openai",
    "anthropic": "anthropic",
    # grpc: the OTLP exporters no longer import it at start (hook/lazy_export.py)
    "grpc_client": "grpc",
    "grpc_server": "grpc",
    "grpc_aio_client": "grpc.aio",
    "grpc_aio_server": "grpc.aio",
}
# Instrumentors a lazy start-up knows besides those: logging's (its handler: lazy_start's stand-in); threading's, whose
# wrappers carry a span context into threads, of which there is none before the start-up; and those whose import
# triggers the start-up (asyncio's; exceptions', which also hooks asyncio, and whose uncaught-exception hooks have
# stand-ins in lazy_start).
KNOWN_INSTRUMENTORS = frozenset(LAZY_MODULES) | {"logging", "threading"}
EXTRA_TRIGGERS = {"asyncio": "asyncio", "exceptions": "asyncio"}
TRIGGERS = frozenset(LAZY_MODULES.values()) | {
    "litellm", "opentelemetry", "signoz_litellm_run.in_process", "signoz_litellm_run.auto"}
# Trigger modules the start-up imports itself (or that may be): started once they have run, not before
AFTER_RUN = frozenset({"opentelemetry", "asyncio", "urllib.request", "sqlite3", "signoz_litellm_run.in_process",
                       "signoz_litellm_run.auto"})
SWITCH_ENV = "SIGNOZ_LITELLM_LAZY_START"


def triggers_for(environ=os.environ) -> tuple[set, list] | None:
    """The modules whose import starts telemetry, and the installed instrumentors (those not disabled); None where
    a lazy start-up is not known to give the same result (the caller starts at once)."""
    if not eligible(environ):
        return None
    survey = entry_point_survey()
    if survey is None or "signoz_litellm" not in survey["distro"]:
        return None  # OpenTelemetry or our distro missing: at once, where the start-up says what is wrong
    disabled = {name.strip() for name in environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    installed = [name for name in survey["instrumentor"] if name not in disabled]
    triggers = set(TRIGGERS)
    for name in installed:
        if name in EXTRA_TRIGGERS:
            triggers.add(EXTRA_TRIGGERS[name])
        elif name not in KNOWN_INSTRUMENTORS:
            return None  # an instrumentor we cannot tell the trigger of: at once, as OpenTelemetry does
    if any(name in sys.modules for name in triggers):
        return None
    return triggers, installed


def eligible(environ=os.environ) -> bool:
    if environ.get(SWITCH_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    if environ.get("OTEL_PYTHON_DISTRO", "") != "signoz_litellm" or environ.get("OTEL_PYTHON_CONFIGURATOR", ""):
        return False
    if environ.get("SIGNOZ_LITELLM_JOB_DIR"):
        return False  # the job's report: every process leaves its counts (hook/report.py)
    if environ.get("OTEL_PYTHON_LOG_CORRELATION", "").strip().lower() == "true":
        return False  # the logging instrumentation changes every record's attributes from the start
    if not _exporters_may_wait(environ):
        return False  # OpenTelemetry checks those options when it builds the exporters: at start
    return not any(name in sys.modules for name in TRIGGERS)


def _exporters_may_wait(environ) -> bool:
    """`lazy_export.may_build_later`, without importing it (its imports cost more than this module): the OTLP
    variables set are only destinations, headers, protocols, `insecure` and certificates."""
    for name in environ:
        if name.startswith("OTEL_PYTHON_EXPORTER_OTLP_"):
            return False
        if not name.startswith("OTEL_EXPORTER_OTLP_"):
            continue
        rest = name[len("OTEL_EXPORTER_OTLP_"):]
        for signal in ("TRACES_", "METRICS_", "LOGS_"):
            if rest.startswith(signal):
                rest = rest[len(signal):]
                break
        if rest not in ("ENDPOINT", "HEADERS", "PROTOCOL", "INSECURE", "CERTIFICATE"):
            return False
    return True

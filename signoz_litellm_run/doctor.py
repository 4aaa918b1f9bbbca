"""`signoz-litellm doctor`: in seconds, exactly why telemetry is not arriving.

Each check returns a frozen `Check` (pass / warn / fail / skip, one line of detail, a hint naming the
fix); `render_table` / `render_json` and `exit_code` are separate functions over the list. The
checks are bounded in time: the environment checks run next to the network ones, every network step
has its own timeout and the whole run ends within `BUDGET` seconds whatever the endpoint does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from signoz_litellm_run import doctor_net as net
from signoz_litellm_run.environment import (
    DISTRO_NAME,
    SIGNALS,
    SITE_DIR,
    child_updates,
    merge_headers,
)
from signoz_litellm_run.errors import LauncherError
from signoz_litellm_run.settings import (
    CLOUD_ENDPOINT,
    CLOUD_HOST_SUFFIX,
    KEY_HEADER,
    REGIONS,
    Settings,
    _check_destination,
    resolve,
)

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
CONFIGURATION, ENVIRONMENT, NETWORK, INGESTION, SEND_TEST = (
    "configuration", "environment", "network", "ingestion", "send-test")

BUDGET = 8.5  # seconds for the whole run after start-up (the issue asks for <= 10 s in all)
DNS_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2.0
TLS_TIMEOUT = 2.5
EXPORT_TIMEOUT = 3.0
SEND_TIMEOUT = 2.0
API_TIMEOUT = 4.0  # each request to SigNoz's API, with --api-key
LITELLM_TIMEOUT = 7.5  # importing litellm takes 3-8 s on a busy machine
CERT_WARN_DAYS = 14
MIN_PYTHON = (3, 10)
DOCTOR_SERVICE = "signoz-litellm-doctor"


@dataclass(frozen=True)
class Check:
    """One finding. `hint` names the fix and is empty for a passing check."""

    name: str
    category: str
    status: str
    detail: str
    hint: str = ""


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    endpoint: str | None
    protocol: str | None
    service_name: str | None
    elapsed_s: float
    test: Mapping[str, str] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return exit_code(self.checks) == 0


def exit_code(checks: Sequence[Check]) -> int:
    """0 when nothing failed (warnings allowed), 1 when any check failed."""
    return 1 if any(c.status == FAIL for c in checks) else 0


class _Clock:
    def __init__(self, budget: float) -> None:
        self.start = time.monotonic()
        self.budget = budget

    def left(self, cap: float) -> float:
        """The smaller of `cap` and what is left of the budget (never below 0.1 s)."""
        return max(0.1, min(cap, self.budget - (time.monotonic() - self.start)))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


# --------------------------------------------------------------------------------------------- entry point


def doctor(flags: Mapping[str, Any], environ: Mapping[str, str], cwd: Path, *, config_path: str | None,
           json_output: bool, send_test: bool, check_litellm: bool = True, budget: float = BUDGET,
           signoz_url: str | None = None, api_key: str | None = None) -> int:
    """Run every check, print the table (or the JSON document) and return the exit status."""
    report = diagnose(flags, environ, cwd, config_path=config_path, send_test=send_test,
                      check_litellm=check_litellm, budget=budget, signoz_url=signoz_url, api_key=api_key)
    if json_output:
        print(render_json(report))
    else:
        render_table(report)
    return exit_code(report.checks)


def diagnose(flags: Mapping[str, Any], environ: Mapping[str, str], cwd: Path, *, config_path: str | None,
             send_test: bool, check_litellm: bool = True, budget: float = BUDGET,
             signoz_url: str | None = None, api_key: str | None = None) -> Report:
    clock = _Clock(budget)
    # SigNoz's own API (the API key, the version, our dashboards): only when an API key is given.
    api_result: dict[str, list[Check]] = {}
    api_thread = None
    if api_key or environ.get("SIGNOZ_API_KEY"):
        from signoz_litellm_run import doctor_api

        api_thread = threading.Thread(target=lambda: api_result.setdefault("c", doctor_api.api_checks(
            signoz_url, api_key, environ, clock.left(API_TIMEOUT))), name="doctor-api", daemon=True)
        api_thread.start()
    settings, config_checks = configuration_checks(flags, environ, cwd, config_path)
    protocol = settings.protocol if settings else "grpc"

    # The LiteLLM callback check imports litellm (seconds): start it first, next to the network checks.
    litellm_result: dict[str, Check] = {}
    litellm_thread = threading.Thread(
        target=lambda: litellm_result.setdefault("c", litellm_callback_check(clock.left(LITELLM_TIMEOUT), environ)),
        name="doctor-litellm", daemon=True)
    if check_litellm and _version("litellm") is None:
        litellm_result["c"] = Check("litellm-callback", ENVIRONMENT, SKIP, "skipped: litellm is not installed")
    elif check_litellm:
        litellm_thread.start()
    else:
        litellm_result["c"] = Check("litellm-callback", ENVIRONMENT, SKIP, "skipped (--fast)")

    env_checks = environment_checks(protocol, environ, cwd)
    net_checks: list[Check] = []
    test: dict[str, str] | None = None
    if settings is not None and settings.endpoint and not settings.local:
        net_checks, test = network_and_ingestion_checks(settings, environ, clock, send_test=send_test)
    else:
        reason = "no valid destination (see the configuration checks)"
        if settings is not None and settings.local:
            reason = "--local: the telemetry goes to a receiver inside the launcher"
        net_checks = [Check(n, c, SKIP, reason) for n, c in (("dns", NETWORK), ("tcp", NETWORK), ("tls", NETWORK),
                                                             (_export_name(protocol), INGESTION))]
        if send_test and settings is not None and settings.local:
            net_checks.append(Check("send-test", SEND_TEST, SKIP, "nothing sent: " + reason))
        elif send_test:
            net_checks.append(Check("send-test", SEND_TEST, FAIL, "nothing sent: " + reason,
                                    "Fix the configuration first."))

    if litellm_thread.is_alive():
        litellm_thread.join(clock.left(LITELLM_TIMEOUT) + 0.5)
    env_checks.append(litellm_result.get("c") or Check(
        "litellm-callback", ENVIRONMENT, WARN, "not checked: importing litellm took too long",
        "Run `python -c \"import litellm\"` to see how long LiteLLM takes to import here."))
    api_checks: list[Check] = []
    if api_thread is not None:
        api_thread.join(clock.left(API_TIMEOUT) + 0.5)
        api_checks = api_result.get("c") or [Check(
            "signoz-api", "signoz-api", FAIL, "SigNoz's API did not answer in time",
            "Check --url (the address you open SigNoz at) and that the server is up.")]
    return Report(
        checks=tuple(config_checks + env_checks + net_checks + api_checks),
        endpoint=settings.endpoint if settings else None,
        protocol=settings.protocol if settings else None,
        service_name=_service_name(settings),
        elapsed_s=round(clock.elapsed, 2),
        test=test,
    )


def _service_name(settings: Settings | None) -> str | None:
    return settings.service_name if settings else None


def _export_name(protocol: str) -> str:
    return "export-grpc" if protocol == "grpc" else "export-http"


# --------------------------------------------------------------------------------------------- configuration

_PER_SIGNAL = tuple(f"OTEL_EXPORTER_OTLP_{s.upper()}_{k}" for s in SIGNALS for k in ("ENDPOINT", "PROTOCOL", "HEADERS"))


def configuration_checks(flags: Mapping[str, Any], environ: Mapping[str, str], cwd: Path,
                         config_path: str | None) -> tuple[Settings | None, list[Check]]:
    """Resolve as `run` does; a setting `run` would refuse is a failed check here, not an exception."""
    try:
        settings = resolve(flags, environ, cwd, (), config_path=config_path, require_destination=False)
    except LauncherError as exc:
        return None, [Check("settings", CONFIGURATION, FAIL, exc.message, exc.hint or "")]
    checks = [_config_file_check(settings), _destination_check(settings, environ)]
    if settings.endpoint and not settings.local:
        checks += [_region_check(settings), _key_check(settings, environ), _endpoint_check(settings),
                   Check("protocol", CONFIGURATION, PASS, f"{settings.protocol} ({settings.source('protocol')})")]
    if settings.ca_cert:
        checks.append(_ca_cert_check(settings, environ))
    checks.append(_service_check(settings))
    checks.append(_otel_env_check(settings, environ, cwd))
    return settings, checks


def _config_file_check(settings: Settings) -> Check:
    if settings.config_file:
        return Check("config-file", CONFIGURATION, PASS, f"read {settings.config_file}")
    return Check("config-file", CONFIGURATION, PASS,
                 "none (no --config, SIGNOZ_LITELLM_CONFIG, ./signoz-litellm.toml or [tool.signoz-litellm])")


def _destination_check(settings: Settings, environ: Mapping[str, str]) -> Check:
    if settings.local:
        return Check("destination", CONFIGURATION, PASS,
                     "--local: a receiver inside the launcher (no network, no account needed)")
    try:
        _check_destination(settings, environ)
    except LauncherError as exc:
        return Check("destination", CONFIGURATION, FAIL, exc.message, exc.hint or "")
    detail = f"{settings.endpoint} ({settings.source('endpoint')})"
    if settings.local:
        detail = "--local: the embedded receiver; " + detail
    if settings.notes:
        detail += "; " + "; ".join(settings.notes)
    return Check("destination", CONFIGURATION, PASS, detail)


def _region_check(settings: Settings) -> Check:
    assert settings.endpoint
    host = net.target_for(settings.endpoint, settings.protocol).host
    if settings.region:
        return Check("region", CONFIGURATION, PASS, f"{settings.region} ({settings.source('region')})")
    if host.endswith(CLOUD_HOST_SUFFIX):
        known = {CLOUD_ENDPOINT.format(region=r).split("://")[1].split(":")[0] for r in REGIONS}
        if host not in known:
            return Check("region", CONFIGURATION, FAIL, f"{host} is not a SigNoz Cloud ingestion host",
                         f"Use --region ({', '.join(REGIONS)}) instead of writing the endpoint by hand.")
        return Check("region", CONFIGURATION, PASS, f"SigNoz Cloud host {host}")
    return Check("region", CONFIGURATION, PASS, "not used: self-hosted or collector endpoint")


def _key_check(settings: Settings, environ: Mapping[str, str]) -> Check:
    key = settings.ingestion_key
    in_headers = any(n == KEY_HEADER for n, _ in net.parse_headers(environ.get("OTEL_EXPORTER_OTLP_HEADERS")))
    where = settings.source("ingestion_key")
    if not key:
        if settings.is_cloud and not in_headers:
            return Check("ingestion-key", CONFIGURATION, FAIL, "SigNoz Cloud needs an ingestion key; none is set",
                         "export SIGNOZ_INGESTION_KEY=<key> (SigNoz: Settings -> Ingestion).")
        if in_headers:
            return Check("ingestion-key", CONFIGURATION, PASS, "set in OTEL_EXPORTER_OTLP_HEADERS")
        return Check("ingestion-key", CONFIGURATION, PASS, "none (not needed for a self-hosted endpoint)")
    shown = settings.masked_key or "****"
    problems = []
    if len(key) < 16:
        problems.append(f"it is only {len(key)} characters long")
    if len(key) > 256:
        problems.append(f"it is {len(key)} characters long")
    if any(c in key for c in "\"'<>"):
        problems.append("it contains quotes or angle brackets (a placeholder or shell-quoting slip?)")
    if key.lower().startswith(("bearer", "signoz-ingestion-key")):
        problems.append("it starts with a header name or 'Bearer'")
    if problems:
        return Check("ingestion-key", CONFIGURATION, WARN, f"{shown} ({where}) looks wrong: {'; '.join(problems)}",
                     "Copy the key again from SigNoz: Settings -> Ingestion (only the key itself).")
    if where.startswith("flag"):
        return Check("ingestion-key", CONFIGURATION, WARN, f"{shown} ({where})",
                     "Prefer SIGNOZ_INGESTION_KEY: a flag is visible to other users in the process list.")
    return Check("ingestion-key", CONFIGURATION, PASS, f"{shown} ({where})")


def _endpoint_check(settings: Settings) -> Check:
    assert settings.endpoint
    endpoint, protocol = settings.endpoint, settings.protocol
    target = net.target_for(endpoint, protocol)
    if settings.is_cloud and not target.tls:
        return Check("endpoint", CONFIGURATION, FAIL, f"{endpoint} is plain text; SigNoz Cloud only takes TLS",
                     "Drop --insecure / use https:// for SigNoz Cloud.")
    if settings.is_cloud and target.port != 443:
        return Check("endpoint", CONFIGURATION, WARN, f"{endpoint}: SigNoz Cloud listens on port 443",
                     "Use --region instead of writing the endpoint by hand.")
    if protocol == "grpc" and target.port == 4318:
        return Check("endpoint", CONFIGURATION, WARN, f"{endpoint}: port 4318 is OTLP/HTTP, but the protocol is gRPC",
                     "Use --protocol http/protobuf, or port 4317 for gRPC.")
    if protocol == "http/protobuf" and target.port == 4317:
        return Check("endpoint", CONFIGURATION, WARN,
                     f"{endpoint}: port 4317 is OTLP/gRPC, but the protocol is http/protobuf",
                     "Use --protocol grpc, or port 4318 for HTTP.")
    path = endpoint.split("://", 1)[1].partition("/")[2]
    if protocol == "grpc" and path:
        return Check("endpoint", CONFIGURATION, WARN, f"{endpoint}: gRPC ignores the path /{path}",
                     "Give gRPC endpoints as scheme://host:port.")
    if path.rstrip("/").endswith(("v1/traces", "v1/logs", "v1/metrics")):
        return Check("endpoint", CONFIGURATION, WARN, f"{endpoint} ends in a signal path; /v1/<signal> is added",
                     "Give the base URL, without /v1/traces.")
    mode = "TLS" if target.tls else "plain text"
    return Check("endpoint", CONFIGURATION, PASS, f"{target.authority}, {mode}, {protocol}")


def _ca_cert_check(settings: Settings, environ: Mapping[str, str]) -> Check:
    assert settings.ca_cert
    try:
        context = net.tls_context(settings.ca_cert)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        return Check("ca-cert", CONFIGURATION, FAIL, f"{settings.ca_cert} cannot be loaded: {exc}",
                     "Give a PEM file holding the CA certificate(s) that signed the endpoint's certificate.")
    count = len(context.get_ca_certs())
    # The HTTP exporter sends through `requests`, which lets these variables override the exporter's own
    # certificate file: the TLS handshake then fails against the CA given here, and every export is retried.
    overriding = [name for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if environ.get(name)]
    if settings.protocol == "http/protobuf" and overriding:
        return Check("ca-cert", CONFIGURATION, WARN,
                     f"{settings.ca_cert}: {count} CA certificate(s), but {' and '.join(overriding)} is set and "
                     "overrides it for the HTTP exporter",
                     f"Unset {' and '.join(overriding)} for the command, add this CA to that bundle, or use "
                     "--protocol grpc (not affected).")
    return Check("ca-cert", CONFIGURATION, PASS, f"{settings.ca_cert}: {count} CA certificate(s)")


def _service_check(settings: Settings) -> Check:
    if settings.service_name:
        return Check("service-name", CONFIGURATION, PASS,
                     f"{settings.service_name} ({settings.source('service_name')})")
    return Check("service-name", CONFIGURATION, PASS, "derived from the command at run time (e.g. main.py -> main)")


def _otel_env_check(settings: Settings, environ: Mapping[str, str], cwd: Path) -> Check:
    """OTEL_* variables already in the environment that change what `run` sets up."""
    effective = dict(environ)
    effective.update(child_updates(settings, environ, cwd=str(cwd)))
    problems: list[str] = []
    fails: list[str] = []
    hints: list[str] = []
    if effective.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        fails.append("OTEL_SDK_DISABLED=true turns all telemetry off")
        hints.append("unset OTEL_SDK_DISABLED")
    for signal in SIGNALS:
        name = f"OTEL_{signal.upper()}_EXPORTER"
        value = effective.get(name, "otlp").strip().lower()
        if "otlp" not in [v.strip() for v in value.split(",")]:
            problems.append(f"{name}={value} (no {signal} go to SigNoz)")
            hints.append(f"unset {name}")
    if settings.endpoint:
        for signal in SIGNALS:
            for suffix in ("ENDPOINT", "PROTOCOL"):
                name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}"
                if name in environ and environ[name] and effective.get(name) == environ[name]:
                    expected = settings.protocol if suffix == "PROTOCOL" else None
                    if expected is None or environ[name].strip() != expected:
                        problems.append(f"{name} sends {signal} elsewhere")
                        hints.append(f"unset {name} (or pass --endpoint/--protocol as a flag, which overrides it)")
            name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS"
            if environ.get(name) and settings.ingestion_key and not any(
                    n == KEY_HEADER for n, _ in net.parse_headers(environ[name])):
                problems.append(f"{name} replaces the headers for {signal}, without the ingestion key")
                hints.append(f"unset {name}")
    disabled = {x.strip() for x in effective.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    for name in ("httpx", "aiohttp-client", "logging"):
        if name in disabled:
            problems.append(f"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS turns off {name}")
            hints.append(f"remove {name} from OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")
    if effective.get("OTEL_PYTHON_DISTRO", DISTRO_NAME) != DISTRO_NAME:
        problems.append(f"OTEL_PYTHON_DISTRO={effective['OTEL_PYTHON_DISTRO']} replaces signoz-litellm's distro")
        hints.append("unset OTEL_PYTHON_DISTRO")
    if effective.get("OTEL_PYTHON_CONFIGURATOR"):
        problems.append(f"OTEL_PYTHON_CONFIGURATOR={effective['OTEL_PYTHON_CONFIGURATOR']} picks another configurator")
        hints.append("unset OTEL_PYTHON_CONFIGURATOR")
    if fails:
        return Check("otel-env", CONFIGURATION, FAIL, "; ".join(fails + problems), "; ".join(hints) + ".")
    if problems:
        return Check("otel-env", CONFIGURATION, WARN, "; ".join(problems), "; ".join(hints) + ".")
    present = sorted(n for n in environ if n.startswith("OTEL_"))
    detail = f"{len(present)} OTEL_* variable(s) set, none conflicting" if present else "no OTEL_* variables set"
    return Check("otel-env", CONFIGURATION, PASS, detail)


# --------------------------------------------------------------------------------------------- environment


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def environment_checks(protocol: str, environ: Mapping[str, str], cwd: Path) -> list[Check]:
    checks = [_python_check(), _litellm_check(), _otel_versions_check(), _supported_range_check(),
              *_entry_point_checks(),
              _grpc_check(protocol), *_instrumentation_checks(), _bootstrap_check(environ), _sitecustomize_check(environ, cwd)]
    return checks


def _python_check() -> Check:
    v = sys.version_info
    text = f"Python {v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if (v.major, v.minor) < MIN_PYTHON:
        return Check("python", ENVIRONMENT, FAIL, text, "signoz-litellm needs Python 3.10 or newer.")
    return Check("python", ENVIRONMENT, PASS, text)


def _litellm_check() -> Check:
    v = _version("litellm")
    if v is None:
        return Check("litellm", ENVIRONMENT, FAIL, "litellm is not installed in this environment",
                     f"pip install litellm (into {sys.prefix}, where the program runs).")
    return Check("litellm", ENVIRONMENT, PASS, f"litellm {v}")


def _otel_versions_check() -> Check:
    """Every installed opentelemetry-* package's pins on the others hold (a broken pin set makes
    auto-instrumentation skip packages silently)."""
    from importlib.metadata import distributions

    from packaging.requirements import InvalidRequirement, Requirement

    installed: dict[str, str] = {}
    dists = []
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("opentelemetry-"):
            installed[name] = dist.version
            dists.append((name, dist))
    conflicts: list[str] = []
    for name, dist in sorted(dists, key=lambda x: x[0]):
        for text in dist.requires or ():
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            dep = req.name.lower().replace("_", "-")
            if not dep.startswith("opentelemetry-") or dep not in installed:
                continue
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if not req.specifier.contains(installed[dep], prereleases=True):
                conflicts.append(f"{name} {installed[name]} needs {dep}{req.specifier}, found {installed[dep]}")
    api, sdk = installed.get("opentelemetry-api"), installed.get("opentelemetry-sdk")
    if api and sdk and api != sdk:
        conflicts.insert(0, f"opentelemetry-api {api} != opentelemetry-sdk {sdk}")
    missing = [d for d in ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-instrumentation")
               if d not in installed]
    if missing:
        return Check("otel-versions", ENVIRONMENT, FAIL, f"not installed: {', '.join(missing)}",
                     "pip install --force-reinstall signoz-litellm")
    if conflicts:
        more = f" (+{len(conflicts) - 2} more)" if len(conflicts) > 2 else ""
        return Check("otel-versions", ENVIRONMENT, FAIL, "; ".join(conflicts[:2]) + more,
                     "Install one matching set: pip install --force-reinstall signoz-litellm "
                     "(a mismatch silently disables auto-instrumentation).")
    contrib = installed.get("opentelemetry-instrumentation", "?")
    return Check("otel-versions", ENVIRONMENT, PASS,
                 f"api/sdk {api}, instrumentation {contrib}, {len(installed)} opentelemetry packages consistent")


def _supported_range_check() -> Check:
    """LiteLLM and OpenTelemetry inside the ranges our own package metadata states (`compat`)."""
    from signoz_litellm_run import compat

    ranges = compat.supported_ranges()
    if not ranges:
        return Check("supported-versions", ENVIRONMENT, SKIP, "signoz-litellm's package metadata cannot be read")
    installed = {name: v for name in ranges if (v := _version(name)) is not None}
    found = compat.outside(installed, ranges)
    if found:
        return Check("supported-versions", ENVIRONMENT, FAIL,
                     "outside the supported range: " + "; ".join(o.describe() for o in found),
                     f"{compat.fix_command(found, sys.executable)} (run still runs the command, but its "
                     "telemetry may be incomplete).")
    shown = ", ".join(f"{name} {installed[name]}" for name in ("litellm", "opentelemetry-sdk") if name in installed)
    return Check("supported-versions", ENVIRONMENT, PASS, f"{shown or 'LiteLLM and OpenTelemetry'} in range "
                 f"(litellm{ranges.get('litellm', '')}, opentelemetry-sdk{ranges.get('opentelemetry-sdk', '')})")


def _entry_point_checks() -> list[Check]:
    from importlib.metadata import entry_points

    checks = []
    distros = {ep.name: ep for ep in entry_points(group="opentelemetry_distro")}
    if DISTRO_NAME in distros:
        checks.append(Check("distro", ENVIRONMENT, PASS, f"{DISTRO_NAME} -> {distros[DISTRO_NAME].value}"))
    else:
        checks.append(Check("distro", ENVIRONMENT, FAIL, f"entry point opentelemetry_distro:{DISTRO_NAME} is missing",
                            "Reinstall signoz-litellm in this environment (pip install --force-reinstall)."))
    configurators = [ep.name for ep in entry_points(group="opentelemetry_configurator")]
    if configurators:
        checks.append(Check("configurator", ENVIRONMENT, PASS,
                            "opentelemetry_configurator: " + ", ".join(configurators)))
    else:
        checks.append(Check("configurator", ENVIRONMENT, FAIL, "no opentelemetry_configurator entry point",
                            "pip install opentelemetry-distro (it provides the SDK configurator)."))
    return checks


def _grpc_check(protocol: str) -> Check:
    v = _version("grpcio")
    if v is None:
        status = FAIL if protocol == "grpc" else WARN
        return Check("grpcio", ENVIRONMENT, status, "grpcio is not installed",
                     "pip install grpcio, or use --protocol http/protobuf.")
    try:
        import grpc  # noqa: F401
    except Exception as exc:  # noqa: BLE001 (a broken wheel)
        return Check("grpcio", ENVIRONMENT, FAIL if protocol == "grpc" else WARN, f"grpcio {v} fails to import: {exc}",
                     "pip install --force-reinstall grpcio, or use --protocol http/protobuf.")
    return Check("grpcio", ENVIRONMENT, PASS, f"grpcio {v}")


_INSTRUMENTATIONS = (
    ("httpx", "opentelemetry-instrumentation-httpx", "HTTP client spans of LiteLLM's sync calls"),
    ("aiohttp-client", "opentelemetry-instrumentation-aiohttp-client", "HTTP client spans of async calls"),
    ("logging", "opentelemetry-instrumentation-logging", "trace ids in log records"),
)


def _instrumentation_checks() -> list[Check]:
    """Present, and not skipped by initialize() for a dependency conflict."""
    from importlib.metadata import entry_points

    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts

    found = {ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor")}
    checks = []
    for name, dist, what in _INSTRUMENTATIONS:
        check_name = f"otel-{name}"
        ep = found.get(name)
        if ep is None:
            checks.append(Check(check_name, ENVIRONMENT, WARN, f"{dist} is not installed (no {what})",
                                f"pip install {dist}=={_version('opentelemetry-instrumentation') or ''}".rstrip("=")))
            continue
        conflict = get_dist_dependency_conflicts(ep.dist) if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else "?"
        if conflict is not None and getattr(conflict, "_is_version_conflict", True):
            checks.append(Check(check_name, ENVIRONMENT, WARN, f"{dist} {version} will be skipped: {conflict}",
                                "Install a library version the instrumentation supports, "
                                "or a matching instrumentation."))
        elif conflict is not None:
            checks.append(Check(check_name, ENVIRONMENT, PASS,
                                f"{dist} {version} (its library is not installed; nothing to instrument)"))
        else:
            checks.append(Check(check_name, ENVIRONMENT, PASS, f"{dist} {version}"))
    return checks


def bootstrap_missing(environ: Mapping[str, str]) -> list[str]:
    """Instrumentation packages bootstrap would add to this environment (the plan `run` acts on)."""
    from packaging.requirements import Requirement

    from signoz_litellm_run import bootstrap

    plan = bootstrap.plan(sys.executable, environ=environ, timeout=5.0)
    if plan.problem:
        raise RuntimeError(plan.problem)
    return sorted({Requirement(spec).name for spec in (*plan.missing, *(spec for spec, _ in plan.deferred))})


def _bootstrap_check(environ: Mapping[str, str]) -> Check:
    try:
        missing = bootstrap_missing(environ)
    except Exception as exc:  # noqa: BLE001
        return Check("bootstrap", ENVIRONMENT, WARN, f"could not compute: {type(exc).__name__}: {exc}",
                     "Run signoz-litellm bootstrap --dry-run to see the list.")
    if not missing:
        return Check("bootstrap", ENVIRONMENT, PASS, "every instrumentation for the installed libraries is present")
    shown = ", ".join(m.removeprefix("opentelemetry-instrumentation-") for m in missing[:6])
    more = f" (+{len(missing) - 6} more)" if len(missing) > 6 else ""
    return Check("bootstrap", ENVIRONMENT, PASS, f"bootstrap would add {len(missing)}: {shown}{more}")


def _sitecustomize_check(environ: Mapping[str, str], cwd: Path) -> Check:
    """A user sitecustomize that our hook will run after its own (Python alone would run only ours)."""
    import importlib.machinery

    skip = {os.path.realpath(SITE_DIR)}
    try:
        import opentelemetry.instrumentation.auto_instrumentation as auto

        skip.add(os.path.realpath(os.path.dirname(auto.__file__ or "")))
    except Exception:  # noqa: BLE001
        pass
    user = [p for p in (environ.get("PYTHONPATH") or "").split(os.pathsep) if p]
    path = [str(cwd), *user, *sys.path[1:]]
    path = [p for p in path if os.path.realpath(p or str(cwd)) not in skip]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or not spec.origin:
        return Check("sitecustomize", ENVIRONMENT, PASS, "no other sitecustomize on the path")
    return Check("sitecustomize", ENVIRONMENT, PASS, f"{spec.origin} will run after signoz-litellm's")


_LITELLM_PROBE = r"""
import json, sys
import litellm
from litellm.integrations.opentelemetry import OpenTelemetry, OpenTelemetryConfig
OpenTelemetry(config=OpenTelemetryConfig(exporter="console", skip_set_global=True))
print(json.dumps({"version": getattr(litellm, "version", None) or "?"}))
"""


def litellm_callback_check(timeout: float, environ: Mapping[str, str]) -> Check:
    """Create LiteLLM's `otel` logger in a child process: importing litellm takes seconds."""
    name = "litellm-callback"
    env = {k: v for k, v in environ.items() if k != "PYTHONPATH" or SITE_DIR not in v}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # never fetch the price map from the network
    try:
        done = subprocess.run([sys.executable, "-c", _LITELLM_PROBE], capture_output=True, text=True,
                              timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Check(name, ENVIRONMENT, WARN, f"not checked: importing litellm took over {timeout:.1f} s",
                     "Run `python -c \"import litellm\"` to see how long LiteLLM takes to import here.")
    except OSError as exc:
        return Check(name, ENVIRONMENT, WARN, f"not checked: {exc}", "")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return Check(name, ENVIRONMENT, FAIL, f"LiteLLM's OpenTelemetry logger cannot be created: {last}",
                     "Install a LiteLLM release with litellm.integrations.opentelemetry (pip install -U litellm).")
    return Check(name, ENVIRONMENT, PASS, "LiteLLM's OpenTelemetry logger can be created")


# --------------------------------------------------------------------------------------------- network


def network_and_ingestion_checks(settings: Settings, environ: Mapping[str, str], clock: _Clock, *,
                                 send_test: bool) -> tuple[list[Check], dict[str, str] | None]:
    assert settings.endpoint
    protocol, ca = settings.protocol, settings.ca_cert
    target = net.target_for(settings.endpoint, protocol)
    checks = [_proxy_check(target, protocol, environ)]

    dns = net.resolve_host(target.host, target.port, clock.left(DNS_TIMEOUT))
    if not dns.ok:
        hint = ("Check the spelling of the host and the DNS/VPN of this machine."
                if not dns.timed_out else "The DNS resolver is slow or unreachable; check /etc/resolv.conf or the VPN.")
        if settings.is_cloud:
            hint = f"Check the region ({', '.join(REGIONS)}) and the machine's DNS."
        checks.append(Check("dns", NETWORK, FAIL, dns.detail, hint))
        skipped = "skipped: the host does not resolve"
        checks += [Check("tcp", NETWORK, SKIP, skipped), Check("tls", NETWORK, SKIP, skipped),
                   Check(_export_name(protocol), INGESTION, SKIP, skipped)]
        if send_test:
            checks.append(Check("send-test", SEND_TEST, FAIL, "nothing sent: " + skipped, "Fix DNS first."))
        return checks, None
    checks.append(Check("dns", NETWORK, PASS, dns.detail))

    # Everything after DNS runs at once, each with its own timeout.
    headers = net.parse_headers(merge_headers(environ.get("OTEL_EXPORTER_OTLP_HEADERS"), settings.ingestion_key))
    alt_protocol = net.other_protocol(protocol)
    alt_endpoint = net.alternative_endpoint(settings.endpoint, protocol)
    results: dict[str, Any] = {}

    def connect_then_tls() -> None:
        tcp = net.tcp_connect(target.host, target.port, clock.left(CONNECT_TIMEOUT))
        results["tcp"] = tcp
        if tcp.ok and target.tls:
            results["tls"] = net.tls_handshake(target.host, target.port, ca, clock.left(TLS_TIMEOUT))

    jobs = {
        "connect": connect_then_tls,
        "export": lambda: results.setdefault("export", net.probe_ingestion(
            protocol, settings.endpoint or "", headers, ca, clock.left(EXPORT_TIMEOUT))),
        "alt": lambda: results.setdefault("alt", net.probe_ingestion(
            alt_protocol, alt_endpoint, headers, ca, clock.left(EXPORT_TIMEOUT))),
    }
    _run_all(jobs, clock.left(EXPORT_TIMEOUT + 1.0))

    tcp = results.get("tcp")
    if tcp is None:
        checks.append(Check("tcp", NETWORK, FAIL, "connection attempt did not finish in time",
                            "A firewall may drop packets to this port."))
    elif tcp.ok:
        checks.append(Check("tcp", NETWORK, PASS, tcp.detail))
    else:
        hint = ("Nothing listens there: check the port (gRPC 4317, HTTP 4318 for self-hosted SigNoz) and that "
                "the collector runs." if "refused" in tcp.detail else
                "A firewall or security group drops the traffic; allow outbound connections to this port.")
        checks.append(Check("tcp", NETWORK, FAIL, tcp.detail, hint))
    checks.append(_tls_check(target, results.get("tls"), tcp, ca))

    export = results.get("export")
    alt = results.get("alt")
    checks.append(_export_check(protocol, export, alt, settings))
    checks.append(_alt_check(alt_protocol, alt))

    test = None
    if send_test:
        if export is None or export.outcome != net.ACCEPTED:
            checks.append(Check("send-test", SEND_TEST, FAIL, "nothing sent: the endpoint did not accept the probe",
                                "Fix the ingestion check first."))
        else:
            check, test = _send_test(settings, headers, clock)
            checks.append(check)
    return checks, test


def _run_all(jobs: Mapping[str, Callable[[], Any]], timeout: float) -> None:
    threads = [threading.Thread(target=job, name=f"doctor-{name}", daemon=True) for name, job in jobs.items()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


def _proxy_check(target: net.Target, protocol: str, environ: Mapping[str, str]) -> Check:
    proxy = net.proxy_for(target, environ)
    grpc_proxy = environ.get("grpc_proxy") or environ.get("GRPC_PROXY")
    if not proxy and not grpc_proxy:
        return Check("proxy", NETWORK, PASS, "no HTTP(S)_PROXY applies to this endpoint")
    shown = _strip_credentials(grpc_proxy or proxy or "")
    if protocol == "grpc":
        return Check("proxy", NETWORK, WARN, f"traffic to {target.host} goes through proxy {shown}; gRPC needs "
                     "the proxy to tunnel HTTP/2 (CONNECT), which many proxies refuse",
                     "If the ingestion check fails, use --protocol http/protobuf, or add the host to NO_PROXY.")
    return Check("proxy", NETWORK, PASS, f"HTTP exports go through proxy {shown}")


def _strip_credentials(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else "http://" + url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _tls_check(target: net.Target, tls: net.Probe | None, tcp: net.Probe | None, ca: str | None) -> Check:
    if not target.tls:
        return Check("tls", NETWORK, SKIP, "plain-text endpoint (http://): no TLS")
    if tcp is None or not tcp.ok:
        return Check("tls", NETWORK, SKIP, "skipped: no TCP connection")
    if tls is None:
        return Check("tls", NETWORK, FAIL, "TLS handshake did not finish in time",
                     "The endpoint accepts connections but does not speak TLS; try http:// (--insecure).")
    if not tls.ok:
        if tls.extra == "verify":
            hint = ("Pass --ca-cert with the CA that signed the endpoint's certificate (a self-signed collector), "
                    "or check for a proxy that intercepts TLS." if not ca else
                    f"{ca} did not sign this certificate; give the right CA, or the full chain.")
        elif tls.timed_out:
            hint = "The endpoint accepts connections but never completes TLS: is it plain text (http://)?"
        else:
            hint = "Is the endpoint plain text? Then use http:// or --insecure."
        return Check("tls", NETWORK, FAIL, tls.detail, hint)
    facts: net.TlsFacts = tls.extra
    ca_text = f" with {ca}" if ca else ""
    if facts.days_left is not None and facts.days_left < 0:
        return Check("tls", NETWORK, FAIL, f"certificate expired {-facts.days_left:.0f} days ago",
                     "Renew the endpoint's certificate.")
    if facts.days_left is not None and facts.days_left < CERT_WARN_DAYS:
        return Check("tls", NETWORK, WARN, f"{tls.detail}{ca_text}; certificate expires in {facts.days_left:.1f} days",
                     "Renew the endpoint's certificate before it expires.")
    left = f"; expires in {facts.days_left:.0f} days" if facts.days_left is not None else ""
    return Check("tls", NETWORK, PASS, f"{tls.detail}{ca_text}{left}")


_EXPORT_HINTS = {
    net.KEY_REJECTED: "The endpoint refused the ingestion key: copy it again from SigNoz (Settings -> Ingestion) "
                      "and check it belongs to this region.",
    net.UNAVAILABLE: "The endpoint is unreachable or overloaded: see the network checks; a proxy may block it.",
    net.TIMED_OUT: "The endpoint accepted the connection but did not answer: a proxy or firewall may hold the "
                   "traffic, or the port belongs to another service.",
    net.TLS_FAILED: "See the TLS check: --ca-cert for a self-signed collector, http:// for a plain-text one.",
    net.ERROR: "The endpoint answered, but not as an OTLP receiver: check the port and the protocol.",
}


def _export_check(protocol: str, export: net.Export | None, alt: net.Export | None, settings: Settings) -> Check:
    name = _export_name(protocol)
    if export is None:
        return Check(name, INGESTION, FAIL, "the export probe did not finish in time", _EXPORT_HINTS[net.TIMED_OUT])
    detail = f"{export.outcome}: {export.detail} ({export.seconds:.2f} s)"
    if export.outcome == net.ACCEPTED:
        return Check(name, INGESTION, PASS, detail)
    hint = _EXPORT_HINTS.get(export.outcome, "")
    if export.outcome == net.KEY_REJECTED and not settings.ingestion_key:
        hint = "The endpoint wants a key: export SIGNOZ_INGESTION_KEY=<key>."
    if alt is not None and alt.outcome == net.ACCEPTED:
        switch = f"--protocol {alt.protocol}"
        if alt.endpoint != export.endpoint:
            switch += f" --endpoint {alt.endpoint}"
        hint = f"{alt.protocol} works: switch with {switch}."
    return Check(name, INGESTION, FAIL, detail, hint)


def _alt_check(alt_protocol: str, alt: net.Export | None) -> Check:
    name = _export_name(alt_protocol)
    if alt is None:
        return Check(name, INGESTION, SKIP, "alternative protocol: no answer in time")
    detail = f"alternative protocol, {alt.endpoint}: {alt.outcome}: {alt.detail}"
    return Check(name, INGESTION, PASS if alt.outcome == net.ACCEPTED else SKIP, detail)


def _send_test(settings: Settings, headers: Sequence[tuple[str, str]], clock: _Clock) -> tuple[Check, dict[str, str]]:
    service = settings.service_name or DOCTOR_SERVICE
    attributes = list(settings.resource_attributes)
    if settings.environment:
        attributes.append(("deployment.environment", settings.environment))
    trace_id, requests = net.test_requests(service, attributes)
    results: dict[str, net.Export] = {}
    timeout = clock.left(SEND_TIMEOUT)
    jobs = {signal: (lambda s=signal: results.setdefault(s, net.export(
        settings.protocol, settings.endpoint or "", s, requests[s], headers, settings.ca_cert, timeout)))
        for signal in ("traces", "logs", "metrics")}
    _run_all(jobs, timeout + 0.7)
    test = {"trace_id": trace_id, "service_name": service, "span_name": net.TEST_SPAN_NAME,
            "metric_name": net.TEST_METRIC_NAME, "attribute": net.DOCTOR_ATTRIBUTE}
    failed = [f"{s}: {results[s].outcome if s in results else 'no answer'}" for s in ("traces", "logs", "metrics")
              if s not in results or results[s].outcome != net.ACCEPTED]
    if failed:
        return Check("send-test", SEND_TEST, FAIL, "not all accepted: " + "; ".join(failed),
                     "See the ingestion check; retry in a moment if the endpoint was busy."), test
    return Check("send-test", SEND_TEST, PASS,
                 f"span, log record and metric accepted: search SigNoz for service.name={service}, "
                 f"trace id {trace_id}"), test


# --------------------------------------------------------------------------------------------- rendering

_STYLE = {PASS: ("ok", "green"), WARN: ("warn", "yellow"), FAIL: ("FAIL", "bold red"), SKIP: ("skip", "dim")}


def render_json(report: Report) -> str:
    """One document with stable keys: ok, endpoint, protocol, service_name, elapsed_s, test, checks."""
    return json.dumps({
        "ok": report.ok,
        "endpoint": report.endpoint,
        "protocol": report.protocol,
        "service_name": report.service_name,
        "elapsed_s": report.elapsed_s,
        "test": dict(report.test) if report.test else None,
        "checks": [asdict(c) for c in report.checks],
    }, indent=2)


def render_table(report: Report, file: Any = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=False)
    table = Table(title="signoz-litellm doctor", title_justify="left", show_lines=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", overflow="fold")
    category = None
    for check in report.checks:
        if check.category != category:
            if category is not None:
                table.add_section()
            category = check.category
            table.add_row("", f"[bold]{category}[/bold]", "")
        label, style = _STYLE[check.status]
        detail = escape(check.detail)
        if check.hint and check.status in (WARN, FAIL):
            detail += f"\n[dim]-> {escape(check.hint)}[/dim]"
        table.add_row(f"[{style}]{label}[/{style}]", check.name, detail)
    console.print(table)
    failed = sum(c.status == FAIL for c in report.checks)
    warned = sum(c.status == WARN for c in report.checks)
    if report.test:
        console.print(f"test telemetry: service.name={report.test['service_name']} "
                      f"trace id {report.test['trace_id']}")
    if failed:
        verdict = f"[bold red]{failed} failed[/bold red], {warned} warning(s)"
    elif warned:
        verdict = f"[yellow]{warned} warning(s)[/yellow]"
    else:
        verdict = "[green]all checks passed[/green]"
    console.print(f"{verdict} in {report.elapsed_s:.1f} s")

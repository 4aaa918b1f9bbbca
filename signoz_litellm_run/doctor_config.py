"""doctor's configuration checks: the settings resolved as `run` resolves them (a setting `run` would refuse is a
failed check here, not an exception), then the destination, region, key, endpoint, CA file, service name and
the OTEL_* variables that would conflict."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signoz_litellm_run import doctor_net as net
from signoz_litellm_run.doctor_report import CONFIGURATION, FAIL, PASS, WARN, Check
from signoz_litellm_run.environment import DISTRO_NAME, SIGNALS, child_updates
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

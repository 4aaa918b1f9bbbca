"""Resolve every setting in one place: flag, then environment variable, then config file, then default.

`resolve()` is the only function that reads flags, the environment and the config file together. It
returns one immutable `Settings` that records, for each value, where it came from (`Settings.sources`),
so `signoz-litellm config` can explain it and `doctor` can check it. Nothing here has side effects
beyond reading the config file. Each value is checked by its parser (`settings_parse`); the config file
is read by `settings_file`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from signoz_litellm_run.errors import UsageError
from signoz_litellm_run.service_name import derive_service_name
from signoz_litellm_run.settings_file import CONFIG_FILE_NAME, PYPROJECT_TABLE  # noqa: F401 - importable from here
from signoz_litellm_run.settings_file import load_config_file as _load_config_file
from signoz_litellm_run.settings_parse import (  # noqa: F401 - the parsers stay importable from here
    CAPTURE_MODES, MAX_REQUEST_SIZE, MAX_TAG_VALUE, MIN_REQUEST_SIZE, PROTOCOLS, REGIONS, SCRUB_MODES, SPAN_DETAILS,
    TAG_PREFIX, parse_bool, parse_capture_content, parse_endpoint, parse_key, parse_output_file, parse_path,
    parse_protocol, parse_region, parse_request_size, parse_resource_attributes, parse_scrub, parse_scrub_patterns,
    parse_seconds, parse_span_detail, parse_tags, parse_text)

CLOUD_ENDPOINT = "https://ingest.{region}.signoz.cloud:443"
CLOUD_HOST_SUFFIX = ".signoz.cloud"
KEY_HEADER = "signoz-ingestion-key"
CONFIG_ENV = "SIGNOZ_LITELLM_CONFIG"

# Where a value came from, in precedence order.
FLAG, ENV, CONFIG, DEFAULT = "flag", "env", "config", "default"
_LEVEL = {FLAG: 0, ENV: 1, CONFIG: 2, DEFAULT: 3}


# --------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Option:
    """One setting: its flag, the environment variables that set it (first wins) and its config key."""

    name: str
    flag: str
    envs: tuple[str, ...]
    parse: Callable[[Any], Any]
    default: Any
    help: str
    secret: bool = False

    @property
    def config_key(self) -> str:
        return self.name.replace("_", "-")

    @property
    def help_text(self) -> str:
        envs = ", ".join(self.envs)
        return f"{self.help} (env: {envs})" if envs else self.help


OPTIONS: tuple[Option, ...] = (
    Option("region", "--region", ("SIGNOZ_REGION",), parse_region, None,
           f"SigNoz Cloud region ({', '.join(REGIONS)})."),
    Option("ingestion_key", "--ingestion-key", ("SIGNOZ_INGESTION_KEY",), parse_key, None,
           "SigNoz ingestion key, sent as header signoz-ingestion-key; required for SigNoz Cloud. "
           "Prefer the environment variable: a flag is visible to other users in the process list.",
           secret=True),
    Option("endpoint", "--endpoint", ("SIGNOZ_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"), parse_endpoint, None,
           "Any OTLP endpoint instead of a region (self-hosted SigNoz, a collector); http:// means plain text."),
    Option("protocol", "--protocol", ("SIGNOZ_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"), parse_protocol, "grpc",
           "OTLP protocol: grpc or http/protobuf."),
    Option("service_name", "--service-name", ("OTEL_SERVICE_NAME",), parse_text, None,
           "service.name of the telemetry (default: derived from the command)."),
    Option("environment", "--environment", ("SIGNOZ_ENVIRONMENT",), parse_text, None,
           "deployment.environment resource attribute (e.g. production, staging)."),
    Option("resource_attributes", "--resource-attributes", ("OTEL_RESOURCE_ATTRIBUTES",),
           parse_resource_attributes, (), "Extra resource attributes key=value,...; merged, not replaced."),
    Option("ca_cert", "--ca-cert", ("SIGNOZ_CA_CERT",), parse_path, None,
           "CA certificate (PEM) to verify a self-hosted TLS endpoint."),
    Option("insecure", "--insecure", ("SIGNOZ_INSECURE",), parse_bool, False,
           "Send in plain text (no TLS) to the endpoint."),
    Option("bootstrap", "--bootstrap", ("SIGNOZ_BOOTSTRAP",), parse_bool, True,
           "Install missing instrumentation packages before running (--no-bootstrap skips)."),
    Option("bootstrap_timeout", "--bootstrap-timeout", ("SIGNOZ_BOOTSTRAP_TIMEOUT",), parse_seconds, 120.0,
           "Most seconds bootstrap may take before the job runs anyway."),
    Option("shutdown_timeout", "--shutdown-timeout", ("SIGNOZ_SHUTDOWN_TIMEOUT",), parse_seconds, 1.0,
           "Most seconds telemetry export may add at exit when the endpoint is slow or down."),
    Option("max_request_size", "--max-request-size", ("SIGNOZ_MAX_REQUEST_SIZE",), parse_request_size, 4_000_000,
           "Largest export request in bytes (4MB, 16MiB...); bigger batches go as several requests. Default 4MB: "
           "under the 4 MiB a self-hosted SigNoz collector takes over gRPC."),
    Option("report", "--report", ("SIGNOZ_REPORT",), parse_bool, None,
           "Print a one-line delivery report at the end (default: on in CI)."),
    Option("report_file", "--report-file", ("SIGNOZ_REPORT_FILE",), parse_output_file, None,
           "Also write the delivery report as JSON to this file (its directory is made if need be)."),
    Option("fail_on_telemetry_loss", "--fail-on-telemetry-loss", ("SIGNOZ_FAIL_ON_TELEMETRY_LOSS",), parse_bool,
           False, "Exit with status 3 when telemetry was lost (or no Python process of the job could send any) and "
           "the command itself succeeded."),
    Option("local", "--local", ("SIGNOZ_LOCAL",), parse_bool, False,
           "Send telemetry to a receiver embedded in the launcher and print a report (no account needed)."),
    Option("local_output", "--local-output", ("SIGNOZ_LOCAL_OUTPUT",), parse_output_file, None,
           "With --local, also write everything received as JSON lines to this file."),
    Option("trace_health_probes", "--trace-health-probes", ("SIGNOZ_TRACE_HEALTH_PROBES",), parse_bool, False,
           "Keep spans of LiteLLM proxy health and readiness probes (dropped by default)."),
    Option("raw_request_span", "--raw-request-span", ("SIGNOZ_RAW_REQUEST_SPAN",), parse_bool, False,
           "Keep LiteLLM's raw_gen_ai_request span: the provider's raw request and response, which repeat the "
           "prompt and completion litellm_request already carries (dropped by default)."),
    Option("span_detail", "--span-detail", ("SIGNOZ_LITELLM_SPAN_DETAIL",), parse_span_detail, "lean",
           "Spans of a LiteLLM proxy request: lean (the server span, litellm_request and the provider's HTTP "
           "calls, without LiteLLM's blobs that repeat them) or full (also LiteLLM's and FastAPI's internal "
           "spans, every retry as its own litellm_request, the blobs)."),
    Option("system_metrics", "--system-metrics", ("SIGNOZ_LITELLM_SYSTEM_METRICS",), parse_bool, True,
           "Host CPU and memory (system.*) and the process's CPU, memory and threads (process.*), from the job's "
           "main process only (--no-system-metrics turns them off)."),
    Option("capture_content", "--capture-content", ("SIGNOZ_LITELLM_CAPTURE_CONTENT",), parse_capture_content,
           "full", "full: prompts and completions on the LLM spans, as LiteLLM writes them; none: no prompt, "
           "completion, tool arguments, system instructions or raw request leaves the process (tokens, model, cost, "
           "latency stay). Only the telemetry changes: the program's own LiteLLM callbacks still get everything."),
    Option("scrub", "--scrub", ("SIGNOZ_LITELLM_SCRUB",), parse_scrub, "default",
           "Replace secrets in everything exported with [REDACTED:KIND]: default (API keys, tokens, passwords, "
           "private keys), pii (also e-mail addresses, phone and card numbers) or off (--no-scrub)."),
    Option("scrub_patterns", "--scrub-pattern", ("SIGNOZ_LITELLM_SCRUB_PATTERNS",), parse_scrub_patterns, (),
           "A regular expression whose matches are also scrubbed (repeat for several; the variable takes one a line)."),
    Option("tags", "--tag", ("SIGNOZ_LITELLM_TAGS",), parse_tags, (),
           "A job tag key=value (repeat for several; the variable takes k=v,k2=v2), sent as resource attribute "
           "tag.KEY on every span, log record and metric of the job."),
)
OPTIONS_BY_NAME: Mapping[str, Option] = MappingProxyType({o.name: o for o in OPTIONS})
CONFIG_ONLY_KEYS = ("config",)
_MERGED = ("resource_attributes", "tags", "scrub_patterns")  # across levels, in resolve()


# --------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Everything `run`, `env`, `config` and `doctor` need, resolved once."""

    region: str | None = None
    ingestion_key: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    protocol: str = "grpc"
    service_name: str | None = None
    environment: str | None = None
    resource_attributes: tuple[tuple[str, str], ...] = ()
    ca_cert: str | None = None
    insecure: bool = False
    bootstrap: bool = True
    bootstrap_timeout: float = 120.0
    shutdown_timeout: float = 1.0
    max_request_size: int = 4_000_000
    report: bool | None = None
    report_file: str | None = None
    fail_on_telemetry_loss: bool = False
    local: bool = False
    local_output: str | None = None
    trace_health_probes: bool = False
    raw_request_span: bool = False
    system_metrics: bool = True
    span_detail: str = "lean"
    capture_content: str = "full"
    scrub: str = "default"
    scrub_patterns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    config_file: str | None = None
    # Where each value came from: "flag --x", "env NAME", "config PATH", "default", "derived from ...".
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # Notes for `config` and `doctor` (e.g. a region that an endpoint overrode).
    notes: tuple[str, ...] = ()

    @property
    def is_cloud(self) -> bool:
        host = urlsplit(self.endpoint).hostname if self.endpoint else None
        return bool(host and host.endswith(CLOUD_HOST_SUFFIX))

    @property
    def masked_key(self) -> str | None:
        return mask_secret(self.ingestion_key) if self.ingestion_key else None

    def source(self, name: str) -> str:
        return self.sources.get(name, DEFAULT)


def mask_secret(secret: str) -> str:
    """At most the last four characters, and only for a key long enough that they reveal little."""
    return "****" + secret[-4:] if len(secret) >= 16 else "****"



def load_config_file(explicit: str | None, cwd: Path) -> tuple[dict[str, Any], str | None]:
    """Read the config file: the explicit one, else ./signoz-litellm.toml, else [tool.signoz-litellm]."""
    return _load_config_file(explicit, cwd, OPTIONS)


# --------------------------------------------------------------------------------------------- resolution


def _invalid(option: Option, origin: str, exc: ValueError) -> UsageError:
    if origin.startswith("config "):  # a file holds many settings: name the key
        origin = f"{option.config_key} in {origin[len('config '):]}"
    hint = {
        "region": f"Use one of {', '.join(REGIONS)}, or --endpoint for self-hosted SigNoz.",
        "endpoint": "Write it like https://signoz.example.com:4317 or http://localhost:4317.",
        "protocol": "Use --protocol grpc (default) or --protocol http/protobuf.",
        "ingestion_key": "Copy the key again from SigNoz: Settings -> Ingestion.",
        "capture_content": "Use --capture-content full (the default) or --capture-content none.",
        "scrub": "Use --scrub default, --scrub pii, or --no-scrub to turn scrubbing off.",
        "scrub_patterns": "Write the pattern in Python's re syntax (docs/privacy.md has examples).",
        "tags": "Write each tag as key=value: --tag team=search, or SIGNOZ_LITELLM_TAGS=team=search,run=42.",
    }.get(option.name, f"Fix {origin}; see `signoz-litellm {{run,env}} --help`.")
    return UsageError(f"Invalid {origin}: {exc}.", hint)


def flag_origin(option: Option) -> str:
    return f"flag {option.flag}"


def argument_origin(option: Option) -> str:
    """Where a value came from when it was given to `init()` (its keyword is the setting's name)."""
    return f"argument {option.name}"


def _lookup(option: Option, flags: Mapping[str, Any], environ: Mapping[str, str],
            config: Mapping[str, Any], config_origin: str | None,
            given: Callable[[Option], str] = flag_origin) -> tuple[Any, str, str] | None:
    """The raw value with its level and a human-readable origin, or None."""
    if flags.get(option.name) is not None:
        return flags[option.name], FLAG, given(option)
    for env in option.envs:
        raw = environ.get(env)
        if raw is not None and raw.strip() != "":
            return raw, ENV, f"env {env}"
    if option.name in config:
        return config[option.name], CONFIG, f"config {config_origin}"
    return None


def _env_rank(option: Option, origin: str) -> float:
    """A generic OTEL_* variable (second in `envs`) ranks just below our own SIGNOZ_* variables, so
    SIGNOZ_REGION beats a stale OTEL_EXPORTER_OTLP_ENDPOINT while a flag beats both."""
    return 0.5 if origin.startswith("env ") and option.envs and origin != f"env {option.envs[0]}" else 0.0


def resolve(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    cwd: Path,
    command: Sequence[str] = (),
    *,
    config_path: str | None = None,
    require_destination: bool = True,
    given: Callable[[Option], str] = flag_origin,
) -> Settings:
    """Resolve all settings. `flags` holds only the flags the user gave (None means not given); `given` names
    where such a value came from (a flag; `init()`'s keyword arguments: `argument_origin`)."""
    explicit_config = config_path or environ.get(CONFIG_ENV) or None
    config, config_origin = load_config_file(explicit_config, cwd)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    levels: dict[str, float] = {}
    notes: list[str] = []
    insecure_found = _lookup(OPTIONS_BY_NAME["insecure"], flags, environ, config, config_origin, given)
    try:
        insecure = parse_bool(insecure_found[0]) if insecure_found else False
    except ValueError as exc:
        raise _invalid(OPTIONS_BY_NAME["insecure"], insecure_found[2], exc) from None

    for option in OPTIONS:
        if option.name in _MERGED:
            continue  # merged across levels below
        found = _lookup(option, flags, environ, config, config_origin, given)
        if found is None:
            values[option.name] = option.default
            sources[option.name] = DEFAULT
            levels[option.name] = _LEVEL[DEFAULT]
            continue
        raw, level, origin = found
        try:
            if option.name == "endpoint":
                value = parse_endpoint(raw, insecure=insecure)
            else:
                value = option.parse(raw)
        except ValueError as exc:
            raise _invalid(option, origin, exc) from None
        values[option.name] = value
        sources[option.name] = origin
        levels[option.name] = _LEVEL[level] + _env_rank(option, origin)

    # Resource attributes merge: config, then environment, then flag (later wins per key).
    merged: dict[str, str] = {}
    origins: list[str] = []
    option = OPTIONS_BY_NAME["resource_attributes"]
    for raw, origin in (
        (config.get("resource_attributes"), f"config {config_origin}"),
        (environ.get("OTEL_RESOURCE_ATTRIBUTES"), "env OTEL_RESOURCE_ATTRIBUTES"),
        (flags.get("resource_attributes"), given(option)),
    ):
        if raw is None or raw == "":
            continue
        try:
            merged.update(parse_resource_attributes(raw))
        except ValueError as exc:
            raise _invalid(option, origin, exc) from None
        origins.append(origin)
    values["resource_attributes"] = tuple(merged.items())
    sources["resource_attributes"] = " + ".join(origins) if origins else DEFAULT

    # Job tags merge as resource attributes do; scrub patterns add up (each level can only scrub more).
    for name in ("tags", "scrub_patterns"):
        option = OPTIONS_BY_NAME[name]
        found: dict[Any, Any] = {}
        origins = []
        env_name = next((env for env in option.envs if environ.get(env, "").strip()), option.envs[0])
        for raw, origin in (
            (config.get(name), f"config {config_origin}"),
            (environ.get(env_name), f"env {env_name}"),
            (flags.get(name), given(option)),
        ):
            if raw is None or raw == "" or raw == [] or raw == ():
                continue
            try:
                parsed = option.parse(raw)
            except ValueError as exc:
                raise _invalid(option, origin, exc) from None
            found.update(parsed if name == "tags" else dict.fromkeys(parsed))
            origins.append(origin)
        values[name] = tuple(found.items()) if name == "tags" else tuple(found)
        sources[name] = " + ".join(origins) if origins else DEFAULT

    # Destination: an explicit endpoint beats a region given at the same or a lower-precedence level.
    region, endpoint = values["region"], values["endpoint"]
    if region and endpoint:
        if levels["region"] < levels["endpoint"]:
            values["endpoint"] = CLOUD_ENDPOINT.format(region=region)
            notes.append(f"region {region} ({sources['region']}) overrides endpoint ({sources['endpoint']})")
            sources["endpoint"] = f"region {region}"
        else:
            notes.append(f"endpoint ({sources['endpoint']}) overrides region {region} ({sources['region']})")
    elif region:
        values["endpoint"] = CLOUD_ENDPOINT.format(region=region)
        sources["endpoint"] = f"region {region} ({sources['region']})"

    if insecure and values["endpoint"] and values["endpoint"].startswith("https://"):
        values["endpoint"] = "http://" + values["endpoint"][len("https://"):]
        notes.append("--insecure: sending in plain text (http://)")

    if values["ca_cert"] and not Path(values["ca_cert"]).is_file():
        raise UsageError(f"CA certificate {values['ca_cert']} does not exist.",
                         f"Check the path given by {sources['ca_cert']}.")

    # Service name: flag/env/config, else service.name in the resource attributes, else the command.
    if values["service_name"] is None:
        from_attributes = dict(values["resource_attributes"]).get("service.name")
        if from_attributes:
            values["service_name"] = from_attributes
            sources["service_name"] = "resource attribute service.name"
        elif command:
            values["service_name"] = derive_service_name(command, cwd)
            sources["service_name"] = "derived from the command"

    settings = Settings(**values, config_file=config_origin, sources=MappingProxyType(sources), notes=tuple(notes))

    if require_destination and not settings.local:
        _check_destination(settings, environ)
    return settings


def _headers_have_key(environ: Mapping[str, str]) -> bool:
    headers = environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    return any(part.split("=", 1)[0].strip().lower() == KEY_HEADER for part in headers.split(","))


def _check_destination(settings: Settings, environ: Mapping[str, str]) -> None:
    if not settings.endpoint:
        raise UsageError(
            "No destination for the telemetry: no SigNoz Cloud region and no endpoint is set.",
            "Pass --region us (with SIGNOZ_INGESTION_KEY) for SigNoz Cloud, --endpoint http://HOST:4317 "
            "for self-hosted SigNoz, or --local to see the telemetry in your terminal.",
        )
    if settings.is_cloud and not settings.ingestion_key and not _headers_have_key(environ):
        raise UsageError(
            "SigNoz Cloud needs an ingestion key, and none is set.",
            "Export SIGNOZ_INGESTION_KEY=<key> (SigNoz: Settings -> Ingestion), or use --endpoint "
            "for a self-hosted SigNoz.",
        )

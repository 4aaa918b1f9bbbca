"""The command line: the only module that imports Typer. Commands forward to plain functions.

Every `LauncherError` is caught once, in `main()`, and printed as one sentence and a hint on stderr
with its documented exit status; nothing here prints a traceback for a user's mistake.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from signoz_litellm_run import __version__
from signoz_litellm_run.errors import LauncherError
from signoz_litellm_run.settings import OPTIONS_BY_NAME, Settings, resolve

app = typer.Typer(
    name="signoz-litellm",
    help="Run any LiteLLM application with its traces, logs and metrics going to SigNoz, with no code change.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_DEST = "Destination"
_TELEMETRY = "Telemetry"
_JOB = "Batch jobs and CI"


def _opt(name: str, panel: str, *flags: str, metavar: str | None = None) -> Any:
    """A setting's option. Values other than booleans are taken as text and checked in `settings` (one error
    format, whichever level the value came from)."""
    option = OPTIONS_BY_NAME[name]
    return typer.Option(*(flags or (option.flag,)), help=option.help_text, rich_help_panel=panel,
                        show_default=False, metavar=metavar)


# Shared options: every command that resolves settings takes the same ones.
Region = Annotated[Optional[str], _opt("region", _DEST)]
IngestionKey = Annotated[Optional[str], _opt("ingestion_key", _DEST)]
Endpoint = Annotated[Optional[str], _opt("endpoint", _DEST)]
Protocol = Annotated[Optional[str], _opt("protocol", _DEST)]
CaCert = Annotated[Optional[str], _opt("ca_cert", _DEST)]
Insecure = Annotated[Optional[bool], _opt("insecure", _DEST, "--insecure")]
ServiceName = Annotated[Optional[str], _opt("service_name", _TELEMETRY)]
Environment = Annotated[Optional[str], _opt("environment", _TELEMETRY)]
ResourceAttributes = Annotated[Optional[str], _opt("resource_attributes", _TELEMETRY)]
Config = Annotated[Optional[str], typer.Option(
    "--config", help="TOML config file (default: ./signoz-litellm.toml or \\[tool.signoz-litellm] in "
    "./pyproject.toml). (env: SIGNOZ_LITELLM_CONFIG)", show_default=False)]
Bootstrap = Annotated[Optional[bool], _opt("bootstrap", _TELEMETRY, "--bootstrap/--no-bootstrap")]
BootstrapTimeout = Annotated[Optional[str], _opt("bootstrap_timeout", _TELEMETRY, metavar="SECONDS")]
ShutdownTimeout = Annotated[Optional[str], _opt("shutdown_timeout", _JOB, metavar="SECONDS")]
MaxRequestSize = Annotated[Optional[str], _opt("max_request_size", _TELEMETRY, metavar="BYTES")]
Report = Annotated[Optional[bool], _opt("report", _JOB, "--report/--no-report")]
ReportFile = Annotated[Optional[str], _opt("report_file", _JOB)]
FailOnLoss = Annotated[Optional[bool], _opt("fail_on_telemetry_loss", _JOB, "--fail-on-telemetry-loss")]
Local = Annotated[Optional[bool], _opt("local", _DEST, "--local")]
LocalOutput = Annotated[Optional[str], _opt("local_output", _DEST)]
TraceProbes = Annotated[Optional[bool], _opt("trace_health_probes", _TELEMETRY, "--trace-health-probes")]
RawRequestSpan = Annotated[Optional[bool], _opt("raw_request_span", _TELEMETRY, "--raw-request-span")]
SystemMetrics = Annotated[Optional[bool], _opt("system_metrics", _TELEMETRY, "--system-metrics/--no-system-metrics")]
SpanDetail = Annotated[Optional[str], _opt("span_detail", _TELEMETRY, metavar="lean|full")]

_SETTING_NAMES = tuple(OPTIONS_BY_NAME)


def _flags(values: dict[str, Any]) -> dict[str, Any]:
    """The setting flags the user gave (a command's `locals()`), for `settings.resolve()`."""
    return {name: values.get(name) for name in _SETTING_NAMES if values.get(name) is not None}


def _settings(values: dict[str, Any], command: list[str] | None = None, *, require_destination: bool = True) -> Settings:
    return resolve(_flags(values), os.environ, Path.cwd(), command or (), config_path=values.get("config"),
                   require_destination=require_destination)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"signoz-litellm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    """Run any LiteLLM application with its traces, logs and metrics going to SigNoz."""


@app.command(
    context_settings={"allow_interspersed_args": False},
    epilog="Exit status: the command's own; 2 usage or configuration error; 126 command not executable; "
    "127 command not found; 3 telemetry lost with --fail-on-telemetry-loss.",
)
def run(
    command: Annotated[Optional[list[str]], typer.Argument(help="The command to run, and its arguments.",
                                                           show_default=False)] = None,
    region: Region = None, ingestion_key: IngestionKey = None, endpoint: Endpoint = None,
    protocol: Protocol = None, ca_cert: CaCert = None, insecure: Insecure = None,
    service_name: ServiceName = None, environment: Environment = None,
    resource_attributes: ResourceAttributes = None, config: Config = None,
    bootstrap: Bootstrap = None, bootstrap_timeout: BootstrapTimeout = None,
    shutdown_timeout: ShutdownTimeout = None, max_request_size: MaxRequestSize = None,
    report: Report = None, report_file: ReportFile = None,
    fail_on_telemetry_loss: FailOnLoss = None, local: Local = None, local_output: LocalOutput = None,
    trace_health_probes: TraceProbes = None, raw_request_span: RawRequestSpan = None,
    system_metrics: SystemMetrics = None, span_detail: SpanDetail = None,
) -> None:
    """Run COMMAND with its LiteLLM calls, HTTP calls and logs sent to SigNoz.

    Everything from COMMAND on belongs to the command: signoz-litellm run --region us -- python main.py
    """
    from signoz_litellm_run import runner

    argv = list(command or [])
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        from signoz_litellm_run.errors import UsageError

        raise UsageError("No command to run.", "Put it after the options: signoz-litellm run --region us -- python app.py")
    runner.run(_settings(locals(), argv), argv)


@app.command("env")
def env_command(
    fmt: Annotated[str, typer.Option("--format", help="shell, dotenv, json or github ($GITHUB_ENV lines).")] = "shell",
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Print the ingestion key instead of masking it.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show each setting and where it came from instead.")] = False,
    region: Region = None, ingestion_key: IngestionKey = None, endpoint: Endpoint = None,
    protocol: Protocol = None, ca_cert: CaCert = None, insecure: Insecure = None,
    service_name: ServiceName = None, environment: Environment = None,
    resource_attributes: ResourceAttributes = None, config: Config = None,
    shutdown_timeout: ShutdownTimeout = None, max_request_size: MaxRequestSize = None,
    trace_health_probes: TraceProbes = None, raw_request_span: RawRequestSpan = None,
    system_metrics: SystemMetrics = None, span_detail: SpanDetail = None,
) -> None:
    """Print the environment `run` would give the command (for Docker, Kubernetes and CI files)."""
    from signoz_litellm_run import runner

    if explain:
        runner.explain(_settings(locals(), require_destination=False))
        return
    runner.print_env(_settings(locals()), fmt, show_secrets=show_secrets)


@app.command("config")
def config_command(
    region: Region = None, ingestion_key: IngestionKey = None, endpoint: Endpoint = None,
    protocol: Protocol = None, ca_cert: CaCert = None, insecure: Insecure = None,
    service_name: ServiceName = None, environment: Environment = None,
    resource_attributes: ResourceAttributes = None, config: Config = None,
    bootstrap: Bootstrap = None, bootstrap_timeout: BootstrapTimeout = None,
    shutdown_timeout: ShutdownTimeout = None, max_request_size: MaxRequestSize = None,
    report: Report = None, report_file: ReportFile = None,
    fail_on_telemetry_loss: FailOnLoss = None, local: Local = None, local_output: LocalOutput = None,
    trace_health_probes: TraceProbes = None, raw_request_span: RawRequestSpan = None,
    system_metrics: SystemMetrics = None, span_detail: SpanDetail = None,
) -> None:
    """Show each setting, its value (key masked) and where it came from."""
    from signoz_litellm_run import runner

    runner.explain(_settings(locals(), require_destination=False))


@app.command("doctor", epilog="Exit status: 0 nothing failed (warnings allowed); 1 a check failed; 2 usage error.")
def doctor_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document (stable keys) and nothing else.")] = False,
    send_test: Annotated[bool, typer.Option("--send-test", help="Also send one test span, log record and metric.")] = False,
    fast: Annotated[bool, typer.Option("--fast", help="Skip the check that imports LiteLLM (it takes seconds).")] = False,
    api_key: Annotated[Optional[str], typer.Option(
        "--api-key", help="Also check SigNoz's API: this API key, the SigNoz version, and whether our dashboards are "
        "installed and current (needs --url or SIGNOZ_URL). (env: SIGNOZ_API_KEY)", show_default=False)] = None,
    signoz_url: Annotated[Optional[str], typer.Option(
        "--url", help="The address you open SigNoz at, for --api-key. (env: SIGNOZ_URL)", show_default=False)] = None,
    region: Region = None, ingestion_key: IngestionKey = None, endpoint: Endpoint = None,
    protocol: Protocol = None, ca_cert: CaCert = None, insecure: Insecure = None,
    service_name: ServiceName = None, environment: Environment = None,
    resource_attributes: ResourceAttributes = None, config: Config = None,
    bootstrap: Bootstrap = None, bootstrap_timeout: BootstrapTimeout = None,
    shutdown_timeout: ShutdownTimeout = None, max_request_size: MaxRequestSize = None,
    report: Report = None, report_file: ReportFile = None,
    fail_on_telemetry_loss: FailOnLoss = None, local: Local = None, local_output: LocalOutput = None,
    trace_health_probes: TraceProbes = None, raw_request_span: RawRequestSpan = None,
    system_metrics: SystemMetrics = None, span_detail: SpanDetail = None,
) -> None:
    """Check, in seconds, why telemetry would not arrive: configuration, packages, network, the key.

    Takes the same options, environment variables and config file as `run`.
    """
    from signoz_litellm_run import doctor

    status = doctor.doctor(_flags(locals()), os.environ, Path.cwd(), config_path=config, json_output=json_output,
                           send_test=send_test, check_litellm=not fast, signoz_url=signoz_url, api_key=api_key)
    raise typer.Exit(status)

@app.command(
    "bootstrap",
    epilog="Exit status: 0 nothing is missing (or --dry-run planned it); 1 something could not be installed, "
    "or the environment has no OpenTelemetry / cannot be queried; 2 usage error.",
)
def bootstrap_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be installed; install nothing.")] = False,
    python: Annotated[Optional[str], typer.Option(
        "--python", help="Interpreter of the environment to bootstrap (default: the one running signoz-litellm).",
        show_default=False)] = None,
    bootstrap_timeout: BootstrapTimeout = None, config: Config = None,
) -> None:
    """Install the instrumentation packages the environment's libraries need (for a Dockerfile RUN step or CI)."""
    settings = _settings(locals(), require_destination=False)
    from signoz_litellm_run import bootstrap as bootstrap_module

    raise typer.Exit(bootstrap_module.command(python, dry_run=dry_run, timeout=settings.bootstrap_timeout,
                                       environ=os.environ))


@app.command(
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    epilog="Our options come first; everything from the first option we do not know (e.g. --config) "
    "goes to litellm. Exit status: the proxy's own; 2 usage error or proxy dependencies missing.",
)
def proxy(
    litellm_args: Annotated[Optional[list[str]], typer.Argument(
        help="Arguments for `litellm` (the LiteLLM proxy server), e.g. --config config.yaml --port 4000.",
        show_default=False)] = None,
    region: Region = None, ingestion_key: IngestionKey = None, endpoint: Endpoint = None,
    protocol: Protocol = None, ca_cert: CaCert = None, insecure: Insecure = None,
    service_name: ServiceName = None, environment: Environment = None,
    resource_attributes: ResourceAttributes = None,
    bootstrap: Bootstrap = None, bootstrap_timeout: BootstrapTimeout = None,
    shutdown_timeout: ShutdownTimeout = None, max_request_size: MaxRequestSize = None,
    local: Local = None, local_output: LocalOutput = None,
    trace_health_probes: TraceProbes = None, raw_request_span: RawRequestSpan = None,
    system_metrics: SystemMetrics = None, span_detail: SpanDetail = None,
) -> None:
    """Run the LiteLLM proxy server (`litellm ARGS`) with its traces, metrics and logs sent to SigNoz.

    signoz-litellm proxy --region us --config config.yaml is signoz-litellm run --region us -- litellm --config config.yaml
    (the TOML config of signoz-litellm itself comes from SIGNOZ_LITELLM_CONFIG or the working directory here).
    """
    from signoz_litellm_run import proxy as proxy_launcher

    args = list(litellm_args or [])
    if args and args[0] == "--":
        args = args[1:]
    proxy_launcher.run_proxy(_settings(locals(), ["litellm", *args]), args)


dashboards_app = typer.Typer(
    name="dashboards", no_args_is_help=True, add_completion=False,
    help="Our SigNoz dashboards for LiteLLM (overview, proxy, batch jobs): list, export as JSON, install.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(dashboards_app)

DashboardNames = Annotated[Optional[list[str]], typer.Argument(
    help="Dashboards by id or title (default: all). See `signoz-litellm dashboards list`.", show_default=False)]
SigNozUrl = Annotated[Optional[str], typer.Option(
    "--url", help="The address you open SigNoz at: https://<org>.signoz.cloud, or a self-hosted UI such as "
    "http://localhost:8080 (not the ingestion endpoint). (env: SIGNOZ_URL)", show_default=False)]
ApiKey = Annotated[Optional[str], typer.Option(
    "--api-key", help="SigNoz API key (Editor or Admin role), sent as header SIGNOZ-API-KEY. Prefer the "
    "environment variable: a flag is visible to other users in the process list. (env: SIGNOZ_API_KEY)",
    show_default=False)]


@dashboards_app.command("list")
def dashboards_list(names: DashboardNames = None) -> None:
    """The dashboards signoz-litellm ships: each panel and what it charts."""
    from signoz_litellm_run.dashboards import commands

    raise typer.Exit(commands.list_dashboards(names or ()))


@dashboards_app.command("export")
def dashboards_export(
    names: DashboardNames = None,
    directory: Annotated[Optional[str], typer.Option("--dir", help="Directory to write NAME.json files to "
                                                     "(default: the current one).", show_default=False)] = None,
    api: Annotated[str, typer.Option("--api", metavar="v2|v1", help="v2: the body of POST /api/v2/dashboards "
                                     "(SigNoz v0.129+, Cloud); v1: the older JSON of POST /api/v1/dashboards "
                                     "(SigNoz v0.95-v0.128).")] = "v2",
) -> None:
    """Write the dashboards as JSON files: the body SigNoz's POST /api/v2/dashboards (or, --api v1, /api/v1) takes."""
    from signoz_litellm_run.dashboards import commands

    raise typer.Exit(commands.export(names or (), directory, api=api.strip().lower()))


@dashboards_app.command(
    "install",
    epilog="Exit status: 0 installed, already current, or left alone (locked or edited in SigNoz); 1 the server "
    "refused or could not be reached (the error names what was installed before); 2 usage error.",
)
def dashboards_install(
    names: DashboardNames = None, url: SigNozUrl = None, api_key: ApiKey = None,
    force: Annotated[bool, typer.Option("--force", help="Also overwrite a dashboard of ours that was edited "
                                        "or locked in SigNoz.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
) -> None:
    """Install or update our dashboards in SigNoz; run it again any time: one copy of each, kept current.

    For SigNoz Cloud, or a self-hosted SigNoz v0.95+ (its v2 or v1 API, detected)."""
    from signoz_litellm_run.dashboards import commands

    raise typer.Exit(commands.install(names or (), url=url, api_key=api_key, force=force, dry_run=dry_run))


alerts_app = typer.Typer(
    name="alerts", no_args_is_help=True, add_completion=False,
    help="SigNoz alert rules on LLM calls: error rate, p95 latency, hourly cost.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(alerts_app)


@alerts_app.command(
    "install",
    epilog="Exit status: 0 installed, already current, or left alone (edited in SigNoz); 1 the server refused or "
    "could not be reached; 2 usage error.",
)
def alerts_install(
    url: SigNozUrl = None, api_key: ApiKey = None,
    error_rate: Annotated[Optional[float], typer.Option("--error-rate", metavar="PERCENT", help="Alert when more "
                          "than this % of LLM calls fail over 5 minutes (default 5).", show_default=False)] = None,
    p95_latency: Annotated[Optional[float], typer.Option("--p95-latency", metavar="SECONDS", help="Alert when a "
                           "model's p95 LLM call duration over 5 minutes is above this (default 10).",
                           show_default=False)] = None,
    hourly_cost: Annotated[Optional[float], typer.Option("--hourly-cost", metavar="USD", help="Alert when LLM "
                           "calls cost more than this in an hour (default 10).", show_default=False)] = None,
    environment: Annotated[Optional[str], typer.Option("--environment", help="Only calls of this "
                           "deployment.environment (default: all).", show_default=False)] = None,
    channel: Annotated[Optional[list[str]], typer.Option("--channel", help="SigNoz notification channel to "
                       "notify (repeat for several).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Also overwrite a rule of ours edited in SigNoz.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
) -> None:
    """Install or update our alert rules in SigNoz; run it again any time: one copy of each, kept current."""
    from signoz_litellm_run.dashboards import commands

    raise typer.Exit(commands.install_alerts(
        url=url, api_key=api_key, error_rate=error_rate, p95_latency=p95_latency, hourly_cost=hourly_cost,
        environment=environment, channels=channel or (), force=force, dry_run=dry_run))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        status = app(args=argv, prog_name="signoz-litellm", standalone_mode=False)
    except LauncherError as exc:
        _print_error(exc)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        # Click's own usage errors (unknown option, bad value). Typer may vendor Click, so they are
        # recognised by shape: they know how to show themselves and carry their exit status (2).
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(status if isinstance(status, int) else 0)


def _print_error(exc: LauncherError) -> None:
    print(f"signoz-litellm: error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)

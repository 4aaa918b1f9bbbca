"""What the commands do, as plain functions: `run`, `env`, `config`. No Typer here."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from typing import NoReturn

from signoz_litellm_run import ci, delivery, environment
from signoz_litellm_run.errors import UsageError
from signoz_litellm_run.launcher import exec_command, resolve_executable
from signoz_litellm_run.settings import OPTIONS, Settings


def run(settings: Settings, argv: Sequence[str]) -> NoReturn:
    """Resolve the command, build its environment and become it (with --local: run it, then report; when
    the launcher must see the end of the job, run it, then report: `supervisor`)."""
    for notice in environment.notices(os.environ):
        print(f"signoz-litellm: note: {notice}", file=sys.stderr, flush=True)
    if settings.local:
        from signoz_litellm_run.local import run_local

        run_local(settings, argv)
    cwd = os.getcwd()
    env = environment.child_environment(settings, os.environ, cwd=cwd, pid=os.getpid())
    resolve_executable(argv[0], env)  # fail early, before any other work, with 126 / 127
    from signoz_litellm_run import proxy

    if proxy.is_proxy_command(argv):
        proxy.check_installed(argv, env)
    if settings.bootstrap:  # never fails the job; no subprocess when the environment is known ready
        from signoz_litellm_run import bootstrap

        bootstrap.before_run(argv, env, timeout=settings.bootstrap_timeout, environ=os.environ)
    reporting = settings.report_file is not None or ci.report_enabled(settings.report, os.environ)
    from signoz_litellm_run.bootstrap import find_python, options_without_telemetry

    blocked = options_without_telemetry(argv)
    for option, effect in blocked:
        print(f"signoz-litellm: warning: python {option} {effect}, so telemetry (started from PYTHONPATH by "
              f"signoz-litellm's sitecustomize) cannot start: the command runs without it. Drop {option} to have "
              "telemetry.", file=sys.stderr, flush=True)
    # The launcher stays when it must see the command end: for its exit status, or to report for a job whose
    # top-level process is not a Python program with telemetry (an exec'd one reports for the whole job itself).
    supervise = settings.fail_on_telemetry_loss or (reporting and (blocked or find_python(argv, env) is None))
    if not (reporting or supervise):
        exec_command(argv, env)
    job_dir = tempfile.mkdtemp(prefix="signoz-litellm-job-")  # the processes' counts, for the report
    env = environment.child_environment(settings, os.environ, cwd=cwd, pid=os.getpid(), job_dir=job_dir)
    if blocked:  # the report names the command, and --fail-on-telemetry-loss sees a job that could send nothing
        options = " ".join(option for option, _ in blocked)
        delivery.leave(job_dir, delivery.without_telemetry(f"{argv[0]} {options}: telemetry cannot start", env))
    if supervise:
        from signoz_litellm_run.supervisor import run_supervised

        run_supervised(argv, env, fail_on_loss=settings.fail_on_telemetry_loss)
    try:
        exec_command(argv, env)
    finally:  # reached only when the command could not start
        delivery.remove(job_dir)


def print_env(settings: Settings, fmt: str, *, show_secrets: bool) -> None:
    if fmt not in environment.FORMATS:
        raise UsageError(f"Unknown format {fmt!r}.", f"Use one of: {', '.join(environment.FORMATS)}.")
    updates = environment.child_updates(settings, os.environ, cwd=os.getcwd())
    if not show_secrets:
        updates = environment.masked(updates, settings.ingestion_key)
    print(environment.render(updates, fmt))


def explain(settings: Settings) -> None:
    """Each setting, its value and where it came from; the key is always masked."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="signoz-litellm settings", title_justify="left")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("from")
    rows: list[tuple[str, str, str]] = []
    for option in OPTIONS:
        value = getattr(settings, option.name)
        if option.secret and value:
            shown = settings.masked_key or "****"
        elif option.name in ("resource_attributes", "tags"):
            shown = ",".join(f"{k}={v}" for k, v in value) if value else "-"
        elif option.name == "scrub_patterns":
            shown = " ".join(value) if value else "-"
        else:
            shown = "-" if value is None else str(value)
        rows.append((option.config_key, shown, settings.source(option.name)))
    rows.insert(3, ("endpoint (resolved)", settings.endpoint or "-", settings.source("endpoint")))
    rows = [r for r in rows if r[0] != "endpoint"]
    rows.append(("config file", settings.config_file or "-", "--config / SIGNOZ_LITELLM_CONFIG / cwd"))
    for row in rows:
        table.add_row(*row)
    console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(table)
    for note in settings.notes:
        console.print(f"note: {note}")

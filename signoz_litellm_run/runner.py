"""What the commands do, as plain functions: `run`, `proxy`, `env`, `config`. No Typer here.

`run` is two steps: `plan.plan()` decides everything (read it to know what `run` does), `execute()`
carries the plan out with one small executor per mode.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from signoz_litellm_run import delivery, environment
from signoz_litellm_run.errors import UsageError
from signoz_litellm_run.launcher import exec_command, resolve_executable
from signoz_litellm_run.plan import BOOTSTRAP, EXEC, LOCAL, PROXY_CHECK, SUPERVISE, RunPlan, plan
from signoz_litellm_run.settings import OPTIONS, Settings


def run(settings: Settings, argv: Sequence[str]) -> NoReturn:
    """`signoz-litellm run -- argv`: plan, then execute."""
    execute(plan(settings, argv, os.environ))


def run_proxy(settings: Settings, litellm_args: Sequence[str]) -> NoReturn:
    """`signoz-litellm proxy ARGS`: `run` for `litellm ARGS`."""
    from signoz_litellm_run import proxy

    run(settings, proxy.command(litellm_args))


def execute(the_plan: RunPlan) -> NoReturn:
    """Carry out a plan: its notices, the command looked up (127 / 126 before anything else), the checks, the
    warnings, then the mode's executor."""
    for notice in the_plan.notices:
        print(f"signoz-litellm: note: {notice}", file=sys.stderr, flush=True)
    resolve_executable(the_plan.argv[0], the_plan.env)  # fail early, before any other work (`run` keeps PATH)
    for step in the_plan.steps:
        _STEPS[step](the_plan)
    for warning in the_plan.warnings:
        print(warning, file=sys.stderr, flush=True)
    _EXECUTORS[the_plan.mode](the_plan)


def execute_exec(the_plan: RunPlan) -> NoReturn:
    """The launcher becomes the command; with a report, its processes leave their counts in a job directory."""
    if not the_plan.needs_job_dir:
        exec_command(the_plan.argv, the_plan.env)
    job_dir = _make_job_dir(the_plan)
    try:
        exec_command(the_plan.argv, {**the_plan.env, environment.JOB_DIR_ENV: job_dir})
    finally:  # reached only when the command could not start
        delivery.remove(job_dir)


def execute_supervised(the_plan: RunPlan) -> NoReturn:
    """The launcher runs the command as a child, then publishes the job's report and exits with its status."""
    from signoz_litellm_run.supervisor import run_supervised

    job_dir = _make_job_dir(the_plan)
    run_supervised(the_plan.argv, {**the_plan.env, environment.JOB_DIR_ENV: job_dir},
                   fail_on_loss=the_plan.fail_on_loss)


def execute_local(the_plan: RunPlan) -> NoReturn:
    """`--local`: the launcher hosts a receiver, runs the command as a child, then prints a report (and, when one
    is wanted, publishes the job's delivery report as the other modes do)."""
    from signoz_litellm_run.local import run_local

    run_local(the_plan)


def _make_job_dir(the_plan: RunPlan) -> str:
    """The directory the job's processes leave their counts in, for the report."""
    job_dir = delivery.make_job_dir()
    if the_plan.without_telemetry:  # the report names the command; --fail-on-telemetry-loss sees a job that sent nothing
        env = {**the_plan.env, environment.JOB_DIR_ENV: job_dir}
        delivery.leave(job_dir, delivery.without_telemetry(the_plan.without_telemetry, env))
    return job_dir


def _check_proxy_server(the_plan: RunPlan) -> None:
    from signoz_litellm_run import proxy

    proxy.check_installed(the_plan.argv, the_plan.env)


def _bootstrap(the_plan: RunPlan) -> None:  # never fails the job; no subprocess when the environment is known ready
    from signoz_litellm_run import bootstrap

    bootstrap.before_run(the_plan.argv, the_plan.env, timeout=the_plan.bootstrap_timeout, environ=os.environ)


_STEPS = {PROXY_CHECK: _check_proxy_server, BOOTSTRAP: _bootstrap}
_EXECUTORS = {EXEC: execute_exec, SUPERVISE: execute_supervised, LOCAL: execute_local}


def print_plan(settings: Settings, argv: Sequence[str]) -> None:
    """`run --dry-run`: the plan and the variables it sets (key masked); nothing starts."""
    the_plan = plan(settings, argv, os.environ)
    print("\n".join(the_plan.describe()))
    print("environment (the variables run sets):")
    print(environment.render(environment.masked(the_plan.updates, settings.ingestion_key), "shell"))


def print_env(settings: Settings, fmt: str, *, show_secrets: bool) -> None:
    if fmt not in environment.FORMATS:
        raise UsageError(f"Unknown format {fmt!r}.", f"Use one of: {', '.join(environment.FORMATS)}.")
    # The plan's environment for a command sending to the destination: `env` writes files for commands run
    # elsewhere, and --local's receiver has no address before `run` starts it.
    updates = plan(dataclasses.replace(settings, local=False), (), os.environ).updates
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

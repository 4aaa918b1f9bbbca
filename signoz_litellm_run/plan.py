"""What `run` will do, decided in one place: `plan(settings, argv, environ) -> RunPlan`.

To answer "what happens when I run X", read `plan()`: it decides the mode, the command's environment,
the checks that run before it starts and the lines printed on stderr, without starting or writing
anything (it only looks the command up on PATH and reads a script's `#!` line). `runner.execute()`
carries a plan out with one small executor per mode:

- `exec`: the launcher becomes the command (same pid, signals, exit status). With a report wanted, the
  top-level Python process publishes it for the whole job (`delivery`).
- `supervise`: the launcher must see the job end (`supervisor`): `--fail-on-telemetry-loss` (a process
  cannot know its own exit status), or a report for a job whose top-level process is not a Python program
  that can start telemetry (a shell script, `make`, `python -I`).
- `local`: `--local`: the launcher hosts an OTLP receiver, spawns the command, then prints a report
  (`local`); with a report wanted, it publishes the job's delivery report too, as `supervise` does. No checks
  run first: it is the offline demo.

Nothing here imports Typer, Click or Rich: the command line's fast path plans and executes without them.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from signoz_litellm_run import ci, environment
from signoz_litellm_run.settings import Settings

Mode = Literal["exec", "supervise", "local"]
EXEC: Mode = "exec"
SUPERVISE: Mode = "supervise"
LOCAL: Mode = "local"

# The checks before the command starts, in the order they run (after the command was found on PATH).
PROXY_CHECK = "proxy-server-check"  # a LiteLLM proxy command: its server packages are installed (exit 2 if not)
BOOTSTRAP = "bootstrap"  # install missing instrumentation packages; never fails the job
# --local's receiver picks its port when it starts; until then the plan shows port 0.
LOCAL_ENDPOINT = "http://127.0.0.1:0"


@dataclass(frozen=True)
class LocalPlan:
    """`--local`: the command's environment once the embedded receiver has an address."""

    settings: Settings  # the user's, pointed at the receiver by `environment_for`
    base_env: Mapping[str, str]  # the user's environment without its own telemetry destinations
    cwd: str
    pid: int
    wait_limit: float  # most seconds to wait for the command's last exports after it ends

    def updates_for(self, endpoint: str) -> dict[str, str]:
        from signoz_litellm_run.local import local_settings

        return environment.child_updates(local_settings(self.settings, endpoint), self.base_env, cwd=self.cwd)

    def environment_for(self, endpoint: str, job_dir: str | None = None) -> dict[str, str]:
        return environment.apply_updates(self.base_env, self.updates_for(endpoint), pid=self.pid, job_dir=job_dir)


@dataclass(frozen=True)
class RunPlan:
    """Everything `run` does, as data: print it, test it, then execute it."""

    mode: Mode
    argv: tuple[str, ...]
    env: Mapping[str, str]  # the command's whole environment (the job directory is added when it is made)
    updates: Mapping[str, str]  # what `run` sets or changes in it (what `signoz-litellm env` prints)
    python: str | None  # the interpreter that runs the command; None: not a Python program (or not found)
    steps: tuple[str, ...] = ()  # PROXY_CHECK, BOOTSTRAP: checks before the start, in order
    notices: tuple[str, ...] = ()  # printed on stderr first
    warnings: tuple[str, ...] = ()  # printed on stderr after the checks, before the start
    report: bool = False  # a delivery report is wanted: a job directory collects the processes' counts
    fail_on_loss: bool = False  # supervise: exit 3 when the command succeeded but telemetry was lost
    without_telemetry: str | None = None  # left in the job's report before the start: why nothing can be sent
    bootstrap_timeout: float = 0.0
    local: LocalPlan | None = None

    @property
    def needs_job_dir(self) -> bool:
        return self.mode == SUPERVISE or self.report

    def describe(self) -> list[str]:
        """The plan in a few lines, for `run --dry-run` (the environment itself is `updates`)."""
        lines = [f"mode: {self.mode} ({_MODE_WORDS[self.mode]})", f"command: {shlex.join(self.argv) or '-'}",
                 f"python: {self.python or '- (not a Python program, or not found)'}",
                 f"checks first: {', '.join(self.steps) or '-'}",
                 "report: " + ("what the receiver got, on stderr" + ("; and the job's" if self.report else "")
                               if self.mode == LOCAL else "yes" if self.report else "no")
                 + ("; exit 3 when telemetry is lost" if self.fail_on_loss else "")]
        if self.without_telemetry:
            lines.append(f"without telemetry: {self.without_telemetry}")
        lines += [f"note: {notice}" for notice in self.notices] + list(self.warnings)
        return lines


_MODE_WORDS = {EXEC: "the launcher becomes the command", SUPERVISE: "the launcher runs the command, then reports",
               LOCAL: "the launcher hosts a receiver, runs the command, then reports"}


def plan(settings: Settings, argv: Sequence[str], environ: Mapping[str, str], *, cwd: str | None = None,
         pid: int | None = None) -> RunPlan:
    """What `signoz-litellm run [settings] -- argv` does in `environ` (`cwd`, `pid`: the launcher's, by default).

    Never raises for the command itself: one that cannot be found or executed is reported by the executor
    (127 / 126), after the notices, exactly where an exec would fail."""
    argv = tuple(argv)
    cwd = os.getcwd() if cwd is None else cwd
    pid = os.getpid() if pid is None else pid
    notices = tuple(environment.notices(environ))
    report = settings.report_file is not None or ci.report_enabled(settings.report, environ)
    if settings.local:
        from signoz_litellm_run.local import local_base_environment

        local = LocalPlan(settings, MappingProxyType(local_base_environment(environ)), cwd, pid,
                          wait_limit=max(1.0, settings.shutdown_timeout))
        updates = local.updates_for(LOCAL_ENDPOINT)
        env = environment.apply_updates(local.base_env, updates, pid=pid)
        return RunPlan(LOCAL, argv, MappingProxyType(env), MappingProxyType(updates), _python(argv, env),
                       notices=notices, report=report, local=local)

    from signoz_litellm_run import proxy
    from signoz_litellm_run.child_python import options_without_telemetry

    updates = environment.child_updates(settings, environ, cwd=cwd)
    env = environment.apply_updates(environ, updates, pid=pid)
    python = _python(argv, env)
    steps = ((PROXY_CHECK,) if proxy.is_proxy_command(argv) else ()) + ((BOOTSTRAP,) if settings.bootstrap else ())
    blocked = options_without_telemetry(argv)
    warnings = tuple(
        f"signoz-litellm: warning: python {option} {effect}, so telemetry (started from PYTHONPATH by "
        f"signoz-litellm's sitecustomize) cannot start: the command runs without it. Drop {option} to have "
        "telemetry." for option, effect in blocked)
    # The launcher stays when it must see the command end: for its exit status, or to report for a job whose
    # top-level process is not a Python program with telemetry (an exec'd one reports for the whole job itself).
    supervise = settings.fail_on_telemetry_loss or (report and (bool(blocked) or python is None))
    without = (f"{argv[0]} {' '.join(option for option, _ in blocked)}: telemetry cannot start"
               if blocked else None)
    return RunPlan(SUPERVISE if supervise else EXEC, argv, MappingProxyType(env), MappingProxyType(updates), python,
                   steps=steps, notices=notices, warnings=warnings, report=report,
                   fail_on_loss=settings.fail_on_telemetry_loss, without_telemetry=without,
                   bootstrap_timeout=settings.bootstrap_timeout)


def _python(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    from signoz_litellm_run.child_python import find_python

    return find_python(argv, env)


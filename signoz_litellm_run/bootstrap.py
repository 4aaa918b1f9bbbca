"""Bootstrap: make sure the instrumentation packages for the child's libraries are installed.

The set is the one `opentelemetry-bootstrap -a requirements` names for the environment of the Python
that will run the command (read from that environment's own `bootstrap_gen.py`, so instrumentation
versions follow the OpenTelemetry set installed there), minus the instrumentations that are disabled
(OpenAI's always: LiteLLM makes those spans), with one deliberate difference: a library counts as
installed only when its version is in the instrumentation's range (`opentelemetry-bootstrap` compares
single characters of the version string).

- Ready environment: no subprocess. What was checked is remembered in a cache file keyed on the
  interpreter and a fingerprint of the `*.dist-info` names in its site directories; any install or
  uninstall changes the fingerprint and the next run plans again (one small query subprocess).
- Missing packages: one resolver run (`python -m pip install`, or `uv pip install --python` where the
  environment has no pip), with every installed distribution pinned by a constraints file so the user's
  own libraries are never upgraded or downgraded. A requirement the installer names as impossible (a
  version the index does not have, a conflict with the pinned packages) is dropped and the rest
  installed in another run (`bootstrap_install.py`, imported only then).
- Nothing here fails the job: `ensure()` returns a `BootstrapResult`; `before_run()` turns it into at most
  one warning line; the installer is killed when the time budget runs out. A failure is remembered and
  not retried by `run` for a while (`signoz-litellm bootstrap` always retries).

`plan()` (`bootstrap_plan.py`) and `ensure()` are the API `run`, `signoz-litellm bootstrap` and `doctor` share;
the interpreter that will run the command is found by `child_python.py`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TextIO

from signoz_litellm_run.bootstrap_plan import (
    BootstrapPlan,
    _cache_path,
    _remember_failures,
    default_disabled,
    plan,
)
from signoz_litellm_run.child_python import find_python
from signoz_litellm_run.errors import UsageError

# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BootstrapResult:
    """What `ensure()` did. `status`: ready, installed, partial, failed, deferred (only requirements that
    failed recently are missing; not retried yet) or skipped (no plan: see `plan.problem`)."""

    plan: BootstrapPlan
    status: str
    installed: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (requirement, reason)
    seconds: float = 0.0
    command: tuple[str, ...] = ()  # the installer command line that ran last, if any

    @property
    def ok(self) -> bool:
        return self.status in ("ready", "installed")

    def warning(self) -> str | None:
        """The one line `run` prints when something could not be installed, else None."""
        if not self.failed:
            return None
        reasons: dict[str, list[str]] = {}
        for requirement, reason in self.failed:
            reasons.setdefault(reason, []).append(requirement)
        what = "; ".join(f"{', '.join(reqs)} ({reason})" for reason, reqs in reasons.items())
        return (f"signoz-litellm: warning: bootstrap could not install {what}; the command runs without that "
                f"instrumentation. Retry with: signoz-litellm bootstrap --python {shlex.quote(self.plan.python)}")


# --------------------------------------------------------------------------------------------- ensure


def ensure(
    python: str,
    timeout: float = 120.0,
    *,
    environ: Mapping[str, str] | None = None,
    disabled: Iterable[str] | None = None,
    progress: TextIO | None = None,
    retry_failed: bool = False,
) -> BootstrapResult:
    """Install what `plan()` finds missing, in one resolver run, within `timeout` seconds. Never raises
    for an install that fails: the result says what failed and why. `progress`: where to show the
    installation (a spinner on a terminal, plain lines otherwise); None shows nothing."""
    environ = os.environ if environ is None else environ
    disabled = default_disabled(environ) if disabled is None else tuple(disabled)
    started = time.monotonic()
    deadline = started + timeout

    def left() -> float:
        return deadline - time.monotonic()

    def survey_budget() -> float:
        return max(min(left(), 30.0), 0.5)

    the_plan = plan(python, environ=environ, disabled=disabled, retry_failed=retry_failed, timeout=survey_budget())
    if the_plan.problem is not None or not the_plan.missing:
        return BootstrapResult(the_plan, _idle_status(the_plan), seconds=time.monotonic() - started)

    from signoz_litellm_run import bootstrap_install

    with bootstrap_install.Lock(_cache_path(the_plan.python, environ, ".lock"), deadline) as locked:
        if not locked:
            failed = tuple((r, "another bootstrap of this environment is still running") for r in the_plan.missing)
            return BootstrapResult(the_plan, "failed", failed=failed, seconds=time.monotonic() - started)
        # Another process may have installed it meanwhile.
        the_plan = plan(python, environ=environ, disabled=disabled, retry_failed=retry_failed,
                        timeout=survey_budget())
        if the_plan.problem is not None or not the_plan.missing:
            return BootstrapResult(the_plan, _idle_status(the_plan), seconds=time.monotonic() - started)
        display = bootstrap_install.choose_display(progress, environ) if progress else bootstrap_install.Display()
        failures, command = bootstrap_install.install(the_plan, environ, display, left, timeout)

        # Look again: what is really there now (a fresh cache for the next run); then remember the
        # failures against the environment as it is now.
        after = plan(the_plan.python, environ=environ, disabled=disabled, retry_failed=True,
                     timeout=max(survey_budget(), 5.0))
        _remember_failures(_cache_path(the_plan.python, environ), the_plan.missing, failures)
    still = set(after.missing) if after.problem is None else set(the_plan.missing)
    installed = tuple(r for r in the_plan.missing if r not in still)
    failed = tuple((r, failures.get(r, ("failed", "not installed"))[1]) for r in the_plan.missing if r in still)
    status = "partial" if failed and installed else "failed" if failed else "installed"
    return BootstrapResult(replace(after, cached=False), status, installed=installed, failed=failed,
                           seconds=time.monotonic() - started, command=command)


def _idle_status(the_plan: BootstrapPlan) -> str:
    return "skipped" if the_plan.problem else "deferred" if the_plan.deferred else "ready"


# --------------------------------------------------------------------------------------------- entry points


def before_run(argv: Sequence[str], child_env: Mapping[str, str], *, timeout: float,
               environ: Mapping[str, str], stream: TextIO | None = None) -> BootstrapResult | None:
    """`run`'s bootstrap: ensure the child's environment, print at most one warning, never raise."""
    stream = stream or sys.stderr
    try:
        python = find_python(argv, child_env)
        if python is None:
            return None
        disabled = default_disabled(child_env)
        result = ensure(python, timeout, environ=environ, disabled=disabled, progress=stream)
        if result.plan.outside_range:  # the command still runs as it is; said once, by the launcher
            from signoz_litellm_run import compat

            print(compat.warning(list(result.plan.outside_range), python), file=stream, flush=True)
        message = result.warning()
        if message is None and result.status == "skipped" and not result.plan.cached and \
                (result.plan.problem or "").startswith("could not query"):
            message = f"signoz-litellm: warning: bootstrap skipped: {result.plan.problem}"
        if message:
            print(message, file=stream, flush=True)
        return result
    except Exception as exc:  # bootstrap must never stop the job
        print(f"signoz-litellm: warning: bootstrap skipped: {type(exc).__name__}: {exc}", file=stream, flush=True)
        return None


def resolve_python(python: str | None, environ: Mapping[str, str]) -> str:
    """`--python`: a path or a name on PATH; default this launcher's own interpreter."""
    if not python:
        return sys.executable
    if os.sep in python:
        if not os.path.isfile(python):
            raise UsageError(f"Python interpreter {python} does not exist.", "Check the path given to --python.")
        return os.path.abspath(python)
    found = shutil.which(python, path=environ.get("PATH", os.defpath))
    if found is None:
        raise UsageError(f"Python interpreter {python} was not found on PATH.",
                         "Give its full path, e.g. --python /app/.venv/bin/python.")
    return os.path.abspath(found)


EXIT_OK, EXIT_FAILED = 0, 1


def command(python: str | None, *, dry_run: bool, timeout: float, environ: Mapping[str, str],
            out: TextIO | None = None) -> int:
    """`signoz-litellm bootstrap`: report, and unless `dry_run` install; 0 when nothing is missing
    afterwards, 1 when something could not be installed or the environment could not be planned."""
    out = out or sys.stdout
    target = resolve_python(python, environ)
    if dry_run:
        the_plan = plan(target, environ=environ, retry_failed=True, timeout=min(timeout, 30.0) or 30.0)
        _print_plan(the_plan, out)
        if the_plan.problem:
            return EXIT_FAILED
        if the_plan.missing:
            print(f"would install ({len(the_plan.missing)}): {' '.join(the_plan.missing)}", file=out)
        else:
            print("nothing to install", file=out)
        return EXIT_OK
    result = ensure(target, timeout, environ=environ, progress=sys.stderr, retry_failed=True)
    _print_plan(result.plan, out)
    if result.installed:
        print(f"installed ({len(result.installed)}): {' '.join(result.installed)}", file=out)
    for requirement, reason in result.failed:
        print(f"failed: {requirement}: {reason}", file=out)
    if result.status == "ready":
        print("ready: nothing to install", file=out)
    print(f"status: {result.status} ({result.seconds:.2f} s)", file=out)
    return EXIT_OK if result.ok else EXIT_FAILED


def _print_plan(the_plan: BootstrapPlan, out: TextIO) -> None:
    version = f"Python {the_plan.python_version}" if the_plan.python_version else "Python"
    otel = f", opentelemetry-instrumentation {the_plan.otel_version}" if the_plan.otel_version else ""
    print(f"environment: {the_plan.python} ({version}{otel}{'; cached' if the_plan.cached else ''})", file=out)
    if the_plan.problem:
        print(f"problem: {the_plan.problem}", file=out)
        return
    print(f"present ({len(the_plan.present)}): {' '.join(the_plan.present) or '-'}", file=out)
    for requirement, reason in the_plan.skipped:
        print(f"skipped: {requirement}: {reason}", file=out)
    for requirement, reason in the_plan.deferred:
        print(f"deferred: {requirement}: {reason}", file=out)

"""Bootstrap's installing half: the installer command, one bounded resolver run, why it failed, progress.

Imported only when something is missing, so a ready environment never pays for it. `install()` runs
`python -m pip install` (or `uv pip install --python` in an environment without pip) once with every
missing requirement and a constraints file pinning everything already installed; when the installer
names requirements it cannot satisfy (an unpublished version, a conflict with the user's packages),
those are dropped and the rest is installed in another run, all within the time budget.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from signoz_litellm_run.bootstrap_plan import BootstrapPlan, norm_name, subprocess_env


def find_installer(plan: BootstrapPlan, environ: Mapping[str, str]) -> tuple[str, ...] | None:
    """The command prefix that installs into `plan.python`: its own pip, else uv, else None."""
    if plan.has_pip:
        return (plan.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                "--upgrade-strategy", "only-if-needed")
    uv = _find_uv(plan.python, environ)
    if uv:
        return (uv, "pip", "install", "--python", plan.python)
    return None


def _find_uv(python: str, environ: Mapping[str, str]) -> str | None:
    """uv on PATH, else beside the environment's own interpreter."""
    found = shutil.which("uv", path=environ.get("PATH", os.defpath))
    if found:
        return found
    candidate = os.path.join(os.path.dirname(python), "uv")
    return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None


def constraints_text(installed: Mapping[str, str], exclude: Iterable[str] = ()) -> str:
    """Every installed distribution pinned to its version: the installer may add packages, never
    change the user's."""
    skip = {norm_name(n) for n in exclude}
    lines = [f"{name}=={version}" for name, version in sorted(installed.items())
             if name not in skip and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+!_-]*", str(version))]
    return "\n".join(lines) + "\n"


_NETWORK = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
                      r"Name or service not known|Network is unreachable|ConnectTimeout|ProxyError|"
                      r"Failed to fetch|error sending request|dns error|network was disabled", re.I)
_READ_ONLY = re.compile(r"Permission denied|Read-only file system|\[Errno 13\]|\[Errno 30\]", re.I)
_MANAGED = re.compile(r"externally.managed", re.I)
_NAME = r"([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?(?:\s*(?:[<>=!~]=?|===)\s*[^\s,;]+)?)"
# pip: "No matching distribution found for X==1"; uv: "X was not found in the package registry",
# "there is no version of X==1".
_UNPUBLISHED = re.compile(r"No matching distribution found for " + _NAME + r"|" + _NAME +
                          r" was not found in the (?:package registry|provided package locations|cache)|"
                          r"there is no version of " + _NAME)
# pip: "Cannot install X==1 and Y because these package versions have conflicting dependencies";
# uv: "... and you require X==1, we can conclude that your requirements are unsatisfiable".
_CONFLICT_PIP = re.compile(r"Cannot install (.+?) because these package versions have conflicting dependencies")
_CONFLICT_UV = re.compile(r"you require " + _NAME + r", we can conclude that your requirements are unsatisfiable")
_DEPENDS = re.compile(r"^\s*\S+ \S+ depends on (\S+)\s*$", re.M)

UNPUBLISHED_REASON = "no such version on the package index"


def _req_name(text: str) -> str:
    return norm_name(re.split(r"[\s<>=!~;\[(]", text.strip(), maxsplit=1)[0])


def classify_failure(output: str, requirements: Sequence[str]) -> tuple[dict[str, tuple[str, str]], tuple[str, str]]:
    """Why an installer run failed: ({requirement: (kind, reason)} for the requirements the output names,
    (kind, reason) for the rest). Kinds: unpublished, conflict, network, read-only, failed."""
    by_name = {_req_name(r): r for r in requirements}
    if _NETWORK.search(output):
        return {}, ("network", "the package index cannot be reached")
    if _MANAGED.search(output):
        return {}, ("read-only", "the environment is externally managed (PEP 668): use a virtual environment")
    if _READ_ONLY.search(output):
        return {}, ("read-only", "the environment is not writable")
    named: dict[str, tuple[str, str]] = {}
    for match in _UNPUBLISHED.finditer(output):
        text = next(g for g in match.groups() if g)
        if _req_name(text) in by_name:
            named[by_name[_req_name(text)]] = ("unpublished", UNPUBLISHED_REASON)
    needs = sorted(set(_DEPENDS.findall(output)))
    why = f"it needs {', '.join(needs)}, which would change installed packages" if needs else \
        "it would change installed packages"
    conflicted = [m.group(1) for m in _CONFLICT_UV.finditer(output)]
    for match in _CONFLICT_PIP.finditer(output):
        conflicted += re.split(r",\s*|\s+and\s+", match.group(1))
    for text in conflicted:
        if _req_name(text) in by_name and by_name[_req_name(text)] not in named:
            named[by_name[_req_name(text)]] = ("conflict", why)
    tail = [line.strip() for line in output.strip().splitlines() if line.strip()]
    rest = ("conflict", why) if re.search(r"ResolutionImpossible|unsatisfiable", output) else \
        ("failed", tail[-1][:160] if tail else "the installer failed")
    return named, rest


@dataclass
class _Run:
    returncode: int | None  # None: killed on timeout
    output: str


def run_installer(command: Sequence[str], environ: Mapping[str, str], timeout: float,
                   on_line: Callable[[str], None]) -> _Run:
    """Run the installer in its own process group; kill the group when `timeout` runs out."""
    import signal

    proc = subprocess.Popen(list(command), env=subprocess_env(environ), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            try:
                on_line(line.rstrip())
            except Exception:
                pass

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        returncode: int | None = proc.wait(timeout=max(timeout, 0.01))
    except subprocess.TimeoutExpired:
        returncode = None
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()
    reader.join(timeout=2)
    return _Run(returncode, "".join(lines))


# --------------------------------------------------------------------------------------------- display


class Display:
    """Progress while installing: nothing by default."""

    def start(self, summary: str, detail: str) -> None: ...

    def line(self, text: str) -> None: ...

    def stop(self, text: str | None) -> None: ...


class PlainDisplay(Display):
    """CI and pipes: a line when installing starts and one when it ends."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def start(self, summary: str, detail: str) -> None:
        print(f"signoz-litellm: {summary} {detail}", file=self.stream, flush=True)

    def stop(self, text: str | None) -> None:
        if text:
            print(f"signoz-litellm: {text}", file=self.stream, flush=True)


class RichDisplay(Display):
    """A terminal: a spinner with the installer's latest line, replaced by one summary line."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console

        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.status: Any = None
        self.text = ""

    def start(self, summary: str, detail: str) -> None:
        from rich.markup import escape

        self.text = escape(summary)
        self.status = self.console.status(self.text)
        self.status.start()

    def line(self, text: str) -> None:
        from rich.markup import escape

        if self.status is not None and text.strip():
            self.status.update(f"{self.text}\n  [dim]{escape(text.strip()[:100])}[/dim]")

    def stop(self, text: str | None) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
        if text:
            self.console.print(f"signoz-litellm: {text}", markup=False)


def choose_display(stream: TextIO, environ: Mapping[str, str]) -> Display:
    """Rich on a terminal, plain lines in CI and when output is redirected."""
    ci = environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return RichDisplay(stream) if tty and not ci and environ.get("TERM") != "dumb" else PlainDisplay(stream)


# --------------------------------------------------------------------------------------------- install


def install(the_plan: BootstrapPlan, environ: Mapping[str, str], display: Display,
            left: Callable[[], float], budget: float) -> tuple[dict[str, tuple[str, str]], tuple[str, ...]]:
    """Install `the_plan.missing`: ({requirement: (kind, reason)} for what failed, the last command run)."""
    started = time.monotonic()
    prefix = find_installer(the_plan, environ)
    wanted = list(the_plan.missing)
    failures: dict[str, tuple[str, str]] = {}  # requirement -> (kind, reason)
    command: tuple[str, ...] = ()
    if prefix is None:
        for requirement in wanted:
            failures[requirement] = ("no-installer", f"{the_plan.python} has no pip and uv was not found")
        wanted = []
    tool = "pip" if prefix and prefix[1:3] == ("-m", "pip") else "uv"
    todo = list(wanted)
    with tempfile.TemporaryDirectory(prefix="signoz-bootstrap-") as tmp:
        constraints = os.path.join(tmp, "constraints.txt")
        with open(constraints, "w", encoding="utf-8") as handle:
            handle.write(constraints_text(the_plan.installed))
        for _attempt in range(3):  # again only without what the last run named as impossible
            if not todo or prefix is None:
                break
            if left() <= 0:
                for requirement in todo:
                    failures[requirement] = ("timeout", "bootstrap ran out of time; raise --bootstrap-timeout")
                break
            command = (*prefix, "-c", constraints, *todo)
            again = f"retrying without {len(failures)} that failed: " if failures else ""
            display.start(f"bootstrap: {again}installing {len(todo)} instrumentation package(s) with {tool}",
                          f"into {the_plan.python}: {', '.join(todo)}")
            try:
                run = run_installer(command, environ, left(), display.line)
            except OSError as exc:
                display.stop(None)
                for requirement in todo:
                    failures[requirement] = ("failed", f"{prefix[0]} could not be started: {exc.strerror or exc}")
                break
            if run.returncode == 0:
                display.stop(f"bootstrap: installed {', '.join(todo)} in {time.monotonic() - started:.1f} s")
                todo = []
                break
            display.stop(None)
            if run.returncode is None:
                for requirement in todo:
                    failures[requirement] = ("timeout", f"timed out after {budget:g} s; raise --bootstrap-timeout")
                break
            named, rest = classify_failure(run.output, todo)
            failures.update(named)
            if not named:
                for requirement in todo:
                    failures[requirement] = rest
                break
            todo = [r for r in todo if r not in named]
        else:
            for requirement in todo:
                failures.setdefault(requirement, ("failed", "not attempted after three failed installer runs"))

    return failures, shown(command)


def shown(command: Sequence[str]) -> tuple[str, ...]:
    """The command for display, without the temporary constraints file."""
    parts = list(command)
    if "-c" in parts:
        i = parts.index("-c")
        del parts[i:i + 2]
    return tuple(parts)


class Lock:
    """An exclusive lock on a file, waited for until `deadline` (so two jobs never run pip together)."""

    def __init__(self, path: str, deadline: float) -> None:
        self.path, self.deadline, self.handle = path, deadline, None

    def __enter__(self) -> bool:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return True
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.handle = open(self.path, "a")
        except OSError:
            return True
        while True:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:
                if time.monotonic() >= self.deadline:
                    return False
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()  # closing releases the lock

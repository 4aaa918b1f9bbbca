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

`plan()` and `ensure()` are the API `run`, `signoz-litellm bootstrap` and `doctor` share.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from signoz_litellm_run import __version__
from signoz_litellm_run.environment import ALWAYS_DISABLED, DISABLED_REASONS, SITE_DIR
from signoz_litellm_run.errors import LauncherError, UsageError

CACHE_FORMAT = 2  # 2: the survey also records the packages outside our supported ranges
CACHE_SUBDIR = "signoz-litellm"
QUERY_MARK = "SIGNOZ-LITELLM-BOOTSTRAP-QUERY "
INSTRUMENTATION_PREFIX = "opentelemetry-instrumentation-"
# Instrumentation package suffix -> its `opentelemetry_instrumentor` entry point names, where they differ
# (as published for 0.66b1). A package is left out when all its entry points are disabled.
ENTRY_POINTS = {
    "openai-v2": ("openai",),
    "boto3sqs": ("boto3",),
    "botocore": ("botocore", "aiobotocore"),
    "grpc": ("grpc_client", "grpc_server", "grpc_aio_client", "grpc_aio_server"),
    "httpx": ("httpx", "httpx2"),
}
# How long `run` leaves a failed requirement alone before trying again, by kind of failure.
RETRY_AFTER = {"unpublished": 24 * 3600.0, "conflict": 24 * 3600.0}  # a conflict: also when packages change
RETRY_AFTER_DEFAULT = 3600.0
_MARKERS = (".dist-info", ".egg-info", ".egg-link", ".pth")
_PYTHON_RE = re.compile(r"^(python|pypy)(\d+(\.\d+)?)?[mtwd]?(\.exe)?$")


def norm_name(name: str) -> str:
    """A distribution name as the package index compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BootstrapPlan:
    """What bootstrap would do for one interpreter, and why.

    `missing` are requirement strings to install, `present` the ones already installed, `skipped`
    (requirement, reason) pairs left out on purpose (disabled), `deferred` (requirement, reason) pairs
    still missing but not retried yet because they failed recently. `problem` says why there is no plan
    at all (no OpenTelemetry in the environment, the interpreter cannot be queried).
    """

    python: str
    missing: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    deferred: tuple[tuple[str, str], ...] = ()
    problem: str | None = None
    python_version: str | None = None
    otel_version: str | None = None
    has_pip: bool = False
    cached: bool = False
    # LiteLLM / OpenTelemetry packages installed there outside the ranges we support (`compat.Outside`)
    outside_range: tuple[Any, ...] = ()
    # name -> version of every distribution installed in the environment (for the constraints file)
    installed: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ready(self) -> bool:
        return self.problem is None and not self.missing and not self.deferred


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


# --------------------------------------------------------------------------------------------- the child's Python


def find_python(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The interpreter that will run `argv`: the command itself when it is `python...`, else the one on
    a script's `#!` line (console scripts included), else None (not a Python program)."""
    from signoz_litellm_run.launcher import resolve_executable

    if not argv:
        return None
    try:
        path = resolve_executable(argv[0], env)
    except LauncherError:
        return None
    if _PYTHON_RE.match(os.path.basename(path)):
        return os.path.abspath(path)
    return shebang_python(path, env)


_OPTIONS_WITHOUT_TELEMETRY = {
    "I": "isolates Python from PYTHONPATH",
    "E": "ignores PYTHONPATH",
    "S": "skips the site module",
}


def options_without_telemetry(argv: Sequence[str]) -> list[tuple[str, str]]:
    """The options of a `python ...` command that keep telemetry from starting (it starts from our sitecustomize,
    found through PYTHONPATH): `-I`, `-E`, `-S`, alone or grouped (`-IS`); with what each does. Only the options
    before the script, `-c` or `-m` are the interpreter's."""
    if not argv or not _PYTHON_RE.match(os.path.basename(argv[0])):
        return []
    found: dict[str, str] = {}
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-", "--") or not arg.startswith("-"):
            break
        if arg.startswith("--"):
            if arg == "--check-hash-based-pycs":
                next(args, None)
            continue
        for i, letter in enumerate(arg[1:], 1):
            if letter in _OPTIONS_WITHOUT_TELEMETRY:
                found.setdefault(f"-{letter}", _OPTIONS_WITHOUT_TELEMETRY[letter])
            elif letter in "cm":
                return list(found.items())
            elif letter in "WX":  # its value is the rest of this argument, or the next one
                if i == len(arg) - 1:
                    next(args, None)
                break
    return list(found.items())


def shebang_python(path: str, env: Mapping[str, str]) -> str | None:
    """The Python named on `path`'s `#!` line (`/venv/bin/python`, `/usr/bin/env python3`, or pip's
    `#!/bin/sh` + `'''exec' "/long path/python"` form), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    lines = head.split(b"\n")
    words = lines[0][2:].decode("utf-8", "replace").split()
    if not words:
        return None
    program = words[0]
    if os.path.basename(program) == "env":
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not rest:
            return None
        program = shutil.which(rest[0], path=env.get("PATH", os.defpath)) or ""
    elif os.path.basename(program) == "sh" and len(lines) > 1 and lines[1].startswith(b"'''exec' "):
        try:
            program = shlex.split(lines[1][len(b"'''exec' "):].decode("utf-8", "replace"))[0]
        except (ValueError, IndexError):
            return None
    if program and _PYTHON_RE.match(os.path.basename(program)) and os.path.isfile(program):
        return os.path.abspath(program)
    return None


# --------------------------------------------------------------------------------------------- querying the environment

# Runs in the target interpreter (standard library only, Python 3.8+): what is installed there, the
# site directories to fingerprint, whether pip is importable, and its opentelemetry-instrumentation's
# bootstrap_gen tables (read with ast, never imported).
_QUERY_SCRIPT = r"""
import ast, json, os, re, site, sys, sysconfig
import importlib.util
from importlib import metadata
out = {"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3]}
dists = {}
for d in metadata.distributions():
    try:
        name = d.metadata["Name"]
    except Exception:
        name = None
    if name:
        dists.setdefault(re.sub(r"[-_.]+", "-", name).lower(), d.version)
out["dists"] = dists
gen = None
try:
    dist = metadata.distribution("opentelemetry-instrumentation")
    out["otel_version"] = dist.version
    path = str(dist.locate_file("opentelemetry/instrumentation/bootstrap_gen.py"))
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    gen = {"libraries": values.get("libraries", []), "default": values.get("default_instrumentations", [])}
except Exception as exc:
    out["gen_error"] = "%s: %s" % (type(exc).__name__, exc)
out["gen"] = gen
out["has_pip"] = importlib.util.find_spec("pip") is not None
stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
cwd = os.path.realpath(os.getcwd())
dirs = list(getattr(site, "getsitepackages", lambda: [])())
if getattr(site, "ENABLE_USER_SITE", False):
    dirs.append(site.getusersitepackages())
for entry in sys.path:
    if not entry or not os.path.isdir(entry):
        continue
    real = os.path.realpath(entry)
    if real == cwd or real == stdlib or (real.startswith(stdlib + os.sep) and "-packages" not in real):
        continue
    dirs.append(entry)
seen = set()
out["dirs"] = [d for d in dirs if not (d in seen or seen.add(d))]
sys.stdout.write("\n" + MARK + json.dumps(out) + "\n")
""".replace("MARK", repr(QUERY_MARK))


def subprocess_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The user's environment for the query and the installer, without our sitecustomize (which would
    start telemetry inside pip)."""
    env = dict(environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if p != SITE_DIR)
    return env


def query(python: str, environ: Mapping[str, str], timeout: float = 30.0) -> dict[str, Any]:
    """Ask `python` what is installed in its environment (one small subprocess)."""
    import subprocess
    import tempfile

    proc = subprocess.run([python, "-c", _QUERY_SCRIPT], env=subprocess_env(environ), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=tempfile.gettempdir())
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(QUERY_MARK):
            return json.loads(line[len(QUERY_MARK):])
    last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"{python} could not be queried (exit {proc.returncode}: {last})")


def fingerprint(dirs: Iterable[str]) -> str:
    """A cheap digest of what is installed: the names of the distribution records in each directory."""
    crc, adler, count = 0, 1, 0
    for directory in dirs:
        try:
            names = sorted(n for n in os.listdir(directory) if n.endswith(_MARKERS))
        except OSError:
            names = ["\1absent"]
        data = "\0".join([directory, *names, ""]).encode("utf-8", "surrogateescape")
        crc, adler, count = zlib.crc32(data, crc), zlib.adler32(data, adler), count + len(names)
    return f"{crc:08x}{adler:08x}-{count}"


# --------------------------------------------------------------------------------------------- requirements


def entry_point_names(requirement: str) -> tuple[str, ...]:
    """`opentelemetry-instrumentation-aiohttp-client==0.66b1` -> (`aiohttp-client`,); openai-v2 -> (`openai`,)."""
    name = norm_name(re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0])
    if not name.startswith(INSTRUMENTATION_PREFIX):
        return ()
    suffix = name[len(INSTRUMENTATION_PREFIX):]
    return ENTRY_POINTS.get(suffix, (suffix,))


def requirements_for(
    gen: Mapping[str, Any], dists: Mapping[str, str], disabled: Iterable[str]
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(missing, present, skipped) for an environment whose distributions are `dists` (normalised
    name -> version), from `bootstrap_gen`'s tables: the default instrumentations, plus each library's
    instrumentation when that library is installed in a version its range covers."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion

    off = {norm_name(name) for name in disabled if name.strip()}
    wanted: list[str] = list(gen.get("default", []))
    for row in gen.get("libraries", []):
        try:
            library = Requirement(row["library"])
        except (InvalidRequirement, KeyError, TypeError):
            continue
        version = dists.get(norm_name(library.name))
        if version is None:
            continue
        try:
            if not library.specifier.contains(version, prereleases=True):
                continue
        except InvalidVersion:
            continue
        wanted.append(row["instrumentation"])

    missing: list[str] = []
    present: list[str] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for requirement in wanted:
        try:
            name = norm_name(Requirement(requirement).name)
        except InvalidRequirement:
            continue
        if name in seen:
            continue
        seen.add(name)
        entries = entry_point_names(requirement)
        if entries and all(norm_name(e) in off for e in entries):
            ours = [DISABLED_REASONS[e] for e in entries if e in DISABLED_REASONS]
            reason = (f"disabled: {ours[0]}" if len(ours) == len(entries)
                      else "disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")
            skipped.append((requirement, reason))
        elif name in dists:
            present.append(requirement)
        else:
            missing.append(requirement)
    return missing, present, skipped


# --------------------------------------------------------------------------------------------- cache


def cache_dir(environ: Mapping[str, str]) -> str:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, CACHE_SUBDIR)


def _cache_path(python: str, environ: Mapping[str, str], suffix: str = ".json") -> str:
    key = zlib.crc32(python.encode("utf-8", "surrogateescape"))  # the file also records the path it is for
    name = re.sub(r"[^A-Za-z0-9.]+", "-", os.path.basename(os.path.dirname(os.path.dirname(python))))[-40:]
    return os.path.join(cache_dir(environ), f"bootstrap-{name}-{key:08x}{suffix}")


def _inputs_key(python: str, environ: Mapping[str, str], disabled: Iterable[str]) -> str:
    """Everything besides the installed distributions that the plan depends on."""
    try:
        st = os.stat(python)
        stamp = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = "-"
    pythonpath = subprocess_env(environ).get("PYTHONPATH", "")
    text = "\0".join([str(CACHE_FORMAT), __version__, python, stamp, pythonpath,
                      ",".join(sorted({norm_name(d) for d in disabled if d.strip()}))])
    return text


def _load_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == CACHE_FORMAT else {}


def _save_cache(path: str, data: Mapping[str, Any]) -> None:
    """Atomically; a cache that cannot be written only costs the next run a query."""
    import tempfile

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".bootstrap-", dir=os.path.dirname(path))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------- plan


def default_disabled(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The instrumentations the child will have disabled: ours plus OTEL_PYTHON_DISABLED_INSTRUMENTATIONS."""
    user = [x.strip() for x in environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",") if x.strip()]
    return tuple(dict.fromkeys([*user, *ALWAYS_DISABLED]))


def plan(
    python: str,
    *,
    environ: Mapping[str, str] | None = None,
    disabled: Iterable[str] | None = None,
    retry_failed: bool = False,
    timeout: float = 30.0,
    now: float | None = None,
) -> BootstrapPlan:
    """What bootstrap would install for `python`. No subprocess when the cache still describes the
    environment; otherwise one query subprocess (bounded by `timeout`), and the cache is updated."""
    environ = os.environ if environ is None else environ
    disabled = default_disabled(environ) if disabled is None else tuple(disabled)
    python = os.path.abspath(python)
    now = time.time() if now is None else now
    path = _cache_path(python, environ)
    inputs = _inputs_key(python, environ, disabled)
    cache = _load_cache(path)
    fresh = (bool(cache) and cache.get("inputs") == inputs and isinstance(cache.get("dirs"), list)
             and cache.get("fingerprint") == fingerprint(cache["dirs"]))
    if not fresh:
        cache = _survey(python, environ, disabled, inputs, timeout, previous=cache)
        _save_cache(path, cache)
    return _plan_from_cache(python, cache, cached=fresh, retry_failed=retry_failed, now=now)


def _survey(python: str, environ: Mapping[str, str], disabled: Sequence[str], inputs: str, timeout: float,
            previous: Mapping[str, Any]) -> dict[str, Any]:
    """Query the environment and compute the plan's parts (the cold path)."""
    import subprocess

    data: dict[str, Any] = {"format": CACHE_FORMAT, "python": python, "inputs": inputs,
                            "failures": previous.get("failures", {}) if previous.get("python") == python else {}}
    try:
        info = query(python, environ, timeout)
    except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as exc:
        timed_out = isinstance(exc, subprocess.TimeoutExpired)
        reason = f"timed out after {timeout:g} s" if timed_out else str(exc)
        data.update(dirs=[], fingerprint=fingerprint([]), problem=f"could not query {python}: {reason}",
                    kind="query-failed")
        if timed_out:
            data["inputs"] = ""  # never fresh: ask again next time; a broken interpreter is asked once
        return data
    dists: dict[str, str] = info.get("dists", {})
    data.update(dirs=info.get("dirs", []), python_version=info.get("version"), otel_version=info.get("otel_version"),
                has_pip=bool(info.get("has_pip")), installed=dists)
    data["fingerprint"] = fingerprint(data["dirs"])
    from signoz_litellm_run import compat

    data["outside_range"] = compat.check_installed(dists)
    gen = info.get("gen")
    if not gen:
        data.update(problem=(f"OpenTelemetry instrumentation is not installed in this environment "
                             f"({info.get('gen_error', 'no bootstrap tables')}); install signoz-litellm there"),
                    kind="no-otel", missing=[], present=[], skipped=[])
        return data
    missing, present, skipped = requirements_for(gen, dists, disabled)
    data.update(problem=None, missing=missing, present=present, skipped=skipped)
    return data


def _plan_from_cache(python: str, cache: Mapping[str, Any], *, cached: bool, retry_failed: bool,
                     now: float) -> BootstrapPlan:
    missing: list[str] = []
    deferred: list[tuple[str, str]] = []
    failures: Mapping[str, Mapping[str, Any]] = cache.get("failures", {})
    for requirement in cache.get("missing", []):
        failure = failures.get(requirement)
        if failure and not retry_failed:
            wait = RETRY_AFTER.get(failure.get("kind", ""), RETRY_AFTER_DEFAULT)
            changed = failure.get("kind") == "conflict" and failure.get("fingerprint") != cache.get("fingerprint")
            if not changed and now - float(failure.get("at", 0)) < wait:
                deferred.append((requirement, f"could not be installed {_ago(now - failure['at'])} ago: "
                                              f"{failure.get('reason')}; `signoz-litellm bootstrap` retries"))
                continue
        missing.append(requirement)
    return BootstrapPlan(
        python=python, missing=tuple(missing), present=tuple(cache.get("present", [])),
        skipped=tuple((str(r), str(why)) for r, why in cache.get("skipped", [])), deferred=tuple(deferred),
        problem=cache.get("problem"),
        python_version=cache.get("python_version"), otel_version=cache.get("otel_version"),
        has_pip=bool(cache.get("has_pip")), cached=cached, installed=dict(cache.get("installed", {})),
        outside_range=_outside_range(cache),
    )


def _outside_range(cache: Mapping[str, Any]) -> tuple[Any, ...]:
    found = cache.get("outside_range")
    if not found:
        return ()
    from signoz_litellm_run.compat import Outside

    try:
        return tuple(Outside(**entry) for entry in found)
    except TypeError:
        return ()


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


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


def _remember_failures(path: str, attempted: Iterable[str], failures: Mapping[str, tuple[str, str]]) -> None:
    cache = _load_cache(path)
    if not cache:
        return
    now = time.time()
    attempted = set(attempted)
    records = {r: f for r, f in cache.get("failures", {}).items() if r not in attempted}
    for requirement, (kind, reason) in failures.items():
        records[requirement] = {"kind": kind, "reason": reason, "at": now, "fingerprint": cache.get("fingerprint")}
    cache["failures"] = records
    _save_cache(path, cache)


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

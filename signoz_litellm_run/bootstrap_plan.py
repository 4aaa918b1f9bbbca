"""Bootstrap's plan: what the child's environment lacks, remembered between runs.

One query subprocess in the target interpreter reads what is installed and its `bootstrap_gen.py` tables;
`requirements_for` turns them into missing / present / skipped requirements; the answer is cached, keyed on
the interpreter and a fingerprint of its `*.dist-info` names, so a ready environment costs no subprocess. A
requirement that failed to install is remembered here too and not retried by `run` for a while.
"""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from signoz_litellm_run import __version__
from signoz_litellm_run.environment import ALWAYS_DISABLED, DISABLED_REASONS, SITE_DIR

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

"""doctor's environment checks: Python, LiteLLM and OpenTelemetry versions (and our supported ranges), entry
points, gRPC, instrumentations, what bootstrap would add, the user's sitecustomize, and LiteLLM's `otel` logger
created in a child process (importing litellm takes seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from signoz_litellm_run.doctor_report import ENVIRONMENT, FAIL, PASS, SKIP, WARN, Check
from signoz_litellm_run.environment import DISTRO_NAME, SITE_DIR

MIN_PYTHON = (3, 10)


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def environment_checks(protocol: str, environ: Mapping[str, str], cwd: Path) -> list[Check]:
    checks = [_python_check(), _litellm_check(), _otel_versions_check(), _supported_range_check(),
              *_entry_point_checks(),
              _grpc_check(protocol), *_instrumentation_checks(), _bootstrap_check(environ), _sitecustomize_check(environ, cwd)]
    return checks


def _python_check() -> Check:
    v = sys.version_info
    text = f"Python {v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if (v.major, v.minor) < MIN_PYTHON:
        return Check("python", ENVIRONMENT, FAIL, text, "signoz-litellm needs Python 3.10 or newer.")
    return Check("python", ENVIRONMENT, PASS, text)


def _litellm_check() -> Check:
    v = _version("litellm")
    if v is None:
        return Check("litellm", ENVIRONMENT, FAIL, "litellm is not installed in this environment",
                     f"pip install litellm (into {sys.prefix}, where the program runs).")
    return Check("litellm", ENVIRONMENT, PASS, f"litellm {v}")


def _otel_versions_check() -> Check:
    """Every installed opentelemetry-* package's pins on the others hold (a broken pin set makes
    auto-instrumentation skip packages silently)."""
    from importlib.metadata import distributions

    from packaging.requirements import InvalidRequirement, Requirement

    installed: dict[str, str] = {}
    dists = []
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("opentelemetry-"):
            installed[name] = dist.version
            dists.append((name, dist))
    conflicts: list[str] = []
    for name, dist in sorted(dists, key=lambda x: x[0]):
        for text in dist.requires or ():
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            dep = req.name.lower().replace("_", "-")
            if not dep.startswith("opentelemetry-") or dep not in installed:
                continue
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if not req.specifier.contains(installed[dep], prereleases=True):
                conflicts.append(f"{name} {installed[name]} needs {dep}{req.specifier}, found {installed[dep]}")
    api, sdk = installed.get("opentelemetry-api"), installed.get("opentelemetry-sdk")
    if api and sdk and api != sdk:
        conflicts.insert(0, f"opentelemetry-api {api} != opentelemetry-sdk {sdk}")
    missing = [d for d in ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-instrumentation")
               if d not in installed]
    if missing:
        return Check("otel-versions", ENVIRONMENT, FAIL, f"not installed: {', '.join(missing)}",
                     "pip install --force-reinstall signoz-litellm")
    if conflicts:
        more = f" (+{len(conflicts) - 2} more)" if len(conflicts) > 2 else ""
        return Check("otel-versions", ENVIRONMENT, FAIL, "; ".join(conflicts[:2]) + more,
                     "Install one matching set: pip install --force-reinstall signoz-litellm "
                     "(a mismatch silently disables auto-instrumentation).")
    contrib = installed.get("opentelemetry-instrumentation", "?")
    return Check("otel-versions", ENVIRONMENT, PASS,
                 f"api/sdk {api}, instrumentation {contrib}, {len(installed)} opentelemetry packages consistent")


def _supported_range_check() -> Check:
    """LiteLLM and OpenTelemetry inside the ranges our own package metadata states (`compat`)."""
    from signoz_litellm_run import compat

    ranges = compat.supported_ranges()
    if not ranges:
        return Check("supported-versions", ENVIRONMENT, SKIP, "signoz-litellm's package metadata cannot be read")
    installed = {name: v for name in ranges if (v := _version(name)) is not None}
    found = compat.outside(installed, ranges)
    if found:
        return Check("supported-versions", ENVIRONMENT, FAIL,
                     "outside the supported range: " + "; ".join(o.describe() for o in found),
                     f"{compat.fix_command(found, sys.executable)} (run still runs the command, but its "
                     "telemetry may be incomplete).")
    shown = ", ".join(f"{name} {installed[name]}" for name in ("litellm", "opentelemetry-sdk") if name in installed)
    return Check("supported-versions", ENVIRONMENT, PASS, f"{shown or 'LiteLLM and OpenTelemetry'} in range "
                 f"(litellm{ranges.get('litellm', '')}, opentelemetry-sdk{ranges.get('opentelemetry-sdk', '')})")


def _entry_point_checks() -> list[Check]:
    from importlib.metadata import entry_points

    checks = []
    distros = {ep.name: ep for ep in entry_points(group="opentelemetry_distro")}
    if DISTRO_NAME in distros:
        checks.append(Check("distro", ENVIRONMENT, PASS, f"{DISTRO_NAME} -> {distros[DISTRO_NAME].value}"))
    else:
        checks.append(Check("distro", ENVIRONMENT, FAIL, f"entry point opentelemetry_distro:{DISTRO_NAME} is missing",
                            "Reinstall signoz-litellm in this environment (pip install --force-reinstall)."))
    configurators = [ep.name for ep in entry_points(group="opentelemetry_configurator")]
    if configurators:
        checks.append(Check("configurator", ENVIRONMENT, PASS,
                            "opentelemetry_configurator: " + ", ".join(configurators)))
    else:
        checks.append(Check("configurator", ENVIRONMENT, FAIL, "no opentelemetry_configurator entry point",
                            "pip install opentelemetry-distro (it provides the SDK configurator)."))
    return checks


def _grpc_check(protocol: str) -> Check:
    v = _version("grpcio")
    if v is None:
        status = FAIL if protocol == "grpc" else WARN
        return Check("grpcio", ENVIRONMENT, status, "grpcio is not installed",
                     "pip install grpcio, or use --protocol http/protobuf.")
    try:
        import grpc  # noqa: F401
    except Exception as exc:  # noqa: BLE001 (a broken wheel)
        return Check("grpcio", ENVIRONMENT, FAIL if protocol == "grpc" else WARN, f"grpcio {v} fails to import: {exc}",
                     "pip install --force-reinstall grpcio, or use --protocol http/protobuf.")
    return Check("grpcio", ENVIRONMENT, PASS, f"grpcio {v}")


_INSTRUMENTATIONS = (
    ("httpx", "opentelemetry-instrumentation-httpx", "HTTP client spans of LiteLLM's sync calls"),
    ("aiohttp-client", "opentelemetry-instrumentation-aiohttp-client", "HTTP client spans of async calls"),
    ("logging", "opentelemetry-instrumentation-logging", "trace ids in log records"),
)


def _instrumentation_checks() -> list[Check]:
    """Present, and not skipped by initialize() for a dependency conflict."""
    from importlib.metadata import entry_points

    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts

    found = {ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor")}
    checks = []
    for name, dist, what in _INSTRUMENTATIONS:
        check_name = f"otel-{name}"
        ep = found.get(name)
        if ep is None:
            checks.append(Check(check_name, ENVIRONMENT, WARN, f"{dist} is not installed (no {what})",
                                f"pip install {dist}=={_version('opentelemetry-instrumentation') or ''}".rstrip("=")))
            continue
        conflict = get_dist_dependency_conflicts(ep.dist) if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else "?"
        if conflict is not None and getattr(conflict, "_is_version_conflict", True):
            checks.append(Check(check_name, ENVIRONMENT, WARN, f"{dist} {version} will be skipped: {conflict}",
                                "Install a library version the instrumentation supports, "
                                "or a matching instrumentation."))
        elif conflict is not None:
            checks.append(Check(check_name, ENVIRONMENT, PASS,
                                f"{dist} {version} (its library is not installed; nothing to instrument)"))
        else:
            checks.append(Check(check_name, ENVIRONMENT, PASS, f"{dist} {version}"))
    return checks


def bootstrap_missing(environ: Mapping[str, str]) -> list[str]:
    """Instrumentation packages bootstrap would add to this environment (the plan `run` acts on)."""
    from packaging.requirements import Requirement

    from signoz_litellm_run import bootstrap_plan

    plan = bootstrap_plan.plan(sys.executable, environ=environ, timeout=5.0)
    if plan.problem:
        raise RuntimeError(plan.problem)
    return sorted({Requirement(spec).name for spec in (*plan.missing, *(spec for spec, _ in plan.deferred))})


def _bootstrap_check(environ: Mapping[str, str]) -> Check:
    try:
        missing = bootstrap_missing(environ)
    except Exception as exc:  # noqa: BLE001
        return Check("bootstrap", ENVIRONMENT, WARN, f"could not compute: {type(exc).__name__}: {exc}",
                     "Run signoz-litellm bootstrap --dry-run to see the list.")
    if not missing:
        return Check("bootstrap", ENVIRONMENT, PASS, "every instrumentation for the installed libraries is present")
    shown = ", ".join(m.removeprefix("opentelemetry-instrumentation-") for m in missing[:6])
    more = f" (+{len(missing) - 6} more)" if len(missing) > 6 else ""
    return Check("bootstrap", ENVIRONMENT, PASS, f"bootstrap would add {len(missing)}: {shown}{more}")


def _sitecustomize_check(environ: Mapping[str, str], cwd: Path) -> Check:
    """A user sitecustomize that our hook will run after its own (Python alone would run only ours)."""
    import importlib.machinery

    skip = {os.path.realpath(SITE_DIR)}
    try:
        import opentelemetry.instrumentation.auto_instrumentation as auto

        skip.add(os.path.realpath(os.path.dirname(auto.__file__ or "")))
    except Exception:  # noqa: BLE001
        pass
    user = [p for p in (environ.get("PYTHONPATH") or "").split(os.pathsep) if p]
    path = [str(cwd), *user, *sys.path[1:]]
    path = [p for p in path if os.path.realpath(p or str(cwd)) not in skip]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or not spec.origin:
        return Check("sitecustomize", ENVIRONMENT, PASS, "no other sitecustomize on the path")
    return Check("sitecustomize", ENVIRONMENT, PASS, f"{spec.origin} will run after signoz-litellm's")


_LITELLM_PROBE = r"""
import json, sys
import litellm
from litellm.integrations.opentelemetry import OpenTelemetry, OpenTelemetryConfig
OpenTelemetry(config=OpenTelemetryConfig(exporter="console", skip_set_global=True))
print(json.dumps({"version": getattr(litellm, "version", None) or "?"}))
"""


def litellm_callback_check(timeout: float, environ: Mapping[str, str]) -> Check:
    """Create LiteLLM's `otel` logger in a child process: importing litellm takes seconds."""
    name = "litellm-callback"
    env = {k: v for k, v in environ.items() if k != "PYTHONPATH" or SITE_DIR not in v}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # never fetch the price map from the network
    try:
        done = subprocess.run([sys.executable, "-c", _LITELLM_PROBE], capture_output=True, text=True,
                              timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Check(name, ENVIRONMENT, WARN, f"not checked: importing litellm took over {timeout:.1f} s",
                     "Run `python -c \"import litellm\"` to see how long LiteLLM takes to import here.")
    except OSError as exc:
        return Check(name, ENVIRONMENT, WARN, f"not checked: {exc}", "")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return Check(name, ENVIRONMENT, FAIL, f"LiteLLM's OpenTelemetry logger cannot be created: {last}",
                     "Install a LiteLLM release with litellm.integrations.opentelemetry (pip install -U litellm).")
    return Check(name, ENVIRONMENT, PASS, "LiteLLM's OpenTelemetry logger can be created")

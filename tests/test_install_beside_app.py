"""Installing signoz-litellm into an application's environment that already has its own OpenTelemetry (an SDK and
an instrumentation at an older release we support) and a LiteLLM in our range replaces none of them: with plain
`pip install` (the shapes of our ranges in pyproject.toml make pip decide the installed SDK first and match
everything it adds to it), from the source tree and from a built wheel; with the installed OpenTelemetry given as
constraints (docs/compatibility.md's tip); and with uv. Into an empty environment, pip picks a complete,
consistent and recent OpenTelemetry set.

Real installs from the package index into fresh virtual environments, then the installer's own plan for
installing this checkout (`pip install --dry-run --report`, `uv pip install --dry-run`). Slow (a few minutes,
mostly downloads): it runs in the compat harness (`scripts/compat app-otel-first`), or with
SIGNOZ_LITELLM_COMPAT_INSTALLS=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from signoz_litellm_run import compat

REPO = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.skipif(os.environ.get("SIGNOZ_LITELLM_COMPAT_INSTALLS") != "1",
                       reason="real installs from the index: scripts/compat app-otel-first "
                              "(or SIGNOZ_LITELLM_COMPAT_INSTALLS=1)"),
    pytest.mark.timeout(1200),
]

# The application's own packages, installed first: OpenTelemetry (API/SDK release, its contrib release) with an
# instrumentation of its own and FastAPI (the oldest release we support, and one in the middle), or the SDK alone.
APP_RELEASES = [("1.38.0", "0.59b0", True), ("1.41.0", "0.62b0", True), ("1.38.0", "0.59b0", False)]


def _floor(name: str) -> str:
    """The lowest release our range for `name` allows (from our own metadata, as `run` and `doctor` read it)."""
    found = re.search(r">=\s*([^,\s]+)", compat.supported_ranges()[name])
    assert found, name
    return found.group(1)


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                          text=True, env=env, timeout=1100)


def _installed(python: Path) -> dict[str, str]:
    done = _pip(python, "list", "--format=json")
    assert done.returncode == 0, done.stderr
    return {compat.norm_name(p["name"]): p["version"] for p in json.loads(done.stdout)}


def _new_venv(where: Path) -> Path:
    """A virtual environment with the current pip; its python."""
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    done = _pip(python, "install", "--quiet", "--upgrade", "pip")
    assert done.returncode == 0, done.stderr
    return python


@pytest.fixture(scope="module", params=APP_RELEASES,
                ids=lambda release: f"sdk-{release[0]}" + ("-fastapi" if release[2] else "-alone"))
def app(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], tuple[str, str]]:
    """A fresh environment with the application's packages, what is installed there, and its OTel release."""
    sdk, contrib, instrumented = request.param
    python = _new_venv(tmp_path_factory.mktemp("beside") / "app")
    # The application as it was before us: its OpenTelemetry, and a LiteLLM our range covers.
    app_otel = [f"opentelemetry-instrumentation-fastapi=={contrib}", "fastapi"] if instrumented else []
    done = _pip(python, "install", "--quiet", f"opentelemetry-sdk=={sdk}", *app_otel, f"litellm=={_floor('litellm')}")
    assert done.returncode == 0, done.stderr
    before = _installed(python)
    assert before["opentelemetry-sdk"] == sdk
    assert ("opentelemetry-instrumentation" in before) == instrumented
    return python, before, (sdk, contrib)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout built as a wheel, as the package index serves it."""
    out = tmp_path_factory.mktemp("wheel")
    done = _pip(Path(sys.executable), "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(REPO))
    assert done.returncode == 0, done.stderr
    return next(out.glob("signoz_litellm-*.whl"))


def _pip_plan(python: Path, tmp_path: Path, *args: str) -> dict[str, str]:
    """What `pip install --dry-run` would install (normalised name -> version)."""
    report = tmp_path / "report.json"
    done = _pip(python, "install", "--dry-run", "--quiet", "--report", str(report), *args)
    assert done.returncode == 0, done.stderr
    return {compat.norm_name(item["metadata"]["name"]): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


def _nothing_replaced(planned: dict[str, str], before: dict[str, str], release: tuple[str, str]) -> None:
    replaced = {name: (before[name], version) for name, version in planned.items()
                if name in before and before[name] != version}
    assert replaced == {}, f"the installer would replace the application's packages: {replaced}"
    assert "signoz-litellm" in planned
    # What we add is the OpenTelemetry release the application has: its exporters and contrib packages.
    added_otel = {name: version for name, version in planned.items() if name.startswith("opentelemetry-")}
    assert added_otel and all(v in release for v in added_otel.values()), added_otel


@pytest.mark.parametrize("source", ["tree", "wheel"])
def test_plain_pip_install_replaces_nothing(app: tuple[Path, dict[str, str], tuple[str, str]], wheel: Path,
                                            source: str, tmp_path: Path) -> None:
    python, before, release = app
    planned = _pip_plan(python, tmp_path, str(REPO if source == "tree" else wheel))
    _nothing_replaced(planned, before, release)


def test_pip_with_the_installed_opentelemetry_as_constraints_replaces_nothing(
        app: tuple[Path, dict[str, str], tuple[str, str]], tmp_path: Path) -> None:
    python, before, release = app
    constraints = tmp_path / "keep.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in before.items()
                                   if name.startswith("opentelemetry-")))
    planned = _pip_plan(python, tmp_path, "-c", str(constraints), str(REPO))
    _nothing_replaced(planned, before, release)


# Our OpenTelemetry packages that are released with the API/SDK (one version), and the contrib ones (another;
# the instrumentation base comes with them).
LOCKSTEP = ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-proto", "opentelemetry-exporter-otlp-proto-grpc",
            "opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-otlp-proto-common")
CONTRIB = ("opentelemetry-semantic-conventions", "opentelemetry-instrumentation", "opentelemetry-distro",
           "opentelemetry-instrumentation-httpx", "opentelemetry-instrumentation-aiohttp-client",
           "opentelemetry-instrumentation-logging", "opentelemetry-instrumentation-system-metrics")


def test_plain_pip_into_an_empty_environment_gets_the_newest_complete_set(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    python = _new_venv(tmp_path_factory.mktemp("fresh") / "empty")
    planned = _pip_plan(python, tmp_path, str(REPO))
    assert all(name in planned for name in LOCKSTEP + CONTRIB), sorted(planned)
    lockstep = {planned[name] for name in LOCKSTEP}
    contrib = {planned[name] for name in CONTRIB}
    assert len(lockstep) == 1 and len(contrib) == 1, (lockstep, contrib)
    # Recent: the newest aiohttp-client instrumentation (the contrib package some releases lack) is the one taken.
    done = _pip(python, "index", "versions", "--pre", "opentelemetry-instrumentation-aiohttp-client")
    assert done.returncode == 0, done.stderr
    newest = re.search(r"\(([^)]+)\)", done.stdout)
    assert newest and contrib == {newest.group(1)}, (done.stdout.splitlines()[:1], contrib, lockstep)


def test_uv_replaces_nothing(app: tuple[Path, dict[str, str], tuple[str, str]]) -> None:
    python, before, release = app
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (it is in the dev extra)")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run([uv, "pip", "install", "--dry-run", "--python", str(python), str(REPO)],
                          capture_output=True, text=True, env=env, timeout=1100)
    assert done.returncode == 0, done.stderr
    planned = {}
    for line in done.stderr.splitlines():  # " + name==version" (or " + name @ file://...") per package
        found = re.match(r"\s*[+-] ([A-Za-z0-9_.\-]+)(?:==(\S+))?", line)
        if found:
            planned[compat.norm_name(found.group(1))] = found.group(2) or "local"
    assert not any(line.lstrip().startswith("- ") for line in done.stderr.splitlines()), done.stderr
    _nothing_replaced(planned, before, release)

"""Installing signoz-litellm into an application's environment that already has its own OpenTelemetry (an SDK and
an instrumentation at an older release we support) and a LiteLLM in our range replaces none of them, installed
as docs/compatibility.md says: with pip, the installed OpenTelemetry packages given as constraints (pip otherwise
prefers the newest contrib release of a package it adds, and upgrades the installed SDK to match it: checked with
pip 26.3); with uv, as it is (uv keeps installed versions that satisfy the ranges).

Real installs from the package index into a fresh virtual environment, then the installer's own plan for
installing this checkout (`pip install --dry-run --report`, `uv pip install --dry-run`). Slow (a minute or more,
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

# The application's own packages, installed first: OpenTelemetry at the oldest release we support, with an
# instrumentation of its own, and FastAPI.
APP_OTEL = ["opentelemetry-sdk==1.38.0", "opentelemetry-instrumentation-fastapi==0.59b0", "fastapi"]


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


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh environment with the application's packages (current pip), and what is installed there."""
    app = tmp_path_factory.mktemp("beside") / "app"
    venv.EnvBuilder(with_pip=True).create(app)
    python = app / "bin" / "python"
    done = _pip(python, "install", "--quiet", "--upgrade", "pip")
    assert done.returncode == 0, done.stderr
    # The application as it was before us: its OpenTelemetry, and a LiteLLM our range covers.
    done = _pip(python, "install", "--quiet", *APP_OTEL, f"litellm=={_floor('litellm')}")
    assert done.returncode == 0, done.stderr
    before = _installed(python)
    assert before["opentelemetry-sdk"] == "1.38.0" and before["opentelemetry-instrumentation-fastapi"] == "0.59b0"
    return python, before


def _nothing_replaced(planned: dict[str, str], before: dict[str, str]) -> None:
    replaced = {name: (before[name], version) for name, version in planned.items()
                if name in before and before[name] != version}
    assert replaced == {}, f"the installer would replace the application's packages: {replaced}"
    assert "signoz-litellm" in planned
    # What we add is the OpenTelemetry release the application has: the contrib packages of 0.59b0.
    added_otel = {name: version for name, version in planned.items() if name.startswith("opentelemetry-")}
    assert added_otel and all(v in ("1.38.0", "0.59b0") for v in added_otel.values()), added_otel


def test_pip_with_the_installed_opentelemetry_as_constraints_replaces_nothing(
        app: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    python, before = app
    constraints = tmp_path / "keep.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in before.items()
                                   if name.startswith("opentelemetry-")))
    report = tmp_path / "report.json"
    done = _pip(python, "install", "--dry-run", "--quiet", "--report", str(report), "-c", str(constraints),
                str(REPO))
    assert done.returncode == 0, done.stderr
    planned = {compat.norm_name(item["metadata"]["name"]): item["metadata"]["version"]
               for item in json.loads(report.read_text())["install"]}
    _nothing_replaced(planned, before)


def test_uv_replaces_nothing(app: tuple[Path, dict[str, str]]) -> None:
    python, before = app
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
    _nothing_replaced(planned, before)

"""An environment outside the supported LiteLLM / OpenTelemetry ranges: `run` still runs the command unchanged and
says so once on stderr; `doctor` fails the check with the pip command that fixes it. The ranges come from our own
installed metadata (pyproject.toml's dependencies), and a package's version is made to be out of range by a real
distribution record placed first on the path, as an older install would leave it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from signoz_litellm_run import compat
from signoz_litellm_run.receiver import Receiver
from tests.test_doctor import check, run_doctor

REPO = Path(__file__).resolve().parent.parent


def _old_distribution(directory: Path, name: str, version: str) -> Path:
    """A distribution record of `name` at `version` (what pip leaves in site-packages), first on the path."""
    info = directory / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return directory


def test_the_ranges_are_our_package_metadata() -> None:
    """Every LiteLLM / OpenTelemetry requirement of pyproject.toml, as the installed metadata states it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    from packaging.requirements import Requirement

    declared = [Requirement(text) for text in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
                ["dependencies"]]
    # A requirement with no range (opentelemetry-distro: its release follows the instrumentation base's) has
    # nothing of its own to check.
    expected = {r.name: r.specifier for r in declared
                if (r.name == "litellm" or r.name.startswith("opentelemetry-")) and str(r.specifier)}
    ranges = compat.supported_ranges()
    assert set(ranges) == set(expected) and "opentelemetry-sdk" in ranges
    assert all(SpecifierSet(ranges[name]) == expected[name] for name in expected)


def test_outside_names_package_version_and_range() -> None:
    ranges = compat.supported_ranges(["litellm>=1.75.0,<2", "opentelemetry-sdk<2,>=1.38",
                                      "pytest>=8; extra == 'dev'", "rich>=13"])
    assert ranges == {"litellm": ">=1.75.0,<2", "opentelemetry-sdk": ">=1.38,<2"}
    found = compat.outside({"litellm": "1.74.9", "opentelemetry-sdk": "1.45.2", "rich": "1.0"}, ranges)
    assert found == [compat.Outside("litellm", "1.74.9", ">=1.75.0,<2")]
    assert compat.fix_command(found, "/app/bin/python") == "/app/bin/python -m pip install 'litellm>=1.75.0,<2'"
    assert compat.outside({"litellm": "2.0.0rc1", "opentelemetry-sdk": "1.37.0"}, ranges) == [
        compat.Outside("litellm", "2.0.0rc1", ">=1.75.0,<2"), compat.Outside("opentelemetry-sdk", "1.37.0", ">=1.38,<2")]
    assert compat.outside({"litellm": "not a version"}, ranges)[0].version == "not a version"


def test_run_runs_the_command_unchanged_and_says_once_what_is_out_of_range(tmp_path: Path,
                                                                           receiver: Receiver) -> None:
    app = tmp_path / "app"  # the application's own environment, with an OpenTelemetry older than we support
    venv.EnvBuilder(with_pip=False).create(app)
    old = _old_distribution(tmp_path / "old", "opentelemetry-sdk", "1.20.0")
    sdk_range = compat.supported_ranges()["opentelemetry-sdk"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SIGNOZ_"))}
    env.update(PYTHONPATH=str(old), SIGNOZ_BOOTSTRAP="true", XDG_CACHE_HOME=str(tmp_path / "cache"))
    argv = [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint, "--",
            str(app / "bin" / "python"), "-c", "import sys; print('job output'); sys.exit(7)"]
    for _ in range(2):  # the second run reads bootstrap's cache: the same single line
        done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 7 and done.stdout == "job output\n"
        lines = [line for line in done.stderr.splitlines() if "outside the range" in line]
        assert len(lines) == 1, done.stderr
        assert f"opentelemetry-sdk 1.20.0 (supported: {sdk_range})" in lines[0]
        assert f"-m pip install 'opentelemetry-sdk{sdk_range}'" in lines[0]


def test_run_says_nothing_when_everything_is_in_range(tmp_path: Path, receiver: Receiver) -> None:
    app = tmp_path / "app"
    venv.EnvBuilder(with_pip=False).create(app)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SIGNOZ_"))}
    env.update(SIGNOZ_BOOTSTRAP="true", XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint,
                           "--", str(app / "bin" / "python"), "-c", "print('job output')"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and done.stdout == "job output\n"
    assert "outside the range" not in done.stderr


def test_doctor_fails_the_check_and_names_the_fix(tmp_path: Path) -> None:
    litellm_range = compat.supported_ranges()["litellm"]
    old = _old_distribution(tmp_path / "old", "litellm", "1.0.0")
    with Receiver() as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint, env={"PYTHONPATH": str(old)})
    assert rc == 1
    found = check(report, "supported-versions")
    assert found["status"] == "fail" and f"litellm 1.0.0 (supported: {litellm_range})" in found["detail"]
    assert f"-m pip install 'litellm{litellm_range}'" in found["hint"]


def test_doctor_passes_the_check_in_range(tmp_path: Path) -> None:
    with Receiver() as r:
        rc, report, _, _ = run_doctor(tmp_path, "--endpoint", r.grpc_endpoint)
    assert rc == 0
    assert check(report, "supported-versions")["status"] == "pass"


@pytest.mark.parametrize("name", ["litellm", "opentelemetry-api", "opentelemetry-sdk", "opentelemetry-instrumentation"])
def test_the_installed_versions_here_are_in_range(name: str) -> None:
    """The environment the tests run in is one the ranges cover (each compat corner checks its own)."""
    from importlib.metadata import version

    assert compat.outside({name: version(name)}, compat.supported_ranges()) == []


def test_every_test_the_corners_name_exists() -> None:
    """scripts/compat names tests by node id: a renamed test must not leave a corner running nothing (it did)."""
    import ast
    import re

    repo = Path(__file__).resolve().parent.parent
    script = (repo / "scripts" / "compat").read_text(encoding="utf-8")
    named = set(re.findall(r'"(tests/[\w/]+\.py(?:::\w+)?)"', script))
    assert named, "no test named in scripts/compat"
    for node in sorted(named):
        path, _, function = node.partition("::")
        assert (repo / path).is_file(), node
        if function:
            tree = ast.parse((repo / path).read_text(encoding="utf-8"))
            functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert function in functions, f"scripts/compat names {node}, which does not exist"

"""Bootstrap against real throwaway environments, real pip / uv, and tiny local wheels (no network).

Each target environment is a fresh venv holding a stand-in `opentelemetry-instrumentation` whose
`bootstrap_gen.py` maps tiny fake libraries to tiny fake instrumentation packages; the installers see
only the local wheel directory (`PIP_NO_INDEX` + `PIP_FIND_LINKS`, uv's `UV_FIND_LINKS` + an empty index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from signoz_litellm_run import bootstrap, bootstrap_install, bootstrap_plan
from tests.support.tiny_wheels import (build_wheel, fake_bootstrap_gen, make_venv, site_packages,
                                       unpack_wheel)

FAKE = "opentelemetry-instrumentation-fakelib==0.1"
OTHER = "opentelemetry-instrumentation-otherlib==0.1"
GHOST = "opentelemetry-instrumentation-ghostlib==0.1"  # its wheel is never "published"
PINNED = "opentelemetry-instrumentation-pinnedlib==0.1"  # needs pinnedlib>=2; 1.0 is installed
GEN = fake_bootstrap_gen([
    ("fakelib >= 1.0", FAKE),
    ("otherlib >= 1.0", OTHER),
    ("ghostlib >= 1.0", GHOST),
    ("pinnedlib >= 1.0", PINNED),
    ("oldlib >= 5.0", "opentelemetry-instrumentation-oldlib==0.1"),  # installed oldlib is 1.0: not wanted
    ("openai >= 1.0", "opentelemetry-instrumentation-openai-v2"),  # always disabled
])
# The job reports whether the fake instrumentation is importable, pinnedlib's version, and exits 7.
JOB = ("import importlib.util, sys\n"
       "print('instrumented' if importlib.util.find_spec('opentelemetry_instrumentation_fakelib_mod') else 'bare')\n"
       "if importlib.util.find_spec('pinnedlib_mod'):\n"
       "    import pinnedlib_mod; print('pinnedlib', pinnedlib_mod.VERSION)\n"
       "sys.exit(7)\n")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("wheels")
    built = {
        # a release inside our supported range: these tests are about bootstrap, not `run`'s range warning
        "otel": build_wheel(directory, "opentelemetry-instrumentation", "0.99b0",
                            {"opentelemetry/instrumentation/bootstrap_gen.py": GEN}),
        "fakelib": build_wheel(directory, "fakelib", "1.0"),
        "otherlib": build_wheel(directory, "otherlib", "1.0"),
        "ghostlib": build_wheel(directory, "ghostlib", "1.0"),
        "oldlib": build_wheel(directory, "oldlib", "1.0"),
        "openai": build_wheel(directory, "openai", "1.0"),
        "pinnedlib": build_wheel(directory, "pinnedlib", "1.0"),
        "pinnedlib2": build_wheel(directory, "pinnedlib", "2.0"),
        "inst-fakelib": build_wheel(directory, "opentelemetry-instrumentation-fakelib", "0.1",
                                    requires=["opentelemetry-instrumentation==0.99b0", "fakelib"]),
        "inst-otherlib": build_wheel(directory, "opentelemetry-instrumentation-otherlib", "0.1"),
        "inst-pinnedlib": build_wheel(directory, "opentelemetry-instrumentation-pinnedlib", "0.1",
                                      requires=["pinnedlib>=2"]),
        "inst-oldlib": build_wheel(directory, "opentelemetry-instrumentation-oldlib", "0.1"),
        "inst-openai": build_wheel(directory, "opentelemetry-instrumentation-openai-v2", "2.0"),
    }
    built["dir"] = directory
    return built


def _env(tmp_path: Path, wheels: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "SIGNOZ_", "OTEL_"))}
    (tmp_path / "empty-index").mkdir(exist_ok=True)
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "cache"), SIGNOZ_BOOTSTRAP="true", LITELLM_LOCAL_MODEL_COST_MAP="True",
        PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels["dir"]),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_CONFIG="1", UV_CACHE_DIR=str(tmp_path / "uv-cache"), UV_FIND_LINKS=str(wheels["dir"]),
        UV_DEFAULT_INDEX=(tmp_path / "empty-index").as_uri(),
    )
    env.pop("CI", None)
    return env


def _target(tmp_path: Path, wheels: dict[str, Path], *libs: str, pip: bool = True) -> Path:
    python = make_venv(tmp_path / "target", pip=pip)
    where = site_packages(python)
    for name in ("otel", *libs):
        unpack_wheel(wheels[name], where)
    return python


def _launch(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoz_litellm_run", *args], env=env, capture_output=True,
                          text=True, timeout=240, stdin=subprocess.DEVNULL)


def _run(python: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return _launch(["run", "--endpoint", "http://127.0.0.1:9", *flags, "--", str(python), "-c", JOB], env)


def _bootstrap_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "bootstrap" in line]


def _installed(python: Path, name: str) -> bool:
    return any(site_packages(python).glob(f"{name.replace('-', '_')}-*.dist-info"))


# --------------------------------------------------------------------------------------------- end to end


def test_run_installs_the_missing_package_once_then_is_silent(tmp_path: Path, wheels: dict[str, Path]) -> None:
    python = _target(tmp_path, wheels, "fakelib", "oldlib", "openai")
    env = _env(tmp_path, wheels)

    skipped = _run(python, {**env, "SIGNOZ_BOOTSTRAP": "false"})
    flagged = _run(python, env, "--no-bootstrap")
    for proc in (skipped, flagged):
        assert (proc.returncode, proc.stdout.split()) == (7, ["bare"]), proc.stderr
        assert _bootstrap_lines(proc.stderr) == []

    first = _run(python, env)
    assert (first.returncode, first.stdout.split()) == (7, ["instrumented"]), first.stderr
    lines = _bootstrap_lines(first.stderr)
    assert any(f"installing 1 instrumentation package(s) with pip into {python}: {FAKE}" in x for x in lines), lines
    assert any(f"installed {FAKE}" in x for x in lines), lines
    assert not any("warning" in x for x in lines), lines
    # The disabled OpenAI instrumentation and the one for an out-of-range oldlib were left alone.
    assert not _installed(python, "opentelemetry-instrumentation-openai-v2")
    assert not _installed(python, "opentelemetry-instrumentation-oldlib")

    second = _run(python, env)
    assert (second.returncode, second.stdout.split()) == (7, ["instrumented"])
    assert _bootstrap_lines(second.stderr) == []


def test_unsatisfiable_requirements_warn_once_and_the_job_keeps_its_status(
        tmp_path: Path, wheels: dict[str, Path]) -> None:
    python = _target(tmp_path, wheels, "fakelib", "ghostlib", "pinnedlib")
    env = _env(tmp_path, wheels)

    first = _run(python, env)
    assert first.returncode == 7, first.stderr
    # fakelib's instrumentation went in; pinnedlib stayed at the user's 1.0 instead of being upgraded.
    assert first.stdout.split() == ["instrumented", "pinnedlib", "1.0"]
    warnings = [x for x in first.stderr.splitlines() if "warning" in x]
    assert len(warnings) == 1, first.stderr
    assert f"{GHOST} (no such version on the package index)" in warnings[0]
    assert f"{PINNED} (it needs pinnedlib>=2, which would change installed packages)" in warnings[0]
    assert f"signoz-litellm bootstrap --python {python}" in warnings[0]

    again = _run(python, env)  # remembered: no second attempt, no second warning
    assert (again.returncode, again.stdout.split()) == (7, ["instrumented", "pinnedlib", "1.0"])
    assert _bootstrap_lines(again.stderr) == []

    explicit = _launch(["bootstrap", "--python", str(python)], env)
    assert explicit.returncode == 1, explicit.stdout + explicit.stderr
    assert f"failed: {GHOST}: no such version on the package index" in explicit.stdout
    assert "status: failed" in explicit.stdout


def test_timeout_kills_the_installer_and_the_job_runs(tmp_path: Path, wheels: dict[str, Path]) -> None:
    python = _target(tmp_path, wheels, "fakelib", pip=False)
    # A `pip` that hangs: `python -m pip` runs it, as it would run a stuck resolver.
    fake_pip = site_packages(python) / "pip"
    fake_pip.mkdir()
    (fake_pip / "__init__.py").write_text("")
    pid_file = tmp_path / "pip.pid"
    (fake_pip / "__main__.py").write_text(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)\n")
    env = _env(tmp_path, wheels)

    proc = _run(python, env, "--bootstrap-timeout", "3")
    assert (proc.returncode, proc.stdout.split()) == (7, ["bare"]), proc.stderr
    warnings = [x for x in proc.stderr.splitlines() if "warning" in x]
    assert len(warnings) == 1 and f"{FAKE} (timed out after" in warnings[0], proc.stderr
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the installer was killed (and reaped) before the job started


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return shutil.which("uv") or (str(beside) if beside.is_file() else None)


@pytest.mark.skipif(_uv() is None, reason="uv is not installed (pip install uv, or the dev extra)")
def test_environment_without_pip_is_bootstrapped_with_uv(tmp_path: Path, wheels: dict[str, Path]) -> None:
    python = _target(tmp_path, wheels, "fakelib", pip=False)
    env = _env(tmp_path, wheels)
    env["PATH"] = str(Path(_uv()).parent) + os.pathsep + env.get("PATH", "")

    dry = _launch(["bootstrap", "--dry-run", "--python", str(python)], env)
    assert dry.returncode == 0, dry.stderr
    assert f"would install (1): {FAKE}" in dry.stdout
    assert not _installed(python, "opentelemetry-instrumentation-fakelib")

    proc = _launch(["bootstrap", "--python", str(python)], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"with uv into {python}: {FAKE}" in proc.stderr
    assert f"installed (1): {FAKE}" in proc.stdout
    assert _installed(python, "opentelemetry-instrumentation-fakelib")

    ready = _launch(["bootstrap", "--python", str(python)], env)
    assert ready.returncode == 0 and "ready: nothing to install" in ready.stdout and "cached" in ready.stdout


def test_environment_without_pip_or_uv_warns_and_the_job_runs(tmp_path: Path, wheels: dict[str, Path]) -> None:
    python = _target(tmp_path, wheels, "fakelib", pip=False)
    env = _env(tmp_path, wheels)
    env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep)
                                  if d and not os.path.exists(os.path.join(d, "uv")))
    proc = _run(python, env)
    assert (proc.returncode, proc.stdout.split()) == (7, ["bare"]), proc.stderr
    warnings = [x for x in proc.stderr.splitlines() if "warning" in x]
    assert len(warnings) == 1 and f"{FAKE} ({python} has no pip and uv was not found)" in warnings[0]


# --------------------------------------------------------------------------------------------- the cache


def test_ready_environment_starts_no_subprocess_until_something_changes(
        tmp_path: Path, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    python = _target(tmp_path, wheels, "fakelib", "inst-fakelib")
    env = _env(tmp_path, wheels)

    cold = bootstrap_plan.plan(str(python), environ=env)
    assert (cold.cached, cold.missing, cold.present) == (False, (), (FAKE,))

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a subprocess was started: {args}")

    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "Popen", no_subprocess)
        patch.setattr(os, "posix_spawn", no_subprocess)
        patch.setattr(os, "fork", no_subprocess)
        result = bootstrap.ensure(str(python), 10, environ=env)
    assert (result.status, result.plan.cached, result.installed, result.failed) == ("ready", True, (), ())

    unpack_wheel(wheels["otherlib"], site_packages(python))  # the user installs a library
    changed = bootstrap_plan.plan(str(python), environ=env)
    assert (changed.cached, changed.missing) == (False, (OTHER,))


def test_unreachable_index_is_named_then_deferred_without_a_subprocess(
        tmp_path: Path, wheels: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    python = _target(tmp_path, wheels, "fakelib")
    env = _env(tmp_path, wheels)
    del env["PIP_NO_INDEX"]
    (tmp_path / "no-wheels").mkdir()
    # Nothing listens on port 9. pip says why only when it retries (default 5 times; once here).
    env.update(PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_RETRIES="1", PIP_FIND_LINKS=str(tmp_path / "no-wheels"))

    first = bootstrap.ensure(str(python), 120, environ=env)
    assert (first.status, first.installed) == ("failed", ())
    assert first.failed == ((FAKE, "the package index cannot be reached"),)

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a subprocess was started: {args}")

    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "Popen", no_subprocess)
        later = bootstrap.ensure(str(python), 120, environ=env)
    assert (later.status, later.plan.cached, later.plan.missing) == ("deferred", True, ())
    assert [r for r, _why in later.plan.deferred] == [FAKE]
    assert "the package index cannot be reached" in later.plan.deferred[0][1]


# --------------------------------------------------------------------------------------------- pure parts


# Installer output as pip 23.2 and uv 0.13 print it (captured from real runs against a local wheel dir).
PIP_UNPUBLISHED = """\
Looking in links: /tmp/wheels
ERROR: Could not find a version that satisfies the requirement opentelemetry-instrumentation-ghostlib==0.1 (from versions: none)
ERROR: No matching distribution found for opentelemetry-instrumentation-ghostlib==0.1
"""
PIP_CONFLICT = """\
ERROR: Cannot install opentelemetry-instrumentation-pinnedlib==0.1 because these package versions have conflicting dependencies.

The conflict is caused by:
    opentelemetry-instrumentation-pinnedlib 0.1 depends on pinnedlib>=2
    The user requested (constraint) pinnedlib==1.0

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/
"""
PIP_OFFLINE = """\
WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f35b4746d10>: Failed to establish a new connection: [Errno 111] Connection refused')': /simple/opentelemetry-instrumentation-zzz/
ERROR: Could not find a version that satisfies the requirement opentelemetry-instrumentation-zzz==0.1 (from versions: none)
ERROR: No matching distribution found for opentelemetry-instrumentation-zzz==0.1
"""
UV_UNPUBLISHED = """\
error: No solution found when resolving dependencies
  cause: Because opentelemetry-instrumentation-ghostlib was not found in the package registry and you require opentelemetry-instrumentation-ghostlib==0.1, we can conclude that your requirements are unsatisfiable.
"""
UV_CONFLICT = """\
error: No solution found when resolving dependencies
  cause: Because all versions of opentelemetry-instrumentation-pinnedlib depend on pinnedlib>=2 and pinnedlib==1.0, we can conclude that all versions of opentelemetry-instrumentation-pinnedlib cannot be used.
         And because you require opentelemetry-instrumentation-pinnedlib==0.1, we can conclude that your requirements are unsatisfiable.
"""
PIP_READ_ONLY = """\
ERROR: Could not install packages due to an OSError: [Errno 30] Read-only file system: '/app/lib/python3.11/site-packages/x'
"""


@pytest.mark.parametrize("output, named, rest_kind", [
    (PIP_UNPUBLISHED, {GHOST: "unpublished"}, "failed"),
    (UV_UNPUBLISHED, {GHOST: "unpublished"}, "conflict"),
    (PIP_CONFLICT, {PINNED: "conflict"}, "conflict"),
    (UV_CONFLICT, {PINNED: "conflict"}, "conflict"),
    (PIP_OFFLINE, {}, "network"),
    (PIP_READ_ONLY, {}, "read-only"),
])
def test_installer_failures_are_named(output: str, named: dict[str, str], rest_kind: str) -> None:
    found, rest = bootstrap_install.classify_failure(output, [FAKE, GHOST, PINNED, "opentelemetry-instrumentation-zzz==0.1"])
    assert {r: kind for r, (kind, _reason) in found.items()} == named
    assert rest[0] == rest_kind

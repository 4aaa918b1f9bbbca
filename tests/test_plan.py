"""`plan()`: what `run` decides for each kind of command, read from the plan alone (nothing is started).

The executors that carry a plan out are covered end to end by tests/test_run_e2e.py, test_local.py,
test_proxy.py and test_cli.py; here each mode's decision is checked on its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from signoz_litellm_run import environment
from signoz_litellm_run.plan import BOOTSTRAP, EXEC, LOCAL, LOCAL_ENDPOINT, PROXY_CHECK, SUPERVISE, plan
from signoz_litellm_run.settings import resolve

KEY = "sk-secret-ingestion-key-4242"
ENDPOINT = "http://127.0.0.1:4317"
PYTHON = os.path.abspath(sys.executable)


def _environ(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/root", **extra}


def _plan(flags: dict[str, object], argv: list[str], environ: dict[str, str] | None = None, tmp: Path = Path("/w")):
    environ = environ if environ is not None else _environ()
    settings = resolve({"endpoint": ENDPOINT, **flags}, environ, tmp, argv)
    return plan(settings, argv, environ, cwd=str(tmp), pid=4321), settings, environ


def _script(directory: Path, name: str, first_line: str) -> str:
    path = directory / name
    path.write_text(f"{first_line}\necho hi\n")
    path.chmod(0o755)
    return str(path)


def test_a_python_command_is_execd_with_the_environment_env_prints(tmp_path: Path) -> None:
    the_plan, settings, environ = _plan({}, [sys.executable, "app.py"], _environ(SIGNOZ_LITELLM_JOB_DIR="/outer"),
                                        tmp_path)
    assert the_plan.mode == EXEC and the_plan.argv == (sys.executable, "app.py")
    assert the_plan.python == PYTHON
    assert the_plan.steps == (BOOTSTRAP,)  # bootstrap is on by default
    assert not the_plan.report and not the_plan.needs_job_dir and the_plan.warnings == ()
    assert dict(the_plan.updates) == environment.child_updates(settings, environ, cwd=str(tmp_path))
    env = the_plan.env
    assert env["PYTHONPATH"].split(os.pathsep)[0] == environment.SITE_DIR
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == ENDPOINT and env["HOME"] == "/root"
    assert env[environment.ROOT_PID_ENV] == "4321"
    assert environment.JOB_DIR_ENV not in env  # an outer job's directory is never inherited
    assert dict(env) == environment.child_environment(settings, environ, cwd=str(tmp_path), pid=4321)


def test_a_report_for_a_python_job_stays_exec(tmp_path: Path) -> None:
    in_ci, _, _ = _plan({}, [sys.executable, "job.py"], _environ(GITHUB_ACTIONS="true"), tmp_path)
    assert (in_ci.mode, in_ci.report, in_ci.needs_job_dir) == (EXEC, True, True)
    to_file, _, _ = _plan({"report_file": "report.json", "bootstrap": False}, [sys.executable, "job.py"], tmp=tmp_path)
    assert (to_file.mode, to_file.report, to_file.steps) == (EXEC, True, ())
    assert to_file.env[environment.REPORT_FILE_ENV] == str(tmp_path / "report.json")


def test_the_launcher_supervises_when_it_must_see_the_end(tmp_path: Path) -> None:
    shell = _script(tmp_path, "job.sh", "#!/bin/sh")
    no_report, _, _ = _plan({}, [shell], tmp=tmp_path)
    assert (no_report.mode, no_report.python) == (EXEC, None)  # nothing to report: the launcher becomes it
    reported, _, _ = _plan({"report": True}, [shell], tmp=tmp_path)
    assert (reported.mode, reported.report, reported.needs_job_dir) == (SUPERVISE, True, True)
    status, _, _ = _plan({"fail_on_telemetry_loss": True}, [sys.executable, "job.py"], tmp=tmp_path)
    assert (status.mode, status.fail_on_loss, status.report) == (SUPERVISE, True, False)
    assert status.needs_job_dir
    console_script = _script(tmp_path, "eval-tool", f"#!{sys.executable}")
    python_tool, _, _ = _plan({"report": True}, [console_script], tmp=tmp_path)
    assert (python_tool.mode, python_tool.python) == (EXEC, PYTHON)


def test_python_options_that_stop_telemetry_are_warned_and_reported(tmp_path: Path) -> None:
    isolated, _, _ = _plan({"report": True}, [sys.executable, "-I", "job.py"], tmp=tmp_path)
    assert isolated.mode == SUPERVISE  # the exec'd process could not report: the launcher does
    assert len(isolated.warnings) == 1 and "python -I isolates Python from PYTHONPATH" in isolated.warnings[0]
    assert isolated.without_telemetry == f"{sys.executable} -I: telemetry cannot start"
    quiet, _, _ = _plan({}, [sys.executable, "-ES", "job.py"], tmp=tmp_path)
    assert quiet.mode == EXEC and len(quiet.warnings) == 2 and not quiet.needs_job_dir


def test_a_proxy_command_checks_its_server_first(tmp_path: Path) -> None:
    for argv in (["litellm", "--config", "c.yaml"], [sys.executable, "-m", "litellm", "--port", "4000"]):
        proxied, _, _ = _plan({}, argv, tmp=tmp_path)
        assert proxied.steps == (PROXY_CHECK, BOOTSTRAP), argv
    alone, _, _ = _plan({"bootstrap": False}, ["litellm-proxy"], tmp=tmp_path)
    assert alone.steps == (PROXY_CHECK,)
    assert _plan({"bootstrap": False}, [sys.executable, "app.py"], tmp=tmp_path)[0].steps == ()


def test_local_mode_points_the_command_at_the_launchers_receiver(tmp_path: Path) -> None:
    environ = _environ(OTEL_EXPORTER_OTLP_HEADERS=f"signoz-ingestion-key={KEY}",
                       OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="https://elsewhere:4317", SIGNOZ_INGESTION_KEY=KEY)
    settings = resolve({"region": "us", "local": True, "report": True, "fail_on_telemetry_loss": True}, environ,
                       tmp_path, [sys.executable, "app.py"])
    the_plan = plan(settings, [sys.executable, "app.py"], environ, cwd=str(tmp_path), pid=7)
    assert the_plan.mode == LOCAL and the_plan.steps == () and the_plan.warnings == ()
    assert the_plan.report and the_plan.needs_job_dir  # --report: the job's delivery report too, as without --local
    assert the_plan.env["OTEL_EXPORTER_OTLP_ENDPOINT"] == LOCAL_ENDPOINT
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" not in the_plan.env
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in the_plan.env  # no key goes to the local receiver
    assert KEY not in repr(dict(the_plan.updates))
    assert the_plan.local is not None and the_plan.local.wait_limit == 1.0
    assert "report: what the receiver got, on stderr; and the job's" in the_plan.describe()
    started = the_plan.local.environment_for("http://127.0.0.1:4999", job_dir="/tmp/the-job")
    assert started["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4999"
    assert started["OTEL_EXPORTER_OTLP_INSECURE"] == "true" and started[environment.ROOT_PID_ENV] == "7"
    assert started[environment.JOB_DIR_ENV] == "/tmp/the-job"
    plain = plan(resolve({"local": True}, environ, tmp_path, [sys.executable, "app.py"]), [sys.executable, "app.py"],
                 environ, cwd=str(tmp_path), pid=7)
    assert not plain.needs_job_dir  # no report wanted: only the receiver's, on stderr
    assert "report: what the receiver got, on stderr" in plain.describe()
    assert environment.JOB_DIR_ENV not in plain.local.environment_for("http://127.0.0.1:4999")


def test_a_command_that_cannot_be_found_is_left_to_the_executor(tmp_path: Path) -> None:
    missing, _, _ = _plan({}, ["no-such-command-xyz"], tmp=tmp_path)
    assert missing.mode == EXEC and missing.python is None  # 127 is raised where the exec would fail


def test_notices_come_with_the_plan(tmp_path: Path) -> None:
    v2, _, _ = _plan({}, [sys.executable, "app.py"], _environ(LITELLM_OTEL_V2="true"), tmp_path)
    assert len(v2.notices) == 1 and "LITELLM_OTEL_V2" in v2.notices[0]
    assert v2.env["LITELLM_OTEL_V2"] == "false"
    described = v2.describe()
    assert described[0].startswith("mode: exec") and f"python: {PYTHON}" in described
    assert described[-1] == f"note: {v2.notices[0]}"


def test_plan_is_frozen(tmp_path: Path) -> None:
    the_plan, _, _ = _plan({}, [sys.executable, "app.py"], tmp=tmp_path)
    with pytest.raises(AttributeError):
        the_plan.mode = LOCAL  # type: ignore[misc]
    with pytest.raises(TypeError):
        the_plan.env["X"] = "1"  # type: ignore[index]


def test_planning_and_the_executors_import_no_cli_library(tmp_path: Path) -> None:
    """The command line's fast path (issue 27) runs `runner.run` without Typer, Click or Rich."""
    code = (
        "import sys\n"
        "from signoz_litellm_run import runner, plan, local, supervisor, proxy\n"
        "from signoz_litellm_run.settings import resolve\n"
        f"s = resolve({{'endpoint': {ENDPOINT!r}}}, {{}}, __import__('pathlib').Path('.'), ['python'])\n"
        "plan.plan(s, [sys.executable, '-c', 'pass'], {'PATH': '/usr/bin:/bin'})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

"""The job's delivery report: per-process counts summed, and the words a user reads."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from signoz_litellm_run import delivery
from signoz_litellm_run.child_python import find_python, options_without_telemetry


def _report(pid: int, sent: int, failed: int = 0, error: str | None = None) -> dict:
    return {"endpoint": "http://c:4317", "protocol": "grpc", "service_name": "eval", "pid": pid, "processes": 1,
            "signals": {"traces": {"sent": sent, "failed": failed, "dropped": 0},
                        "logs": {"sent": 1, "failed": 0, "dropped": 0},
                        "metrics": {"sent": 2, "failed": 0, "dropped": 1}},
            "lost": failed + 1, "error": error, "exit_flush_seconds": 0.1 * pid}


def test_reports_of_the_job_are_summed() -> None:
    job = delivery.combine([_report(1, 10), _report(2, 5, failed=3, error="UNAVAILABLE")], pid=1)
    assert job["processes"] == 2 and job["pid"] == 1
    assert job["signals"]["traces"] == {"sent": 15, "failed": 3, "dropped": 0}
    assert job["signals"]["metrics"] == {"sent": 4, "failed": 0, "dropped": 2}
    assert job["lost"] == 5 and job["error"] == "UNAVAILABLE"
    assert job["exit_flush_seconds"] == 0.2
    line = delivery.summary_line(job)
    assert line == ("signoz-litellm: telemetry report for eval -> http://c:4317 (grpc): spans 15 sent, 3 failed, "
                    "0 dropped; log records 2 sent, 0 failed, 0 dropped; metric exports 4 sent, 0 failed, 2 dropped "
                    "(2 processes).")
    assert "**5 item(s) not delivered**" in delivery.markdown(job)


def test_a_job_without_reports_says_nothing_was_sent_through_us() -> None:
    job = delivery.combine([], pid=None, endpoint="https://ingest.us.signoz.cloud:443", service_name="make")
    assert job["processes"] == 0 and job["lost"] == 0 and job["endpoint"] == "https://ingest.us.signoz.cloud:443"
    assert "no process of the job sent telemetry" in delivery.summary_line(job)
    assert "no process of the job sent telemetry" in delivery.markdown(job)


def test_processes_leave_their_reports_for_the_reporter(tmp_path: Path) -> None:
    delivery.leave(str(tmp_path), _report(os.getpid(), 4))
    (tmp_path / "99.json.partial").write_text("{")  # a process still writing
    (tmp_path / "98.json").write_text("not json")  # a broken one is skipped, not fatal
    assert [r["signals"]["traces"]["sent"] for r in delivery.collect(str(tmp_path))] == [4]
    assert json.loads((tmp_path / f"{os.getpid()}.json").read_text())["pid"] == os.getpid()
    delivery.remove(str(tmp_path))
    assert not tmp_path.exists()
    delivery.leave(str(tmp_path), _report(1, 1))  # the reporter is gone: nothing raised, nothing written
    assert not tmp_path.exists() and delivery.collect(str(tmp_path)) == []


def test_publish_prints_the_line_only_when_the_report_is_on(tmp_path: Path, capsys) -> None:
    report_file = tmp_path / "r.json"
    delivery.publish(_report(1, 3), {delivery.REPORT_ENV: "0", delivery.REPORT_FILE_ENV: str(report_file)})
    assert capsys.readouterr().err == "" and json.loads(report_file.read_text())["signals"]["traces"]["sent"] == 3
    delivery.publish(_report(1, 4), {delivery.REPORT_ENV: "0", delivery.REPORT_FILE_ENV: str(tmp_path / "new" / "r")})
    assert json.loads((tmp_path / "new" / "r").read_text())["signals"]["traces"]["sent"] == 4  # its directory made
    (tmp_path / "a-file").write_text("")
    delivery.publish(_report(1, 3), {delivery.REPORT_ENV: "1", delivery.REPORT_FILE_ENV: str(tmp_path / "a-file" / "r")})
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("signoz-litellm: telemetry report for eval")
    assert err[1].startswith("signoz-litellm: warning: cannot write the telemetry report to")


def test_a_process_without_telemetry_is_named_and_a_job_of_only_those_is_nothing_instrumented(tmp_path: Path) -> None:
    off = delivery.without_telemetry("/usr/bin/python3: No module named 'signoz_litellm_run'",
                                     {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SERVICE_NAME": "eval"})
    alone = delivery.combine([off], pid=7)
    assert (alone["processes"], alone["processes_without_telemetry"], alone["lost"]) == (0, 1, 0)
    assert delivery.nothing_instrumented(alone)
    assert delivery.summary_line(alone) == (
        "signoz-litellm: telemetry report for eval -> http://c:4317 (grpc): no process of the job sent telemetry: "
        "telemetry could not start in 1 Python process (/usr/bin/python3: No module named 'signoz_litellm_run').")
    assert "**no process of the job sent telemetry**" in delivery.markdown(alone)
    mixed = delivery.combine([_report(1, 10), off, off], pid=1)
    assert (mixed["processes"], mixed["processes_without_telemetry"]) == (1, 2)
    assert not delivery.nothing_instrumented(mixed)
    assert delivery.summary_line(mixed).endswith(
        "1 dropped. Telemetry could not start in 2 other Python processes (/usr/bin/python3: No module named "
        "'signoz_litellm_run').")
    assert "telemetry could not start in 2 other Python processes" in delivery.markdown(mixed)
    nothing = delivery.combine([], pid=None)  # no Python at all: nothing to fail on
    assert not delivery.nothing_instrumented(nothing) and nothing["without_telemetry_reason"] is None


def test_a_process_without_telemetry_leaves_that_or_reports_for_the_job(tmp_path: Path) -> None:
    """Loaded by file path, as our sitecustomize loads it in a Python that cannot import signoz-litellm."""
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    delivery.leave(str(job_dir), _report(42, 5))  # a worker of the job that sent telemetry
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('d', {delivery.__file__!r})\n"
            "d = importlib.util.module_from_spec(spec); spec.loader.exec_module(d)\n"
            "d.telemetry_off('no opentelemetry here')\n")
    env = {"PATH": os.environ["PATH"], delivery.JOB_DIR_ENV: str(job_dir), delivery.REPORT_ENV: "1",
           delivery.REPORT_FILE_ENV: str(tmp_path / "r.json")}
    subprocess.run([sys.executable, "-I", "-c", code], env=env, check=True)  # not the top-level process
    assert [r.get("processes_without_telemetry", 0) for r in delivery.collect(str(job_dir))] == [0, 1]
    root = subprocess.run([sys.executable, "-I", "-c", "import os; os.environ['" + delivery.ROOT_PID_ENV +
                           "'] = str(os.getpid())\n" + code], env=env, check=True, capture_output=True, text=True)
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["processes"], report["processes_without_telemetry"]) == (1, 2)
    assert "Telemetry could not start in 2 other Python processes (no opentelemetry here)" in root.stderr
    assert not job_dir.exists()


def _script(tmp_path: Path, name: str, first_line: str) -> str:
    path = tmp_path / name
    path.write_text(first_line + "\necho hi\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_which_commands_are_python_programs(tmp_path: Path) -> None:
    """`run` execs a Python program (its top-level process reports for the job); anything else is supervised."""
    env = {"PATH": os.environ["PATH"]}
    assert find_python([sys.executable, "job.py"], env)
    assert find_python(["python3", "-m", "pytest"], env)
    assert find_python([_script(tmp_path, "pytest", f"#!{sys.executable}")], env)
    assert find_python([_script(tmp_path, "eval-tool", "#!/usr/bin/env python3")], env)
    assert not find_python([_script(tmp_path, "run.sh", "#!/bin/bash")], env)
    assert not find_python(["bash", "-c", "python3 job.py"], env)
    assert not find_python([str(tmp_path / "missing")], env)


def test_what_a_foreign_python_loads_parses_as_python_3_7() -> None:
    """Our sitecustomize and `delivery.py` run in whatever Python the command names (3.7 or later)."""
    import ast

    site = Path(delivery.__file__).parent / "_site" / "sitecustomize.py"
    for path in (site, Path(delivery.__file__)):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 7))


@pytest.mark.parametrize("argv, options", [
    (["python", "-I", "job.py"], ["-I"]),
    (["python3.11", "-E", "-m", "pytest"], ["-E"]),
    (["/venv/bin/python", "-uIS", "job.py"], ["-I", "-S"]),
    (["python", "-W", "ignore", "-X", "dev", "-E", "job.py"], ["-E"]),
    (["python", "-Wignore", "-S", "-c", "pass"], ["-S"]),
    (["python", "-X", "importtime", "job.py"], []),
    (["python", "-c", "pass", "-I"], []),  # after -c: the program's arguments
    (["python", "job.py", "-E"], []),
    (["python", "-mpytest", "-S"], []),
    (["python", "--check-hash-based-pycs", "always", "-I", "job.py"], ["-I"]),
    (["bash", "-I"], []),  # not Python
])
def test_python_options_that_keep_telemetry_from_starting(argv: list[str], options: list[str]) -> None:
    assert [option for option, _ in options_without_telemetry(argv)] == options


def test_llm_calls_are_summed_per_model_over_the_processes() -> None:
    def process(pid: int, models: dict) -> dict:
        return dict(_report(pid, 1), llm=delivery.llm_totals(models))

    first = process(1, {"gpt-4o": {"calls": 2, "failed": 1, "input_tokens": 100, "output_tokens": 40,
                                   "cost_usd": 0.0015, "calls_without_cost": 0}})
    second = process(2, {"gpt-4o": {"calls": 1, "failed": 0, "input_tokens": 50, "output_tokens": 10,
                                    "cost_usd": 0.0005, "calls_without_cost": 0},
                         "my-model": {"calls": 4, "failed": 0, "input_tokens": 8, "output_tokens": 8,
                                      "cost_usd": 0.0, "calls_without_cost": 4}})
    job = delivery.combine([first, second, delivery.without_telemetry("x", {})], pid=1)
    llm = job["llm"]
    assert (llm["calls"], llm["failed"], llm["input_tokens"], llm["output_tokens"]) == (7, 1, 158, 58)
    assert llm["cost_usd"] == pytest.approx(0.002) and llm["calls_without_cost"] == 4
    assert llm["models"]["gpt-4o"]["calls"] == 3 and llm["models"]["my-model"]["calls_without_cost"] == 4
    text = delivery.markdown(job)
    assert "| `gpt-4o` | 3 | 1 | 150 | 50 | $0.002 |" in text
    assert "| `my-model` | 4 | 0 | 8 | 8 | unknown |" in text
    assert "| **all** | 7 | 1 | 158 | 58 | $0.002 (4 calls unpriced) |" in text
    assert "LLM calls" not in delivery.markdown(delivery.combine([], pid=None))  # none: no table
    assert delivery.combine([_report(1, 1)], pid=1)["llm"]["calls"] == 0  # a report from before the field
    odd = [dict(_report(1, 1), llm="?"), dict(_report(2, 1), llm={"models": {"m": "?"}})]  # never raises
    assert delivery.combine(odd, pid=1)["llm"]["models"] == {"m": dict.fromkeys(delivery.LLM_FIELDS, 0)}

"""The job's delivery report: per-process counts summed, and the words a user reads."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from signoz_litellm_run import delivery
from signoz_litellm_run.bootstrap import find_python


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
    delivery.publish(_report(1, 3), {delivery.REPORT_ENV: "1", delivery.REPORT_FILE_ENV: str(tmp_path / "no" / "r")})
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("signoz-litellm: telemetry report for eval")
    assert err[1].startswith("signoz-litellm: warning: cannot write the telemetry report to")


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

"""Batch jobs for the tests: run the batch app (or a program) under `signoz-litellm run` in a child process, with a
hang guard, and read what it printed and reported. Used by tests/test_batch_*.py and tests/test_callback_controls.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider

APP = str(Path(__file__).parent / "batch_app.py")
CI_VARS = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "JENKINS_URL", "TF_BUILD",
           "GITHUB_STEP_SUMMARY", "OTEL_RESOURCE_ATTRIBUTES")


class Job:
    """A finished (or signalled) child run."""

    def __init__(self, returncode: int, stdout: str, stderr: str, seconds: float,
                 exit_seconds: float | None = None, report_file: Path | None = None) -> None:
        self.returncode, self.stdout, self.stderr, self.seconds = returncode, stdout, stderr, seconds
        # from the signal (or the last awaited "done" line) to the exit: what the exit costs, whatever the start-up
        # took on a loaded machine
        self.exit_seconds = exit_seconds
        self.report_file = report_file

    @property
    def report(self) -> dict[str, Any]:
        """The job's report (`--report-file`, asked for by run_job's `report_in`)."""
        assert self.report_file is not None, "run_job(report_in=...) asks for the report"
        return json.loads(self.report_file.read_text())

    def warning_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("signoz-litellm: warning:")]


# Starts a command with some signals' dispositions set ("SIGNUM=SIG_DFL,SIGNUM=SIG_IGN"), as a shell, nohup or a
# CI runner would hand them over (an ignored signal stays ignored across exec; a handler becomes the default).
DISPOSITIONS = ("import os, signal, sys\n"
                "for item in sys.argv[1].split(','):\n"
                "    signum, disposition = item.split('=')\n"
                "    signal.signal(int(signum), getattr(signal, disposition))\n"
                "os.execvp(sys.argv[2], sys.argv[2:])")


# Seconds after which run_job kills a job and fails: a hang guard, not a time limit (jobs take 3 to 40 s alone).
JOB_HANG_SECONDS = 240


def run_job(endpoint: str, provider: FakeProvider, *, args: tuple[str, ...] = (), app_env: Mapping[str, str] = {},
            signal_after: int | None = None, signum: int = signal.SIGTERM, command: list[str] | None = None,
            cwd: Path | None = None, start_with: Mapping[int, str] | None = None, clock_after: int | None = None,
            report_in: Path | None = None) -> Job:
    """Run the batch app (or `command`) under the launcher, in `cwd` (default: this one). With `signal_after`,
    send `signum` once that many calls have printed "done" (and the app is waiting). The launcher starts with
    `signum` at its default disposition, whatever this process inherited (`nohup`, or a shell's background job,
    ignores SIGHUP and SIGINT), unless `start_with` gives the dispositions ({signal number: "SIG_IGN"}). The job's
    `exit_seconds` are counted from the signal, or from the `clock_after`-th "done" line. With `report_in`, the
    job writes its report to report.json there (`job.report`)."""
    env = {k: v for k, v in os.environ.items() if k not in CI_VARS and not k.startswith(("OTEL_", "SIGNOZ_"))}
    # A job of a few seconds must not get the line a process gets once it has run 30 s (a server's early warning)
    # because a loaded machine stretched its start-up past that: the test that wants it sets its own.
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", FAKE_BASE=provider.base_url, SIGNOZ_BOOTSTRAP="false",
               SIGNOZ_LITELLM_EARLY_WARNING_AFTER="3600")
    env.update(app_env)
    report_file = None if report_in is None else report_in / "report.json"
    if report_file is not None:
        args = (*args, "--report-file", str(report_file))
    command = [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", endpoint, "--service-name", "batch",
               *args, "--", *(command or [sys.executable, APP])]
    if start_with is None and signal_after is not None:
        start_with = {signum: "SIG_DFL"}
    if start_with:  # the same process (exec), so the signal sent below reaches the launcher
        dispositions = ",".join(f"{int(number)}={disposition}" for number, disposition in start_with.items())
        command = [sys.executable, "-c", DISPOSITIONS, dispositions, *command]
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    # The job ends when it ends; this only catches a hang, over the whole run (waiting for the "done" lines too).
    hung = threading.Event()
    guard = threading.Timer(JOB_HANG_SECONDS, lambda: (hung.set(), proc.kill()))
    guard.daemon = True
    guard.start()
    lines: list[str] = []
    marked = None
    try:
        wait_for_lines = signal_after if signal_after is not None else clock_after
        if wait_for_lines is not None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if sum(1 for x in lines if x.startswith("done ")) >= wait_for_lines:
                    break
            marked = time.monotonic()
            if signal_after is not None and not hung.is_set():
                proc.send_signal(signum)
        out, err = _output(proc, hung)
    finally:
        guard.cancel()
    if hung.is_set():
        pytest.fail(f"the job hung (still running after {JOB_HANG_SECONDS} s); stderr:\n{err}")
    ended = time.monotonic()
    return Job(proc.returncode, "".join(lines) + out, err, ended - started, None if marked is None else ended - marked,
               report_file)


def write_app(directory: Path, name: str, source: str) -> str:
    """Writes a program for a job to run; its path."""
    path = directory / name
    path.write_text(source)
    return str(path)


def _output(proc: subprocess.Popen, hung: threading.Event) -> tuple[str, str]:
    """The job's stdout and stderr once it ended; once killed as hung, what came within 10 s (its children may
    hold the pipes open)."""
    killed_at = None
    while True:
        try:
            return proc.communicate(timeout=1)
        except subprocess.TimeoutExpired:
            if hung.is_set():
                killed_at = killed_at or time.monotonic()
                if time.monotonic() - killed_at > 10:
                    return "", "(the job's children still hold its output open)"


def llm_spans(receiver: Receiver) -> list[Any]:
    return [s for s in receiver.spans() if s.name == "litellm_request"]


def settle(receiver: Receiver, expected: int) -> None:
    receiver.wait_for(lambda r: len(llm_spans(r)) >= expected, timeout=30)  # returns once they are there


def summary_lines(job: Job) -> list[str]:
    return [line for line in job.stderr.splitlines() if line.startswith("signoz-litellm: telemetry report")]

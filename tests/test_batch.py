"""Batch jobs and CI: nothing lost on signals, asyncio or exit paths; a bounded exit on a dead
endpoint; a delivery report that matches what the receiver got; --fail-on-telemetry-loss.

Every test runs a real LiteLLM job (tests/support/batch_app.py) under `signoz-litellm run` in a
child process, against the real OTLP receiver and the fake provider, and asserts on what arrived.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from signoz_litellm_run.loopback import SilentServer, unused_port
from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.litellm_release import PROMPT_ATTRIBUTE, RAW_REQUEST_SPAN_OPTIONAL

# A job of a few seconds can take a minute on a loaded machine (the suite's other workers, scripts/stress-test's
# CPU burners): run_job's guard only catches a hang, and this bound sits above it.
pytestmark = pytest.mark.timeout(300)

APP = str(Path(__file__).parent / "support" / "batch_app.py")
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


# --------------------------------------------------------------------------------------------- signals


def test_sigterm_delivers_every_completed_call_and_reports_what_arrived(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--report",), report_in=tmp_path,
                  app_env={"CALLS": "40", "WAIT": "60"}, signal_after=40)
    assert job.returncode == -signal.SIGTERM, job.stderr  # a shell shows 143
    settle(receiver, 40)
    assert len(llm_spans(receiver)) == 40
    # The report's counts are what the receiver got.
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert report["signals"]["logs"]["sent"] == len(receiver.log_records())
    assert report["signals"]["metrics"]["sent"] == len([r for r in receiver.requests if r.signal == "metrics"]) >= 1
    assert report["lost"] == 0 and report["endpoint"] == receiver.grpc_endpoint
    summary = [line for line in job.stderr.splitlines() if line.startswith("signoz-litellm: telemetry report")]
    assert len(summary) == 1 and f"spans {len(receiver.spans())} sent, 0 failed, 0 dropped" in summary[0]
    assert not job.warning_lines()


def test_sigint_delivers_and_ends_like_ctrl_c(receiver: Receiver, fake_provider: FakeProvider) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, app_env={"CALLS": "5", "WAIT": "60"},
                  signal_after=5, signum=signal.SIGINT)
    assert job.returncode == -signal.SIGINT, job.stderr  # KeyboardInterrupt, then 130 in a shell
    assert "KeyboardInterrupt" in job.stderr
    assert "getsignal SIGINT default_int_handler" in job.stdout  # what asyncio.Runner checks
    settle(receiver, 5)
    assert len(llm_spans(receiver)) == 5


LOGGING_APP = """\
import atexit, logging, time
atexit.register(time.sleep, 1.5)  # an exit that lasts: the system metrics' timer (1 s after start) fires during it
logging.basicConfig(level=logging.INFO)
logging.getLogger("app").warning("one log record, exported at exit")
print("done 0", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("program", ["litellm", "logging"])
def test_sigint_with_an_unreachable_endpoint_still_ends_like_ctrl_c(fake_provider: FakeProvider, tmp_path: Path,
                                                                    program: str) -> None:
    """Module code run during the exit (an OTLP exporter built, so grpc imported, at its first export: at exit
    for a job interrupted early; the system metrics started by their timer during the exit) makes Python forget that
    a KeyboardInterrupt went unhandled: the job exited 1, not of SIGINT. Both are done before the KeyboardInterrupt
    is raised. The dead endpoint makes the export fail fast, as it did where this was seen."""
    command = [sys.executable, write_app(tmp_path, "logging_app.py", LOGGING_APP)] if program == "logging" else None
    job = run_job(f"http://127.0.0.1:{unused_port()}", fake_provider, app_env={"CALLS": "2", "WAIT": "60"},
                  signal_after=1, signum=signal.SIGINT, command=command)
    assert job.returncode == -signal.SIGINT, job.stderr
    assert "KeyboardInterrupt" in job.stderr
    assert "could not deliver" in job.stderr  # the endpoint really was unreachable


def test_sighup_delivers_and_ends_as_it_would(receiver: Receiver, fake_provider: FakeProvider) -> None:
    """A job run by hand whose terminal or ssh session goes away gets SIGHUP: it delivers, then dies of it."""
    job = run_job(receiver.grpc_endpoint, fake_provider, app_env={"CALLS": "20", "WAIT": "60"},
                  signal_after=20, signum=signal.SIGHUP)
    assert job.returncode == -signal.SIGHUP, job.stderr  # a shell shows 129
    settle(receiver, 20)
    assert len(llm_spans(receiver)) == 20
    assert "Traceback" not in job.stderr


def test_a_job_started_under_nohup_keeps_ignoring_sighup(receiver: Receiver, fake_provider: FakeProvider) -> None:
    """`nohup signoz-litellm run -- python job.py`: the job was started to outlive its terminal, so a SIGHUP
    neither ends it nor cuts its telemetry short; it ends by itself, with its own status, and delivers."""
    job = run_job(receiver.grpc_endpoint, fake_provider, app_env={"CALLS": "5", "WAIT": "2", "END": "exit:4"},
                  signal_after=5, signum=signal.SIGHUP, start_with={signal.SIGHUP: "SIG_IGN"})
    assert job.returncode == 4, job.stderr
    assert "done 4" in job.stdout and "Traceback" not in job.stderr
    settle(receiver, 5)
    assert len(llm_spans(receiver)) == 5


def test_the_programs_own_sigterm_handler_still_runs(receiver: Receiver, fake_provider: FakeProvider) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, app_env={"CALLS": "5", "WAIT": "60", "APP_HANDLER": "7"},
                  signal_after=5)
    assert "getsignal SIG_DFL" in job.stdout  # the program sees the signal as it left it
    assert f"APP-HANDLER {int(signal.SIGTERM)}" in job.stdout
    assert job.returncode == 7, job.stderr
    settle(receiver, 5)
    assert len(llm_spans(receiver)) == 5


def test_an_ignored_sigterm_stays_ignored(receiver: Receiver, fake_provider: FakeProvider) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider,
                  app_env={"CALLS": "3", "WAIT": "2", "APP_IGNORE": "1", "END": "exit:5"}, signal_after=3)
    assert job.returncode == 5, job.stderr
    settle(receiver, 3)
    assert len(llm_spans(receiver)) == 3


# --------------------------------------------------------------------------------------------- exit paths


def test_asyncio_run_delivers_every_concurrent_call(receiver: Receiver, fake_provider: FakeProvider,
                                                    tmp_path: Path) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"MODE": "async", "CALLS": "20"})
    assert job.returncode == 0, job.stderr
    settle(receiver, 20)
    assert len(llm_spans(receiver)) == 20
    assert len({s.attributes.get(PROMPT_ATTRIBUTE) for s in llm_spans(receiver)}) == 20
    assert job.report["llm"]["calls"] == 20  # each async call counted once


@pytest.mark.parametrize(("end", "status"), [("exit:3", 3), ("raise", 1)])
def test_sys_exit_and_uncaught_exception_keep_status_and_deliver(
        receiver: Receiver, fake_provider: FakeProvider, end: str, status: int) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, app_env={"CALLS": "3", "END": end})
    assert job.returncode == status, job.stderr
    settle(receiver, 3)
    assert len(llm_spans(receiver)) == 3


def test_a_full_queue_is_counted_not_silent(receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    # A 4-span queue that is exported only at exit: most of the 20 calls' spans are dropped.
    app_env = {"MODE": "async", "CALLS": "20", "OTEL_BSP_MAX_QUEUE_SIZE": "4", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4",
               "OTEL_BSP_SCHEDULE_DELAY": "600000"}
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path, app_env=app_env)
    assert job.returncode == 0, job.stderr
    traces = job.report["signals"]["traces"]
    receiver.wait_for(lambda r: len(r.spans()) >= traces["sent"], timeout=5)
    assert traces["sent"] == len(receiver.spans())
    assert traces["dropped"] > 0 and traces["sent"] + traces["dropped"] + traces["failed"] >= 40
    assert any("spans" in line and "could not deliver" in line for line in job.warning_lines())


# --------------------------------------------------------------------------------------------- bad endpoints


@pytest.mark.parametrize(("kind", "protocol"), [("refused", "grpc"), ("hanging", "grpc"), ("hanging", "http/protobuf")])
def test_a_dead_endpoint_neither_changes_the_status_nor_hangs(
        fake_provider: FakeProvider, kind: str, protocol: str) -> None:
    with SilentServer() as silent:
        endpoint = f"http://127.0.0.1:{unused_port()}" if kind == "refused" else silent.endpoint
        job = run_job(endpoint, fake_provider, args=("--protocol", protocol), app_env={"CALLS": "2", "END": "exit:4"},
                      clock_after=2)
    assert job.returncode == 4, job.stderr
    assert job.exit_seconds < 30  # only catches a hang; the real figure is in scripts/bench_batch.py
    warnings = job.warning_lines()
    assert len(warnings) == 1, job.stderr
    assert endpoint in warnings[0] and "spans" in warnings[0]
    assert "Traceback" not in job.stderr and "Failed to export" not in job.stderr


def test_a_long_running_process_hears_about_a_failing_endpoint_when_it_happens(
        receiver: Receiver, fake_provider: FakeProvider) -> None:
    receiver.behavior = "fail"
    # The threshold (30 s of run time by default) is lowered so a short job behaves like a server.
    job = run_job(receiver.grpc_endpoint, fake_provider,
                  app_env={"CALLS": "2", "WAIT": "2.5", "SIGNOZ_LITELLM_EARLY_WARNING_AFTER": "0"})
    assert job.returncode == 0, job.stderr
    warnings = job.warning_lines()
    assert len(warnings) == 2, job.stderr
    assert warnings[0].startswith("signoz-litellm: warning: cannot deliver traces to")
    assert str(receiver.grpc_port) in warnings[0]
    assert "could not deliver" in warnings[1]


@pytest.mark.parametrize(("behavior", "protocol"), [("unavailable", "grpc"), ("fail", "grpc"), ("partial", "grpc"),
                                                   ("partial", "http/protobuf")])
def test_the_report_says_when_the_receiver_refuses(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, behavior: str, protocol: str) -> None:
    receiver.behavior = behavior
    job = run_job(receiver.endpoint(protocol), fake_provider,
                  args=("--protocol", protocol, "--report"), report_in=tmp_path, app_env={"CALLS": "2"})
    assert job.returncode == 0, job.stderr
    report = job.report
    traces = report["signals"]["traces"]
    assert traces["sent"] == 0 and traces["failed"] + traces["dropped"] >= 4
    assert report["lost"] > 0
    assert len(job.warning_lines()) == 1
    assert "0 sent" in next(line for line in job.stderr.splitlines() if "telemetry report" in line)


# Nothing is exported before the exit flush: no scheduled span, log or metric export within the job.
EXPORT_ONLY_AT_EXIT = {"OTEL_BSP_SCHEDULE_DELAY": "600000", "OTEL_BLRP_SCHEDULE_DELAY": "600000",
                       "OTEL_METRIC_EXPORT_INTERVAL": "600000"}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_at_exit_a_failed_export_is_retried_at_once(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, protocol: str) -> None:
    """The endpoint answers the first export of the exit flush with UNAVAILABLE / 503 (a connection gone stale, a
    collector restarting), then takes everything: the export is sent again at once, not after a first backoff of
    0.8 to 1.2 s that would not fit in the 0.5 s flush (the exporter would give up), and nothing is lost."""
    refused: list[str] = []

    def first_refused(request: Any) -> None:
        if request.outcome != "accepted":
            refused.append(request.signal)
            receiver.behavior = "accept"

    receiver.behavior = "unavailable"
    receiver.on_request = first_refused
    job = run_job(receiver.endpoint(protocol), fake_provider,
                  args=("--protocol", protocol, "--shutdown-timeout", "0.5", "--report"), report_in=tmp_path,
                  app_env={"CALLS": "1", **EXPORT_ONLY_AT_EXIT})
    assert job.returncode == 0, job.stderr
    assert len(refused) == 1, refused
    settle(receiver, 1)
    report = job.report
    assert {name: counts["failed"] + counts["dropped"] for name, counts in report["signals"].items()} == {
        "traces": 0, "logs": 0, "metrics": 0}, report
    assert report["signals"][refused[0]]["sent"] >= 1 and report["lost"] == 0
    assert not job.warning_lines(), job.stderr


@pytest.mark.parametrize(("behavior", "protocol"), [("unauthenticated", "grpc"), ("fail", "http/protobuf")])
def test_at_exit_an_export_the_endpoint_rejects_is_not_sent_again(
        receiver: Receiver, fake_provider: FakeProvider, behavior: str, protocol: str) -> None:
    """A wrong key or an internal error is not fixed by sending the same batch again: one request, counted as
    failed, and the one warning line."""
    receiver.behavior = behavior
    job = run_job(receiver.endpoint(protocol), fake_provider, args=("--protocol", protocol),
                  app_env={"CALLS": "1", **EXPORT_ONLY_AT_EXIT})
    assert job.returncode == 0, job.stderr
    assert [r.signal for r in receiver.rejected if r.signal == "traces"] == ["traces"]
    assert len(job.warning_lines()) == 1, job.stderr


def test_fail_on_telemetry_loss_turns_success_into_status_3(
        receiver: Receiver, fake_provider: FakeProvider) -> None:
    receiver.behavior = "fail"
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",), app_env={"CALLS": "1"})
    assert job.returncode == 3, job.stderr
    assert "--fail-on-telemetry-loss" in job.stderr
    receiver.behavior = "accept"
    receiver.clear()
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",),
                  app_env={"CALLS": "1", "END": "exit:5"})
    assert job.returncode == 5, job.stderr
    settle(receiver, 1)
    assert len(llm_spans(receiver)) == 1


def test_fail_on_telemetry_loss_passes_sigterm_on(receiver: Receiver, fake_provider: FakeProvider) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",),
                  app_env={"CALLS": "3", "WAIT": "60"}, signal_after=3)
    assert job.returncode == -signal.SIGTERM, job.stderr
    settle(receiver, 3)
    assert len(llm_spans(receiver)) == 3


# --------------------------------------------------------------------------------------------- long prompts

SELF_HOSTED_GRPC_LIMIT = 4 * 1024 * 1024  # grpc's default, which a self-hosted SigNoz collector keeps
# 60 calls with 100 KB prompts, all exported at exit in one batch of 120 spans (~6 MB).
LONG_PROMPTS = {"MODE": "async", "CALLS": "60", "CONCURRENCY": "20", "PROMPT_BYTES": "100000", "QUIET": "1",
                "OTEL_BSP_SCHEDULE_DELAY": "600000"}


def _trace_request_sizes(receiver: Receiver) -> list[int]:
    return [r.message.ByteSize() for r in receiver.requests if r.signal == "traces"]


def _long_prompt_job(provider: FakeProvider, tmp_path: Path, protocol: str, limit: int) -> tuple[Job, Receiver, dict]:
    """LONG_PROMPTS under `run` against a receiver refusing requests over `limit` bytes; the job, the (stopped)
    receiver holding what it got, and the report's trace counts."""
    with Receiver(max_request_bytes=limit) as receiver:
        job = run_job(receiver.endpoint(protocol), provider, app_env=LONG_PROMPTS,
                      args=("--protocol", protocol, "--shutdown-timeout", "20"), report_in=tmp_path)
        assert job.returncode == 0, job.stderr
        settle(receiver, 60)
    _every_call_once_with_its_http_span(receiver, provider, 60)
    assert not job.warning_lines()
    traces = job.report["signals"]["traces"]
    assert traces == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    return job, receiver, traces


def _every_call_once_with_its_http_span(receiver: Receiver, provider: FakeProvider, calls: int) -> None:
    """`calls` LiteLLM spans, each with its HTTP client span, and no span twice. The OpenAI client sends a request
    again when a connection fails, and each attempt is an HTTP span of its own: a busy CI machine once gave 122
    spans for 60 calls. So HTTP spans beyond one per call must be attempts the provider saw, or failed ones."""
    spans = receiver.spans()
    ids = [s.span_id for s in spans]
    assert len(ids) == len(set(ids)), "a span arrived twice"
    llm = llm_spans(receiver)
    http = [s for s in spans if s.name != "litellm_request"]
    assert len(llm) == calls and {s.name for s in http} == {"POST"}, {s.name for s in spans}
    assert {s.parent_span_id for s in http} == {s.span_id for s in llm}  # every call has its HTTP span
    chat_requests = sum(1 for path, _, _ in provider.requests if path.endswith("/chat/completions"))
    failed_attempts = sum(1 for s in http if s.status_code == 2)  # STATUS_CODE_ERROR
    # Each HTTP span beyond one per call is an attempt the provider also saw, or one that failed on the way.
    assert len(http) - calls <= (chat_requests - calls) + failed_attempts, (len(http), chat_requests, failed_attempts)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_long_prompts_reach_an_endpoint_that_takes_4_mib(fake_provider: FakeProvider, tmp_path: Path,
                                                         protocol: str) -> None:
    """One batch of long-prompt spans is larger than a self-hosted SigNoz collector takes: as one request it was
    refused whole, and with the gRPC exporter retrying the refusal until the exit deadline, 583 of 600 spans were
    lost in a measured run. It now goes as several requests under --max-request-size (default 4 MB)."""
    _, receiver, traces = _long_prompt_job(fake_provider, tmp_path, protocol, SELF_HOSTED_GRPC_LIMIT)
    assert all(len(s.attributes[PROMPT_ATTRIBUTE]) > 100_000 for s in llm_spans(receiver))  # whole, not cut
    sizes = _trace_request_sizes(receiver)
    assert len(sizes) >= 2 and max(sizes) <= 4_000_000 and sum(sizes) > SELF_HOSTED_GRPC_LIMIT
    assert receiver.too_large == 0  # never a request the endpoint had to refuse (HTTP counts them)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_endpoint_taking_less_than_the_limit_still_gets_everything(fake_provider: FakeProvider, tmp_path: Path,
                                                                       protocol: str) -> None:
    """An endpoint whose limit is below ours (1 MiB here) refuses the first requests (gRPC RESOURCE_EXHAUSTED,
    HTTP 413): each is sent again in halves, and the limit drops for the rest of the job."""
    _, receiver, traces = _long_prompt_job(fake_provider, tmp_path, protocol, 1024 * 1024)
    assert max(_trace_request_sizes(receiver)) <= 1024 * 1024
    if protocol == "http/protobuf":
        assert receiver.too_large >= 1  # the refusal happened, and was recovered from


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_span_larger_than_the_endpoint_takes_arrives_cut_to_fit(fake_provider: FakeProvider, tmp_path: Path,
                                                                  protocol: str) -> None:
    """One call's prompt (1.5 MB) is over the endpoint's 1 MiB: the span was lost whole (its latency, tokens and
    cost with it). It is sent again with its prompt cut, marked, and a note says so; the other spans of its batch
    arrive as they were. Over gRPC the refusal is not retried until the deadline (the spans after it would then
    be lost)."""
    app_env = {"CALLS": "10", "SINGLE_HUGE": "1500000", "QUIET": "1", "OTEL_BSP_SCHEDULE_DELAY": "600000"}
    with Receiver(max_request_bytes=1024 * 1024) as receiver:
        job = run_job(receiver.endpoint(protocol), fake_provider, app_env=app_env,
                      args=("--protocol", protocol, "--shutdown-timeout", "5"), report_in=tmp_path)
        assert job.returncode == 0, job.stderr
        settle(receiver, 10)
        spans = {int(re.search(r"hello (\d+)", s.attributes[PROMPT_ATTRIBUTE]).group(1)): s
                 for s in llm_spans(receiver)}
        # each call: litellm_request and its HTTP span (and raw_gen_ai_request on LiteLLM 1.75, which always makes it)
        assert sorted(spans) == list(range(10)) and len(receiver.spans()) == (20 if RAW_REQUEST_SPAN_OPTIONAL else 30)
    cut = spans[5]
    assert cut.attributes["signoz_litellm.truncated_attributes"] == [PROMPT_ATTRIBUTE]
    assert "too large for the endpoint]" in cut.attributes[PROMPT_ATTRIBUTE]
    assert cut.attributes["gen_ai.usage.prompt_tokens"] > 0 and "gen_ai.cost.total_cost" in cut.attributes
    assert all("signoz_litellm.truncated_attributes" not in spans[i].attributes for i in spans if i != 5)
    traces = job.report["signals"]["traces"]
    assert traces == {"sent": 20 if RAW_REQUEST_SPAN_OPTIONAL else 30, "failed": 0, "dropped": 0}
    assert not job.warning_lines()
    notes = [line for line in job.stderr.splitlines() if line.startswith("signoz-litellm: note:")]
    # LiteLLM 1.75's raw_gen_ai_request carries the huge prompt too, and is cut as well
    cut_spans = "1 span was" if RAW_REQUEST_SPAN_OPTIONAL else "2 spans were"
    assert len(notes) == 1 and f"note: {cut_spans} too large" in notes[0], job.stderr


def _logging_job(provider: FakeProvider, tmp_path: Path, limit: int, lines: str, count: int) -> tuple[Job, list, dict]:
    """A program logging `lines` (Python statements on logger `log`) under `run`, its log records exported at exit,
    against a receiver refusing requests over `limit` bytes; the job, the received log records and accepted log
    requests' sizes, and the report's log counts."""
    program = "import logging\nlog = logging.getLogger('eval')\n" + lines
    with Receiver(max_request_bytes=limit) as limited:
        job = run_job(limited.grpc_endpoint, provider, command=[sys.executable, "-c", program],
                      app_env={"OTEL_BLRP_SCHEDULE_DELAY": "600000"},
                      args=("--shutdown-timeout", "20"), report_in=tmp_path)
        assert job.returncode == 0, job.stderr
        limited.wait_for(lambda r: len(r.log_records()) >= count, timeout=5)
    sizes = [r.message.ByteSize() for r in limited.requests if r.signal == "logs"]
    return job, limited.log_records(), {"sizes": sizes, **job.report["signals"]["logs"]}


def test_long_log_records_reach_an_endpoint_that_takes_4_mib(fake_provider: FakeProvider, tmp_path: Path) -> None:
    """Log records are cut into requests the same way (a program logging each prompt, say)."""
    _, records, logs = _logging_job(fake_provider, tmp_path, SELF_HOSTED_GRPC_LIMIT,
                                    "for i in range(40):\n    log.warning('prompt %d %s', i, 'w' * 200_000)\n", 40)
    assert sorted(int(str(r.body).split()[1]) for r in records) == list(range(40))
    assert len(logs["sizes"]) >= 2 and max(logs["sizes"]) <= 4_000_000
    assert (logs["sent"], logs["failed"], logs["dropped"]) == (40, 0, 0)


def test_a_log_record_larger_than_the_endpoint_takes_arrives_cut_to_fit(fake_provider: FakeProvider,
                                                                       tmp_path: Path) -> None:
    job, records, logs = _logging_job(fake_provider, tmp_path, 1024 * 1024,
                                      "log.warning('small one')\nlog.warning('request body %s', 'z' * 1_500_000)\n", 2)
    by_word = {str(r.body).split()[0]: r for r in records}
    assert sorted(by_word) == ["request", "small"]
    assert by_word["request"].attributes["signoz_litellm.truncated_attributes"] == ["(body)"]
    assert str(by_word["request"].body).endswith("too large for the endpoint]")
    assert (logs["sent"], logs["failed"], logs["dropped"]) == (2, 0, 0)
    assert not job.warning_lines() and "signoz-litellm: note: 1 log record was too large" in job.stderr


# --------------------------------------------------------------------------------------------- whole jobs
# The report and --fail-on-telemetry-loss cover every Python process of the job, whatever starts them.

TWO_APPS_FROM_PYTHON = [sys.executable, "-c", "import subprocess, sys; "
                        f"[subprocess.run([sys.executable, {APP!r}], check=True) for _ in range(2)]"]
TWO_APPS_FROM_A_SHELL = ["bash", "-c", f"{sys.executable} {APP} && {sys.executable} {APP}"]


def summary_lines(job: Job) -> list[str]:
    return [line for line in job.stderr.splitlines() if line.startswith("signoz-litellm: telemetry report")]


@pytest.mark.parametrize("command", [TWO_APPS_FROM_PYTHON, TWO_APPS_FROM_A_SHELL], ids=["python", "shell"])
def test_one_report_counts_every_python_process_of_the_job(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, command: list[str]) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--report",), report_in=tmp_path,
                  app_env={"CALLS": "3", "TMPDIR": str(tmp_path)}, command=command)
    assert job.returncode == 0, job.stderr
    assert not list(tmp_path.glob("signoz-litellm-job-*"))  # the reporter removed the job's directory
    settle(receiver, 6)
    assert len(llm_spans(receiver)) == 6
    report = job.report
    python_processes = 3 if command is TWO_APPS_FROM_PYTHON else 2
    assert report["processes"] == python_processes
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert report["signals"]["logs"]["sent"] == len(receiver.log_records())
    assert report["signals"]["metrics"]["sent"] == len([r for r in receiver.requests if r.signal == "metrics"])
    [line] = summary_lines(job)
    assert f"spans {len(receiver.spans())} sent, 0 failed, 0 dropped" in line
    assert f"({python_processes} processes)" in line
    # The job's LLM calls, summed over its processes, are what their spans say.
    spans = llm_spans(receiver)
    llm = report["llm"]
    assert (llm["calls"], llm["failed"], llm["calls_without_cost"]) == (6, 0, 0)
    assert llm["input_tokens"] == sum(s.attributes["gen_ai.usage.input_tokens"] for s in spans) > 0
    assert llm["output_tokens"] == sum(s.attributes["gen_ai.usage.output_tokens"] for s in spans) > 0
    assert llm["cost_usd"] > 0
    assert llm["cost_usd"] == pytest.approx(sum(s.attributes["gen_ai.cost.total_cost"] for s in spans))
    assert list(llm["models"]) == ["gpt-4o-mini"]


POOL_APP = """
import multiprocessing, os, sys
import litellm

def work(i):
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                       messages=[{"role": "user", "content": f"worker {i}"}])
    print("call", i, os.getpid(), flush=True)
    return os.getpid()

if __name__ == "__main__":
    if os.environ.get("PARENT_FIRST"):
        # A call in the parent right before the fork: LiteLLM is still running its first success callback
        # (which imports modules) on its logging thread. Its own API key: the parent's HTTP client (and its
        # keep-alive connection, which forked children must not share) stays in the parent.
        litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-parent",
                           messages=[{"role": "user", "content": "parent"}])
    with multiprocessing.get_context(sys.argv[1]).Pool(2) as pool:
        print("workers", len(set(pool.map(work, range(6)))), flush=True)
        if sys.argv[2] == "close":  # workers leave when told, through os._exit(); else __exit__ terminates them
            pool.close()
            pool.join()
"""


@pytest.mark.parametrize(("method", "end", "parent_first"), [("fork", "close", False), ("fork", "terminate", False),
                                                             ("fork", "close", True), ("forkserver", "close", False)])
def test_multiprocessing_workers_deliver_and_are_counted(receiver: Receiver, fake_provider: FakeProvider,
                                                        tmp_path: Path, method: str, end: str, parent_first: bool) -> None:
    """Pool workers end with os._exit(): no atexit, so their spans were lost (all 6 here) and the report said 0
    sent. Terminated workers were signalled during that exit flush and died with it half done. A fork while
    LiteLLM's logging thread held the import lock hung the job at the worker's exit."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"PARENT_FIRST": "1"} if parent_first else {},
                  command=[sys.executable, write_app(tmp_path, "pool_app.py", POOL_APP), method, end])
    assert job.returncode == 0, job.stderr
    assert "workers" in job.stdout
    calls = 7 if parent_first else 6
    settle(receiver, calls)
    report = job.report
    prompts = sorted(s.attributes.get(PROMPT_ATTRIBUTE, "") for s in llm_spans(receiver))
    assert len(prompts) == calls, (prompts, job.stdout, job.stderr, report)
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert report["processes"] >= 3  # the parent and its two workers (and, with forkserver, the server)
    assert not job.warning_lines(), job.stderr


# Each worker, its call made, waits in C for a lock its parent holds (as an idle Pool worker waits for its next
# task on the pool's queue lock); then it gets SIGTERM on one of its threads other than the main one (tgkill), as
# the kernel may deliver `kill PID` or Pool.terminate()'s signal.
SIGNALLED_ON_ANOTHER_THREAD_APP = """
import ctypes, multiprocessing, os, platform, signal, time
import litellm

def work(lock, called, i):
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                       messages=[{"role": "user", "content": f"worker {i}"}])
    called.put(i)
    lock.acquire()

if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    lock, called = context.Lock(), context.SimpleQueue()
    lock.acquire()
    workers = [context.Process(target=work, args=(lock, called, i)) for i in range(2)]
    for worker in workers:
        worker.start()
    for _ in workers:
        called.get()
    libc = ctypes.CDLL(None, use_errno=True)
    for worker in workers:
        others = sorted(int(t) for t in os.listdir(f"/proc/{worker.pid}/task") if int(t) != worker.pid)
        print("threads besides the main one", len(others), flush=True)
        assert libc.syscall({"x86_64": 234, "aarch64": 131}[platform.machine()], worker.pid, others[-1],
                            signal.SIGTERM) == 0
    deadline = time.monotonic() + 60  # a hang guard: a worker whose handler never runs waits for the lock for ever
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    print("exit codes", [worker.exitcode for worker in workers], flush=True)
    lock.release()
    for worker in workers:
        worker.join()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64"),
                    reason="tgkill and /proc/PID/task as on Linux x86_64 / aarch64")
def test_a_worker_signalled_on_another_thread_delivers_and_dies(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """The kernel may hand a worker's SIGTERM to any of its threads (the exporters', LiteLLM's, gRPC's); Python
    runs the handler on the main thread only, which was waiting in C: the worker never ran the handler and never
    died, and `with Pool(2)` hung in __exit__ waiting for such a worker (2 runs in 12 on a loaded machine). The
    signal now reaches the main thread: each worker delivers its span, then dies of the signal."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  command=[sys.executable, write_app(tmp_path, "workers_app.py", SIGNALLED_ON_ANOTHER_THREAD_APP)])
    assert job.returncode == 0, job.stderr
    assert "threads besides the main one" in job.stdout, job.stdout
    assert f"exit codes {[-signal.SIGTERM] * 2}" in job.stdout, job.stdout
    settle(receiver, 2)
    assert sorted(re.search(r"worker \d", s.attributes[PROMPT_ATTRIBUTE]).group() for s in llm_spans(receiver)) == [
        "worker 0", "worker 1"]
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert not job.warning_lines(), job.stderr


ASYNC_POOL_APP = """
import asyncio, multiprocessing, os
import litellm

ARGS = dict(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test")

async def one(i):
    return await litellm.acompletion(messages=[{"role": "user", "content": f"async worker {i}"}], **ARGS)

def work(i):
    asyncio.run(one(i))
    return os.getpid()

if __name__ == "__main__":
    asyncio.run(one(-1))  # the parent's async client and its aiohttp session exist before the fork
    with multiprocessing.get_context("fork").Pool(2) as pool:
        workers = len(set(pool.map(work, range(8), chunksize=1)))
        pool.close()
        pool.join()
    print("workers", workers, flush=True)
"""


def test_async_calls_in_workers_forked_after_an_async_call_deliver(receiver: Receiver, fake_provider: FakeProvider,
                                                                   tmp_path: Path) -> None:
    """Workers forked after the parent's async call run their own event loops: each call's span arrives with its
    aiohttp client span under it, and none hangs or fails on a session made in the parent."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  command=[sys.executable, write_app(tmp_path, "async_pool_app.py", ASYNC_POOL_APP)])
    assert job.returncode == 0, job.stderr
    assert "workers" in job.stdout
    settle(receiver, 9)
    spans = llm_spans(receiver)
    assert len(spans) == 9, [s.attributes.get(PROMPT_ATTRIBUTE) for s in spans]
    assert all(any(h.kind == 3 and h.parent_span_id == s.span_id and h.trace_id == s.trace_id
                   for h in receiver.spans() if h.name != "litellm_request") for s in spans)
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert not job.warning_lines(), job.stderr


FORK_AFTER_CALL_APP = """
import multiprocessing, os, sys, time
import litellm

def work(n):
    for i in range(n):
        litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                           messages=[{"role": "user", "content": f"child {i}"}])

if __name__ == "__main__":
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-parent",
                       messages=[{"role": "user", "content": "parent"}])
    time.sleep(0.3)  # LiteLLM's logging thread is idle again: its executor counts one idle thread
    child = multiprocessing.get_context("fork").Process(target=work, args=(int(sys.argv[1]),))
    child.start()
    child.join()
    print("child", child.exitcode, flush=True)
"""


@pytest.mark.parametrize("calls", [1, 3])
def test_a_child_forked_after_a_call_logs_its_own_calls_at_once(receiver: Receiver, fake_provider: FakeProvider,
                                                                 tmp_path: Path, calls: int) -> None:
    """A fork copies LiteLLM's logging thread pool, which counts the parent's idle thread, but not the thread:
    the child's first callback was queued for a thread that does not exist there. A child making one call
    lost its span (and spent its whole exit deadline waiting for it); with more calls, the first span waited
    for the next call. The pool app above lost a worker's span this way whenever that worker made one call."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  command=[sys.executable, write_app(tmp_path, "fork_app.py", FORK_AFTER_CALL_APP), str(calls)])
    assert job.returncode == 0, job.stderr
    assert "child 0" in job.stdout
    settle(receiver, 1 + calls)
    prompts = sorted(s.attributes[PROMPT_ATTRIBUTE] for s in llm_spans(receiver))
    assert len(prompts) == 1 + calls, (prompts, job.stderr)
    assert all(f"child {i}" in "".join(prompts) for i in range(calls))  # JSON text, or the bare prompt up to 1.80.15
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert not job.warning_lines(), job.stderr  # no call waited for, or lost at, the exit deadline


SLOW_CALLBACK_APP = """
import os, time
import litellm

def slow_audit(kwargs, response, start_time, end_time):  # the program's own callback, ahead of ours
    time.sleep(30)

litellm.success_callback.insert(0, slow_audit)
litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                   messages=[{"role": "user", "content": "audited"}])
print("done 0", flush=True)
time.sleep(60)
"""


def test_a_call_whose_callbacks_outlast_the_deadline_is_counted_as_lost(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """Cancelled while LiteLLM was still running the program's slow callback, ahead of the one that makes the
    call's span: that span is never made. The job still ends within the deadline, and the report counts it."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  command=[sys.executable, write_app(tmp_path, "slow_app.py", SLOW_CALLBACK_APP)], signal_after=1)
    assert job.returncode == -signal.SIGTERM, job.stderr
    receiver.wait_for(lambda r: any(s.name.startswith("POST") for s in r.spans()), timeout=5)
    assert llm_spans(receiver) == []
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 1}
    assert report["signals"]["metrics"]["failed"] == 0  # the wait for LiteLLM left the export its share
    assert report["error"] == "LiteLLM had not logged 1 call by the 1 s exit deadline"
    [warning] = job.warning_lines()
    assert "1 span" in warning and "LiteLLM had not logged 1 call" in warning, warning


BACKLOG_APP = """
import os, time
import litellm

def slow_audit(kwargs, response, start_time, end_time):  # the program's own callback, ahead of ours
    time.sleep(3)

litellm.success_callback.insert(0, slow_audit)
for i in range(8):
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                       messages=[{"role": "user", "content": f"backlog {i}"}])
time.sleep(4)  # the callbacks LiteLLM took have finished
"""


def test_calls_whose_logging_litellm_dropped_are_counted_as_lost(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """LiteLLM's logging pool refuses callbacks beyond its backlog limit (LOGGING_EXECUTOR_MAX_PENDING_TASKS,
    10,000 by default; 2 here, behind a program callback that takes 3 s): those calls never get a span, and the
    report says so rather than claiming everything was delivered."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"LOGGING_EXECUTOR_MAX_PENDING_TASKS": "2"},
                  command=[sys.executable, write_app(tmp_path, "backlog_app.py", BACKLOG_APP)])
    assert job.returncode == 0, job.stderr
    settle(receiver, 2)
    assert len(llm_spans(receiver)) == 2, job.stderr
    report = job.report
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 6}
    assert report["error"].startswith("LiteLLM's logging backlog was full"), report
    [warning] = job.warning_lines()
    assert "6 spans" in warning and "logging backlog was full" in warning, warning


ASYNC_TIME_LIMIT_APP = """
import asyncio, os, sys
import litellm
from litellm.integrations.custom_logger import CustomLogger

class SlowAudit(CustomLogger):  # the program's own async callback: stuck for 5 s on every call
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        await asyncio.sleep(5)

ARGS = dict(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test")

async def main():
    if sys.argv[1] == "before":  # listed before the first call: ahead of the OTel logger
        litellm.logging_callback_manager.add_litellm_async_success_callback(SlowAudit())
    await litellm.acompletion(messages=[{"role": "user", "content": "first"}], **ARGS)
    if sys.argv[1] == "after":  # added once the OTel logger is in the list: behind it
        litellm.logging_callback_manager.add_litellm_async_success_callback(SlowAudit())
    await asyncio.gather(*(litellm.acompletion(messages=[{"role": "user", "content": f"limit {i}"}], **ARGS)
                           for i in range(3)))
    await asyncio.sleep(3)  # past LiteLLM's 1 s limit for each call's logging

asyncio.run(main())
"""


@pytest.mark.parametrize("order", ["before", "after"])
def test_calls_whose_async_logging_litellm_stopped_are_counted_as_lost(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, order: str) -> None:
    """LiteLLM's async logging worker stops a call's callbacks at its time limit (LOGGING_WORKER_MAX_TIME_PER_COROUTINE,
    20 s by default; 1 s here). Behind a slower callback of the program's, our logger never runs and the call gets no
    span: the report counts it. A call our logger had already logged is not counted, though LiteLLM stopped the
    slower callback after it."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"LOGGING_WORKER_MAX_TIME_PER_COROUTINE": "1"},
                  command=[sys.executable, write_app(tmp_path, "limit_app.py", ASYNC_TIME_LIMIT_APP), order])
    assert job.returncode == 0, job.stderr
    expected = 0 if order == "before" else 4
    receiver.wait_for(lambda r: len(llm_spans(r)) >= expected and any(s.name.startswith("POST") for s in r.spans()),
                      timeout=5)
    receiver.wait_for(lambda r: False, timeout=0.5)  # and no late ones
    assert len(llm_spans(receiver)) == expected, job.stderr
    report = job.report
    dropped = 4 - expected
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": dropped}
    if dropped:
        assert report["error"].startswith("LiteLLM stopped a call's logging at its 1 s limit"), report
        [warning] = job.warning_lines()
        assert f"{dropped} spans" in warning, warning
    else:
        assert not job.warning_lines(), job.stderr


FORK_NEXT_TO_EXPORTS_APP = """
import multiprocessing, sys, threading, time
from opentelemetry import trace

tracer = trace.get_tracer("forks")
stop = threading.Event()

def busy():  # a thread of the program producing spans: the exporter is almost always busy
    i = 0
    while not stop.is_set():
        with tracer.start_as_current_span(f"parent {i}"):
            pass
        i += 1
        time.sleep(0.002)

def child(n):
    for j in range(3):
        with tracer.start_as_current_span(f"child {n} {j}"):
            pass

threading.Thread(target=busy, daemon=True).start()
forking = 0.0  # seconds spent in fork (Process.start), the children's own run and exit left out
for n in range(int(sys.argv[1])):
    process = multiprocessing.get_context("fork").Process(target=child, args=(n,))
    started = time.monotonic()
    process.start()
    forking += time.monotonic() - started
    process.join()
    time.sleep(0.01)
print("forked in", round(forking, 2), flush=True)
from signoz_litellm_run.hook import fork_gate
print("fork waits", fork_gate._fork_gate.waits, flush=True)
stop.set()
"""


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_children_forked_while_spans_are_exported_deliver_theirs(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, protocol: str) -> None:
    """A fork while an export was on the wire: gRPC skipped its fork handlers (and said so on the program's
    stderr), and such a child could never export: 1 child in 100 to 300 lost all its spans, sometimes with
    its counts. Forks now wait for the exports in flight and hold new ones until they are done."""
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    children = 60
    job = run_job(endpoint, fake_provider, args=("--protocol", protocol), report_in=tmp_path,
                  app_env={"OTEL_BSP_SCHEDULE_DELAY": "5"},
                  command=[sys.executable, write_app(tmp_path, "forks.py", FORK_NEXT_TO_EXPORTS_APP), str(children)])
    assert job.returncode == 0, job.stderr
    assert "skipping fork() handlers" not in job.stderr, job.stderr
    expected = {f"child {n} {j}" for n in range(children) for j in range(3)}
    receiver.wait_for(lambda r: expected <= {s.name for s in r.spans()}, timeout=10)
    assert expected - {s.name for s in receiver.spans()} == set()
    report = job.report
    assert report["processes"] == children + 1
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}


def test_forks_wait_for_a_dead_endpoint_once_not_once_per_child(fake_provider: FakeProvider, tmp_path: Path) -> None:
    """Exports to an endpoint that never answers stay in flight for seconds: the first fork waits for them (at
    most 2 s), later ones do not wait again until an export succeeds."""
    with SilentServer() as silent:
        job = run_job(silent.endpoint, fake_provider, app_env={"OTEL_BSP_SCHEDULE_DELAY": "5"},
                      command=[sys.executable, write_app(tmp_path, "forks.py", FORK_NEXT_TO_EXPORTS_APP), "8"])
    assert job.returncode == 0, job.stderr
    [waits] = [line.split(" ", 2)[-1] for line in job.stdout.splitlines() if line.startswith("fork waits")]
    ran_out = json.loads(waits.lower())  # per wait: whether it ran out (a wait may end early when an export fails)
    assert ran_out.count(True) == 1 and ran_out[-1] is True, job.stdout  # after it ran out, no fork waited again


SHARED_CLIENT_APP = """
import multiprocessing, os, time
import litellm

def call(text):
    litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                       messages=[{"role": "user", "content": text}])

def child(n):
    call(f"child {n} a")
    call(f"child {n} b")

if __name__ == "__main__":
    call("parent a")  # LiteLLM caches its HTTP client, and the client keeps this connection open
    time.sleep(0.3)
    children = [multiprocessing.get_context("fork").Process(target=child, args=(n,)) for n in range(2)]
    for process in children:
        process.start()
    for process in children:
        process.join()
    call("parent b")
    print("exit codes", [p.exitcode for p in children], flush=True)
"""


def test_forked_children_open_their_own_connections_to_the_provider(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """LiteLLM keeps one HTTP client per key and the client keeps its connections open: children forked after a
    call sent their requests on the parent's socket, several processes at once, and their requests and answers
    mixed (a garbled request came back as a 400 whose exception cannot be unpickled, and a Pool's map then
    hung forever; 1 run in 4 of 40 calls in 4 workers, with or without telemetry). A forked child now leaves
    the parent's open connections to the parent."""
    job = run_job(receiver.grpc_endpoint, fake_provider,
                  command=[sys.executable, write_app(tmp_path, "shared_client.py", SHARED_CLIENT_APP)])
    assert job.returncode == 0, job.stderr
    assert "exit codes [0, 0]" in job.stdout, job.stdout
    port_of = {}
    for (path, _, body), port in zip(fake_provider.requests, fake_provider.peers):
        if path.endswith("/chat/completions"):
            port_of[body["messages"][0]["content"]] = port
    assert set(port_of) == {"parent a", "parent b", "child 0 a", "child 0 b", "child 1 a", "child 1 b"}
    assert port_of["parent b"] == port_of["parent a"]  # the parent keeps its connection
    assert port_of["child 0 a"] not in (port_of["parent a"], port_of["child 1 a"]), port_of
    assert port_of["child 1 a"] != port_of["parent a"], port_of
    settle(receiver, 6)
    assert len(llm_spans(receiver)) == 6


def test_a_job_that_runs_no_python_says_so(receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--report",), report_in=tmp_path,
                  command=["bash", "-c", "echo no python here; exit 7"])
    assert job.returncode == 7, job.stderr  # the command's own status
    [line] = summary_lines(job)
    assert "no process of the job sent telemetry" in line
    assert job.report["processes"] == 0


@pytest.fixture(scope="module")
def python_without_us(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The interpreter of a fresh virtual environment with nothing installed: signoz-litellm cannot load there."""
    where = tmp_path_factory.mktemp("venv-without-signoz-litellm")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = str(where / "bin" / "python")
    probe = subprocess.run([python, "-c", "import signoz_litellm_run"], cwd=where, capture_output=True)
    assert probe.returncode != 0, "the fresh environment can import signoz_litellm_run"
    return python


@pytest.mark.parametrize("where", ["elsewhere", "project"])
def test_a_python_without_signoz_litellm_is_named_in_the_report(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, python_without_us: str, where: str) -> None:
    """The command's Python is not the one signoz-litellm is installed in: the top-level process (exec'd, same
    pid) still reports for the job, and says why nothing was sent. Run from elsewhere, our package cannot be
    imported there; from the project's directory (on the command's PYTHONPATH) it can, but OpenTelemetry cannot."""
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--report",), report_in=tmp_path / "reports",  # made
                  app_env={"TMPDIR": str(tmp_path)}, command=[python_without_us, "-c", "print('hi')"],
                  cwd=tmp_path if where == "elsewhere" else None)
    assert job.returncode == 0, job.stderr
    assert job.stdout == "hi\n"
    if where == "elsewhere":  # the process's own line names the fix
        assert (f"signoz-litellm: telemetry is off in this process ({python_without_us}): No module named "
                f"'signoz_litellm_run'. Install signoz-litellm there ({python_without_us} -m pip install "
                "signoz-litellm)") in job.stderr, job.stderr
    else:
        assert "signoz-litellm: telemetry could not start in this process: ModuleNotFoundError" in job.stderr
    [line] = summary_lines(job)
    cause = "No module named 'signoz_litellm_run'" if where == "elsewhere" else "No module named 'opentelemetry'"
    assert f"no process of the job sent telemetry: telemetry could not start in 1 Python process ({python_without_us}: " \
        in line, line
    assert cause in line, line
    report = job.report
    assert (report["processes"], report["processes_without_telemetry"]) == (0, 1)
    assert report["without_telemetry_reason"].startswith(python_without_us) and cause in report["without_telemetry_reason"]
    assert not list(tmp_path.glob("signoz-litellm-job-*"))  # the reporter removed the job's directory


def test_fail_on_telemetry_loss_fails_a_job_in_which_no_python_could_send(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, python_without_us: str) -> None:
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",),
                  command=[python_without_us, "-c", "pass"], cwd=tmp_path)
    assert job.returncode == 3, job.stderr
    assert "no Python process of the job could send telemetry" in job.stderr
    # One Python of the job without telemetry, one with: the job is reported, not failed (a helper script run
    # by the system's Python is not an LLM job), and the calls of the one with telemetry arrive.
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss", "--report"),
                  app_env={"CALLS": "2"}, command=["bash", "-c", f"{python_without_us} -c pass && {sys.executable} {APP}"],
                  cwd=tmp_path)
    assert job.returncode == 0, job.stderr
    [line] = summary_lines(job)
    assert "spans 4 sent, 0 failed, 0 dropped" in line, line  # two calls: litellm_request + its HTTP span each
    assert f"Telemetry could not start in 1 other Python process ({python_without_us}: " in line, line
    settle(receiver, 2)
    assert len(llm_spans(receiver)) == 2


def test_python_options_that_keep_telemetry_from_starting_are_named(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """`python -I` (or -E, -S) never reads our sitecustomize: said at once, reported, and failed on request."""
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"CALLS": "1"}, command=[sys.executable, "-I", APP])
    assert job.returncode == 0, job.stderr
    assert "done 0" in job.stdout
    assert [line for line in job.warning_lines() if "python -I isolates Python from PYTHONPATH" in line], job.stderr
    report = job.report
    assert (report["processes"], report["processes_without_telemetry"]) == (0, 1)
    assert report["without_telemetry_reason"] == f"{sys.executable} -I: telemetry cannot start"
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",),
                  command=[sys.executable, "-S", "-c", "print('no site-packages either')"])
    assert job.returncode == 3, job.stderr
    assert f"no Python process of the job could send telemetry ({sys.executable} -S: telemetry cannot start)" \
        in job.stderr
    assert receiver.spans() == []


def test_fail_on_telemetry_loss_sees_the_loss_of_a_python_process_a_shell_started(
        receiver: Receiver, fake_provider: FakeProvider) -> None:
    receiver.behavior = "fail"
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--fail-on-telemetry-loss",), app_env={"CALLS": "1"},
                  command=["bash", "-c", f"{sys.executable} {APP}"])
    assert job.returncode == 3, job.stderr
    assert len(job.warning_lines()) == 1  # from the Python process that lost it


def test_a_report_does_not_cost_the_exec_of_a_python_command(receiver: Receiver, fake_provider: FakeProvider) -> None:
    """The launcher stays only when it must: a Python command is still exec'd (same pid) with --report."""
    env = {k: v for k, v in os.environ.items() if k not in CI_VARS and not k.startswith(("OTEL_", "SIGNOZ_"))}
    for command, same_pid in (([sys.executable, "-c", "import os; print(os.getpid())"], True),
                              (["bash", "-c", "echo $$"], False)):
        proc = subprocess.Popen([sys.executable, "-m", "signoz_litellm_run", "run", "--no-bootstrap", "--report",
                                 "--endpoint", receiver.grpc_endpoint, "--", *command],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert (int(out.split()[-1]) == proc.pid) is same_pid, (command, out, proc.pid)
        assert len([line for line in err.splitlines() if "telemetry report" in line]) == 1, err


# --------------------------------------------------------------------------------------------- CI


def test_github_actions_run_gets_ci_attributes_and_a_step_summary(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    github = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKFLOW": "nightly-eval",
              "GITHUB_RUN_ID": "4242", "GITHUB_REPOSITORY": "acme/evals", "GITHUB_SERVER_URL": "https://github.com",
              "GITHUB_REF_NAME": "main", "GITHUB_SHA": "abc123", "OTEL_RESOURCE_ATTRIBUTES": "vcs.ref.head.name=mine"}
    job = run_job(receiver.grpc_endpoint, fake_provider, app_env={"CALLS": "1", **github})
    assert job.returncode == 0, job.stderr
    assert any("telemetry report" in line for line in job.stderr.splitlines())  # on by default in CI
    settle(receiver, 1)
    resource = llm_spans(receiver)[0].resource
    assert resource["cicd.pipeline.name"] == "nightly-eval"
    assert resource["cicd.pipeline.run.id"] == "4242"
    assert resource["vcs.repository.url.full"] == "https://github.com/acme/evals"
    assert resource["vcs.ref.head.revision"] == "abc123"
    assert resource["vcs.ref.head.name"] == "mine"  # the user's attribute wins
    text = summary.read_text()
    assert "SigNoz telemetry" in text and "| spans |" in text and "all telemetry delivered" in text
    assert "| `gpt-4o-mini` | 1 | 0 |" in text, text  # the run's LLM calls, per model


def test_the_report_counts_failed_llm_calls_per_model(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    app = tmp_path / "mixed.py"
    app.write_text(
        "import os, litellm\n"
        "args = {'api_base': os.environ['FAKE_BASE'], 'api_key': 'sk-fake', 'num_retries': 0}\n"
        "for text in ('one', 'FAIL', 'two'):\n"
        "    try:\n"
        "        litellm.completion(model='openai/gpt-4o-mini', messages=[{'role': 'user', 'content': text}], **args)\n"
        "    except Exception:\n"
        "        print('failed as planned')\n"
        "litellm.embedding(model='openai/text-embedding-3-small', input=['a b c'], **args)\n")
    summary = tmp_path / "summary.md"
    job = run_job(receiver.grpc_endpoint, fake_provider, report_in=tmp_path,
                  app_env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
                  command=[sys.executable, str(app)])
    assert job.returncode == 0, job.stderr
    assert "failed as planned" in job.stdout
    llm = job.report["llm"]
    assert {m: (c["calls"], c["failed"]) for m, c in llm["models"].items()} == {
        "gpt-4o-mini": (3, 1), "text-embedding-3-small": (1, 0)}
    assert (llm["calls"], llm["failed"]) == (4, 1)
    settle(receiver, 4)
    spans = llm_spans(receiver)
    assert llm["input_tokens"] == sum(s.attributes.get("gen_ai.usage.input_tokens", 0) for s in spans)
    text = summary.read_text()
    assert "| `gpt-4o-mini` | 3 | 1 |" in text and "| **all** | 4 | 1 |" in text, text


def test_uvicorn_graceful_shutdown_still_works_and_delivers(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """uvicorn (the LiteLLM proxy's server) installs its own SIGTERM handler, shuts down gracefully,
    restores the previous handler and raises the signal again: all of it must keep working."""
    pytest.importorskip("uvicorn")
    import urllib.request

    (tmp_path / "asgi_app.py").write_text(
        "import os, litellm\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await litellm.acompletion(model='openai/gpt-4o-mini', api_base=os.environ['FAKE_BASE'],\n"
        "                              api_key='sk-fake', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n")
    port = unused_port()
    env = {k: v for k, v in os.environ.items() if k not in CI_VARS and not k.startswith(("OTEL_", "SIGNOZ_"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", FAKE_BASE=fake_provider.base_url, SIGNOZ_BOOTSTRAP="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint, "--", sys.executable,
         "-m", "uvicorn", "asgi_app:app", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr and proc.stderr.read()
                time.sleep(0.2)
        for _ in range(3):
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read() == b"ok"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Application shutdown complete" in err  # uvicorn's own graceful shutdown ran
    assert proc.returncode == -signal.SIGTERM  # as without the launcher: uvicorn re-raises the signal
    settle(receiver, 4)
    assert len(llm_spans(receiver)) == 4

"""Batch jobs and signals: SIGTERM, SIGINT, SIGHUP (nohup), the program's own handlers, asyncio and exit
paths; every completed call delivered, the status kept.

Each test runs a real LiteLLM job (tests/support/batch_app.py) under `signoz-litellm run` in a child process,
against the real OTLP receiver and the fake provider, and asserts on what arrived."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from signoz_litellm_run.loopback import unused_port
from signoz_litellm_run.receiver import Receiver
from tests.support.batch_jobs import llm_spans, run_job, settle, write_app
from tests.support.fake_provider import FakeProvider
from tests.support.litellm_release import PROMPT_ATTRIBUTE

# A job of a few seconds can take a minute on a loaded machine (the suite's other workers, scripts/stress-test's
# CPU burners): run_job's guard only catches a hang, and this bound sits above it.
pytestmark = pytest.mark.timeout(300)


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

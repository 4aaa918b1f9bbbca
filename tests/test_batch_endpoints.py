"""Batch jobs against an endpoint that refuses, hangs or rejects: a bounded exit, the status kept, the loss
counted in the report, one retry at exit, --fail-on-telemetry-loss."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from signoz_litellm_run.loopback import SilentServer, unused_port
from signoz_litellm_run.receiver import Receiver
from tests.support.batch_jobs import llm_spans, run_job, settle
from tests.support.fake_provider import FakeProvider

# A job of a few seconds can take a minute on a loaded machine (the suite's other workers, scripts/stress-test's
# CPU burners): run_job's guard only catches a hang, and this bound sits above it.
pytestmark = pytest.mark.timeout(300)


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

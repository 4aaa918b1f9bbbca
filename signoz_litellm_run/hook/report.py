"""The delivery report, written at the end of a process of the job from `delivery_count.Ledger`'s counts.

- Any process that lost telemetry prints one warning line on stderr naming the endpoint and what
  was not delivered (its exit status is left alone); one that sent spans or log records cut to fit the
  endpoint (`hook/export_size.py`) prints one note line.
- When the job has a report directory (`SIGNOZ_LITELLM_JOB_DIR`, see `signoz_litellm_run.delivery`), every
  process leaves its counts there, except the top-level process `run` exec'd (`SIGNOZ_LITELLM_ROOT_PID` is
  its pid): it exits last, sums its own counts and the others', removes the directory and publishes the job's
  report: a one-line summary when asked (`SIGNOZ_LITELLM_REPORT=1`), JSON (`SIGNOZ_LITELLM_REPORT_FILE`) and,
  in GitHub Actions, a Markdown table appended to `$GITHUB_STEP_SUMMARY`. When the launcher supervises the job
  instead, no process is the top-level one and the launcher publishes.
"""

from __future__ import annotations

import os
from typing import Any

from signoz_litellm_run import delivery
from signoz_litellm_run.hook import delivery_count, export_size, llm_tally, shutdown

ROOT_PID_ENV = delivery.ROOT_PID_ENV
# Where the launcher sent the job, as at start: a program (LiteLLM's weave integration) may rewrite these.
_AT_START = {name: os.environ.get(name) for name in (
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME")}


def install() -> None:
    shutdown.on_exit(_write)


def is_root_process(environ: Any = os.environ) -> bool:
    return environ.get(ROOT_PID_ENV) == str(os.getpid())


def build(ledger: delivery_count.Ledger, seconds: float) -> dict[str, Any]:
    signals = ledger.snapshot()
    lost = sum(v["failed"] + v["dropped"] for v in signals.values())
    return {
        "endpoint": _endpoint(ledger),
        "protocol": _AT_START["OTEL_EXPORTER_OTLP_PROTOCOL"] or "grpc",
        "service_name": _AT_START["OTEL_SERVICE_NAME"],
        "pid": os.getpid(),
        "processes": 1,
        "signals": signals,
        "lost": lost,
        "error": ledger.last_error if lost else None,
        "exit_flush_seconds": round(seconds, 3),
        "llm": delivery.llm_totals(llm_tally.snapshot()),
    }


def trimmed_line(counts: dict[str, int], endpoint: str) -> str:
    items = [f"{n:,} {delivery.noun(s, n)}" for s, n in counts.items() if n]
    verb = "was" if sum(counts.values()) == 1 else "were"
    return (f"signoz-litellm: note: {' and '.join(items)} {verb} too large for {endpoint} and went with the longest "
            f"values cut (named in {export_size.TRUNCATED_KEY}); OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT caps values "
            "yourself.")


def _endpoint(ledger: delivery_count.Ledger) -> str:
    return _AT_START["OTEL_EXPORTER_OTLP_ENDPOINT"] or next(iter(ledger.endpoints.values()), "") or "?"


def _write(ledger: delivery_count.Ledger, seconds: float) -> None:
    report = build(ledger, seconds)
    if report["lost"]:
        delivery.stderr(delivery.warning_line(report))
    if any(export_size.trimmed.values()):
        delivery.stderr(trimmed_line(export_size.trimmed, report["endpoint"]))
    job_dir = os.environ.get(delivery.JOB_DIR_ENV)
    if is_root_process():
        delivery.publish_for_job(report, job_dir, os.environ)
    elif job_dir:
        delivery.leave(job_dir, report)

"""The delivery report, written at the end of a process of the job from `shutdown.Ledger`'s counts.

- Any process that lost telemetry prints one warning line on stderr naming the endpoint and what
  was not delivered (its exit status is left alone).
- The top-level process of the job (`SIGNOZ_LITELLM_ROOT_PID` is its pid, or its parent is the
  supervising launcher) also, when asked (`SIGNOZ_LITELLM_REPORT=1`), prints a one-line summary,
  writes it as JSON (`SIGNOZ_LITELLM_REPORT_FILE`) and, in GitHub Actions, appends a Markdown table
  to `$GITHUB_STEP_SUMMARY`. Under `--fail-on-telemetry-loss` it hands the counts to the launcher
  through `SIGNOZ_LITELLM_STATUS_FILE`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from signoz_litellm_run.hook import shutdown

REPORT_ENV = "SIGNOZ_LITELLM_REPORT"
REPORT_FILE_ENV = "SIGNOZ_LITELLM_REPORT_FILE"
STATUS_FILE_ENV = "SIGNOZ_LITELLM_STATUS_FILE"
ROOT_PID_ENV = "SIGNOZ_LITELLM_ROOT_PID"
SUPERVISOR_PID_ENV = "SIGNOZ_LITELLM_SUPERVISOR_PID"
_NOUNS = {"traces": ("span", "spans"), "logs": ("log record", "log records"),
          "metrics": ("metric export", "metric exports")}


def install() -> None:
    shutdown.on_exit(_write)


def is_root_process(environ: Any = os.environ) -> bool:
    pid = str(os.getpid())
    return environ.get(ROOT_PID_ENV) == pid or (
        bool(environ.get(SUPERVISOR_PID_ENV)) and environ.get(SUPERVISOR_PID_ENV) == str(os.getppid()))


def build(ledger: shutdown.Ledger, seconds: float) -> dict[str, Any]:
    signals = ledger.snapshot()
    lost = sum(v["failed"] + v["dropped"] for v in signals.values())
    return {
        "endpoint": _endpoint(ledger),
        "protocol": os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        "service_name": os.environ.get("OTEL_SERVICE_NAME"),
        "pid": os.getpid(),
        "signals": signals,
        "lost": lost,
        "error": ledger.last_error if lost else None,
        "exit_flush_seconds": round(seconds, 3),
    }


def _endpoint(ledger: shutdown.Ledger) -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or next(iter(ledger.endpoints.values()), "") or "?"


def _count(n: int, signal_name: str) -> str:
    singular, plural = _NOUNS[signal_name]
    return f"{n} {singular if n == 1 else plural}"


def summary_line(report: dict[str, Any]) -> str:
    parts = []
    for signal_name, c in report["signals"].items():
        parts.append(f"{_NOUNS[signal_name][1]} {c['sent']} sent, {c['failed']} failed, {c['dropped']} dropped")
    return (f"signoz-litellm: telemetry report for {report['service_name'] or 'this job'} -> "
            f"{report['endpoint']} ({report['protocol']}): " + "; ".join(parts) + ".")


def warning_line(report: dict[str, Any]) -> str:
    lost = [_count(c["failed"] + c["dropped"], s) for s, c in report["signals"].items() if c["failed"] + c["dropped"]]
    reason = f" ({report['error']})" if report.get("error") else ""
    return (f"signoz-litellm: warning: could not deliver {', '.join(lost)} to {report['endpoint']}{reason}; "
            "the command's exit status is unchanged.")


def markdown(report: dict[str, Any]) -> str:
    rows = "\n".join(f"| {_NOUNS[s][1]} | {c['sent']} | {c['failed']} | {c['dropped']} |"
                     for s, c in report["signals"].items())
    verdict = "all telemetry delivered" if not report["lost"] else f"**{report['lost']} item(s) not delivered**"
    return (f"### SigNoz telemetry: {report['service_name'] or 'job'}\n\n"
            f"Sent to `{report['endpoint']}` ({report['protocol']}): {verdict}.\n\n"
            "| signal | sent | failed | dropped |\n|---|---:|---:|---:|\n" + rows + "\n\n")


def _write(ledger: shutdown.Ledger, seconds: float) -> None:
    report = build(ledger, seconds)
    if report["lost"]:
        _stderr(warning_line(report))
    if not is_root_process():
        return
    if os.environ.get(REPORT_ENV) == "1":
        _stderr(summary_line(report))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary and os.environ.get("GITHUB_ACTIONS") == "true":
            _write_file(summary, markdown(report), append=True, quiet=True)
    for env in (REPORT_FILE_ENV, STATUS_FILE_ENV):
        path = os.environ.get(env)
        if path:
            _write_file(path, json.dumps(report, indent=2) + "\n")


def _stderr(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def _write_file(path: str, text: str, *, append: bool = False, quiet: bool = False) -> None:
    """Write (or append) text; a failure is one warning line, or nothing when `quiet`."""
    try:
        with open(path, "a" if append else "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        if not quiet:
            _stderr(f"signoz-litellm: warning: cannot write the telemetry report to {path}: {exc.strerror}")

"""The delivery report of a job: what its processes sent, failed to send and dropped, as a line, JSON, Markdown.

Every Python process of a job counts its own exports (`hook/delivery_count.Ledger`, one report per process,
`hook/report.build`). When a report is wanted (`--report`, on in CI; `--report-file`;
`--fail-on-telemetry-loss`), `run` gives the job a directory (SIGNOZ_LITELLM_JOB_DIR): each process leaves
its counts there as `<pid>.json` when it exits, and one reporter sums them all:
- the top-level process, when `run` exec'd a Python program (it exits last: its own counts plus those of
  the Python processes it started, such as multiprocessing workers);
- the launcher itself, when it stays with the job: to supervise it (a command that is not a Python program,
  such as a shell script, `make`, `uv run`, or `--fail-on-telemetry-loss`, which needs the command's status),
  or to host `--local`'s receiver.
A Python process in which telemetry could not start (an interpreter from an environment without
signoz-litellm; `telemetry_off`) leaves that instead, and is named in the report; when it is the top-level
process, it still reports for the job.

Imported by the hook in every Python process of the job, and loaded by file path by our sitecustomize in a
Python that cannot import signoz-litellm (any Python 3.7 or later): standard library only, nothing done at
import.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from typing import Any

JOB_DIR_ENV = "SIGNOZ_LITELLM_JOB_DIR"
REPORT_ENV = "SIGNOZ_LITELLM_REPORT"
REPORT_FILE_ENV = "SIGNOZ_LITELLM_REPORT_FILE"
ROOT_PID_ENV = "SIGNOZ_LITELLM_ROOT_PID"  # the pid of the top-level process `run` exec'd
SIGNALS = ("traces", "logs", "metrics")
COUNTS = ("sent", "failed", "dropped")
_NOUNS = {"traces": ("span", "spans"), "logs": ("log record", "log records"),
          "metrics": ("metric export", "metric exports")}
_SUFFIX = ".json"


# --------------------------------------------------------------------------------------------- numbers


def combine(reports: Iterable[Mapping[str, Any]], *, pid: int | None, endpoint: str | None = None,
            protocol: str | None = None, service_name: str | None = None) -> dict[str, Any]:
    """One report for the job: the processes' counts summed. Where the values differ, the first report's
    endpoint, protocol and service name are kept (or the given ones when there is no report)."""
    reports = list(reports)
    first = reports[0] if reports else {}
    signals = {s: {c: 0 for c in COUNTS} for s in SIGNALS}
    for report in reports:
        for signal_name, counts in (report.get("signals") or {}).items():
            if signal_name in signals:
                for count in COUNTS:
                    signals[signal_name][count] += int(counts.get(count, 0) or 0)
    lost = sum(c["failed"] + c["dropped"] for c in signals.values())
    without = sum(_int(r.get("processes_without_telemetry"), 0) for r in reports)
    return {
        "endpoint": first.get("endpoint") or endpoint or "?",
        "protocol": first.get("protocol") or protocol or "grpc",
        "service_name": first.get("service_name") or service_name,
        "pid": pid,
        "processes": sum(_int(r.get("processes"), 1) for r in reports),
        "processes_without_telemetry": without,
        "without_telemetry_reason": next((r["without_telemetry_reason"] for r in reports
                                          if r.get("without_telemetry_reason")), None) if without else None,
        "signals": signals,
        "lost": lost,
        "error": next((r["error"] for r in reports if r.get("error")), None) if lost else None,
        "exit_flush_seconds": max((float(r.get("exit_flush_seconds", 0) or 0) for r in reports), default=0.0),
        "llm": llm_totals(_sum_models(r.get("llm") for r in reports)),
    }


LLM_FIELDS = ("calls", "failed", "input_tokens", "output_tokens", "cost_usd", "calls_without_cost")


def llm_totals(models: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The LLM calls of a process or a job (as LiteLLM logged them): totals, and per model."""
    totals: dict[str, Any] = {f: 0 for f in LLM_FIELDS}
    for counts in models.values():
        _add_counts(totals, counts)
    totals["cost_usd"] = round(totals["cost_usd"], 9)
    totals["models"] = {m: dict(c, cost_usd=round(c.get("cost_usd", 0) or 0, 9)) for m, c in sorted(models.items())}
    return totals


def _dollars(cost: float) -> str:
    """$1,234.57 from a dollar up; below, up to six decimals ($0.000015)."""
    if cost >= 1:
        return f"${cost:,.2f}"
    return "$" + (f"{cost:.6f}".rstrip("0").rstrip(".") or "0")


def _sum_models(llms: Iterable[Any]) -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for llm in llms:
        found = llm.get("models") if isinstance(llm, dict) else None
        for model, counts in (found.items() if isinstance(found, dict) else ()):
            _add_counts(models.setdefault(str(model), {f: 0 for f in LLM_FIELDS}), counts)
    return models


def _add_counts(into: dict[str, Any], counts: Any) -> None:
    """Add one model's (or process's) LLM counts; anything that is not a number counts as 0."""
    for field in LLM_FIELDS:
        value = counts.get(field, 0) if isinstance(counts, dict) else 0
        into[field] += value if isinstance(value, (int, float)) else 0


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def without_telemetry(reason: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """The report of a process in which telemetry could not start: it sent nothing, and says why."""
    nothing = combine([], pid=os.getpid(), endpoint=environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
                      protocol=environ.get("OTEL_EXPORTER_OTLP_PROTOCOL"), service_name=environ.get("OTEL_SERVICE_NAME"))
    return {**nothing, "processes_without_telemetry": 1, "without_telemetry_reason": reason}


def nothing_instrumented(report: Mapping[str, Any]) -> bool:
    """No process of the job sent telemetry, and at least one Python process ran without it: a job whose LLM
    calls were all unobserved (`--fail-on-telemetry-loss` treats it as a loss)."""
    return not report.get("processes", 1) and bool(report.get("processes_without_telemetry"))


# --------------------------------------------------------------------------------------------- words


def noun(signal_name: str, n: int) -> str:
    """What `n` items of a signal are called: "span" or "spans", "log record" or "log records"..."""
    singular, plural = _NOUNS[signal_name]
    return singular if n == 1 else plural


def _count(n: int, signal_name: str) -> str:
    return f"{n} {noun(signal_name, n)}"


def summary_line(report: Mapping[str, Any]) -> str:
    head = (f"signoz-litellm: telemetry report for {report['service_name'] or 'this job'} -> "
            f"{report['endpoint']} ({report['protocol']}): ")
    if nothing_instrumented(report):
        return head + f"no process of the job sent telemetry: telemetry {_without(report)}."
    if not report.get("processes", 1):
        return head + ("no process of the job sent telemetry through signoz-litellm (no Python program ran, or "
                       "one ran from an environment without signoz-litellm installed, or with python -I, -E or -S).")
    parts = [f"{_NOUNS[s][1]} {c['sent']} sent, {c['failed']} failed, {c['dropped']} dropped"
             for s, c in report["signals"].items()]
    processes = report.get("processes", 1)
    line = head + "; ".join(parts) + (f" ({processes} processes)." if processes > 1 else ".")
    if report.get("processes_without_telemetry"):
        line += f" Telemetry {_without(report, other=True)}."
    return line


def _without(report: Mapping[str, Any], *, other: bool = False) -> str:
    """E.g. "could not start in 1 Python process (/usr/bin/python3: No module named ...)"."""
    count = report.get("processes_without_telemetry") or 0
    reason = report.get("without_telemetry_reason")
    return (f"could not start in {count} {'other ' if other else ''}Python process{'es' if count != 1 else ''}"
            + (f" ({reason})" if reason else ""))


def warning_line(report: Mapping[str, Any]) -> str:
    lost = [_count(c["failed"] + c["dropped"], s) for s, c in report["signals"].items() if c["failed"] + c["dropped"]]
    reason = f" ({report['error']})" if report.get("error") else ""
    return (f"signoz-litellm: warning: could not deliver {', '.join(lost)} to {report['endpoint']}{reason}; "
            "the command's exit status is unchanged.")


def markdown(report: Mapping[str, Any]) -> str:
    rows = "\n".join(f"| {_NOUNS[s][1]} | {c['sent']} | {c['failed']} | {c['dropped']} |"
                     for s, c in report["signals"].items())
    if nothing_instrumented(report):
        verdict = f"**no process of the job sent telemetry**: telemetry {_without(report)}"
    elif not report.get("processes", 1):
        verdict = "no process of the job sent telemetry through signoz-litellm"
    elif report["lost"]:
        verdict = f"**{report['lost']} item(s) not delivered**"
    else:
        verdict = "all telemetry delivered"
    if report.get("processes", 1) and report.get("processes_without_telemetry"):
        verdict += f"; telemetry {_without(report, other=True)}"
    return (f"### SigNoz telemetry: {report['service_name'] or 'job'}\n\n"
            f"Sent to `{report['endpoint']}` ({report['protocol']}): {verdict}.\n\n"
            "| signal | sent | failed | dropped |\n|---|---:|---:|---:|\n" + rows + "\n\n" + _llm_markdown(report))


def _llm_markdown(report: Mapping[str, Any]) -> str:
    """The job's LLM calls per model (as LiteLLM logged them), with a total row when there are several models."""
    llm = report.get("llm") or {}
    models = llm.get("models") or {}
    if not models:
        return ""

    def row(name: str, c: Mapping[str, Any]) -> str:
        cost = _dollars(c["cost_usd"]) if c["calls"] > c["calls_without_cost"] else "unknown"
        if 0 < c["calls_without_cost"] < c["calls"]:
            cost += f" ({c['calls_without_cost']} calls unpriced)"
        return (f"| {name} | {c['calls']:,} | {c['failed']:,} | {c['input_tokens']:,} | {c['output_tokens']:,} "
                f"| {cost} |")

    rows = [row(f"`{model}`", counts) for model, counts in models.items()]
    if len(models) > 1:
        rows.append(row("**all**", llm))
    return ("LLM calls (as LiteLLM logged them):\n\n| model | calls | failed | input tokens | output tokens | cost |\n"
            "|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n")


# --------------------------------------------------------------------------------------------- files


def publish(report: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """What the reporter does with the job's report: the line on stderr and the GitHub step summary when
    the report is on, the JSON file when asked. Never raises."""
    if environ.get(REPORT_ENV) == "1":
        stderr(summary_line(report))
        summary = environ.get("GITHUB_STEP_SUMMARY")
        if summary and environ.get("GITHUB_ACTIONS") == "true":
            write_text(summary, markdown(report), append=True, quiet=True)
    path = environ.get(REPORT_FILE_ENV)
    if path:
        write_text(path, json.dumps(report, indent=2) + "\n")


def publish_for_job(own: Mapping[str, Any], job_dir: str | None, environ: Mapping[str, str]) -> None:
    """In the top-level process: its own report and those the job's other processes left, published once;
    the job's directory is removed."""
    report: Mapping[str, Any] = own
    if job_dir:
        report = combine([own, *collect(job_dir)], pid=own.get("pid"))
        remove(job_dir)
    publish(report, environ)


def telemetry_off(reason: str, environ: Mapping[str, str] = os.environ) -> None:
    """In a process of the job in which telemetry could not start: leave that for the reporter, or, in the
    top-level process, report for the job when it exits. Nothing without a job directory (no report wanted)."""
    job_dir = environ.get(JOB_DIR_ENV)
    if not job_dir:
        return
    report = without_telemetry(reason, environ)
    if environ.get(ROOT_PID_ENV) == str(os.getpid()):
        import atexit

        atexit.register(publish_for_job, report, job_dir, dict(environ))
    else:
        leave(job_dir, report)


def leave(job_dir: str, report: Mapping[str, Any]) -> None:
    """Leave one process's report in the job's directory for the reporter (written whole, then renamed)."""
    final = os.path.join(job_dir, f"{os.getpid()}{_SUFFIX}")
    partial = final + ".partial"
    try:
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(report, f)
        os.replace(partial, final)
    except OSError:  # the reporter is gone (a process that outlived the job): nobody to tell
        pass


def collect(job_dir: str) -> list[dict[str, Any]]:
    """The reports the job's processes left, in the order they were written; unreadable ones skipped."""
    found = []
    try:
        names = [n for n in os.listdir(job_dir) if n.endswith(_SUFFIX)]
    except OSError:
        return []
    for name in names:
        path = os.path.join(job_dir, name)
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
            found.append((os.stat(path).st_mtime_ns, report))
        except (OSError, ValueError):
            continue
    return [r for _, r in sorted(found, key=lambda item: item[0]) if isinstance(r, dict)]


def remove(job_dir: str) -> None:
    shutil.rmtree(job_dir, ignore_errors=True)


def make_job_dir() -> str:
    """A new directory for the job's processes to leave their counts in."""
    import tempfile  # only a job that reports has a job directory

    return tempfile.mkdtemp(prefix="signoz-litellm-job-")


def job_report(job_dir: str, pid: int | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """For a launcher that stayed with the job (it supervises, or hosts `--local`'s receiver), once the command has
    ended: the counts the job's processes left, summed (`pid`: the command's); the directory removed."""
    try:
        return combine(collect(job_dir), pid=pid, endpoint=environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
                       protocol=environ.get("OTEL_EXPORTER_OTLP_PROTOCOL"),
                       service_name=environ.get("OTEL_SERVICE_NAME"))
    finally:
        remove(job_dir)


def stderr(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def write_text(path: str, text: str, *, append: bool = False, quiet: bool = False) -> None:
    """Write (or append) text; a failure is one warning line, or nothing when `quiet`."""
    try:
        parent = os.path.dirname(path)
        if parent and not append:  # as pytest's --junitxml: the directory the file is asked in is made
            os.makedirs(parent, exist_ok=True)
        with open(path, "a" if append else "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        if not quiet:
            stderr(f"signoz-litellm: warning: cannot write the telemetry report to {path}: {exc.strerror}")

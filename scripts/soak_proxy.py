#!/usr/bin/env python3
"""Soak: the LiteLLM proxy under `signoz-litellm run` for tens of thousands of requests, then an endpoint outage.

Phase 1 (steady): --requests chats (default 50,000) at --concurrency 32 through one proxy (--workers uvicorn
workers; 1 = the proxy's own process) against the fake provider on loopback, default export settings. Every
--sample-every answered chats the resident memory (RSS) of the proxy's every process is sampled; reported: each
process's RSS at the 10,000th and at the last request and the growth between them (goal <= 5%), the chats' latency,
and after SIGTERM the `litellm_request` spans the receiver counted against the chats answered (goal: equal), with
the job's report (`--report-file`): spans sent, failed, dropped (dropped = the span processor's queue was full).

Phase 2 (outage): a fresh proxy, --phase-seconds of load, then the receiver stopped for --outage seconds (the port
refuses connections), then brought back for --phase-seconds more. Reported: the chats' latency before, during and
after (goal: unchanged during), the job report's lost spans and whether the proxy said so on stderr (the loss
counted and reported, not silent), and spans received + lost against spans sent by the proxy.

Not part of the test suite (the full run takes tens of minutes on a loaded 2-core machine).

Usage: .venv/bin/python scripts/soak_proxy.py [--requests 50000] [--concurrency 32] [--workers 1]
       [--outage 30] [--phase-seconds 20] [--max-minutes M] [--skip-outage] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import psutil  # noqa: E402
from bench_proxy import (SERVICE, Proxy, ProviderProcess, SpanCounter, load, processes, start_proxy,  # noqa: E402
                         stop, wait_ready)


def rss(proxy: Proxy) -> dict[int, int]:
    out = {}
    for process in processes(proxy):
        try:
            out[process.pid] = process.memory_info().rss
        except psutil.Error:
            pass
    return out


def percentiles(latencies: list[float]) -> dict[str, float]:
    if len(latencies) < 2:
        return {"n": len(latencies)}
    q = statistics.quantiles(latencies, n=100)
    return {"n": len(latencies), "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1),
            "p99_ms": round(q[98] * 1000, 1)}


def job_report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def wait_spans(counter: SpanCounter, want: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if counter.count(SERVICE["run"], "litellm_request") >= want:
            break
        time.sleep(0.5)
    return counter.count(SERVICE["run"], "litellm_request")


def steady(args: argparse.Namespace, workdir: Path, provider: ProviderProcess) -> dict[str, Any]:
    counter = SpanCounter()
    report_file = workdir / "steady-report.json"
    server_args = ("--num_workers", str(args.workers)) if args.workers > 1 else ()
    proxy = start_proxy("run", workdir, provider.base_url, counter.endpoint, server_args=server_args,
                        run_args=("--report-file", str(report_file)))
    samples: dict[int, dict[int, int]] = {}
    try:
        wait_ready(proxy)
        samples[0] = rss(proxy)
        started = time.monotonic()

        def on_answer(answered: int, _latency: float) -> None:
            if answered % args.sample_every == 0:
                samples[answered] = rss(proxy)
                if answered % (args.sample_every * 5) == 0:
                    rate = answered / (time.monotonic() - started)
                    print(f"  {answered:,} answered, {rate:.0f} req/s, RSS MB "
                          f"{ {pid: round(v / 2**20) for pid, v in samples[answered].items()} }",
                          file=sys.stderr, flush=True)

        result = load(proxy.url, args.concurrency, False, total=args.requests, on_answer=on_answer,
                      seconds=args.max_minutes * 60 if args.max_minutes else None)
        received_before_stop = wait_spans(counter, result.answered, timeout=60)
    finally:
        code = stop(proxy)
    time.sleep(1)
    counter.close()
    mark = min((k for k in samples if k >= min(10_000, args.requests // 5)), default=0)
    last = max(samples)
    growth = {str(pid): {"rss_mb_at_%d" % mark: round(samples[mark][pid] / 2**20, 1),
                         "rss_mb_at_%d" % last: round(samples[last][pid] / 2**20, 1),
                         "growth": round(samples[last][pid] / samples[mark][pid] - 1, 4)}
              for pid in samples[last] if pid in samples.get(mark, {})}
    report = job_report(report_file)
    log = proxy.log.read_text(errors="replace")
    return {
        "requests": args.requests, "answered": result.answered, "failed": result.failed,
        "seconds": round(result.seconds, 1), "requests_per_s": round(result.rps, 1),
        "latency": percentiles(result.latencies),
        "rss": growth, "rss_samples_mb": {str(k): {str(p): round(v / 2**20, 1) for p, v in s.items()}
                                          for k, s in sorted(samples.items())},
        "litellm_request_received_before_sigterm": received_before_stop,
        "litellm_request_received": counter.count(SERVICE["run"], "litellm_request"),
        "spans_received": counter.count(SERVICE["run"]),
        "report_traces": report.get("signals", {}).get("traces"), "report_processes": report.get("processes"),
        "report_lost": report.get("lost"),
        "queue_full_dropped": (report.get("signals", {}).get("traces") or {}).get("dropped"),
        "exit_status": code, "warning_lines": [line for line in log.splitlines() if "signoz-litellm:" in line],
    }


def outage(args: argparse.Namespace, workdir: Path, provider: ProviderProcess) -> dict[str, Any]:
    counter = SpanCounter()
    report_file = workdir / "outage-report.json"
    server_args = ("--num_workers", str(args.workers)) if args.workers > 1 else ()
    proxy = start_proxy("run", workdir, provider.base_url, counter.endpoint, server_args=server_args,
                        run_args=("--report-file", str(report_file)))
    phases: dict[str, list[float]] = {"before": [], "during": [], "after": []}
    phase = ["before"]
    marks: dict[str, float] = {}
    try:
        wait_ready(proxy)
        load(proxy.url, 4, False, total=50)  # warm-up

        def on_answer(_answered: int, latency: float) -> None:
            phases[phase[0]].append(latency)

        def schedule() -> None:
            time.sleep(args.phase_seconds)
            counter.stop()
            marks["down"] = time.monotonic()
            phase[0] = "during"
            print("  endpoint down", file=sys.stderr, flush=True)
            time.sleep(args.outage)
            counter.start()
            marks["up"] = time.monotonic()
            phase[0] = "after"
            print("  endpoint back", file=sys.stderr, flush=True)

        timer = threading.Thread(target=schedule, daemon=True)
        timer.start()
        result = load(proxy.url, args.concurrency, False, seconds=2 * args.phase_seconds + args.outage,
                      on_answer=on_answer, keep_latencies=False)
        timer.join()
        time.sleep(7)  # the span processor's next export after the endpoint is back
    finally:
        code = stop(proxy)
    time.sleep(1)
    counter.close()
    report = job_report(report_file)
    traces = report.get("signals", {}).get("traces") or {}
    log = proxy.log.read_text(errors="replace")
    received = counter.count(SERVICE["run"])
    return {
        "outage_seconds": args.outage, "answered": result.answered, "failed": result.failed,
        "requests_per_s": round(result.rps, 1),
        "latency": {name: percentiles(values) for name, values in phases.items()},
        "spans_received": received, "litellm_request_received": counter.count(SERVICE["run"], "litellm_request"),
        "report_traces": traces, "report_lost": report.get("lost"), "report_error": report.get("error"),
        "received_plus_lost": received + traces.get("failed", 0) + traces.get("dropped", 0),
        "exit_status": code, "warning_lines": [line for line in log.splitlines() if "signoz-litellm:" in line],
    }


def goals(figures: dict[str, Any]) -> dict[str, bool]:
    met: dict[str, bool] = {}
    if "steady" in figures:
        s = figures["steady"]
        met["rss_growth_at_most_5_percent"] = bool(s["rss"]) and all(v["growth"] <= 0.05 for v in s["rss"].values())
        met["no_span_lost"] = s["litellm_request_received"] == s["answered"] and not s["report_lost"]
        met["queue_never_full"] = s["queue_full_dropped"] == 0
    if "outage" in figures:
        o = figures["outage"]
        before, during = o["latency"]["before"], o["latency"]["during"]
        met["latency_unaffected_p50_within_20_percent"] = (
            "p50_ms" in before and "p50_ms" in during and during["p50_ms"] <= before["p50_ms"] * 1.2)
        met["loss_counted"] = bool(o["report_lost"])
        met["loss_reported_on_stderr"] = any("warning" in line for line in o["warning_lines"])
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000, help="chats in the steady phase (default 50,000)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="--num_workers for the proxy (default 1)")
    parser.add_argument("--sample-every", type=int, default=1000, help="RSS sample every N answered chats")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the endpoint is down (default 30)")
    parser.add_argument("--phase-seconds", type=float, default=20.0,
                        help="seconds of load before and after the outage (default 20)")
    parser.add_argument("--max-minutes", type=float,
                        help="end the steady phase after this long even if fewer chats were answered")
    parser.add_argument("--skip-outage", action="store_true")
    parser.add_argument("--skip-steady", action="store_true")
    parser.add_argument("--json", help="also write the figures as JSON here")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, ProviderProcess() as provider:
        workdir = Path(tmp)
        if not args.skip_steady:
            print(f"[steady] {args.requests:,} chats at concurrency {args.concurrency} ...", file=sys.stderr,
                  flush=True)
            figures["steady"] = steady(args, workdir, provider)
            (workdir / "run.log").rename(workdir / "steady-proxy.log")
        if not args.skip_outage:
            print(f"[outage] {args.phase_seconds:g} s + {args.outage:g} s endpoint down + {args.phase_seconds:g} s",
                  file=sys.stderr, flush=True)
            figures["outage"] = outage(args, workdir, provider)
    figures["goals"] = goals(figures)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Batch-job figures for `signoz-litellm run`, side by side with the plain recipe, in one run.

The plain recipe is what SigNoz documents: OTEL_* environment variables + `opentelemetry-instrument`,
with `litellm.callbacks = ["otel"]` in the program (../shared/FACTS.md). Both run the same LiteLLM job
(tests/support/batch_app.py) against the same real OTLP receiver and fake provider on loopback.

Prints, for each recipe: spans lost on SIGTERM (99 calls then SIGTERM), spans lost in asyncio.run
(20 concurrent acompletion), spans lost in a burst (5,000 acompletion at concurrency 50; --quick skips),
the exit delay added by an endpoint refusing connections and by one accepting but never answering
(1-call job; time from the last call to exit, minus the same with a healthy endpoint, medians of
interleaved runs), and the per-call cost over uninstrumented LiteLLM (sync completion: each run's
median over 300 calls after warm-up, then the median over --repeat interleaved runs).

Usage: .venv/bin/python scripts/bench_batch.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signoz_litellm_run.receiver import Receiver, SilentServer, unused_port  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402

APP = str(ROOT / "tests" / "support" / "batch_app.py")
BIN = Path(sys.executable).parent
STRIP = ("OTEL_", "SIGNOZ_", "CI", "GITHUB_", "GITLAB_")


def base_env(provider: FakeProvider, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIP)}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", FAKE_BASE=provider.base_url, **extra)
    return env


def command(recipe: str, endpoint: str, env: dict[str, str]) -> list[str]:
    if recipe == "signoz-litellm":
        return [sys.executable, "-m", "signoz_litellm_run", "run", "--no-bootstrap", "--endpoint", endpoint, "--service-name", "bench",
                "--", sys.executable, APP]
    if recipe == "plain":
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_INSECURE="true", OTEL_SERVICE_NAME="bench",
                   OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="otlp", OTEL_LOGS_EXPORTER="otlp",
                   OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED="true", OTEL_PYTHON_LOG_CORRELATION="true",
                   APP_OTEL="1")
        return [str(BIN / "opentelemetry-instrument"), sys.executable, APP]
    return [sys.executable, APP]  # bare: no telemetry at all


def run(recipe: str, endpoint: str, provider: FakeProvider, extra: dict[str, str], *,
        signal_after: int | None = None, wait_lines: int | None = None) -> dict[str, Any]:
    """Run a job; returns returncode, stdout, and seconds from the last awaited line to the exit."""
    env = base_env(provider, extra)
    cmd = command(recipe, endpoint, env)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    mark = time.monotonic()
    awaited = signal_after or wait_lines
    if awaited:
        for line in proc.stdout:
            lines.append(line)
            if sum(1 for x in lines if x.startswith("done ")) >= awaited:
                break
        mark = time.monotonic()
        if signal_after:
            proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    return {"returncode": proc.returncode, "stdout": "".join(lines) + out, "exit_seconds": time.monotonic() - mark}


def llm_spans(receiver: Receiver) -> int:
    return sum(1 for s in receiver.spans() if s.name == "litellm_request")


def settle(receiver: Receiver, expected: int) -> int:
    receiver.wait_for(lambda r: llm_spans(r) >= expected, timeout=3)
    return llm_spans(receiver)


def lost_on_sigterm(recipe: str, receiver: Receiver, provider: FakeProvider) -> int:
    receiver.clear()
    run(recipe, receiver.grpc_endpoint, provider, {"CALLS": "99", "WAIT": "120"}, signal_after=99)
    return 99 - settle(receiver, 99)


def lost_in_asyncio(recipe: str, receiver: Receiver, provider: FakeProvider, calls: int, concurrency: int) -> int:
    receiver.clear()
    run(recipe, receiver.grpc_endpoint, provider,
        {"MODE": "async", "CALLS": str(calls), "CONCURRENCY": str(concurrency), "QUIET": "1"})
    return calls - settle(receiver, calls)


def exit_delays(recipe: str, endpoints: dict[str, str], provider: FakeProvider, repeat: int) -> dict[str, float]:
    """Median seconds from the last call to the exit, per endpoint; runs interleaved so load drifts evenly."""
    times: dict[str, list[float]] = {name: [] for name in endpoints}
    for _ in range(repeat):
        for name, endpoint in endpoints.items():
            times[name].append(run(recipe, endpoint, provider, {"CALLS": "1"}, wait_lines=1)["exit_seconds"])
    return {name: statistics.median(values) for name, values in times.items()}


def per_call_ms(recipe: str, receiver: Receiver, provider: FakeProvider) -> float:
    result = run(recipe, receiver.grpc_endpoint, provider, {"CALLS": "320", "TIMING": "1", "QUIET": "1"})
    line = next(x for x in result["stdout"].splitlines() if x.startswith("timing "))
    return float(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 5,000-call burst")
    parser.add_argument("--repeat", type=int, default=5, help="runs per exit-delay and per-call figure (median)")
    args = parser.parse_args()
    recipes = ("plain", "signoz-litellm")
    rows: dict[str, dict[str, str]] = {r: {} for r in recipes}
    with Receiver() as receiver, FakeProvider() as provider, SilentServer() as silent:
        refused = f"http://127.0.0.1:{unused_port()}"
        for recipe in recipes:
            print(f"[{recipe}] SIGTERM ...", file=sys.stderr, flush=True)
            rows[recipe]["spans lost on SIGTERM after 99 calls"] = str(lost_on_sigterm(recipe, receiver, provider))
            print(f"[{recipe}] asyncio ...", file=sys.stderr, flush=True)
            rows[recipe]["spans lost in asyncio.run, 20 concurrent calls"] = str(
                lost_in_asyncio(recipe, receiver, provider, 20, 20))
            if not args.quick:
                print(f"[{recipe}] burst ...", file=sys.stderr, flush=True)
                rows[recipe]["spans lost, 5,000 calls at concurrency 50"] = str(
                    lost_in_asyncio(recipe, receiver, provider, 5000, 50))
            print(f"[{recipe}] exit delays ...", file=sys.stderr, flush=True)
            delays = exit_delays(recipe, {"healthy": receiver.grpc_endpoint, "refusing connections": refused,
                                          "never answering": silent.endpoint}, provider, args.repeat)
            for name in ("refusing connections", "never answering"):
                rows[recipe][f"exit delay added, endpoint {name}"] = f"{delays[name] - delays['healthy']:+.2f} s"
        print("[bare / plain / signoz-litellm] per-call cost ...", file=sys.stderr, flush=True)
        per_call: dict[str, list[float]] = {"bare": [], **{r: [] for r in recipes}}
        for _ in range(args.repeat):
            for recipe in per_call:
                per_call[recipe].append(per_call_ms(recipe, receiver, provider))
        bare = statistics.median(per_call["bare"])
        for recipe in recipes:
            ms = statistics.median(per_call[recipe])
            rows[recipe]["per-call cost over bare LiteLLM (sync completion)"] = (
                f"{ms - bare:+.2f} ms ({ms:.2f} vs {bare:.2f} ms)")
    names = list(rows["plain"])
    width = max(len(n) for n in names)
    print(f"| {'figure'.ljust(width)} | plain recipe | signoz-litellm run |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name in names:
        print(f"| {name.ljust(width)} | {rows['plain'][name]} | {rows['signoz-litellm'][name]} |")


if __name__ == "__main__":
    main()

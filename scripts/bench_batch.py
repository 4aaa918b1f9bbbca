#!/usr/bin/env python3
"""Batch-job figures for `signoz-litellm run`, side by side with the plain recipe, in one run.

The plain recipe is what SigNoz documents: OTEL_* environment variables + `opentelemetry-instrument`,
with `litellm.callbacks = ["otel"]` in the program (../shared/FACTS.md). Both run the same LiteLLM job
(tests/support/batch_app.py) against the same real OTLP receiver and fake provider on loopback.

Prints, for each recipe: spans lost on SIGTERM (99 calls then SIGTERM), spans lost in asyncio.run
(20 concurrent acompletion), spans lost by a multiprocessing fork Pool (one call in the parent, a 2 s pause,
then 40 calls in 4 workers, closed and joined; --repeat runs, a run that hangs is killed after 60 s), spans
lost in a burst (5,000 acompletion at concurrency 50; --quick skips), spans lost by a job with long prompts
(200 acompletion at concurrency 20, 50 KB prompts against an endpoint taking 4 MiB a request as a self-hosted
SigNoz collector does over gRPC, and 200 KB prompts against 16 MB as SigNoz Cloud; --long-prompts-only runs only these),
the exit delay added by an endpoint refusing connections and by one accepting but never answering
(1-call job; time from the last call to exit, minus the same with a healthy endpoint, medians of
interleaved runs), and the per-call cost over uninstrumented LiteLLM (sync completion, 500 calls after
20 warm-up calls per run, --repeat interleaved runs in an order that turns each round; the median over runs of
each run's median call time, of its mean call time, and of its process CPU time per call, all threads), and the
same median call and CPU per call with a provider answering in 20 ms (200 calls per run; --quick skips).
With --shared-cpu, the per-call rows are measured again with a busy process (a Python loop) sharing the job's CPU,
as on a loaded CI runner or a host whose neighbours take CPU time: the job then gets about half a CPU, so each
millisecond of CPU it adds costs about two of wall time, in every recipe alike.
Each round's per-call figures are also printed on stderr, to show how far the host's load moves them.

Per-call timing is noisy on a small machine: the job, the fake provider and the receiver share the CPUs, and
LiteLLM's callbacks and the exporters run on threads of the job. With two or more CPUs the job is pinned to the
last CPU and this script (fake provider and receiver) to the others, so every recipe is measured alike
(--no-pin turns that off).

Usage: .venv/bin/python scripts/bench_batch.py [--quick] [--per-call-only] [--long-prompts-only] [--no-pin]
                                                [--shared-cpu] [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signoz_litellm_run.loopback import SilentServer, unused_port  # noqa: E402
from signoz_litellm_run.receiver import Receiver  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402

from cpu_pin import split_cpus  # noqa: E402

APP = str(ROOT / "tests" / "support" / "batch_app.py")
BIN = Path(sys.executable).parent
STRIP = ("OTEL_", "SIGNOZ_", "CI", "GITHUB_", "GITLAB_")
JOB_CPU: list[str] = []  # prefix that pins a job to one CPU (set in main)


def pin_cpus() -> str:
    """Pin this process (receiver, fake provider) to all CPUs but the last, and jobs to the last one."""
    prefix, job, rest = split_cpus()
    if not prefix:
        return "not pinned (one CPU)"
    JOB_CPU[:] = prefix
    return f"job pinned to CPU {job}, receiver and fake provider to CPU {rest}"


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
        signal_after: int | None = None, wait_lines: int | None = None, timeout: float = 300) -> dict[str, Any]:
    """Run a job; returns returncode, stdout, seconds from the last awaited line to the exit, and whether it
    hung (killed, with its children, after `timeout` seconds)."""
    env = base_env(provider, extra)
    cmd = JOB_CPU + command(recipe, endpoint, env)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
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
    try:
        out, _ = proc.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        hung = True
    return {"returncode": proc.returncode, "stdout": "".join(lines) + out, "exit_seconds": time.monotonic() - mark,
            "hung": hung}


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


def lost_in_pool(recipe: str, receiver: Receiver, provider: FakeProvider, calls: int, workers: int,
                 repeat: int) -> str:
    """Spans lost over `repeat` runs, and how many runs hung (killed after 60 s)."""
    lost = hung = 0
    for _ in range(repeat):
        receiver.clear()
        result = run(recipe, receiver.grpc_endpoint, provider,
                     {"POOL": str(workers), "CALLS": str(calls), "QUIET": "1"}, timeout=60)
        hung += result["hung"]
        lost += calls + 1 - settle(receiver, calls + 1)
    return f"{lost} of {(calls + 1) * repeat}" + (f", {hung} of {repeat} runs hung" if hung else "")


# Long prompts against an endpoint's request size limit: (row label, limit in bytes, prompt characters).
LONG_PROMPT_CASES = (
    ("spans lost, 200 calls with 50 KB prompts, endpoint taking 4 MiB a request (self-hosted SigNoz, gRPC)",
     4 * 1024 * 1024, 50_000),
    ("spans lost, 200 calls with 200 KB prompts, endpoint taking 16 MB a request (SigNoz Cloud)",
     16_000_000, 200_000),
)


def lost_with_long_prompts(recipe: str, provider: FakeProvider, limit: int, prompt_bytes: int) -> str:
    """LLM spans lost by a job of 200 acompletion calls (concurrency 20) whose prompts are prompt_bytes long,
    against a receiver refusing requests over `limit` bytes (over gRPC as grpc refuses them), with each recipe's
    own batching; and the seconds from the last call to the exit."""
    with Receiver(max_request_bytes=limit, http=False) as limited:
        result = run(recipe, limited.grpc_endpoint, provider,
                     {"MODE": "async", "CALLS": "200", "CONCURRENCY": "20", "PROMPT_BYTES": str(prompt_bytes),
                      "QUIET": "1"}, timeout=120)
        lost = 200 - settle(limited, 200)
    return f"{lost} of 200" + (", the job hung" if result["hung"] else "")


def exit_delays(recipe: str, endpoints: dict[str, str], provider: FakeProvider, repeat: int) -> dict[str, float]:
    """Median seconds from the last call to the exit, per endpoint; runs interleaved so load drifts evenly."""
    times: dict[str, list[float]] = {name: [] for name in endpoints}
    for _ in range(repeat):
        for name, endpoint in endpoints.items():
            times[name].append(run(recipe, endpoint, provider, {"CALLS": "1"}, wait_lines=1)["exit_seconds"])
    return {name: statistics.median(values) for name, values in times.items()}


@contextlib.contextmanager
def busy_neighbour() -> Iterator[None]:
    """A process spinning on the job's CPU (every CPU when jobs are not pinned) for the length of the block."""
    proc = subprocess.Popen(JOB_CPU + [sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def per_call_ms(recipe: str, receiver: Receiver, provider: FakeProvider,
                calls: int = 500) -> tuple[float, float, float]:
    """(median ms per call, mean ms per call, process CPU ms per call) of one run."""
    result = run(recipe, receiver.grpc_endpoint, provider, {"CALLS": str(calls + 20), "TIMING": "1", "QUIET": "1"})
    line = next(x for x in result["stdout"].splitlines() if x.startswith("timing "))
    median, mean, cpu = (float(x) for x in line.split()[1:4])
    return median, mean, cpu


def per_call_rows(rows: dict[str, dict[str, str]], recipes: tuple[str, ...], receiver: Receiver,
                  provider: FakeProvider, repeat: int, label: str, kinds: tuple[str, ...], calls: int = 500) -> None:
    """Per-call figures of each recipe over bare LiteLLM: the median over interleaved runs of each run's figure."""
    per_call: dict[str, list[tuple[float, float, float]]] = {"bare": [], **{r: [] for r in recipes}}
    order = list(per_call)
    for i in range(repeat):
        # The order turns each round, so drift and any after-effect of the previous run fall on every recipe alike.
        for recipe in order[i % len(order):] + order[:i % len(order)]:
            per_call[recipe].append(per_call_ms(recipe, receiver, provider, calls))
        # Each round's figures, so the spread from one round to the next (the host's load) can be seen.
        print(f"  round {i + 1}{label}: median call / CPU per call, ms: "
              + ", ".join(f"{r} {per_call[r][-1][0]:.2f} / {per_call[r][-1][2]:.2f}" for r in order),
              file=sys.stderr, flush=True)
    figures = {recipe: [statistics.median(run[i] for run in runs) for i in range(3)]
               for recipe, runs in per_call.items()}
    bare = figures["bare"]
    for recipe in recipes:
        for i, what in enumerate(("median call", "mean call", "CPU per call")):
            if what in kinds:
                ms = figures[recipe][i]
                rows[recipe][f"per-call cost over bare LiteLLM (sync completion{label}), {what}"] = (
                    f"{ms - bare[i]:+.2f} ms ({ms:.2f} vs {bare[i]:.2f} ms)")


def loss_rows(row: dict[str, str], recipe: str, receiver: Receiver, provider: FakeProvider,
              args: argparse.Namespace) -> None:
    """The spans a recipe loses on SIGTERM, in asyncio.run, in a fork Pool and (without --quick) in a burst."""
    print(f"[{recipe}] SIGTERM ...", file=sys.stderr, flush=True)
    row["spans lost on SIGTERM after 99 calls"] = str(lost_on_sigterm(recipe, receiver, provider))
    print(f"[{recipe}] asyncio ...", file=sys.stderr, flush=True)
    row["spans lost in asyncio.run, 20 concurrent calls"] = str(lost_in_asyncio(recipe, receiver, provider, 20, 20))
    print(f"[{recipe}] pool ...", file=sys.stderr, flush=True)
    row["spans lost, fork Pool of 4 workers, 40 calls (+1 in the parent)"] = lost_in_pool(
        recipe, receiver, provider, 40, 4, args.repeat)
    if not args.quick:
        print(f"[{recipe}] burst ...", file=sys.stderr, flush=True)
        row["spans lost, 5,000 calls at concurrency 50"] = str(lost_in_asyncio(recipe, receiver, provider, 5000, 50))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip the 5,000-call burst and the per-call rows with a 20 ms provider")
    parser.add_argument("--per-call-only", action="store_true", help="only the per-call cost")
    parser.add_argument("--long-prompts-only", action="store_true",
                        help="only the spans lost with long prompts against an endpoint's request size limit")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the job and this script to CPUs")
    parser.add_argument("--shared-cpu", action="store_true",
                        help="also measure the per-call cost with a busy process sharing the job's CPU")
    parser.add_argument("--repeat", type=int, default=5, help="runs per exit-delay and per-call figure (median)")
    args = parser.parse_args()
    print("cpus:", "not pinned (--no-pin)" if args.no_pin else pin_cpus(), file=sys.stderr, flush=True)
    recipes = ("plain", "signoz-litellm")
    rows: dict[str, dict[str, str]] = {r: {} for r in recipes}
    with Receiver() as receiver, FakeProvider() as provider, SilentServer() as silent:
        refused = f"http://127.0.0.1:{unused_port()}"
        for recipe in () if args.per_call_only else recipes:
            if not args.long_prompts_only:
                loss_rows(rows[recipe], recipe, receiver, provider, args)
            for label, limit, prompt_bytes in LONG_PROMPT_CASES:
                print(f"[{recipe}] long prompts, {limit} bytes a request ...", file=sys.stderr, flush=True)
                rows[recipe][label] = lost_with_long_prompts(recipe, provider, limit, prompt_bytes)
            if args.long_prompts_only:
                continue
            print(f"[{recipe}] exit delays ...", file=sys.stderr, flush=True)
            delays = exit_delays(recipe, {"healthy": receiver.grpc_endpoint, "refusing connections": refused,
                                          "never answering": silent.endpoint}, provider, args.repeat)
            for name in ("refusing connections", "never answering"):
                rows[recipe][f"exit delay added, endpoint {name}"] = f"{delays[name] - delays['healthy']:+.2f} s"
        if not args.long_prompts_only:
            print("[bare / plain / signoz-litellm] per-call cost ...", file=sys.stderr, flush=True)
            per_call_rows(rows, recipes, receiver, provider, args.repeat, "",
                          ("median call", "mean call", "CPU per call"))
        if args.shared_cpu and not args.long_prompts_only:
            print("[bare / plain / signoz-litellm] per-call cost, CPU shared with a busy process ...", file=sys.stderr,
                  flush=True)
            with busy_neighbour():
                per_call_rows(rows, recipes, receiver, provider, args.repeat, ", CPU shared with a busy process",
                              ("median call", "mean call", "CPU per call"))
        if not (args.quick or args.long_prompts_only):
            print("[bare / plain / signoz-litellm] per-call cost, provider answering in 20 ms ...", file=sys.stderr,
                  flush=True)
            with FakeProvider(delay=0.02) as slower:
                per_call_rows(rows, recipes, receiver, slower, args.repeat, ", provider answering in 20 ms",
                              ("median call", "CPU per call"), calls=200)
    names = list(rows["plain"])
    width = max(len(n) for n in names)
    print(f"| {'figure'.ljust(width)} | plain recipe | signoz-litellm run |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name in names:
        print(f"| {name.ljust(width)} | {rows['plain'][name]} | {rows['signoz-litellm'][name]} |")


if __name__ == "__main__":
    main()

"""Benchmark: what a LiteLLM proxy request costs in spans, exported bytes and proxy CPU, lean vs full.

For each `--span-detail`, the real proxy under `signoz-litellm run` (tests/test_proxy.py's harness: loopback fake
provider, real OTLP receiver, stopped with SIGTERM) serves 20 then N sequential chat requests; the figures are the
differences divided by N - 20, so start-up is left out. CPU is the proxy process's own `process.cpu.time` (user +
system) as exported at exit.

Usage: .venv/bin/python scripts/bench_span_detail.py [--requests 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_proxy import _run_proxy  # noqa: E402

BASE = 20


def _one_run(directory: Path, detail: str, requests: int) -> tuple[float, int, int]:
    chats = [{"model": "fake-model", "messages": [{"role": "user", "content": f"hello number {i}"}]}
             for i in range(requests)]
    command = ["run", "--span-detail", detail, "--", "litellm", "--config", "{config}", "--host", "127.0.0.1",
               "--port", "{port}"]
    run = _run_proxy(directory, "", command, chats=chats)
    if run.chat_statuses != [200] * requests:
        raise SystemExit(f"{detail}: not every request was answered: {set(run.chat_statuses)}\n{run.stderr[-2000:]}")
    cpu = [m for m in run.metrics if m.name == "process.cpu.time"][-1]
    return sum(p["value"] for p in cpu.data_points), len(run.spans), run.trace_bytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"| span detail | spans / request | trace bytes / request | proxy CPU / request |\n|---|---|---|---|")
        for detail in ("lean", "full"):
            small = _one_run(Path(tmp) / f"{detail}-{BASE}", detail, BASE)
            big = _one_run(Path(tmp) / f"{detail}-{args.requests}", detail, args.requests)
            n = args.requests - BASE
            print(f"| {detail} | {(big[1] - small[1]) / n:.2f} | {(big[2] - small[2]) / n:.0f} | "
                  f"{(big[0] - small[0]) / n * 1000:.2f} ms |", flush=True)


if __name__ == "__main__":
    main()

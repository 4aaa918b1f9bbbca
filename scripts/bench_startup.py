#!/usr/bin/env python3
"""Start-up cost of the launcher against the plain recipe, in one run, alternating order.

Measures the wall time of
    signoz-litellm run -- python -c pass
against
    opentelemetry-instrument python -c pass     (with the equivalent OTEL_* environment)
both exporting to the same local OTLP receiver, and reports medians and the median ratio.

With --instructions, it also counts the instructions the command's Python process executes from start to exit
(`valgrind --tool=callgrind --trace-children=yes`; both launchers exec it, and the count kept for a process is its
last image's, so the launchers' own start is not in it): the cost the hook adds to every Python process of a
job, in a figure that does not move with the machine's load. About 15 s per command.

Usage: python scripts/bench_startup.py [--runs 21] [--json] [--instructions]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signoz_litellm_run.receiver import Receiver  # noqa: E402

BIN = Path(sys.executable).parent


def _env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SIGNOZ_", "PYTHONPATH"))}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


def _recipe_env(endpoint: str) -> dict[str, str]:
    """What SigNoz's LiteLLM guide has the user export before `opentelemetry-instrument`."""
    env = _env(endpoint)
    env.update({
        "OTEL_SERVICE_NAME": "bench",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_PYTHON_LOG_CORRELATION": "true",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
        "LITELLM_OTEL_INTEGRATION_ENABLE_METRICS": "true",
        "OTEL_PYTHON_DISTRO": "distro",
    })
    return env


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - start


def _instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions the command's last image executes (the Python process a launcher execs), with any children."""
    with tempfile.TemporaryDirectory() as workdir:
        out = os.path.join(workdir, "callgrind.%p")
        subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes", "--dump-instr=no",
                        f"--callgrind-out-file={out}", *argv], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=600)
        return sum(int(line.split()[1]) for name in os.listdir(workdir)
                   for line in open(os.path.join(workdir, name)) if line.startswith("totals:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--instructions", action="store_true", help="also count instructions (needs valgrind)")
    args = parser.parse_args()

    with Receiver() as receiver:
        endpoint = receiver.grpc_endpoint
        ours = [str(BIN / "signoz-litellm"), "run", "--endpoint", endpoint, "--no-bootstrap", "--",
                sys.executable, "-c", "pass"]
        recipe = [str(BIN / "opentelemetry-instrument"), sys.executable, "-c", "pass"]
        bare = [sys.executable, "-c", "pass"]
        cases = {"signoz-litellm run": (ours, _env(endpoint)), "opentelemetry-instrument": (recipe, _recipe_env(endpoint)),
                 "bare python": (bare, _env(endpoint))}
        for argv, env in cases.values():  # warm the file cache
            _time(argv, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        ratios = []
        for i in range(args.runs):
            order = list(cases) if i % 2 == 0 else list(reversed(cases))
            sample = {name: _time(*cases[name]) for name in order}
            for name, value in sample.items():
                times[name].append(value)
            ratios.append(sample["signoz-litellm run"] / sample["opentelemetry-instrument"])
        counts = {name: _instructions(*cases[name]) for name in cases} if args.instructions else {}

    result: dict[str, float] = {name: round(statistics.median(values), 4) for name, values in times.items()}
    result["median ratio (ours / recipe)"] = round(statistics.median(ratios), 3)
    result["runs"] = args.runs
    for name, count in counts.items():
        result[f"{name} instructions (M)"] = round(count / 1e6, 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'case':<32} {'median s':>10}")
    for name in cases:
        print(f"{name:<32} {result[name]:>10.3f}")
    print(f"median ratio signoz-litellm / opentelemetry-instrument: {result['median ratio (ours / recipe)']:.3f} "
          f"over {args.runs} alternating runs")
    if counts:
        print(f"{'case':<32} {'instructions':>12}")
        for name, count in counts.items():
            print(f"{name:<32} {count / 1e6:>10.1f} M")
        ours, recipe = counts["signoz-litellm run"], counts["opentelemetry-instrument"]
        print(f"instruction ratio signoz-litellm / opentelemetry-instrument: {ours / recipe:.3f}")


if __name__ == "__main__":
    main()

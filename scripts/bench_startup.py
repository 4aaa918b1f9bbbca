#!/usr/bin/env python3
"""Start-up cost of the launcher against the plain recipe, in one run, alternating order.

Measures the wall time of
    signoz-litellm run -- python -c pass
against
    opentelemetry-instrument python -c pass     (with the equivalent OTEL_* environment)
both exporting to the same local OTLP receiver, and reports medians and the median ratio.

Usage: python scripts/bench_startup.py [--runs 21] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true")
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

    result = {name: round(statistics.median(values), 4) for name, values in times.items()}
    result["median ratio (ours / recipe)"] = round(statistics.median(ratios), 3)
    result["runs"] = args.runs
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'case':<32} {'median s':>10}")
    for name in cases:
        print(f"{name:<32} {result[name]:>10.3f}")
    print(f"median ratio signoz-litellm / opentelemetry-instrument: {result['median ratio (ours / recipe)']:.3f} "
          f"over {args.runs} alternating runs")


if __name__ == "__main__":
    main()

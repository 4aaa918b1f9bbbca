"""Benchmark: the LiteLLM proxy bare, under the plain OpenTelemetry recipe, and under signoz-litellm.

For each way of running it, in the same run on the same machine: start `litellm --config` on
loopback (model -> the fake provider), time until /health/readiness answers, send warm-up then
measured sequential chat requests, poll the probes, stop it with SIGTERM, and count what the OTLP
receiver got. The recipe is `opentelemetry-instrument litellm --config` with `callbacks: ["otel"]` in
the config and the equivalent OTEL_* variables. Ratios are against the bare proxy.

Usage: .venv/bin/python scripts/bench_proxy.py [--requests 200] [--warmup 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signoz_litellm_run.loopback import unused_port  # noqa: E402
from signoz_litellm_run.receiver import Receiver  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402

KEY = "sk-bench-master"
PROBES = ("/health/liveliness", "/health/readiness")


def config(base_url: str, otel: bool) -> str:
    text = ("model_list:\n  - model_name: fake-model\n    litellm_params:\n      model: openai/fake-model\n"
            f"      api_base: {base_url}\n      api_key: sk-test\n")
    return text + ('litellm_settings:\n  callbacks: ["otel"]\n' if otel else "")


def one(mode: str, workdir: Path, provider: FakeProvider, receiver: Receiver, requests: int, warmup: int) -> dict:
    bindir = os.path.dirname(sys.executable)
    cfg = workdir / f"{mode}.yaml"
    cfg.write_text(config(provider.base_url, otel=(mode == "recipe")))
    port = unused_port()
    litellm = [os.path.join(bindir, "litellm"), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)]
    env = dict(os.environ, LITELLM_MASTER_KEY=KEY, LITELLM_LOCAL_MODEL_COST_MAP="True",
               LITELLM_DONT_SHOW_FEEDBACK_BOX="true", DISABLE_SCHEMA_UPDATE="true")
    if mode == "bare":
        argv = litellm
    elif mode == "recipe":
        env.update(OTEL_SERVICE_NAME="litellm-proxy", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                   OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_INSECURE="true",
                   OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="otlp", OTEL_LOGS_EXPORTER="otlp")
        # Without "--", opentelemetry-instrument takes --config as an ambiguous abbreviation of its own options.
        argv = [os.path.join(bindir, "opentelemetry-instrument"), "--", *litellm]
    else:
        argv = [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint,
                "--no-bootstrap", "--", *litellm]
    receiver.clear()
    log = open(workdir / f"{mode}.log", "wb")
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    latencies: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while True:
                if child.poll() is not None:
                    raise SystemExit(f"{mode}: proxy exited; see {workdir / (mode + '.log')}")
                try:
                    if client.get("/health/readiness").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            ready = time.perf_counter() - started
            body = {"model": "fake-model", "messages": [{"role": "user", "content": "hello there"}]}
            headers = {"Authorization": f"Bearer {KEY}"}
            for i in range(warmup + requests):
                t0 = time.perf_counter()
                assert client.post("/v1/chat/completions", json=body, headers=headers).status_code == 200
                if i >= warmup:
                    latencies.append(time.perf_counter() - t0)
            for probe in PROBES * 5:
                client.get(probe)
        time.sleep(0.5)
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
        log.close()
    time.sleep(0.5)
    spans = receiver.spans()
    names = [s.name for s in spans]
    probe_spans = sum(1 for s in spans if s.attributes.get("url.path") in PROBES)
    return {"mode": mode, "ready_s": ready, "median_ms": statistics.median(latencies) * 1000,
            "p90_ms": statistics.quantiles(latencies, n=10)[-1] * 1000,
            "litellm_request": names.count("litellm_request"),
            "proxy_spans": names.count("Received Proxy Server Request"), "probe_spans": probe_spans,
            "genai_metrics": sorted(n for n in receiver.metric_names() if n.startswith("gen_ai."))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp, FakeProvider() as provider, Receiver() as receiver:
        for mode in ("bare", "recipe", "signoz-litellm"):
            results.append(one(mode, Path(tmp), provider, receiver, args.requests, args.warmup))
    bare = results[0]
    print(f"{args.requests} sequential chat requests per mode (after {args.warmup} warm-up), then SIGTERM")
    print(f"{'mode':16} {'ready s':>8} {'median ms':>10} {'x bare':>7} {'p90 ms':>8} "
          f"{'litellm_request':>16} {'proxy spans':>12} {'probe spans':>12}  gen_ai metrics")
    for r in results:
        print(f"{r['mode']:16} {r['ready_s']:8.1f} {r['median_ms']:10.2f} {r['median_ms'] / bare['median_ms']:7.2f} "
              f"{r['p90_ms']:8.2f} {r['litellm_request']:16} {r['proxy_spans']:12} {r['probe_spans']:12}  "
              f"{len(r['genai_metrics'])}")


if __name__ == "__main__":
    main()

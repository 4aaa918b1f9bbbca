"""What `signoz_litellm_run.init()` costs a process, against SigNoz's "Code" set-up written by hand.

Each sample is a fresh Python process that imports LiteLLM first (not timed: both need it), then times one of:
- init: `signoz_litellm_run.init(endpoint=..., service_name=...)`;
- guide: the guide's Code tab by hand: a resource, three providers, three OTLP exporters with the key header, the
  logging handler, `SystemMetricsInstrumentor().instrument()`, `HTTPXClientInstrumentor().instrument()` and
  `litellm.callbacks = ["otel"]` (with LiteLLM's metrics switched on, as init() has them).
Each is run with its system metrics on and off; the resident memory each adds (VmRSS after - before, from
/proc/self/status) gives what system metrics add to each. init() starts its system metrics a second later, on a
thread: the memory and CPU time figures wait for that, the wall time of the call does not. Variants alternate within a round, so a busy moment of
the machine falls on all of them; the figures are medians, after one uncounted round (byte code written, as an
installed package has it). The OTLP endpoint is a local receiver.

Usage: python scripts/bench_init.py [--runs 11] [--protocol grpc|http/protobuf] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from signoz_litellm_run.receiver import Receiver  # noqa: E402

KEY = "sk-signoz-bench-0123456789abcdef"

_MEASURE = textwrap.dedent("""
    import json, os, sys, time
    import litellm  # not timed: both set-ups need it
    def rss_kib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    before = rss_kib()
    cpu = time.process_time()
    started = time.perf_counter()
    {setup}
    seconds = time.perf_counter() - started
    if "signoz_litellm_run" in sys.modules and os.environ["SYSTEM_METRICS"] == "1":
        # init() starts them a second later, on a thread: counted in memory and CPU, not in the call's wall time
        from signoz_litellm_run.hook import system_metrics
        end = time.monotonic() + 30
        while not system_metrics.started() and time.monotonic() < end:
            time.sleep(0.01)
    print(json.dumps({{"seconds": seconds, "cpu_seconds": time.process_time() - cpu, "rss_kib": rss_kib() - before}}))
""")

INIT = """
import signoz_litellm_run
signoz_litellm_run.init(endpoint=os.environ["EP"], protocol=os.environ["PROTOCOL"], service_name="bench",
                        system_metrics=os.environ["SYSTEM_METRICS"] == "1")
"""

GUIDE = """
import logging
os.environ["LITELLM_OTEL_INTEGRATION_ENABLE_METRICS"] = "true"
from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
if os.environ["PROTOCOL"] == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    endpoint = {"traces": os.environ["EP"], "metrics": os.environ["EP"], "logs": os.environ["EP"]}
    extra = {"insecure": True}
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    endpoint = {s: os.environ["EP"] + "/v1/" + s for s in ("traces", "metrics", "logs")}
    extra = {}
headers = {"signoz-ingestion-key": os.environ["KEY"]}
resource = Resource.create({"service.name": "bench"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint["traces"], headers=headers, **extra)))
trace.set_tracer_provider(tracer_provider)
reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint["metrics"], headers=headers, **extra))
metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint["logs"], headers=headers, **extra)))
_logs.set_logger_provider(logger_provider)
logging.getLogger().addHandler(LoggingHandler(level=logging.NOTSET, logger_provider=logger_provider))
if os.environ["SYSTEM_METRICS"] == "1":
    from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
    SystemMetricsInstrumentor().instrument()
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
HTTPXClientInstrumentor().instrument()
litellm.callbacks = ["otel"]
"""


def sample(variant: str, system_metrics: bool, receiver: Receiver, protocol: str) -> dict[str, float]:
    setup = INIT if variant == "init" else GUIDE
    code = _MEASURE.format(setup=setup.strip())
    # Byte code cached as an installed package has it (pip compiles at install): a shell with PYTHONDONTWRITEBYTECODE
    # would have every sample compile the modules that have no .pyc yet, ours among them.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SIGNOZ_", "OTEL_", "LITELLM_", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"))}
    env.update({"EP": receiver.endpoint(protocol), "PROTOCOL": protocol, "KEY": KEY, "SIGNOZ_INGESTION_KEY": KEY,
                "SYSTEM_METRICS": "1" if system_metrics else "0", "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--protocol", choices=("grpc", "http/protobuf"), default="grpc")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    variants = [(v, sm) for v in ("init", "guide") for sm in (True, False)]
    samples: dict[tuple[str, bool], list[dict[str, float]]] = {v: [] for v in variants}
    with Receiver(grpc=args.protocol == "grpc", http=args.protocol != "grpc") as receiver:
        for variant in variants:  # warm-up, not counted: byte code written, files in the page cache
            sample(*variant, receiver, args.protocol)
        for run in range(args.runs):
            for variant in variants if run % 2 == 0 else reversed(variants):
                samples[variant].append(sample(*variant, receiver, args.protocol))

    def median(variant: tuple[str, bool], key: str) -> float:
        return statistics.median(s[key] for s in samples[variant])

    result = {
        "runs": args.runs, "protocol": args.protocol,
        "init_seconds": median(("init", True), "seconds"),
        "guide_seconds": median(("guide", True), "seconds"),
        "init_cpu_seconds": median(("init", True), "cpu_seconds"),
        "guide_cpu_seconds": median(("guide", True), "cpu_seconds"),
        "init_rss_kib": median(("init", True), "rss_kib"),
        "guide_rss_kib": median(("guide", True), "rss_kib"),
        "init_system_metrics_rss_kib": median(("init", True), "rss_kib") - median(("init", False), "rss_kib"),
        "guide_system_metrics_rss_kib": median(("guide", True), "rss_kib") - median(("guide", False), "rss_kib"),
    }
    result["time_ratio"] = result["init_seconds"] / result["guide_seconds"]
    result["cpu_ratio"] = result["init_cpu_seconds"] / result["guide_cpu_seconds"]
    result["rss_ratio"] = result["init_rss_kib"] / result["guide_rss_kib"] if result["guide_rss_kib"] else None
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.runs} runs, {args.protocol}, medians (LiteLLM imported before timing)")
    print(f"  set-up wall time:  init() {result['init_seconds'] * 1000:.1f} ms, the guide by hand "
          f"{result['guide_seconds'] * 1000:.1f} ms  (ratio {result['time_ratio']:.2f})")
    print(f"  set-up CPU time (system metrics started included): init() {result['init_cpu_seconds'] * 1000:.1f} ms, "
          f"the guide {result['guide_cpu_seconds'] * 1000:.1f} ms  (ratio {result['cpu_ratio']:.2f})")
    print(f"  resident memory added by the set-up: init() {result['init_rss_kib'] / 1024:.1f} MiB, the guide "
          f"{result['guide_rss_kib'] / 1024:.1f} MiB")
    print(f"  of which system metrics: init() {result['init_system_metrics_rss_kib'] / 1024:.1f} MiB, the guide "
          f"{result['guide_system_metrics_rss_kib'] / 1024:.1f} MiB")


if __name__ == "__main__":
    main()

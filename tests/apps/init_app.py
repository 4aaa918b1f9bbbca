"""A program that starts telemetry itself: signoz_litellm_run.init(**INIT_KWARGS), then LiteLLM calls.

MODE: "plain"; "twice" (init() called again with the same settings, after the calls too); "own_provider" (the
program set its own SDK TracerProvider with its own exporter first: it prints what that exporter got); "late_import"
(LiteLLM imported before init()); "child" (also runs CHILD_CODE in a Python subprocess).
"""
import json
import logging
import os
import subprocess
import sys

mode = os.environ.get("MODE", "plain")
kwargs = json.loads(os.environ.get("INIT_KWARGS", "{}"))
own = None
if mode == "own_provider":
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Own(SpanExporter):
        def __init__(self):
            self.names = []
            self.prompts = 0  # spans that carried a prompt ("hello number ...")

        def export(self, spans):
            self.names.extend(s.name for s in spans)
            self.prompts += sum(any("hello number" in str(v) for v in s.attributes.values()) for s in spans)
            return SpanExportResult.SUCCESS

    own = Own()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(own))
    trace.set_tracer_provider(provider)
    # Its own logger provider, with its own handler on the root logger, and its own meter provider.
    from opentelemetry import _logs, metrics
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    own_logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(own_logs))
    _logs.set_logger_provider(logger_provider)
    logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
    own_metrics = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[own_metrics]))
if mode == "foreign_provider":  # a tracer provider that is not the SDK's: it takes no span processors
    from opentelemetry import trace

    class Foreign(trace.NoOpTracerProvider):
        pass

    trace.set_tracer_provider(Foreign())
if mode == "late_import":
    import litellm  # noqa: F401

import signoz_litellm_run

telemetry = signoz_litellm_run.init(**kwargs)
print("handle", repr(telemetry), flush=True)
if mode == "twice":
    assert signoz_litellm_run.init(**kwargs) is telemetry

import litellm  # noqa: E402

logging.basicConfig(level=logging.INFO)
base = os.environ["FAKE_BASE_URL"]
calls = int(os.environ.get("CALLS", "2"))
for i in range(calls):
    r = litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test",
                           messages=[{"role": "user", "content": f"hello number {i}"}])
    assert r.choices[0].message.content
if mode == "twice":
    assert signoz_litellm_run.init(**kwargs) is telemetry
if mode == "child":
    subprocess.run([sys.executable, "-c", os.environ["CHILD_CODE"]], check=True)
logging.getLogger("init_app").warning("init app finished after %d calls", calls)
if own is not None:
    from opentelemetry import trace

    with trace.get_tracer("init_app").start_as_current_span("app-span"):
        pass
    telemetry.flush(5)
    print("own exporter", json.dumps(sorted(own.names)), "global is own", trace.get_tracer_provider() is provider,
          flush=True)
    finished = [r for r in own_logs.get_finished_logs() if "init app finished" in str(r.log_record.body)]
    names = {m.name for rm in own_metrics.get_metrics_data().resource_metrics for sm in rm.scope_metrics
             for m in sm.metrics}
    print("own logs", len(finished), "own metrics", json.dumps(sorted(names)), flush=True)
    print("own exporter prompts", own.prompts, flush=True)
if os.environ.get("SHUTDOWN"):
    telemetry.shutdown()
print("pid", os.getpid(), flush=True)
if mode == "wait":  # until a signal ends it
    import time

    print("ready", flush=True)
    time.sleep(120)

"""The OTLP test receiver, exercised with the real OpenTelemetry SDK exporters."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import ssl
import subprocess
import sys
import threading
import time
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetricExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from signoz_litellm_run.receiver import INGESTION_KEY_HEADER, Receiver

pytestmark = pytest.mark.timeout(60)

PROTOCOLS = ["grpc", "http"]
KEY = "test-ingestion-key-123"
RESOURCE = Resource.create({"service.name": "receiver-test", "deployment.environment": "ci"})


# --------------------------------------------------------------------------- helpers


def span_exporter(protocol: str, r: Receiver | str, **kw: Any) -> Any:
    """An SDK span exporter aimed at a Receiver (or a raw base endpoint)."""
    base = r if isinstance(r, str) else r.endpoint("grpc" if protocol == "grpc" else "http/protobuf")
    if protocol == "grpc":
        return GrpcSpanExporter(endpoint=base, **kw)
    return HttpSpanExporter(endpoint=f"{base}/v1/traces", **kw)


def make_spans() -> list[ReadableSpan]:
    """A parent (SERVER) and a child (CLIENT, error, with an event) span."""
    provider = TracerProvider(resource=RESOURCE)
    tracer = provider.get_tracer("test.scope")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        with tracer.start_as_current_span(
            "child", kind=SpanKind.CLIENT,
            attributes={"gen_ai.request.model": "gpt-4o-mini", "n": 3, "ratio": 0.5,
                        "flag": True, "tags": ["a", "b"]},
        ) as child:
            child.add_event("evt", {"k": "v"})
            child.set_status(StatusCode.ERROR, "boom")
    return [child, parent]  # type: ignore[list-item]


def export_spans(protocol: str, r: Receiver | str, **kw: Any) -> tuple[SpanExportResult, float]:
    exporter = span_exporter(protocol, r, **kw)
    try:
        start = time.monotonic()
        result = exporter.export(make_spans())
        return result, time.monotonic() - start
    finally:
        exporter.shutdown()


def raw_request(signal: str) -> Any:
    """A hand-built Export*ServiceRequest with 2 spans / 3 log records / 4 data points."""
    if signal == "traces":
        req = trace_service_pb2.ExportTraceServiceRequest()
        ss = req.resource_spans.add().scope_spans.add()
        for i in range(2):
            ss.spans.add(name=f"s{i}", trace_id=bytes(range(16)), span_id=bytes([i + 1] * 8))
        return req
    if signal == "logs":
        req = logs_service_pb2.ExportLogsServiceRequest()
        sl = req.resource_logs.add().scope_logs.add()
        for i in range(3):
            sl.log_records.add(body=AnyValue(string_value=f"line {i}"))
        return req
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add(name="g")
    for i in range(4):
        metric.gauge.data_points.add(as_int=i)
    return req


_GRPC_STUBS = {
    "traces": (trace_service_pb2_grpc.TraceServiceStub, trace_service_pb2.ExportTraceServiceResponse),
    "logs": (logs_service_pb2_grpc.LogsServiceStub, logs_service_pb2.ExportLogsServiceResponse),
    "metrics": (metrics_service_pb2_grpc.MetricsServiceStub,
                metrics_service_pb2.ExportMetricsServiceResponse),
}


def send_raw(protocol: str, r: Receiver, signal: str, message: Any,
             headers: dict[str, str] | None = None) -> Any:
    """Send a request without the SDK; returns the parsed response (raises on errors)."""
    stub_cls, response_cls = _GRPC_STUBS[signal]
    if protocol == "grpc":
        with grpc.insecure_channel(f"127.0.0.1:{r.grpc_port}") as channel:
            return stub_cls(channel).Export(message, timeout=5,
                                            metadata=tuple((headers or {}).items()))
    status, _, body = http_post(r, f"/v1/{signal}", message.SerializeToString(), headers)
    assert status == 200, status
    return response_cls.FromString(body)


def http_post(r: Receiver, path: str, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/x-protobuf") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", r.http_port, timeout=5)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- data round trips


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_spans_arrive_with_attributes_resource_and_key_header(receiver: Receiver, protocol: str) -> None:
    result, _ = export_spans(protocol, receiver, headers={INGESTION_KEY_HEADER: KEY}, timeout=5)

    assert result is SpanExportResult.SUCCESS
    [req] = receiver.requests
    assert (req.signal, req.protocol, req.outcome) == ("traces", protocol, "accepted")
    assert req.headers[INGESTION_KEY_HEADER] == KEY
    assert receiver.rejected == []

    spans = {s.name: s for s in receiver.spans()}
    assert set(spans) == {"parent", "child"}
    child, parent = spans["child"], spans["parent"]
    assert child.attributes == {"gen_ai.request.model": "gpt-4o-mini", "n": 3, "ratio": 0.5,
                                "flag": True, "tags": ["a", "b"]}
    assert child.resource["service.name"] == "receiver-test" == child.service_name
    assert child.resource["deployment.environment"] == "ci"
    assert child.scope == "test.scope"
    assert child.kind == 3 and parent.kind == 2  # proto SPAN_KIND_CLIENT / SPAN_KIND_SERVER
    assert (child.status_code, child.status_message) == (2, "boom")  # STATUS_CODE_ERROR
    assert child.events == [("evt", {"k": "v"})]
    assert child.parent_span_id == parent.span_id and parent.parent_span_id == ""
    assert child.trace_id == parent.trace_id and len(child.trace_id) == 32
    assert len(child.span_id) == 16
    assert 0 < child.start_time_unix_nano <= child.end_time_unix_nano


def test_http_gzip_and_batch_processor_pipeline(receiver: Receiver) -> None:
    provider = TracerProvider(resource=RESOURCE)
    exporter = HttpSpanExporter(endpoint=receiver.http_url("traces"), compression=Compression.Gzip)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    with provider.get_tracer("pipeline").start_as_current_span("batched"):
        pass

    assert receiver.wait_for(lambda r: len(r.spans()) == 1, timeout=10)
    provider.shutdown()
    assert receiver.requests[0].headers["content-encoding"] == "gzip"
    assert receiver.spans()[0].name == "batched"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_log_records_arrive_with_trace_context(receiver: Receiver, protocol: str) -> None:
    exporter = (GrpcLogExporter(endpoint=receiver.grpc_endpoint, timeout=5) if protocol == "grpc"
                else HttpLogExporter(endpoint=receiver.http_url("logs"), timeout=5))
    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    tracer = TracerProvider(resource=RESOURCE).get_tracer("t")
    with tracer.start_as_current_span("around-log") as span:
        logger_provider.get_logger("test.logs").emit(
            body="hello log", severity_text="WARN", severity_number=SeverityNumber.WARN,
            attributes={"user.id": 42, "nested": {"a": [1, "x"]}},
        )
    logger_provider.shutdown()

    [record] = receiver.log_records()
    assert record.body == "hello log"
    assert (record.severity_text, record.severity_number) == ("WARN", 13)
    assert record.attributes == {"user.id": 42, "nested": {"a": [1, "x"]}}
    assert record.resource["service.name"] == "receiver-test"
    assert record.scope == "test.logs"
    ctx = span.get_span_context()
    assert record.trace_id == format(ctx.trace_id, "032x")
    assert record.span_id == format(ctx.span_id, "016x")
    assert receiver.requests[0].protocol == protocol


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metrics_arrive(receiver: Receiver, protocol: str) -> None:
    exporter = (GrpcMetricExporter(endpoint=receiver.grpc_endpoint, timeout=5) if protocol == "grpc"
                else HttpMetricExporter(endpoint=receiver.http_url("metrics"), timeout=5))
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = meter_provider.get_meter("test.metrics")
    meter.create_counter("test.requests", unit="{request}").add(3, {"route": "/chat"})
    histogram = meter.create_histogram("test.duration", unit="s")
    histogram.record(0.5, {"model": "m"})
    histogram.record(1.5, {"model": "m"})
    assert meter_provider.force_flush(5_000)
    meter_provider.shutdown()

    assert {"test.requests", "test.duration"} <= receiver.metric_names()
    by_name = {m.name: m for m in receiver.metrics()}
    counter, duration = by_name["test.requests"], by_name["test.duration"]
    assert (counter.kind, counter.unit, counter.scope) == ("sum", "{request}", "test.metrics")
    assert counter.data_points[0]["value"] == 3
    assert counter.data_points[0]["attributes"] == {"route": "/chat"}
    assert duration.kind == "histogram"
    point = duration.data_points[0]
    assert (point["count"], point["sum"], point["min"], point["max"]) == (2, 2.0, 0.5, 1.5)
    assert duration.resource["service.name"] == "receiver-test"


# --------------------------------------------------------------------------- key checking


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("sent_key", [None, "wrong-key"])
def test_missing_or_wrong_key_is_unauthenticated(protocol: str, sent_key: str | None) -> None:
    headers = {INGESTION_KEY_HEADER: sent_key} if sent_key else None
    with Receiver(required_key=KEY) as r:
        result, _ = export_spans(protocol, r, headers=headers, timeout=5)
        assert result is SpanExportResult.FAILURE
        assert r.requests == [] and r.spans() == []
        # Not retryable: exactly one attempt (a retry would come within the 5 s the export may take, before it returns)
        assert [x.outcome for x in r.rejected] == ["unauthenticated"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_correct_key_is_accepted(protocol: str) -> None:
    with Receiver(required_key=KEY) as r:
        result, _ = export_spans(protocol, r, headers={INGESTION_KEY_HEADER: KEY}, timeout=5)
        assert result is SpanExportResult.SUCCESS
        assert len(r.spans()) == 2 and r.rejected == []


def test_http_status_codes_and_error_body() -> None:
    from google.rpc import status_pb2

    with Receiver(required_key=KEY) as r:
        body = raw_request("traces").SerializeToString()
        status, headers, payload = http_post(r, "/v1/traces", body)
        assert status == 401 and headers["content-type"] == "application/x-protobuf"
        assert status_pb2.Status.FromString(payload).code == 16  # google.rpc.Code.UNAUTHENTICATED
        for behavior, expected in [("permission_denied", 403), ("unavailable", 503), ("fail", 500)]:
            r.behavior = behavior
            assert http_post(r, "/v1/traces", body, {INGESTION_KEY_HEADER: KEY})[0] == expected
        r.behavior = "accept"
        assert http_post(r, "/v1/nope", body)[0] == 404
        assert http_post(r, "/v1/traces", b"{}", content_type="application/json")[0] == 415
        status, _, payload = http_post(r, "/v1/traces", gzip.compress(body),
                                       {INGESTION_KEY_HEADER: KEY, "Content-Encoding": "gzip"})
        assert status == 200
        assert trace_service_pb2.ExportTraceServiceResponse.FromString(payload).HasField(
            "partial_success") is False
        assert [s.name for s in r.spans()] == ["s0", "s1"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_request_over_the_size_limit_is_refused_as_a_collector_refuses_it(protocol: str) -> None:
    """gRPC: grpc's own RESOURCE_EXHAUSTED "larger than max" (the exporter retries it); HTTP: 413 (it does not)."""
    big = raw_request("traces")
    big.resource_spans[0].scope_spans[0].spans[0].name = "x" * 70_000
    with Receiver(max_request_bytes=64 * 1024) as r:
        if protocol == "grpc":
            channel = grpc.insecure_channel(f"127.0.0.1:{r.grpc_port}")
            with pytest.raises(grpc.RpcError) as info:
                trace_service_pb2_grpc.TraceServiceStub(channel).Export(big, timeout=5)
            channel.close()
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "larger than max" in info.value.details().lower()
        else:
            assert http_post(r, "/v1/traces", big.SerializeToString())[0] == 413
            assert r.too_large == 1
        assert r.requests == [] and export_spans(protocol, r)[0] is SpanExportResult.SUCCESS  # small ones pass


# --------------------------------------------------------------------------- behaviours


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("behavior", ["unauthenticated", "permission_denied", "fail"])
def test_permanent_failures_are_not_retried(protocol: str, behavior: str) -> None:
    with Receiver(behavior=behavior) as r:
        result, _ = export_spans(protocol, r, timeout=5)
        assert result is SpanExportResult.FAILURE
        assert [x.outcome for x in r.rejected] == [behavior]  # one attempt: a retry comes before the export returns
        assert r.requests == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unavailable_is_retried_then_given_up_before_timeout(protocol: str) -> None:
    with Receiver(behavior="unavailable") as r:
        result, _ = export_spans(protocol, r, timeout=2)
        assert result is SpanExportResult.FAILURE
        # attempt at t=0, backoff ~1s (±20 %), attempt, next backoff ~2s > remaining -> give up
        assert [x.outcome for x in r.rejected] == ["unavailable", "unavailable"]
        assert r.rejected[1].received_at - r.rejected[0].received_at >= 0.7  # the retry waited for its backoff


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_behavior_switch_at_runtime_lets_the_retry_succeed(protocol: str) -> None:
    def on_request(req: Any) -> None:
        seen.append(req.outcome)
        r.behavior = "accept"

    seen: list[str] = []
    with Receiver(behavior="unavailable", on_request=on_request) as r:
        result, _ = export_spans(protocol, r, timeout=5)
        assert result is SpanExportResult.SUCCESS
        assert seen == ["unavailable", "accepted"]
        assert len(r.requests) == 1 and len(r.rejected) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_hang_makes_the_exporter_time_out(protocol: str) -> None:
    with Receiver(behavior="hang") as r:
        result, elapsed = export_spans(protocol, r, timeout=1)
        assert result is SpanExportResult.FAILURE
        assert elapsed >= 0.9  # it waited for an answer until its own timeout (a hang guard: the test's timeout)
        assert [x.outcome for x in r.rejected] == ["hang"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stop_releases_a_hanging_request(protocol: str) -> None:
    """stop() answers a held request at once: a client that would wait 60 s for it gets its answer (or a closed
    connection), and stop() itself returns, long before that client's own deadline."""
    r = Receiver(behavior="hang").start()
    outcome: list[Any] = []

    def client() -> None:
        try:
            if protocol == "grpc":
                channel = grpc.insecure_channel(f"127.0.0.1:{r.grpc_port}")
                try:
                    trace_service_pb2_grpc.TraceServiceStub(channel).Export(raw_request("traces"), timeout=60)
                finally:
                    channel.close()
            else:
                conn = http.client.HTTPConnection("127.0.0.1", r.http_port, timeout=60)
                try:
                    conn.request("POST", "/v1/traces", body=raw_request("traces").SerializeToString(),
                                 headers={"Content-Type": "application/x-protobuf"})
                    outcome.append(conn.getresponse().status)
                finally:
                    conn.close()
        except grpc.RpcError as exc:
            outcome.append(exc.code())
        except (OSError, http.client.HTTPException) as exc:  # the held connection closed
            outcome.append(type(exc).__name__)

    worker = threading.Thread(target=client, daemon=True)
    worker.start()
    assert r.wait_for(lambda rc: len(rc.rejected) == 1, timeout=10)
    stopping = threading.Thread(target=r.stop, daemon=True)
    stopping.start()
    worker.join(30)  # far below the client's 60 s: only stop() can have released it
    assert not worker.is_alive() and outcome, "stop() left the hanging request held"
    stopping.join(30)
    assert not stopping.is_alive()
    if protocol == "grpc":
        assert outcome == [grpc.StatusCode.UNAVAILABLE]
    else:
        assert outcome != [200]  # never answered as accepted


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_partial_success_is_reported_success_by_the_sdk(protocol: str) -> None:
    with Receiver(behavior="partial") as r:
        result, _ = export_spans(protocol, r, timeout=5)
        # The SDK exporters ignore partial_success: the export counts as a success ...
        assert result is SpanExportResult.SUCCESS
        # ... but the receiver dropped everything.
        assert r.spans() == [] and [x.outcome for x in r.rejected] == ["partial"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("signal", "field", "count"),
                         [("traces", "rejected_spans", 2), ("logs", "rejected_log_records", 3),
                          ("metrics", "rejected_data_points", 4)])
def test_partial_success_counts(protocol: str, signal: str, field: str, count: int) -> None:
    with Receiver(behavior="partial") as r:
        response = send_raw(protocol, r, signal, raw_request(signal))
        assert getattr(response.partial_success, field) == count
        assert response.partial_success.error_message
        r.behavior = "accept"
        response = send_raw(protocol, r, signal, raw_request(signal))
        assert not response.HasField("partial_success")
        assert len(r.requests) == 1 and len(r.rejected) == 1


# --------------------------------------------------------------------------- TLS


def _without_requests_ca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_tls_grpc_with_ca_file_succeeds(self_signed_cert: tuple[str, str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    certfile, _ = self_signed_cert
    _without_requests_ca_env(monkeypatch)
    with Receiver(tls=self_signed_cert) as r:
        assert r.grpc_endpoint.startswith("https://") and r.http_endpoint.startswith("https://")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", certfile)
        result, _ = export_spans("grpc", r, timeout=5)
        assert result is SpanExportResult.SUCCESS
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_CERTIFICATE")
        result, _ = export_spans("http", r, timeout=5, certificate_file=certfile)
        assert result is SpanExportResult.SUCCESS
        assert [q.protocol for q in r.requests] == ["grpc", "http"]
        assert len(r.spans()) == 4


def _http_exporter_uses_requests() -> bool:
    import requests
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter()
    transport = getattr(getattr(exporter, "_client", None), "_transport", None)
    return isinstance(getattr(exporter, "_session", None) or getattr(transport, "_session", None), requests.Session)


@pytest.mark.parametrize("env_name", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_requests_ca_env_overrides_http_exporter_certificate_file(
        self_signed_cert: tuple[str, str], monkeypatch: pytest.MonkeyPatch, env_name: str) -> None:
    """SDK quirk where the HTTP exporter sends through ``requests`` (SDK 1.38-1.41, and 1.45.1's requests
    transport): it sets ``session.verify`` but ``requests`` lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE win over it, so
    ``certificate_file`` is ignored. Exporters on urllib3 (1.45.0's transport) keep ``certificate_file``."""
    _without_requests_ca_env(monkeypatch)
    system_bundle = ssl.get_default_verify_paths().openssl_cafile
    monkeypatch.setenv(env_name, system_bundle)
    with Receiver(tls=self_signed_cert, grpc=False) as r:
        result, _ = export_spans("http", r, timeout=1, certificate_file=self_signed_cert[0])
        assert result is (SpanExportResult.FAILURE if _http_exporter_uses_requests() else SpanExportResult.SUCCESS)
        monkeypatch.delenv(env_name)
        result, _ = export_spans("http", r, timeout=5, certificate_file=self_signed_cert[0])
        assert result is SpanExportResult.SUCCESS


def test_tls_without_the_ca_fails(self_signed_cert: tuple[str, str]) -> None:
    with Receiver(tls=self_signed_cert) as r:
        result, _ = export_spans("grpc", r, timeout=1)
        assert result is SpanExportResult.FAILURE
        result, _ = export_spans("http", r, timeout=1)
        assert result is SpanExportResult.FAILURE
        assert r.requests == [] and r.rejected == []
        # the server survives failed handshakes
        ctx = ssl.create_default_context(cafile=self_signed_cert[0])
        conn = http.client.HTTPSConnection("127.0.0.1", r.http_port, timeout=5, context=ctx)
        conn.request("POST", "/v1/traces", body=raw_request("traces").SerializeToString(),
                     headers={"Content-Type": "application/x-protobuf"})
        assert conn.getresponse().status == 200
        conn.close()


# --------------------------------------------------------------------------- helpers & misc


def test_to_jsonl_redacts_the_key_and_uses_hex_ids() -> None:
    with Receiver(required_key=KEY) as r:
        export_spans("grpc", r, headers={INGESTION_KEY_HEADER: KEY}, timeout=5)
        export_spans("http", r, headers={INGESTION_KEY_HEADER: KEY}, timeout=5)
        export_spans("http", r, timeout=5)  # rejected: no key
        lines = list(r.to_jsonl())
        everything = "\n".join(list(r.to_jsonl(include_rejected=True)))
    assert len(lines) == 2 and everything.count("\n") == 2
    assert KEY not in everything
    first = json.loads(lines[0])
    assert (first["signal"], first["protocol"]) == ("traces", "grpc")
    assert first["headers"][INGESTION_KEY_HEADER] == "<redacted>"
    assert isinstance(first["received_at"], float)
    span = first["body"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and int(span["traceId"], 16)
    assert len(span["spanId"]) == 16


def test_clear_and_wait_for_timeout(receiver: Receiver) -> None:
    export_spans("grpc", receiver, timeout=5)
    assert len(receiver.spans()) == 2
    receiver.clear()
    assert receiver.spans() == [] and receiver.requests == []
    start = time.monotonic()
    assert receiver.wait_for(lambda r: bool(r.spans()), timeout=0.2) is False
    assert time.monotonic() - start >= 0.2


def test_invalid_behavior_rejected(receiver: Receiver) -> None:
    with pytest.raises(ValueError):
        receiver.behavior = "explode"
    with pytest.raises(ValueError):
        Receiver(behavior="explode")
    assert receiver.behavior == "accept"


def test_endpoint_by_protocol(receiver: Receiver) -> None:
    assert receiver.endpoint("grpc") == f"http://127.0.0.1:{receiver.grpc_port}"
    assert receiver.endpoint("http/protobuf") == f"http://127.0.0.1:{receiver.http_port}"
    assert receiver.grpc_port != receiver.http_port
    with pytest.raises(ValueError):
        receiver.endpoint("http/json")


def test_grpc_only_receiver_leaves_http_off() -> None:
    with Receiver(http=False) as r:
        assert r.http_port == 0
        assert export_spans("grpc", r, timeout=5)[0] is SpanExportResult.SUCCESS


def test_module_import_is_cheap() -> None:
    code = ("import sys, signoz_litellm_run.receiver as m; "
            "heavy = [n for n in ('grpc', 'google.protobuf', 'opentelemetry') if n in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(autouse=True)
def _quiet_exporter_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Exporter failures are expected in many tests; keep them out of the failure report noise."""
    caplog.set_level(logging.CRITICAL, logger="opentelemetry")

"""hook/export_size.py: a batch goes out in requests under the limit, in order, each item once; a request the
endpoint refuses as too large is halved and sent again; the request measured is the one the exporter sends.

Real SDK spans and log records, OpenTelemetry's own exporters and encoders (with our span encoder), and, for the
endpoint's refusal, a real gRPC call to the test receiver with its size limit set low.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as grpc_trace_module
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http import _log_exporter as http_log_module
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

try:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
except ImportError:  # their names in SDK 1.38 (a batch of LogData)
    from opentelemetry.sdk._logs import LogData as ReadableLogRecord  # type: ignore[assignment]
    from opentelemetry.sdk._logs.export import LogExporter as LogRecordExporter  # type: ignore[assignment]
    from opentelemetry.sdk._logs.export import LogExportResult as LogRecordExportResult  # type: ignore[assignment]
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from signoz_litellm_run.hook import export_size, span_wire
from signoz_litellm_run.receiver import Receiver

SUCCESS, FAILURE = SpanExportResult.SUCCESS, SpanExportResult.FAILURE


class _Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list = []

    def export(self, spans):  # noqa: ANN001, ANN201
        self.spans.extend(spans)
        return SUCCESS


class _KeepLogs(LogRecordExporter):
    def __init__(self) -> None:
        self.records: list[ReadableLogRecord] = []

    def export(self, batch):  # noqa: ANN001, ANN201
        self.records.extend(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _spans(sizes: list[int]) -> list:
    """Ended SDK spans, the i-th carrying a prompt of sizes[i] characters (as LiteLLM's litellm_request does)."""
    keep = _Keep()
    provider = TracerProvider(resource=Resource({"service.name": "sizes"}))
    provider.add_span_processor(SimpleSpanProcessor(keep))
    tracer = provider.get_tracer("litellm")
    for i, size in enumerate(sizes):
        with tracer.start_as_current_span("litellm_request") as span:
            span.set_attribute("index", i)
            span.set_attribute("gen_ai.input.messages", "p" * size)
    return keep.spans


def _log_records(sizes: list[int]) -> list[ReadableLogRecord]:
    keep = _KeepLogs()
    provider = LoggerProvider(resource=Resource({"service.name": "sizes"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(keep))
    logger = provider.get_logger("app")
    for i, size in enumerate(sizes):
        logger.emit(LogRecord(body="b" * size, attributes={"index": i}))
    return keep.records


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A 100,000-byte limit, and no limit learned from an earlier test."""
    monkeypatch.setattr(export_size, "_configured", 100_000)
    monkeypatch.setattr(export_size, "_limits", {})
    yield 100_000


SPAN_ENCODER = span_wire.faster(encode_spans)


def _sent(encode, batch, outcomes=None):  # noqa: ANN001, ANN202
    """deliver() with a send that records each piece and the request its exporter would build for it."""
    sent: list[tuple[list, int]] = []
    unsent: list[int] = []
    outcomes = list(outcomes or [])

    def send(piece):  # noqa: ANN001, ANN202
        request = export_size._tls.prepared[1]
        sent.append((list(piece), len(request.SerializeToString())))
        outcome = outcomes.pop(0) if outcomes else SUCCESS
        if isinstance(outcome, int):  # the endpoint's refusal for size, as the gRPC stub notes it
            export_size._tls.refused = outcome
            return FAILURE
        return outcome

    result = export_size.deliver("traces", encode, batch, send, lambda count, reason: unsent.append((count, reason)))
    return result, sent, unsent


@pytest.mark.parametrize("sizes", [[10] * 5, [30_000] * 12, [1_000, 90_000, 5, 45_000, 45_000, 60_000, 2] * 3,
                                   [250_000], [10, 250_000, 10]])
def test_a_batch_goes_in_requests_under_the_limit_in_order_each_span_once(limit: int, sizes: list[int]) -> None:
    batch = _spans(sizes)
    result, sent, unsent = _sent(SPAN_ENCODER, batch)
    assert result == SUCCESS and not unsent
    assert [s for piece, _ in sent for s in piece] == batch  # in order, each span once
    for piece, size in sent:
        assert size <= limit or len(piece) == 1  # a span larger than the limit goes alone
    if len(encode_spans(batch).SerializeToString()) <= limit:
        assert len(sent) == 1  # a batch under the limit is one request, as before


def test_the_measured_size_is_the_size_of_the_request_sent() -> None:
    for sizes in ([5, 5], [70_000, 3]):
        batch = _spans(sizes)
        request, size = export_size.measure(SPAN_ENCODER, batch)
        assert request == encode_spans(batch) and size == len(encode_spans(batch).SerializeToString())
        records = _log_records(sizes)
        request, size = export_size.measure(encode_logs, records)
        assert request == encode_logs(records) and size == len(encode_logs(records).SerializeToString())


def test_log_records_are_split_too(limit: int) -> None:
    records = _log_records([40_000] * 7)
    sent = []
    result = export_size.deliver("logs", encode_logs, records,
                                 lambda piece: sent.append(list(piece)) or SUCCESS, lambda n, reason: None)
    assert result == SUCCESS and [r for piece in sent for r in piece] == records and len(sent) >= 3
    assert all(len(encode_logs(piece).SerializeToString()) <= limit for piece in sent)


def test_a_request_refused_as_too_large_is_halved_and_the_limit_learned(limit: int) -> None:
    batch = _spans([20_000] * 4)  # ~80 KB: one request under the configured limit
    # The endpoint refuses the first request, saying it takes 45,000 bytes.
    result, sent, unsent = _sent(SPAN_ENCODER, batch, outcomes=[45_000])
    assert result == SUCCESS and not unsent
    assert [len(piece) for piece, _ in sent] == [4, 2, 2]
    assert [s for piece, _ in sent[1:] for s in piece] == batch
    assert export_size.limit("traces") == 45_000 and export_size.limit("logs") == limit
    # From then on, batches are cut to the endpoint's figure at once.
    _, sent, _ = _sent(SPAN_ENCODER, _spans([20_000] * 4))
    assert [len(piece) for piece, _ in sent] == [2, 2]


def test_a_refusal_without_a_figure_takes_half_the_refused_size_for_what_follows(limit: int) -> None:
    # 8 spans of ~20 KB: two requests of 4 under the 100,000-byte limit. HTTP 413 refuses the first and gives no
    # figure: the limit becomes half the refused request, and both halves of the batch are cut to it.
    batch = _spans([20_000] * 8)
    result, sent, unsent = _sent(SPAN_ENCODER, batch, outcomes=[0])
    assert result == SUCCESS and not unsent
    assert [len(piece) for piece, _ in sent] == [4, 1, 1, 1, 1, 1, 1, 1, 1]  # a pair is a little over half of 4
    assert [s for piece, _ in sent[1:] for s in piece] == batch
    assert export_size.limit("traces") == sent[0][1] // 2


def test_a_refusal_with_an_odd_figure_still_sends_each_half_with_its_request(limit: int) -> None:
    batch = _spans([20_000] * 4)
    # The endpoint refuses, naming a limit above the request it refused (a proxy's own figure, say).
    result, sent, unsent = _sent(SPAN_ENCODER, batch, outcomes=[10**9])
    assert result == SUCCESS and not unsent
    assert [len(piece) for piece, _ in sent] == [4, 2, 2] and export_size.limit("traces") == limit


def test_a_batch_that_cannot_be_measured_goes_whole_to_its_exporter(limit: int) -> None:
    """Whatever fails in measuring, the exporter gets the batch as before (its own encoding then fails and is
    counted as it always was): nothing is lost uncounted."""
    batch = _spans([10, 10])

    def broken(spans):  # noqa: ANN001, ANN202
        raise ValueError("cannot encode")

    seen = []

    def send(piece):  # noqa: ANN001, ANN202
        seen.append((list(piece), getattr(export_size._tls, "prepared", None)))
        return FAILURE

    assert export_size.deliver("traces", broken, batch, send, lambda n, reason: None) == FAILURE
    assert seen == [(batch, None)]


def test_a_single_span_refused_is_sent_again_cut_to_fit(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    monkeypatch.setattr(export_size, "trimmed", {})
    batch = _spans([10, 250_000, 10])
    result, sent, unsent = _sent(SPAN_ENCODER, batch, outcomes=[SUCCESS, 0])  # HTTP 413 for the big one
    assert result == SUCCESS and not unsent
    assert [len(piece) for piece, _ in sent] == [1, 1, 1, 1]
    assert sent[0][0] == batch[:1] and sent[1][0] == batch[1:2] and sent[3][0] == batch[2:]
    [copy], size = sent[2]
    original = batch[1]
    assert size <= export_size.limit("traces") and export_size.trimmed == {"traces": 1}
    assert (copy.name, copy.context, copy.parent, copy.kind, copy.start_time, copy.end_time, copy.resource) == (
        original.name, original.context, original.parent, original.kind, original.start_time, original.end_time,
        original.resource)
    assert copy.attributes["index"] == 1
    assert copy.attributes[export_size.TRUNCATED_KEY] == ("gen_ai.input.messages",)
    value = copy.attributes["gen_ai.input.messages"]
    assert value.startswith("p" * 1000) and value.endswith("250,000 bytes in all, too large for the endpoint]")


def test_a_log_record_refused_is_sent_again_with_its_body_cut(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    monkeypatch.setattr(export_size, "trimmed", {})
    records = _log_records([10, 300_000])
    sent: list = []

    def send(piece):  # noqa: ANN001, ANN202
        sent.append(list(piece))
        if len(sent) == 2:  # the big one: refused as too large, no figure given
            export_size._tls.refused = 0
            return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    unsent: list = []
    result = export_size.deliver("logs", encode_logs, records, send, lambda n, reason: unsent.append(n))
    assert result == LogRecordExportResult.SUCCESS and not unsent and export_size.trimmed == {"logs": 1}
    assert [len(piece) for piece in sent] == [1, 1, 1]
    [copy] = sent[2]
    request = encode_logs([copy])
    assert len(request.SerializeToString()) <= export_size.limit("logs")
    [encoded] = request.resource_logs[0].scope_logs[0].log_records
    original = records[1].log_record
    assert encoded.body.string_value.endswith("300,000 bytes in all, too large for the endpoint]")
    attributes = {kv.key: kv.value for kv in encoded.attributes}
    assert attributes["index"].int_value == 1
    assert [v.string_value for v in attributes[export_size.TRUNCATED_KEY].array_value.values] == ["(body)"]
    assert (encoded.time_unix_nano, encoded.observed_time_unix_nano) == (original.timestamp or 0,
                                                                        original.observed_timestamp)
    assert records[1].log_record.body == "b" * 300_000  # the original is untouched


def test_a_span_refused_again_is_cut_again_then_counted_as_lost(limit: int) -> None:
    batch = _spans([250_000])
    result, sent, unsent = _sent(SPAN_ENCODER, batch, outcomes=[0, 0, 0, 0])
    assert [size for _, size in sent] == sorted((size for _, size in sent), reverse=True)  # smaller each time
    assert len(sent) == 4 and result == FAILURE  # the span, then three cut copies
    assert unsent == [(1, export_size.TOO_LARGE)]


def test_a_span_too_large_without_a_long_value_is_counted_as_lost(limit: int) -> None:
    keep = _Keep()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(keep))
    with provider.get_tracer("t").start_as_current_span("many") as span:
        span.set_attributes({f"key.{i}": "v" * 900 for i in range(120)})  # ~110 KB, no value over 1 KB
    batch = keep.spans + _spans([10])
    result, sent, unsent = _sent(SPAN_ENCODER, batch, outcomes=[0])
    assert [len(piece) for piece, _ in sent] == [1, 1] and sent[1][0] == batch[1:]  # the next span still goes
    assert unsent == [(1, export_size.TOO_LARGE)] and result == SUCCESS


def test_after_a_failure_other_than_size_the_rest_is_not_tried_and_counted(limit: int) -> None:
    batch = _spans([30_000] * 12)
    result, sent, unsent = _sent(SPAN_ENCODER, batch, outcomes=[SUCCESS, FAILURE])
    assert result == FAILURE and len(sent) == 2
    assert sum(len(piece) for piece, _ in sent) + sum(n for n, _ in unsent) == len(batch)
    assert unsent == [(len(batch) - sum(len(piece) for piece, _ in sent), None)]


def test_the_exporter_sends_the_request_that_was_measured(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """The exporters' module-level encoders hand back the request built for the batch being delivered (no
    second encoding), and encode any other batch as before."""
    monkeypatch.setattr(grpc_trace_module, "encode_spans", SPAN_ENCODER)
    monkeypatch.setattr(http_log_module, "encode_logs", encode_logs)
    export_size.install()
    exporter = OTLPSpanExporter(endpoint="http://127.0.0.1:9", insecure=True)
    log_exporter = OTLPLogExporter(endpoint="http://127.0.0.1:9/v1/logs")
    try:
        encode = export_size.encoder_of("traces", exporter)
        assert encode is SPAN_ENCODER
        assert export_size.encoder_of("logs", log_exporter) is encode_logs
        assert export_size.encoder_of("traces", _Keep()) is None  # not an OTLP exporter: left alone
        batch, other = _spans([30_000] * 6), _spans([5])
        translated = []

        def send(piece):  # noqa: ANN001, ANN202
            translated.append((export_size._tls.prepared[1], exporter._translate_data(piece)))
            return SUCCESS

        export_size.deliver("traces", encode, batch, send, lambda n, reason: None)
        assert len(translated) >= 2 and all(prepared is request for prepared, request in translated)
        assert exporter._translate_data(other) == encode_spans(other)  # not being delivered: encoded as before
        export_size.install()  # once only
        assert grpc_trace_module.encode_spans.__wrapped__ is SPAN_ENCODER
    finally:
        exporter.shutdown()
        log_exporter.shutdown()


def test_a_real_grpc_refusal_for_size_is_noted_and_not_retried(limit: int) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.exporter import _RETRYABLE_ERROR_CODES

    with Receiver(http=False, max_request_bytes=64 * 1024) as receiver:
        channel = grpc.insecure_channel(receiver.grpc_endpoint.removeprefix("http://"))
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(encode_spans(_spans([100_000])), timeout=10)
        small = stub.Export(encode_spans(_spans([10])), timeout=10)
        channel.close()
    assert small is not None and len(receiver.spans()) == 1
    error = info.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # what the exporter would retry until its timeout
    export_size._tls.refused = None
    replaced = export_size.note_grpc_error(error)
    assert replaced is not error and isinstance(replaced, grpc.RpcError)
    assert replaced.code() not in _RETRYABLE_ERROR_CODES and "too large" in replaced.details()
    assert export_size._tls.refused == 64 * 1024  # the endpoint's own figure, from its answer
    export_size._tls.refused = None


def test_other_grpc_errors_pass_unchanged() -> None:
    with Receiver(http=False, behavior="unavailable") as receiver:
        channel = grpc.insecure_channel(receiver.grpc_endpoint.removeprefix("http://"))
        with pytest.raises(grpc.RpcError) as info:
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(encode_spans(_spans([10])), timeout=10)
        channel.close()
    export_size._tls.refused = None
    assert export_size.note_grpc_error(info.value) is info.value
    assert export_size._tls.refused is None

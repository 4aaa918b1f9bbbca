"""What the OTLP receiver received, as data: the records, their decoding from OTLP protobuf, and the answers.

Pure functions over the `opentelemetry-proto` messages; the protobuf modules are imported only when a
message class is asked for (`_proto_classes`), so importing this module stays cheap.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_SIGNALS = ("traces", "metrics", "logs")
# (gRPC status name, HTTP status, message) for each failing behaviour.
_FAILURES: dict[str, tuple[str, int, str]] = {
    "unauthenticated": ("UNAUTHENTICATED", 401, "missing or invalid ingestion key"),
    "permission_denied": ("PERMISSION_DENIED", 403, "permission denied"),
    "unavailable": ("UNAVAILABLE", 503, "service unavailable"),
    "fail": ("INTERNAL", 500, "internal error"),
}
# google.rpc.Code numbers, used for the HTTP error body (a google.rpc.Status).
_RPC_CODES = {"UNAUTHENTICATED": 16, "PERMISSION_DENIED": 7, "UNAVAILABLE": 14, "INTERNAL": 13}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class ReceivedRequest:
    """One OTLP export request as it arrived.

    ``outcome`` is ``"accepted"`` for requests answered with success, else the name of
    what rejected it (``"unauthenticated"``, ``"partial"``, ``"hang"``, ...).
    """

    signal: str  # "traces" | "metrics" | "logs"
    protocol: str  # "grpc" | "http"
    headers: dict[str, str]  # lower-cased keys
    message: Any  # Export{Trace,Metrics,Logs}ServiceRequest
    received_at: float  # time.time()
    outcome: str = "accepted"
    raw: bytes = b""  # OTLP/HTTP with `Receiver(keep_raw=True)`: the body as posted (after Content-Encoding)


@dataclass(frozen=True)
class SpanRecord:
    """A decoded span, flattened with its resource and scope."""

    name: str
    trace_id: str  # 32 hex chars
    span_id: str  # 16 hex chars
    parent_span_id: str  # 16 hex chars or ""
    kind: int
    status_code: int
    status_message: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def service_name(self) -> str | None:
        """``service.name`` of the span's resource."""
        return self.resource.get("service.name")


@dataclass(frozen=True)
class LogRecordData:
    """A decoded log record, flattened with its resource and scope."""

    body: Any
    severity_text: str
    severity_number: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    trace_id: str  # hex or ""
    span_id: str  # hex or ""
    scope: str


@dataclass(frozen=True)
class MetricData:
    """A decoded metric (one per metric per request), flattened with resource and scope.

    ``data_points`` are dicts with ``attributes`` and, depending on ``kind``: ``value``
    (gauge/sum), ``count``/``sum``/``min``/``max``/``bucket_counts``/``explicit_bounds``
    (histogram), ``count``/``sum`` (exponential_histogram, summary).
    """

    name: str
    unit: str
    kind: str  # "gauge" | "sum" | "histogram" | "exponential_histogram" | "summary" | ""
    resource: dict[str, Any]
    scope: str
    data_points: list[dict[str, Any]]
    description: str = ""

# --------------------------------------------------------------------------- decoding


def decode_any_value(value: Any) -> Any:
    """Decode an OTLP ``AnyValue`` into a plain Python value (``None`` when unset)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [decode_any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return decode_attributes(value.kvlist_value.values)
    return getattr(value, which)


def decode_attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    """Decode a repeated OTLP ``KeyValue`` into a dict."""
    return {kv.key: decode_any_value(kv.value) for kv in key_values}


def _hex(raw: bytes) -> str:
    return raw.hex() if raw else ""


def _count_items(signal: str, message: Any) -> int:
    """Number of spans / log records / metric data points in an export request."""
    if signal == "traces":
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    if signal == "logs":
        return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)
    total = 0
    for rm in message.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind:
                    total += len(getattr(metric, kind).data_points)
    return total


def _data_point(kind: str, point: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": decode_attributes(point.attributes),
        "start_time_unix_nano": point.start_time_unix_nano,
        "time_unix_nano": point.time_unix_nano,
        "exemplars": len(getattr(point, "exemplars", ())),
    }
    if kind in ("gauge", "sum"):
        which = point.WhichOneof("value")
        out["value"] = getattr(point, which) if which else None
    elif kind == "histogram":
        out.update(
            count=point.count,
            sum=point.sum if point.HasField("sum") else None,
            min=point.min if point.HasField("min") else None,
            max=point.max if point.HasField("max") else None,
            bucket_counts=list(point.bucket_counts),
            explicit_bounds=list(point.explicit_bounds),
        )
    elif kind == "exponential_histogram":
        out.update(count=point.count, sum=point.sum if point.HasField("sum") else None)
    elif kind == "summary":
        out.update(count=point.count, sum=point.sum)
    return out


def _ids_to_hex(obj: Any) -> Any:
    """OTLP/JSON encodes trace/span ids as hex, protobuf JSON as base64: convert."""
    if isinstance(obj, dict):
        return {
            k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else _ids_to_hex(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_ids_to_hex(v) for v in obj]
    return obj


def _proto_classes(signal: str) -> tuple[type, type]:
    """(request class, response class) of the Export service of ``signal``."""
    if signal == "traces":
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
        return pb.ExportTraceServiceRequest, pb.ExportTraceServiceResponse
    if signal == "metrics":
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as pb
        return pb.ExportMetricsServiceRequest, pb.ExportMetricsServiceResponse
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as pb
    return pb.ExportLogsServiceRequest, pb.ExportLogsServiceResponse


def _response(signal: str, rejected: int | None) -> Any:
    """An Export*ServiceResponse; with ``rejected`` set, a partial_success rejecting that many."""
    _, response_cls = _proto_classes(signal)
    response = response_cls()
    if rejected is not None:
        field_name = {"traces": "rejected_spans", "logs": "rejected_log_records",
                      "metrics": "rejected_data_points"}[signal]
        setattr(response.partial_success, field_name, rejected)
        response.partial_success.error_message = "rejected by test receiver (behavior=partial)"
    return response


# --------------------------------------------------------------------------- receiver

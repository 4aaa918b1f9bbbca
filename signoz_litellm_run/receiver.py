"""A real, in-process OTLP receiver (gRPC and HTTP/protobuf) on loopback.

Used by the test suite, by the launcher's ``--local`` mode and by ``doctor``'s tests.
It speaks the genuine OTLP wire protocol, built on the service definitions shipped in
``opentelemetry-proto``, so the real OpenTelemetry SDK exporters can talk to it.

Importing this module is cheap: grpc and the protobuf modules are only imported when a
:class:`Receiver` is started or a helper that needs them is called.

Behaviours (``Receiver.behavior``, changeable at runtime: gRPC status / HTTP status, and how
the OTel Python SDK exporters 1.45.x react):

* ``accept``: OK / 200. Success.
* ``unauthenticated``: UNAUTHENTICATED / 401. Permanent failure, no retry.
* ``permission_denied``: PERMISSION_DENIED / 403. Permanent failure, no retry.
* ``unavailable``: UNAVAILABLE / 503. Retried with backoff 1s, 2s, 4s, ... (+-20 % jitter, at
  most 6 attempts) while the next backoff still fits in the exporter's ``timeout``; so with
  ``timeout=N`` the exporter gives up *before* N seconds (about 1s for N=2, 3-3.5s for N=5).
* ``hang``: the request is accepted and never answered (until :meth:`Receiver.stop`, or until
  the client goes away). The exporter gives up after its ``timeout`` seconds (the gRPC
  DEADLINE_EXCEEDED / HTTP read timeout is retryable, but no backoff fits in the time left).
* ``partial``: OK / 200 with ``partial_success`` rejecting every item. The SDK ignores
  ``partial_success`` and reports SUCCESS; the receiver files the request under ``rejected``.
* ``fail``: INTERNAL / 500. Permanent failure, no retry.

Retryable per the SDK: gRPC CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED,
OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS; HTTP 429, 502, 503, 504 (honouring Retry-After) and
connection errors, timeouts and TLS errors. Everything else is a permanent failure.

Order of evaluation for each request: ``hang`` and ``unavailable`` first (the endpoint is down
before any auth happens), then forced ``unauthenticated`` / ``permission_denied``, then the
``required_key`` check, then ``fail`` and ``partial``. A missing *and* a wrong
``signoz-ingestion-key`` header both get UNAUTHENTICATED / 401 (a deliberate simplification:
one "bad key" answer; use ``behavior="permission_denied"`` to simulate a 403).
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.protobuf.message import Message

__all__ = [
    "BEHAVIORS",
    "INGESTION_KEY_HEADER",
    "LogRecordData",
    "MetricData",
    "ReceivedRequest",
    "Receiver",
    "SilentServer",
    "SpanRecord",
    "decode_any_value",
    "decode_attributes",
    "unused_port",
]

_log = logging.getLogger(__name__)

INGESTION_KEY_HEADER = "signoz-ingestion-key"
"""Header (gRPC metadata key) carrying the SigNoz ingestion key."""

BEHAVIORS = frozenset(
    {"accept", "unauthenticated", "permission_denied", "unavailable", "hang", "partial", "fail"}
)

_SENSITIVE_HEADERS = frozenset({INGESTION_KEY_HEADER, "authorization", "x-api-key", "api-key"})
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
    raw: bytes = b""  # OTLP/HTTP: the body as posted (after Content-Encoding); gRPC: empty


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


class Receiver:
    """OTLP receiver: gRPC (TraceService/MetricsService/LogsService) and HTTP/protobuf.

    Use as a context manager (``with Receiver() as r: ...``) or call :meth:`start` /
    :meth:`stop`. Ports default to 0 (an ephemeral port chosen by the OS).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        grpc: bool = True,
        http: bool = True,
        required_key: str | None = None,
        behavior: str = "accept",
        tls: tuple[str, str] | None = None,
        on_request: Callable[[ReceivedRequest], None] | None = None,
        grpc_port: int = 0,
        http_port: int = 0,
        max_request_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        if behavior not in BEHAVIORS:
            raise ValueError(f"unknown behavior {behavior!r}; expected one of {sorted(BEHAVIORS)}")
        self.host = host
        self.required_key = required_key
        self.tls = tls
        self.on_request = on_request
        self._want_grpc = grpc
        self._want_http = http
        self.grpc_port = grpc_port
        self.http_port = http_port
        # Larger requests are refused as a collector refuses them: gRPC RESOURCE_EXHAUSTED (grpc's own check),
        # HTTP 413. A self-hosted SigNoz collector takes 4 MiB over gRPC; SigNoz Cloud 16 MB.
        self.max_request_bytes = max_request_bytes
        self.too_large = 0  # HTTP requests refused for their size (gRPC refuses before the servicer sees them)
        self._behavior = behavior
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._requests: list[ReceivedRequest] = []
        self._rejected: list[ReceivedRequest] = []
        self._stopping = threading.Event()
        self._grpc_server: Any = None
        self._http_server: _HTTPServer | None = None
        self._http_thread: threading.Thread | None = None

    # ---- configuration -------------------------------------------------------------

    @property
    def behavior(self) -> str:
        """Current behaviour; assign to change it while running."""
        with self._lock:
            return self._behavior

    @behavior.setter
    def behavior(self, value: str) -> None:
        if value not in BEHAVIORS:
            raise ValueError(f"unknown behavior {value!r}; expected one of {sorted(BEHAVIORS)}")
        with self._lock:
            self._behavior = value

    @property
    def _scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def grpc_endpoint(self) -> str:
        """``http(s)://host:port`` of the gRPC server."""
        return f"{self._scheme}://{self.host}:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """Base URL (no ``/v1/...`` path) of the HTTP server, as for OTEL_EXPORTER_OTLP_ENDPOINT."""
        return f"{self._scheme}://{self.host}:{self.http_port}"

    def endpoint(self, protocol: str) -> str:
        """Endpoint for an OTLP protocol name: ``"grpc"`` or ``"http/protobuf"``."""
        if protocol == "grpc":
            return self.grpc_endpoint
        if protocol in ("http/protobuf", "http"):
            return self.http_endpoint
        raise ValueError(f"unsupported OTLP protocol {protocol!r}")

    def http_url(self, signal: str) -> str:
        """Full per-signal HTTP URL, e.g. ``http://127.0.0.1:PORT/v1/traces``."""
        return f"{self.http_endpoint}/v1/{signal}"

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> Receiver:
        """Start the enabled servers; returns ``self``."""
        self._stopping.clear()
        try:
            if self._want_grpc:
                self._start_grpc()
            if self._want_http:
                self._start_http()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers and release any request held by ``hang``."""
        self._stopping.set()
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=0.2).wait(5)
            self._grpc_server = None
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.close_connections()
            self._http_server.server_close()
            self._http_server = None
        if self._http_thread is not None:
            self._http_thread.join(5)
            self._http_thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_grpc(self) -> None:
        import grpc as grpc_lib
        from concurrent import futures

        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        server = grpc_lib.server(
            futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="otlp-grpc"),
            options=[("grpc.max_receive_message_length", self.max_request_bytes),
                     ("grpc.so_reuseport", 0)],
        )
        receiver = self

        def make_servicer(base: type, signal: str) -> Any:
            class Servicer(base):  # type: ignore[misc, valid-type]
                def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC name)
                    return receiver._handle_grpc(signal, request, context)

            return Servicer()

        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            make_servicer(trace_service_pb2_grpc.TraceServiceServicer, "traces"), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            make_servicer(metrics_service_pb2_grpc.MetricsServiceServicer, "metrics"), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
            make_servicer(logs_service_pb2_grpc.LogsServiceServicer, "logs"), server)

        address = f"{self.host}:{self.grpc_port}"
        if self.tls:
            certfile, keyfile = self.tls
            with open(certfile, "rb") as f:
                cert = f.read()
            with open(keyfile, "rb") as f:
                key = f.read()
            port = server.add_secure_port(address, grpc_lib.ssl_server_credentials([(key, cert)]))
        else:
            port = server.add_insecure_port(address)
        if not port:
            raise OSError(f"could not bind gRPC receiver to {address}")
        server.start()
        self.grpc_port = port
        self._grpc_server = server

    def _start_http(self) -> None:
        ssl_context = None
        if self.tls:
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_context.load_cert_chain(*self.tls)
        server = _HTTPServer((self.host, self.http_port), _OTLPHTTPHandler, self, ssl_context)
        self.http_port = server.server_address[1]
        self._http_server = server
        self._http_thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name="otlp-http-receiver", daemon=True,
        )
        self._http_thread.start()

    # ---- request handling (shared by both protocols) ----------------------------------

    def _decide(self, headers: Mapping[str, str]) -> str:
        """Return the outcome for a request: "accepted", "partial", "hang" or a failure name."""
        behavior = self.behavior
        if behavior in ("hang", "unavailable", "unauthenticated", "permission_denied"):
            return behavior
        if self.required_key is not None and headers.get(INGESTION_KEY_HEADER) != self.required_key:
            return "unauthenticated"
        if behavior in ("fail", "partial"):
            return behavior
        return "accepted"

    def _record(self, signal: str, protocol: str, headers: dict[str, str], message: Any,
                outcome: str, raw: bytes = b"") -> ReceivedRequest:
        request = ReceivedRequest(signal, protocol, headers, message, time.time(), outcome, raw)
        with self._arrived:
            (self._requests if outcome == "accepted" else self._rejected).append(request)
            self._arrived.notify_all()
        if self.on_request is not None:
            try:
                self.on_request(request)
            except Exception:  # a broken callback must not break the receiver
                _log.exception("on_request callback failed")
        return request

    def _hold(self, still_wanted: Callable[[], bool]) -> None:
        """Block a ``hang`` request until stop() or until the client has gone away."""
        while still_wanted() and not self._stopping.wait(0.05):
            pass

    def _handle_grpc(self, signal: str, message: Any, context: Any) -> Any:
        import grpc as grpc_lib

        headers = {k.lower(): v if isinstance(v, str) else v.decode("latin-1")
                   for k, v in context.invocation_metadata()}
        outcome = self._decide(headers)
        self._record(signal, "grpc", headers, message, outcome)
        if outcome == "hang":
            self._hold(context.is_active)
            context.abort(grpc_lib.StatusCode.UNAVAILABLE, "receiver stopped")
        if outcome in _FAILURES:
            code_name, _, text = _FAILURES[outcome]
            context.abort(getattr(grpc_lib.StatusCode, code_name), text)
        return _response(signal, _count_items(signal, message) if outcome == "partial" else None)

    # ---- data access -----------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Requests answered with success, in arrival order (a snapshot copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def rejected(self) -> list[ReceivedRequest]:
        """Requests not answered with success (auth errors, failures, partial, hang)."""
        with self._lock:
            return list(self._rejected)

    def _accepted(self, signal: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.signal == signal]

    def spans(self) -> list[SpanRecord]:
        """All accepted spans, in arrival order."""
        out: list[SpanRecord] = []
        for req in self._accepted("traces"):
            for rs in req.message.resource_spans:
                resource = decode_attributes(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append(SpanRecord(
                            name=s.name, trace_id=_hex(s.trace_id), span_id=_hex(s.span_id),
                            parent_span_id=_hex(s.parent_span_id), kind=s.kind,
                            status_code=s.status.code, status_message=s.status.message,
                            start_time_unix_nano=s.start_time_unix_nano,
                            end_time_unix_nano=s.end_time_unix_nano,
                            attributes=decode_attributes(s.attributes), resource=resource,
                            scope=ss.scope.name,
                            events=[(e.name, decode_attributes(e.attributes)) for e in s.events],
                        ))
        return out

    def log_records(self) -> list[LogRecordData]:
        """All accepted log records, in arrival order."""
        out: list[LogRecordData] = []
        for req in self._accepted("logs"):
            for rl in req.message.resource_logs:
                resource = decode_attributes(rl.resource.attributes)
                for sl in rl.scope_logs:
                    for lr in sl.log_records:
                        out.append(LogRecordData(
                            body=decode_any_value(lr.body), severity_text=lr.severity_text,
                            severity_number=lr.severity_number,
                            attributes=decode_attributes(lr.attributes), resource=resource,
                            trace_id=_hex(lr.trace_id), span_id=_hex(lr.span_id),
                            scope=sl.scope.name,
                        ))
        return out

    def metrics(self) -> list[MetricData]:
        """All accepted metrics (one entry per metric per request), in arrival order."""
        out: list[MetricData] = []
        for req in self._accepted("metrics"):
            for rm in req.message.resource_metrics:
                resource = decode_attributes(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data") or ""
                        points = getattr(m, kind).data_points if kind else []
                        out.append(MetricData(
                            name=m.name, unit=m.unit, kind=kind, resource=resource,
                            scope=sm.scope.name, description=m.description,
                            data_points=[_data_point(kind, p) for p in points],
                        ))
        return out

    def metric_names(self) -> set[str]:
        """Names of all accepted metrics."""
        return {m.name for m in self.metrics()}

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` is true (re-checked on each arrival); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._arrived:
                self._arrived.wait(min(remaining, 0.05))

    def clear(self) -> None:
        """Forget every request received so far."""
        with self._lock:
            self._requests.clear()
            self._rejected.clear()

    def to_jsonl(self, *, include_rejected: bool = False) -> Iterable[str]:
        """One JSON line per accepted request (optionally also rejected ones).

        ``{"signal", "protocol", "received_at", "outcome", "headers", "body"}``; ``body`` is the
        request in OTLP/JSON form (hex ids). Ingestion keys and other credentials are redacted.
        """
        from google.protobuf.json_format import MessageToDict

        with self._lock:
            items = list(self._requests) + (list(self._rejected) if include_rejected else [])
        items.sort(key=lambda r: r.received_at)
        for req in items:
            headers = {k: ("<redacted>" if k in _SENSITIVE_HEADERS else v) for k, v in req.headers.items()}
            yield json.dumps({
                "signal": req.signal,
                "protocol": req.protocol,
                "received_at": req.received_at,
                "outcome": req.outcome,
                "headers": headers,
                "body": _ids_to_hex(MessageToDict(req.message)),
            }, sort_keys=False)


# --------------------------------------------------------------------------- HTTP side


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its Receiver, optionally serves TLS, and can drop
    every open connection on stop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 receiver: Receiver, ssl_context: ssl.SSLContext | None) -> None:
        self.receiver = receiver
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("OTLP HTTP receiver: error on connection from %s", client_address, exc_info=True)


class _OTLPHTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.ssl_context is not None:
            self.request.settimeout(10)  # bound the handshake: a silent client must not pin a thread
            self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
            self.request.settimeout(None)
        self._conn: socket.socket = self.request
        self.server.track(self._conn, True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self._conn, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        _log.debug("OTLP HTTP receiver: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str = "application/x-protobuf") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_status(self, status: int, code_name: str, text: str) -> None:
        from google.rpc import status_pb2

        self._send(status, status_pb2.Status(code=_RPC_CODES.get(code_name, 2), message=text)
                   .SerializeToString())

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _client_connected(self) -> bool:
        """False once the client closed its side (used while holding a ``hang`` request).

        The connection is closed after a held request, so consuming a byte here is harmless.
        """
        try:
            readable, _, _ = select.select([self._conn], [], [], 0)
            if not readable:
                return True
            self._conn.setblocking(False)
            try:
                return self._conn.recv(1) != b""
            finally:
                self._conn.setblocking(True)
        except (BlockingIOError, ssl.SSLWantReadError):
            return True
        except (OSError, ValueError):
            return False

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        body = self._read_body()
        if len(body) > self.server.receiver.max_request_bytes:
            with self.server.receiver._lock:
                self.server.receiver.too_large += 1
            self._send(413, b"request body too large", "text/plain")
            return
        signal = self.path.split("?", 1)[0].rstrip("/").removeprefix("/v1/")
        if signal not in _SIGNALS:
            self._send(404, b"not found", "text/plain")
            return
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-protobuf":
            self._send(415, b"only application/x-protobuf is supported", "text/plain")
            return
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        request_cls, _ = _proto_classes(signal)
        message = request_cls()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            message.ParseFromString(body)
        except Exception:
            self._send(400, b"malformed OTLP payload", "text/plain")
            return
        receiver = self.server.receiver
        headers = {k.lower(): v for k, v in self.headers.items()}
        outcome = receiver._decide(headers)
        receiver._record(signal, "http", headers, message, outcome, body)
        if outcome == "hang":
            receiver._hold(self._client_connected)
            self.close_connection = True
            return
        if outcome in _FAILURES:
            code_name, status, text = _FAILURES[outcome]
            self._send_status(status, code_name, text)
            return
        rejected = _count_items(signal, message) if outcome == "partial" else None
        self._send(200, _response(signal, rejected).SerializeToString())

    def do_GET(self) -> None:  # noqa: N802
        self._send(405, b"use POST", "text/plain")


# --------------------------------------------------------------------------- helpers


class SilentServer:
    """A TCP server on loopback that accepts connections, reads and discards, never replies.

    Stands in for "an endpoint that accepts the connection but never answers".
    ``endpoint`` is ``http://127.0.0.1:PORT``; ``connections`` counts accepted connections.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.connections = 0
        self.bytes_received = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SilentServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="silent-server", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        assert self._sock is not None
        clients: list[socket.socket] = []
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([self._sock, *clients], [], [], 0.05)
                for s in readable:
                    if s is self._sock:
                        try:
                            conn, _ = self._sock.accept()
                        except OSError:
                            continue
                        conn.setblocking(False)
                        clients.append(conn)
                        self.connections += 1
                        continue
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        self.bytes_received += len(data)
                    else:
                        clients.remove(s)
                        s.close()
        finally:
            for c in clients:
                c.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SilentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def unused_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` with nothing listening (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


"""A real, in-process OTLP receiver (gRPC and HTTP/protobuf) on loopback.

Used by the test suite, by the launcher's ``--local`` mode and by ``doctor``'s tests.
It speaks the genuine OTLP wire protocol, built on the service definitions shipped in
``opentelemetry-proto``, so the real OpenTelemetry SDK exporters can talk to it.

Importing this module is cheap: grpc and the protobuf modules are only imported when a
:class:`Receiver` is started or a helper that needs them is called. The records and their decoding are in
``received.py``, the HTTP server in ``receiver_http.py``; the gRPC server is here.

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

import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from signoz_litellm_run.received import (
    _FAILURES,
    LogRecordData,
    MetricData,
    ReceivedRequest,
    SpanRecord,
    _count_items,
    _data_point,
    _hex,
    _ids_to_hex,
    _response,
    decode_any_value,
    decode_attributes,
)
from signoz_litellm_run.receiver_http import _HTTPServer, _OTLPHTTPHandler

__all__ = [
    "BEHAVIORS",
    "INGESTION_KEY_HEADER",
    "Receiver",
]

_log = logging.getLogger(__name__)

INGESTION_KEY_HEADER = "signoz-ingestion-key"
"""Header (gRPC metadata key) carrying the SigNoz ingestion key."""

BEHAVIORS = frozenset(
    {"accept", "unauthenticated", "permission_denied", "unavailable", "hang", "partial", "fail"}
)

_SENSITIVE_HEADERS = frozenset({INGESTION_KEY_HEADER, "authorization", "x-api-key", "api-key"})


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
        http_socket: socket.socket | None = None,
        keep_raw: bool = False,
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
        self._http_socket = http_socket  # already listening (`run --local` binds it before the command starts)
        # Larger requests are refused as a collector refuses them: gRPC RESOURCE_EXHAUSTED (grpc's own check),
        # HTTP 413. A self-hosted SigNoz collector takes 4 MiB over gRPC; SigNoz Cloud 16 MB.
        self.max_request_bytes = max_request_bytes
        # Each OTLP/HTTP body as posted (`ReceivedRequest.raw`), for tests that search every byte sent; `--local`
        # keeps only the decoded messages (the bodies would double what a long job holds).
        self.keep_raw = keep_raw
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
        server = _HTTPServer((self.host, self.http_port), _OTLPHTTPHandler, self, ssl_context, self._http_socket)
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
        request = ReceivedRequest(signal, protocol, headers, message, time.time(), outcome,
                                  raw if self.keep_raw else b"")
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

"""Network probes for `doctor`: DNS, TCP, TLS, proxies and real OTLP exports, each bounded in time.

Every function here takes an explicit timeout and returns a plain result (never raises for a network
problem), so `doctor` can run them concurrently and turn them into checks. Nothing here prints, and
the ingestion key only ever travels in request headers / gRPC metadata.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

T = TypeVar("T")

# Outcomes of an OTLP export probe.
ACCEPTED = "accepted"
KEY_REJECTED = "key rejected"
UNAVAILABLE = "unavailable"
TIMED_OUT = "timed out"
TLS_FAILED = "tls failed"
ERROR = "error"  # anything else the endpoint answered (404, INTERNAL, UNIMPLEMENTED, ...)


class Timeout(Exception):
    """A bounded call did not finish in time (its thread is left behind as a daemon)."""


def bounded(fn: Callable[[], T], timeout: float) -> T:
    """Run `fn` in a daemon thread and wait at most `timeout` seconds.

    Daemon threads, not a ThreadPoolExecutor: the interpreter joins executor threads at exit, so a
    blocked getaddrinfo() or a socket that never answers would hold doctor's exit hostage.
    """
    box: list[Any] = []
    done = threading.Event()

    def target() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 (re-raised in the caller's thread)
            box.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=target, name="doctor-probe", daemon=True).start()
    if not done.wait(max(timeout, 0.0)):
        raise Timeout(f"no answer within {timeout:.1f} s")
    ok, value = box[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


# --------------------------------------------------------------------------------------------- endpoint


@dataclass(frozen=True)
class Target:
    """Where an OTLP exporter connects for one protocol."""

    scheme: str  # http | https
    host: str
    port: int
    path: str  # base path (HTTP collectors behind a prefix); "" for gRPC

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def target_for(endpoint: str, protocol: str) -> Target:
    """The host and port the exporter of `protocol` uses for `endpoint` (gRPC's default port is 443)."""
    parts = urlsplit(endpoint)
    default = 443 if protocol == "grpc" or parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname or "", parts.port or default,
                  "" if protocol == "grpc" else parts.path.rstrip("/"))


def alternative_endpoint(endpoint: str, protocol: str) -> str:
    """The endpoint to try with the other protocol: SigNoz's 4317 (gRPC) <-> 4318 (HTTP) swap, else the same."""
    parts = urlsplit(endpoint)
    swap = {"grpc": {4318: 4317}, "http/protobuf": {4317: 4318}}[other_protocol(protocol)]
    if parts.port in swap:
        netloc = parts.netloc.rsplit(":", 1)[0] + f":{swap[parts.port]}"
        return f"{parts.scheme}://{netloc}{parts.path}"
    return endpoint


def other_protocol(protocol: str) -> str:
    return "http/protobuf" if protocol == "grpc" else "grpc"


def parse_headers(header_text: str | None) -> list[tuple[str, str]]:
    """OTEL_EXPORTER_OTLP_HEADERS (`k=v,k2=v2`, values URL-encoded) as (lower-case name, value) pairs."""
    pairs = []
    for part in (header_text or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            pairs.append((name.strip().lower(), unquote(value.strip())))
    return pairs


# --------------------------------------------------------------------------------------------- DNS / TCP / TLS


@dataclass(frozen=True)
class Probe:
    """Result of one network step: ok, a one-line detail, and extra facts for the caller."""

    ok: bool
    detail: str
    timed_out: bool = False
    extra: Any = None


def resolve_host(host: str, port: int, timeout: float) -> Probe:
    """getaddrinfo in a thread: it can block for the resolver's own (long) timeout."""
    start = time.monotonic()
    try:
        infos = bounded(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except Timeout:
        return Probe(False, f"{host} did not resolve within {timeout:.1f} s", timed_out=True)
    except socket.gaierror as exc:
        return Probe(False, f"{host} does not resolve: {exc.strerror or exc}")
    except OSError as exc:
        return Probe(False, f"{host} does not resolve: {exc}")
    addresses = sorted({str(info[4][0]) for info in infos})
    shown = ", ".join(addresses[:3]) + (f" (+{len(addresses) - 3})" if len(addresses) > 3 else "")
    return Probe(True, f"{host} -> {shown} ({(time.monotonic() - start) * 1000:.0f} ms)", extra=addresses)


def tcp_connect(host: str, port: int, timeout: float) -> Probe:
    start = time.monotonic()
    try:
        sock = bounded(lambda: socket.create_connection((host, port), timeout=timeout), timeout + 0.2)
    except (Timeout, socket.timeout):
        return Probe(False, f"connecting to {host}:{port} timed out after {timeout:.1f} s", timed_out=True)
    except ConnectionRefusedError:
        return Probe(False, f"{host}:{port} refused the connection (nothing listens there)")
    except OSError as exc:
        return Probe(False, f"cannot connect to {host}:{port}: {exc.strerror or exc}")
    sock.close()
    return Probe(True, f"connected to {host}:{port} in {(time.monotonic() - start) * 1000:.0f} ms")


def tls_context(ca_cert: str | None) -> ssl.SSLContext:
    """Verification as the HTTP exporter does it: the system CAs, or only --ca-cert when given."""
    return ssl.create_default_context(cafile=ca_cert) if ca_cert else ssl.create_default_context()


@dataclass(frozen=True)
class TlsFacts:
    verified: bool
    days_left: float | None
    subject: str
    issuer: str
    version: str


def tls_handshake(host: str, port: int, ca_cert: str | None, timeout: float) -> Probe:
    """A verifying handshake; `extra` holds TlsFacts when it succeeded."""

    def handshake() -> TlsFacts:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with tls_context(ca_cert).wrap_socket(raw, server_hostname=host) as tls:
                cert: dict[str, Any] = dict(tls.getpeercert() or {})
                days = None
                if isinstance(cert.get("notAfter"), str):
                    days = (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400

                def name(field_name: str) -> str:
                    return ", ".join(f"{k}={v}" for rdn in cert.get(field_name, ()) for k, v in rdn)

                return TlsFacts(True, days, name("subject"), name("issuer"), tls.version() or "?")

    try:
        facts = bounded(handshake, timeout + 0.2)
    except (Timeout, socket.timeout):
        return Probe(False, f"TLS handshake with {host}:{port} timed out after {timeout:.1f} s", timed_out=True)
    except ssl.SSLCertVerificationError as exc:
        return Probe(False, f"certificate not trusted: {exc.verify_message or exc.reason}", extra="verify")
    except ssl.SSLError as exc:
        return Probe(False, f"TLS handshake failed: {exc.reason or exc} (is the endpoint plain text? use http://)",
                     extra="ssl")
    except OSError as exc:
        return Probe(False, f"TLS handshake with {host}:{port} failed: {exc.strerror or exc}")
    return Probe(True, f"{facts.version}, certificate verified ({facts.subject or 'no subject'})", extra=facts)


# --------------------------------------------------------------------------------------------- proxies


def proxy_for(target: Target, environ: dict[str, str] | Any) -> str | None:
    """The HTTP proxy an HTTP client (requests, urllib) would use for `target`, or None (NO_PROXY honoured)."""
    proxies = {k.lower(): v for k, v in environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
    proxy = proxies.get("https_proxy" if target.tls else "http_proxy")
    if not proxy:
        return None
    no_proxy = proxies.get("no_proxy", "")
    for entry in (e.strip().lower() for e in no_proxy.split(",") if e.strip()):
        if entry == "*":
            return None
        entry = entry.lstrip(".").split(":")[0]
        host = target.host.lower()
        if host == entry or host.endswith("." + entry):
            return None
    return proxy


# --------------------------------------------------------------------------------------------- OTLP exports


@dataclass(frozen=True)
class Export:
    """One OTLP export attempt."""

    protocol: str
    endpoint: str
    outcome: str
    detail: str
    seconds: float


def _trace_request_empty() -> Any:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    return trace_service_pb2.ExportTraceServiceRequest()


def export_grpc(endpoint: str, signal: str, request: Any, headers: Sequence[tuple[str, str]],
                ca_cert: str | None, timeout: float) -> Export:
    """One Export call on a raw gRPC channel, with the headers as metadata."""
    start = time.monotonic()
    try:
        import grpc
    except ImportError:
        return Export("grpc", endpoint, ERROR, "grpcio is not installed", 0.0)
    stubs = _grpc_stubs()
    target = target_for(endpoint, "grpc")
    try:
        roots = Path(ca_cert).read_bytes() if ca_cert and target.tls else None
    except OSError as exc:
        return Export("grpc", endpoint, TLS_FAILED, f"cannot read {ca_cert}: {exc.strerror or exc}", 0.0)
    if target.tls:
        channel = grpc.secure_channel(target.authority, grpc.ssl_channel_credentials(root_certificates=roots))
    else:
        channel = grpc.insecure_channel(target.authority)
    try:
        stub = stubs[signal](channel)
        stub.Export(request, timeout=timeout, metadata=list(headers))
        outcome, detail = ACCEPTED, "accepted (gRPC OK)"
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        name = code.name if code is not None else "UNKNOWN"
        text = (exc.details() if hasattr(exc, "details") else "") or ""
        text = " ".join(text.split())[:160]
        if name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            outcome = KEY_REJECTED
        elif name == "DEADLINE_EXCEEDED":
            outcome = TIMED_OUT
        elif name == "UNAVAILABLE":
            outcome = TLS_FAILED if _looks_like_tls(text) else UNAVAILABLE
        else:
            outcome = ERROR
        detail = f"gRPC {name}" + (f": {text}" if text else "")
    except Exception as exc:  # noqa: BLE001 (a probe must never raise)
        outcome, detail = ERROR, f"{type(exc).__name__}: {exc}"
    finally:
        channel.close()
    return Export("grpc", endpoint, outcome, detail, time.monotonic() - start)


def _looks_like_tls(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ("ssl", "tls", "certificate", "handshake"))


def _grpc_stubs() -> dict[str, Any]:
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    return {
        "traces": trace_service_pb2_grpc.TraceServiceStub,
        "metrics": metrics_service_pb2_grpc.MetricsServiceStub,
        "logs": logs_service_pb2_grpc.LogsServiceStub,
    }


def export_http(endpoint: str, signal: str, request: Any, headers: Sequence[tuple[str, str]],
                ca_cert: str | None, timeout: float) -> Export:
    """One POST of a protobuf body to <endpoint>/v1/<signal>, through the environment's proxy as the
    HTTP exporter would go (urllib honours HTTP(S)_PROXY and NO_PROXY)."""
    start = time.monotonic()
    url = f"{endpoint.rstrip('/')}/v1/{signal}"
    body = request.SerializeToString()
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/x-protobuf")
    for name, value in headers:
        req.add_header(name, value)
    try:
        context = tls_context(ca_cert) if url.startswith("https://") else None
    except (OSError, ssl.SSLError) as exc:
        return Export("http/protobuf", endpoint, TLS_FAILED, f"cannot load {ca_cert}: {exc}", 0.0)

    def post() -> int:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as response:  # noqa: S310 (http/https only)
            response.read()
            return int(response.status)

    try:
        status = bounded(post, timeout + 0.2)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (Timeout, socket.timeout, TimeoutError):
        return Export("http/protobuf", endpoint, TIMED_OUT, f"POST {url} got no answer within {timeout:.1f} s",
                      time.monotonic() - start)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            outcome, text = TIMED_OUT, f"no answer within {timeout:.1f} s"
        elif isinstance(reason, ssl.SSLError):
            outcome, text = TLS_FAILED, getattr(reason, "verify_message", None) or str(reason.reason or reason)
        else:
            outcome, text = UNAVAILABLE, getattr(reason, "strerror", None) or str(reason)
        return Export("http/protobuf", endpoint, outcome, f"POST {url}: {text}", time.monotonic() - start)
    except Exception as exc:  # noqa: BLE001 (http.client.RemoteDisconnected, BadStatusLine, ...)
        return Export("http/protobuf", endpoint, UNAVAILABLE, f"POST {url}: {type(exc).__name__}: {exc}",
                      time.monotonic() - start)
    if 200 <= status < 300:
        outcome = ACCEPTED
    elif status in (401, 403):
        outcome = KEY_REJECTED
    elif status in (502, 503, 504, 429):
        outcome = UNAVAILABLE
    else:
        outcome = ERROR
    return Export("http/protobuf", endpoint, outcome, f"POST {url} -> HTTP {status}", time.monotonic() - start)


def export(protocol: str, endpoint: str, signal: str, request: Any, headers: Sequence[tuple[str, str]],
           ca_cert: str | None, timeout: float) -> Export:
    fn = export_grpc if protocol == "grpc" else export_http
    try:
        # The gRPC deadline and urllib's socket timeout bound each step; this bounds the whole call
        # (a TLS handshake that never completes, a server that drips bytes).
        return bounded(lambda: fn(endpoint, signal, request, headers, ca_cert, timeout), timeout + 0.5)
    except Timeout:
        return Export(protocol, endpoint, TIMED_OUT, f"no answer within {timeout:.1f} s", timeout)


def probe_ingestion(protocol: str, endpoint: str, headers: Sequence[tuple[str, str]], ca_cert: str | None,
                    timeout: float) -> Export:
    """An empty ExportTraceServiceRequest: exercises the connection, TLS and the key, stores nothing."""
    return export(protocol, endpoint, "traces", _trace_request_empty(), headers, ca_cert, timeout)


# --------------------------------------------------------------------------------------------- test telemetry

DOCTOR_ATTRIBUTE = "signoz_litellm.doctor"
TEST_SPAN_NAME = "signoz-litellm doctor test"
TEST_METRIC_NAME = "signoz_litellm.doctor.test"


def test_requests(service_name: str, resource_attributes: Sequence[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """(trace id hex, {signal: request}) for one span, one log record (in the span) and one metric point."""
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.logs.v1 import logs_pb2
    from opentelemetry.proto.metrics.v1 import metrics_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    from signoz_litellm_run import __version__

    def kv(key: str, value: Any) -> Any:
        if isinstance(value, bool):
            return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(bool_value=value))
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=str(value)))

    trace_id, span_id = os.urandom(16), os.urandom(8)
    now = time.time_ns()
    attrs = [kv(DOCTOR_ATTRIBUTE, True)]
    resource = resource_pb2.Resource(attributes=[
        *(kv(k, v) for k, v in resource_attributes if k != "service.name"),
        kv("service.name", service_name), kv("telemetry.sdk.name", "signoz-litellm-doctor"),
    ])
    scope = common_pb2.InstrumentationScope(name="signoz_litellm_run.doctor", version=__version__)
    span = trace_pb2.Span(trace_id=trace_id, span_id=span_id, name=TEST_SPAN_NAME,
                          kind=trace_pb2.Span.SPAN_KIND_INTERNAL, start_time_unix_nano=now - 1_000_000,
                          end_time_unix_nano=now, attributes=attrs)
    log = logs_pb2.LogRecord(time_unix_nano=now, observed_time_unix_nano=now,
                             severity_number=logs_pb2.SEVERITY_NUMBER_INFO, severity_text="INFO",
                             body=common_pb2.AnyValue(string_value=TEST_SPAN_NAME),
                             attributes=attrs, trace_id=trace_id, span_id=span_id)
    point = metrics_pb2.NumberDataPoint(attributes=attrs, start_time_unix_nano=now - 1_000_000,
                                        time_unix_nano=now, as_int=1)
    metric = metrics_pb2.Metric(name=TEST_METRIC_NAME, unit="1", description="signoz-litellm doctor --send-test",
                                sum=metrics_pb2.Sum(data_points=[point], is_monotonic=True,
                                                    aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE))
    requests = {
        "traces": trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
            resource=resource, scope_spans=[trace_pb2.ScopeSpans(scope=scope, spans=[span])])]),
        "logs": logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
            resource=resource, scope_logs=[logs_pb2.ScopeLogs(scope=scope, log_records=[log])])]),
        "metrics": metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
            resource=resource, scope_metrics=[metrics_pb2.ScopeMetrics(scope=scope, metrics=[metric])])]),
    }
    return trace_id.hex(), requests

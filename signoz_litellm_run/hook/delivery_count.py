"""Delivery counting: every span, log record and metric export counted as sent, failed or dropped.

The exporters the SDK built are wrapped (instance attributes, nothing global) so every export is counted as
sent, failed (the endpoint refused or never answered, or rejected it through OTLP partial success) or dropped
(a full queue, or still queued when the deadline passed). Nothing is lost silently: a call whose logging
LiteLLM itself dropped is a dropped span too (`_calls_not_logged`, from `litellm_logging.py`). During the final
flush a failed export is sent again at once, once (`_RetryAtOnceAtExit`, `_retry_now`). The OpenTelemetry
exporters' own retry and error log lines are counted instead of printed; a process that has run for 30 s hears
of a failure once, when it happens.

Exports pass through the fork gate (`fork_gate.py`). A forked child gets a `ledger` of its own (`forks.py`):
read it as this module's attribute, never imported by name.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from signoz_litellm_run.hook import exit_deadline, export_size, fork_gate, lazy_export
from signoz_litellm_run.hook.exit_deadline import _final_done, _final_lock, _remaining

SIGNALS = ("traces", "logs", "metrics")
# Loggers whose lines (retries, "Failed to export", "Queue full") are replaced by our count.
_QUIET_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.metrics._internal",
    "opentelemetry.sdk.metrics._internal.export",
)
_PARTIAL_FIELDS = {"traces": "rejected_spans", "logs": "rejected_log_records", "metrics": "rejected_data_points"}


class Ledger:
    """What happened to each signal's telemetry in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent = dict.fromkeys(SIGNALS, 0)
        self.failed = dict.fromkeys(SIGNALS, 0)
        self.dropped = dict.fromkeys(SIGNALS, 0)
        self.in_flight = dict.fromkeys(SIGNALS, 0)
        self.endpoints: dict[str, str] = {}
        self.last_error: str | None = None

    def add(self, kind: str, signal_name: str, count: int) -> None:
        with self.lock:
            getattr(self, kind)[signal_name] += count

    @property
    def lost(self) -> int:
        return sum(self.failed.values()) + sum(self.dropped.values())

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {s: {"sent": self.sent[s], "failed": self.failed[s] + self.in_flight[s],
                        "dropped": self.dropped[s]} for s in SIGNALS}


ledger = Ledger()
_tls = threading.local()
_providers: list[tuple[str, Any]] = []  # (signal, provider)
_batch_processors: list[tuple[str, Any]] = []  # (signal, sdk BatchProcessor)
_exporters: list[tuple[str, Any]] = []  # (signal, exporter)


# signal -> our processors (metric readers) added to an application's own provider (hook/app_providers.py): those
# are flushed, counted and shut down, the application's provider and its own processors are left to it.
adopted: dict[str, list[Any]] = {}


def _wrap_providers() -> None:
    from opentelemetry import _logs, metrics, trace

    # (signal, provider, attribute holding its composite processor, that one's list of processors)
    for signal_name, provider, composite, members in (
        ("traces", trace.get_tracer_provider(), "_active_span_processor", "_span_processors"),
        ("logs", _logs.get_logger_provider(), "_multi_log_record_processor", "_log_record_processors"),
    ):
        if signal_name in adopted:
            for processor in adopted[signal_name]:
                _providers.append((signal_name, processor))
                _wrap_processor(signal_name, processor)
            continue
        processors = getattr(getattr(provider, composite, None), members, ())
        if processors:
            _providers.append((signal_name, provider))
        for processor in processors:
            _wrap_processor(signal_name, processor)
    meter_provider = metrics.get_meter_provider()
    readers = getattr(meter_provider, "_metric_readers", None) or getattr(  # SDK 1.38: in its config
        getattr(meter_provider, "_sdk_config", None), "metric_readers", ()) or ()
    if "metrics" in adopted:
        readers = adopted["metrics"]
        _providers.extend(("metrics", reader) for reader in readers)
    elif readers:
        _providers.append(("metrics", meter_provider))
    for reader in readers:
        exporter = getattr(reader, "_exporter", None)
        if exporter is not None:
            _wrap_exporter("metrics", exporter)


def _wrap_processor(signal_name: str, processor: Any) -> None:
    batch = getattr(processor, "_batch_processor", None)
    exporter = getattr(batch, "_exporter", None) or getattr(processor, "span_exporter", None) or getattr(
        processor, "_exporter", None)
    if exporter is not None:
        _wrap_exporter(signal_name, exporter)
    if batch is not None and hasattr(batch, "_queue") and hasattr(batch, "emit"):
        _batch_processors.append((signal_name, batch))
        original_emit = batch.emit

        def emit(data: Any) -> None:
            if (batch._shutdown or len(batch._queue) >= batch._max_queue_size) and not _final_done.is_set():
                ledger.add("dropped", signal_name, 1)  # the SDK drops it (queue full / shut down)
            original_emit(data)

        batch.emit = emit


def exporter_built(signal_name: str, exporter: Any) -> None:
    """An exporter built after start-up (hook/lazy_export.py): counted as those built at start; one built during
    the final flush gets no more time than is left."""
    _wrap_exporter(signal_name, exporter)
    if exit_deadline._final_deadline is not None:
        _cap_timeout(exporter, _remaining(exit_deadline._final_deadline))


def _wrap_exporter(signal_name: str, exporter: Any) -> None:
    if getattr(exporter, "_signoz_counted", False):
        return
    if getattr(exporter, "_signoz_later", False):  # built when first needed: wrapped then (exporter_built)
        exporter._signoz_counted = True

        def unbuilt(count: int) -> None:
            ledger.endpoints.setdefault(signal_name, lazy_export.at_start("OTEL_EXPORTER_OTLP_ENDPOINT"))
            _count_unsent(signal_name, count, ledger.last_error or f"the {signal_name} exporter could not be built")

        exporter.on_unbuilt = unbuilt
        exporter.gate = lambda: fork_gate._fork_gate
        return
    exporter._signoz_counted = True
    _exporters.append((signal_name, exporter))
    ledger.endpoints.setdefault(signal_name, _endpoint_of(exporter))
    original_export = exporter.export

    def counted(batch: Any, *args: Any, **kwargs: Any) -> Any:
        count = 1 if signal_name == "metrics" else len(batch)
        ledger.add("in_flight", signal_name, count)
        _tls.rejected = 0
        _tls.retried_at_once = False  # this export's first retry, during the final flush (see _RetryAtOnceAtExit)
        _tls.export_reason = None  # why it failed, from the exporter's log line (see _QuietFilter)
        ok = False
        gate = fork_gate._fork_gate
        gate.enter()
        try:
            result = original_export(batch, *args, **kwargs)
            ok = getattr(result, "name", "") == "SUCCESS"
            if not ok and _retry_now(exporter, batch):
                result = original_export(batch, *args, **kwargs)
                ok = getattr(result, "name", "") == "SUCCESS"
            return result
        finally:
            gate.leave(ok)
            rejected = min(count, getattr(_tls, "rejected", 0)) if ok else 0
            if signal_name == "metrics" and rejected:
                rejected = 1
            deferred = not ok and export_size.deferred(batch)  # refused as too large: sent again, or counted there
            with ledger.lock:
                ledger.in_flight[signal_name] -= count
                ledger.sent[signal_name] += count - rejected if ok else 0
                ledger.failed[signal_name] += rejected if ok else 0 if deferred else count
                if rejected:
                    ledger.last_error = ledger.last_error or "the endpoint rejected part of the data (partial success)"
            if (not ok and not deferred) or rejected:
                _early_warning(signal_name)

    encode = export_size.encoder_of(signal_name, exporter)
    if encode is None:  # metrics (one small request), or an exporter that is not OpenTelemetry's OTLP one
        exporter.export = counted
    else:
        def export(batch: Any, *args: Any, **kwargs: Any) -> Any:
            return export_size.deliver(signal_name, encode, batch, lambda piece: counted(piece, *args, **kwargs),
                                       lambda count, reason: _count_unsent(signal_name, count, reason))

        exporter.export = export
    _watch_partial_success(signal_name, exporter)
    _retry_at_once_at_exit(exporter)


class _RetryAtOnceAtExit:
    """Stands for the `threading.Event` an OTLP exporter's retries sleep on (`wait(backoff)` returns True when the
    exporter is shut down). During the final flush, an export's first retry goes at once instead of after its
    first backoff (0.8 to 1.2 s, about all the time an exit has): enough for a connection gone stale (the gRPC
    exporter makes its channel anew after the first UNAVAILABLE), and an endpoint refusing connections fails in
    milliseconds instead of near the deadline. When that backoff does not fit in the time left, the exporter gives
    up before waiting, and `_retry_now` sends the export again instead. Later retries wait their backoff when it
    fits (a longer --shutdown-timeout); before the final flush, the event behaves as it always did."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def wait(self, timeout: float | None = None) -> bool:
        if not self.event.is_set() and _take_retry_at_once():
            return False
        return self.event.wait(timeout)

    def set(self) -> None:
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    def clear(self) -> None:
        self.event.clear()


def _retry_now(exporter: Any, batch: Any) -> bool:
    """During the final flush, an export that failed without retrying (its first backoff did not fit in the time
    left) is sent once more at once, within the time left. Not one the endpoint rejected (a wrong key, an internal
    error: the exporter's log line said "rejected"), nor one refused as too large (export_size sends that again in
    pieces)."""
    if export_size.deferred(batch) or (getattr(_tls, "export_reason", None) or "").startswith("rejected"):
        return False
    if not _take_retry_at_once():
        return False
    left = _remaining(exit_deadline._final_deadline)
    if left < 0.05:
        return False
    _cap_timeout(exporter, left)  # the exporter's deadline starts again with each export
    return True


def _take_retry_at_once() -> bool:
    """During the final flush, True the first time it is asked for the export running on this thread (set up by
    the counting wrapper): its one retry at once, taken either by the exporter's skipped wait or by `_retry_now`."""
    if exit_deadline._final_deadline is None or getattr(_tls, "retried_at_once", True):
        return False
    _tls.retried_at_once = True
    return True


def _retry_at_once_at_exit(exporter: Any) -> None:
    """Give OpenTelemetry's OTLP exporters (gRPC: `_shutdown_in_progress`; HTTP: its client's `_shutdown_event`) a
    `_RetryAtOnceAtExit`, when the event is there as a plain `threading.Event`."""
    for owner, name in ((exporter, "_shutdown_in_progress"), (getattr(exporter, "_client", None), "_shutdown_event")):
        if owner is not None and type(getattr(owner, name, None)) is threading.Event:
            setattr(owner, name, _RetryAtOnceAtExit(getattr(owner, name)))


def _count_unsent(signal_name: str, count: int, reason: str | None) -> None:
    """What never reached the exporter's send (refused as too large and not sent again, or no exporter): failed."""
    with ledger.lock:
        ledger.failed[signal_name] += count
        if reason:
            ledger.last_error = reason
    _early_warning(signal_name)


def _calls_not_logged(count: int, reason: str, *, replace: bool = False) -> None:
    """`count` LiteLLM calls whose span will never be made: as many dropped spans (when spans are exported at
    all), and `reason` in the report, unless an earlier cause is there already and `replace` is not set."""
    if any(name == "traces" for name, _ in _providers):
        ledger.add("dropped", "traces", count)
        ledger.last_error = reason if replace else ledger.last_error or reason


_STARTED = time.monotonic()
# Seconds of run time after which a failure is reported at once, not only at exit.
EARLY_WARNING_AFTER = float(os.environ.get("SIGNOZ_LITELLM_EARLY_WARNING_AFTER", "30") or 30)
_early_warned = threading.Event()


def _early_warning(signal_name: str) -> None:
    """A long-running process (a server, the proxy) hears about a dead endpoint once, when it happens;
    a short job only gets the line at exit."""
    if _early_warned.is_set() or _final_lock.locked() or time.monotonic() - _STARTED < EARLY_WARNING_AFTER:
        return
    _early_warned.set()
    reason = f" ({ledger.last_error})" if ledger.last_error else ""
    try:
        sys.stderr.write(f"signoz-litellm: warning: cannot deliver {signal_name} to {ledger.endpoints.get(signal_name)}"
                         f"{reason}; the program runs on, and what was lost is counted at exit.\n")
        sys.stderr.flush()
    except Exception:
        pass


def _endpoint_of(exporter: Any) -> str:
    client = getattr(exporter, "_client", None)
    endpoint = getattr(client, "_endpoint", None) if client is not None and not hasattr(client, "Export") else None
    endpoint = endpoint or getattr(exporter, "_endpoint", None) or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    return str(endpoint)


def _record_rejected(response: Any, signal_name: str) -> None:
    try:
        if response is not None and response.HasField("partial_success"):
            _tls.rejected = int(getattr(response.partial_success, _PARTIAL_FIELDS[signal_name], 0) or 0)
    except Exception:
        pass


def _watch_partial_success(signal_name: str, exporter: Any) -> None:
    """The SDK treats an OTLP partial success as success; count the rejected items as failed."""
    if hasattr(exporter, "_initialize_channel_and_stub"):  # gRPC: the stub is rebuilt on reconnect
        original_init = exporter._initialize_channel_and_stub

        def wrap_stub() -> None:
            stub = exporter._client
            if stub is None or isinstance(stub, _StubProxy):
                return
            exporter._client = _StubProxy(stub, signal_name)

        def initialize() -> Any:
            result = original_init()
            wrap_stub()
            return result

        exporter._initialize_channel_and_stub = initialize
        wrap_stub()
        return
    stub = getattr(exporter, "_client", None)
    if hasattr(exporter, "_channel") and hasattr(stub, "Export"):  # gRPC as in SDK 1.38: one stub, made once
        if not isinstance(stub, _StubProxy):
            exporter._client = _StubProxy(stub, signal_name)
        return
    response_class = _http_response_class(signal_name)

    def heard(result: Any) -> None:
        try:
            status = result.status_code
            export_size.note_http_status(status)
            if status is not None and 200 <= status < 300 and response_class is not None:
                body = result.content() if callable(result.content) else result.content
                if body:
                    response = response_class()
                    response.ParseFromString(body)
                    _record_rejected(response, signal_name)
        except Exception:
            pass

    transport = getattr(getattr(exporter, "_client", None), "_transport", None)
    if transport is not None and hasattr(transport, "request"):  # the HTTP exporters of SDK 1.45
        original_request = transport.request

        def request(*args: Any, **kwargs: Any) -> Any:
            result = original_request(*args, **kwargs)
            heard(result)
            return result

        transport.request = request
        return
    original_export = getattr(exporter, "_export", None)
    if original_export is not None and hasattr(exporter, "_session"):  # before: a requests session (1.38, 1.41)

        def _export(*args: Any, **kwargs: Any) -> Any:
            result = original_export(*args, **kwargs)
            heard(result)
            return result

        exporter._export = _export


def _http_response_class(signal_name: str) -> Any:
    try:
        if signal_name == "traces":
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse as cls
        elif signal_name == "logs":
            from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse as cls
        else:
            from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
                ExportMetricsServiceResponse as cls,
            )
    except ImportError:
        return None
    return cls


class _StubProxy:
    """A gRPC Export stub that notes the partial-success count of each answer."""

    def __init__(self, stub: Any, signal_name: str) -> None:
        self._stub = stub
        self._signal = signal_name

    def Export(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (gRPC method name)
        try:
            response = self._stub.Export(*args, **kwargs)
        except Exception as error:
            replacement = export_size.note_grpc_error(error)
            if replacement is error:
                raise
            raise replacement from error
        _record_rejected(response, self._signal)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stub, name)


class _QuietFilter(logging.Filter):
    """Keeps the SDK's export error lines off the program's stderr; remembers the last reason."""

    _EXPORT_WORDS = ("xport", "etry", "Queue full", "hutdown", "dropping")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        if not any(word in message for word in self._EXPORT_WORDS):
            return True  # not about delivery: left alone
        if record.levelno >= logging.WARNING:
            reason = _reason(message)
            _tls.export_reason = reason  # the exporter logs on the thread that exports
            ledger.last_error = reason or ledger.last_error
        return False


def _reason(message: str) -> str | None:
    lowered = message.lower()
    if "too large" in lowered:
        return None  # a refusal for size: sent again, or counted with its reason by export_size.deliver
    for needle, text in (("unavailable", "unavailable / connection refused"),
                         ("deadline_exceeded", "no answer (timed out)"), ("timed out", "no answer (timed out)"),
                         ("timeout", "no answer (timed out)"), ("unauthenticated", "rejected: unauthenticated"),
                         ("permission_denied", "rejected: permission denied"), ("401", "rejected: HTTP 401"),
                         ("403", "rejected: HTTP 403"), ("connection", "connection failed"),
                         ("internal", "rejected: internal error"), ("500", "rejected: HTTP 500"),
                         ("503", "unavailable (HTTP 503)"), ("queue full", "queue full")):
        if needle in lowered:
            return text
    return None


def _quiet_sdk_loggers() -> None:
    quiet = _QuietFilter()
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).addFilter(quiet)


def _cap_timeout(exporter: Any, seconds: float) -> None:
    seconds = max(seconds, 0.05)
    client = getattr(exporter, "_client", None)
    if client is not None and hasattr(client, "_timeout") and not isinstance(client, _StubProxy):
        client._timeout = min(client._timeout, seconds)
    if isinstance(getattr(exporter, "_timeout", None), (int, float)):
        exporter._timeout = min(exporter._timeout, seconds)

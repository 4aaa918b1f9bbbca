"""Deliver everything at exit, fast, and count what was delivered.

Started from `hook/boot.py` right after OpenTelemetry's `initialize()` built the providers.

- Counting: the exporters the SDK built are wrapped (instance attributes, nothing global) so every
  span, log record and metric export is counted as sent, failed (the endpoint refused or never
  answered, or rejected it through OTLP partial success) or dropped (a full queue, or still queued
  when the deadline passed). Nothing is lost silently: a call whose logging LiteLLM itself dropped (its
  logging thread pool's backlog full, or its async logging cancelled at LiteLLM's time limit before our
  logger ran) is a dropped span too.
- Exit with a deadline: one `atexit` handler, registered after the SDK's so it runs first, drains
  LiteLLM's pending callbacks, then shuts the providers down in helper threads and waits at most
  `SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT` seconds (default 1). The SDK's own exit handlers are then
  unregistered: they would wait up to 30 s on a dead endpoint.
- Signals: a SIGTERM, SIGINT or SIGHUP whose disposition is the default (the process would die on the spot,
  skipping `atexit`) first delivers the telemetry, then dies of the same signal, so the status
  the parent sees is unchanged (143 / 130 in a shell). A handler the program installs (before or
  after us) is left in place and runs as usual; an ignored signal stays ignored; `signal.getsignal`
  reports what the program set.
- `asyncio.run(...)`: before the loop cancels its leftover tasks, LiteLLM's background logging
  worker is drained on that loop, so the spans of the last calls are not cancelled with it.
- Forks: a fork waits for LiteLLM's logging threads and the exports in flight (bounded); the child gets a
  ledger, connections and a LiteLLM logging pool of its own, and multiprocessing children flush on the way
  out (they end with `os._exit()`, skipping atexit).
- One warning line on stderr at exit when something could not be delivered (plus one when it first
  happens in a process that has run for 30 s, such as a server); the OpenTelemetry exporters' own
  retry and error log lines are counted instead of printed.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from signoz_litellm_run.hook import export_size, forks, lazy_export, signal_relay

TIMEOUT_ENV = "SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT"
SIGNALS = ("traces", "logs", "metrics")
# SIGHUP: the terminal or ssh session of a job run by hand went away (no SIGHUP on Windows).
_FATAL_SIGNALS = (signal.SIGTERM, signal.SIGINT) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())
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
_final_done = threading.Event()
_final_lock = threading.Lock()
_app_handlers: dict[int, Any] = {}
_original_signal = signal.signal
_original_getsignal = signal.getsignal
_deferred_signals: list[int] = []  # fatal signals that came during the final flush: die of them after it
_exit_hooks: list[Callable[[Ledger, float], None]] = []  # run after the final flush (the report)


def timeout_seconds() -> float:
    try:
        value = float(os.environ.get(TIMEOUT_ENV, "1"))
    except ValueError:
        return 1.0
    return value if value >= 0 else 1.0


def install() -> None:
    """Wrap the providers' exporters, arm the exit paths. Cheap: a few attribute look-ups."""
    _wrap_providers()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                            after_in_child=_after_fork_in_child)
    atexit.register(_at_exit)
    _install_signal_handling()
    _quiet_sdk_loggers()
    import wrapt

    wrapt.register_post_import_hook(_patch_asyncio_runners, "asyncio.runners")
    wrapt.register_post_import_hook(_flush_in_multiprocessing_children, "multiprocessing.util")
    wrapt.register_post_import_hook(_count_litellm_backlog_drops, "litellm.litellm_core_utils.thread_pool_executor")
    wrapt.register_post_import_hook(_count_plain_pool_work, "litellm.litellm_core_utils.thread_pool_executor")
    wrapt.register_post_import_hook(_count_litellm_logging_timeouts, "litellm.litellm_core_utils.logging_worker")
    forks.install()


class _Token:
    """A weak-referenceable key for multiprocessing's after-fork registry, alive for the whole process."""


_MP_TOKEN = _Token()


def _flush_in_multiprocessing_children(util: Any) -> None:
    """multiprocessing's fork and forkserver children (Pool and ProcessPoolExecutor workers included) end with
    `os._exit()`: atexit never runs there, so whatever they produced in their last second was lost, and their
    counts never reached the report. Every child multiprocessing starts runs its after-fork registry, then,
    on the way out, the finalizers registered there: ours runs the final flush last."""
    util.register_after_fork(_MP_TOKEN, _register_child_flush)


def _register_child_flush(_token: Any) -> None:
    from multiprocessing import util

    util.Finalize(None, final_flush, args=("exit",), exitpriority=-(2**31))
    # Pool.terminate()'s SIGTERM may land on any thread of an idle worker (signal_relay)
    signal_relay.install(lambda signum: _original_getsignal(signum) is _on_fatal_signal)


FORK_WAIT_SECONDS = 2.0


class _ForkGate:
    """Exports pass through this gate, and a fork waits at it until none is in flight.

    gRPC skips its fork handlers when another thread is inside a call ("Other threads are currently calling
    into gRPC, skipping fork() handlers", on the program's stderr), and a child forked during an export could
    then never export: all its spans were lost (1 child in 100 forked next to a busy exporter), sometimes
    with its counts. A fork now waits for the exports in flight, at most its FORK_WAIT_SECONDS, and holds new
    ones until it is done. Once such a wait has timed out (an endpoint that never answers), forks stop waiting
    until an export succeeds again, so a pool of workers is not slowed down once per worker."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.active = 0
        self.forking = False
        self.stalled = False
        self.pid = os.getpid()

    def enter(self) -> None:
        with self.cond:
            # For the few milliseconds a fork takes; never in a child (which gets its own gate) that exports
            # before its fork hooks have all run.
            if self.forking and self.pid == os.getpid():
                self.cond.wait_for(lambda: not self.forking, timeout=FORK_WAIT_SECONDS)
            self.active += 1

    def leave(self, ok: bool) -> None:
        with self.cond:
            self.active -= 1
            if ok:
                self.stalled = False
            if self.active == 0:
                self.cond.notify_all()

    def close(self, deadline: float) -> None:
        with self.cond:
            self.forking = True
            if self.active and not self.stalled:
                if not self.cond.wait_for(lambda: self.active == 0, timeout=max(0.0, deadline - time.monotonic())):
                    self.stalled = True

    def open(self) -> None:
        with self.cond:
            self.forking = False
            self.cond.notify_all()


_fork_gate = _ForkGate()


def _before_fork() -> None:
    """Before `os.fork()` (multiprocessing's fork and forkserver workers, `os.fork` itself): wait, within
    FORK_WAIT_SECONDS, until LiteLLM's logging threads are idle and no export is in flight. A fork copies the
    locks those threads hold but not the threads: LiteLLM's first success callback imports modules on one of
    them, and a child forked meanwhile waited forever for that import lock (the job hung at the child's exit);
    for exports, see `_ForkGate`. `subprocess` does not run this (no fork hooks)."""
    deadline = time.monotonic() + FORK_WAIT_SECONDS
    _wait_executor_idle(deadline)
    _fork_gate.close(deadline)


def _after_fork_in_parent() -> None:
    _fork_gate.open()


def _after_fork_in_child() -> None:
    """A forked child reports its own deliveries, not a copy of its parent's, over channels of its own; it logs
    its LiteLLM calls on threads of its own and calls its provider over connections of its own (`forks`)."""
    global ledger, _fork_gate
    fresh = Ledger()
    fresh.endpoints = dict(ledger.endpoints)
    ledger = fresh
    _fork_gate = _ForkGate()  # no export is in flight here: the parent's threads were not copied
    _renew_connections()
    forks.in_child()
    signal_relay.in_child()


def _renew_connections() -> None:
    """A fork copies the parent's connections to the endpoint, not its threads. gRPC: a channel's copy keeps
    the locks the parent's export threads held at that moment, so a child's export (and the channel's close at
    exit) could wait on one forever. HTTP: the session's pooled keep-alive sockets are the parent's own, and a
    child sending on one mixed its requests and answers with the parent's (exports failed on both sides, and
    the parent's queue was dropped at exit). The child gets new channels and empty pools; the copies are left
    alone, unclosed: closing one could block, or end the parent's connection."""
    for _, exporter in _exporters:
        try:
            renew = getattr(exporter, "_initialize_channel_and_stub", None)
            if renew is not None and getattr(exporter, "_channel", None) is not None:
                renew()
                continue
            transport = getattr(getattr(exporter, "_client", None), "_transport", None)
            _renew_urllib3_pool(transport)
            session = getattr(transport, "_session", None)
            for adapter in getattr(session, "adapters", {}).values():
                if hasattr(adapter, "init_poolmanager") and hasattr(adapter, "_pool_connections"):
                    adapter.init_poolmanager(adapter._pool_connections, adapter._pool_maxsize,
                                             block=adapter._pool_block)
                    adapter.proxy_manager = {}
        except Exception:
            pass


def _renew_urllib3_pool(transport: Any) -> None:
    """The HTTP exporters of SDK 1.45.0 send through urllib3 (`Urllib3HTTPTransport._pool`, a PoolManager), not a
    requests session: a forked child got a new pool manager with the same settings (60 children forked next to
    busy HTTP exports: 230 spans dropped and 1 failed without it)."""
    pool = getattr(transport, "_pool", None)
    urllib3 = sys.modules.get("urllib3")
    if pool is None or urllib3 is None or type(pool) is not getattr(urllib3, "PoolManager", None):
        return
    transport._pool = urllib3.PoolManager(num_pools=getattr(pool.pools, "_maxsize", 10), headers=pool.headers,
                                          **pool.connection_pool_kw)


def flush(timeout: float) -> bool:
    """Send what is produced so far, within `timeout` seconds, and go on (`init()`'s handle, a notebook's cell):
    LiteLLM's callbacks of the calls that returned first, then each provider's (or adopted processor's) flush."""
    deadline = time.monotonic() + timeout
    _wait_executor_idle(deadline - EXPORT_SHARE * timeout)
    results: list[bool] = []

    def one(target: Any) -> None:
        try:
            results.append(target.force_flush(timeout_millis=max(1, int(_remaining(deadline) * 1000))) is not False)
        except Exception:
            results.append(False)

    threads = [threading.Thread(target=one, args=(target,), name="signoz-litellm-flush", daemon=True)
               for _, target in _providers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(_remaining(deadline))
    return len(results) == len(threads) and all(results)


def is_shut_down() -> bool:
    return _final_done.is_set()


def on_exit(hook: Callable[[Ledger, float], None]) -> None:
    """Run `hook(ledger, seconds_spent)` once, after the final flush (used by the report)."""
    _exit_hooks.append(hook)


# --------------------------------------------------------------------------------------------- counting


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
    if _final_deadline is not None:
        _cap_timeout(exporter, _remaining(_final_deadline))


def _wrap_exporter(signal_name: str, exporter: Any) -> None:
    if getattr(exporter, "_signoz_counted", False):
        return
    if getattr(exporter, "_signoz_later", False):  # built when first needed: wrapped then (exporter_built)
        exporter._signoz_counted = True

        def unbuilt(count: int) -> None:
            ledger.endpoints.setdefault(signal_name, lazy_export.at_start("OTEL_EXPORTER_OTLP_ENDPOINT"))
            _count_unsent(signal_name, count, ledger.last_error or f"the {signal_name} exporter could not be built")

        exporter.on_unbuilt = unbuilt
        exporter.gate = lambda: _fork_gate
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
        gate = _fork_gate
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
    left = _remaining(_final_deadline)
    if left < 0.05:
        return False
    _cap_timeout(exporter, left)  # the exporter's deadline starts again with each export
    return True


def _take_retry_at_once() -> bool:
    """During the final flush, True the first time it is asked for the export running on this thread (set up by
    the counting wrapper): its one retry at once, taken either by the exporter's skipped wait or by `_retry_now`."""
    if _final_deadline is None or getattr(_tls, "retried_at_once", True):
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


# --------------------------------------------------------------------------------------------- exit


def _at_exit() -> None:
    final_flush("exit")


EXPORT_SHARE = 0.2  # of the exit deadline, kept for the export whatever LiteLLM's callbacks do


def final_flush(reason: str, timeout: float | None = None) -> None:
    """Deliver what is produced, within the deadline (`timeout`, else SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT), once per
    process; then run the exit hooks."""
    if not _final_lock.acquire(blocking=False):
        return  # another exit path is doing it
    try:
        if _final_done.is_set() or not _providers:
            return
        started = time.monotonic()
        timeout = timeout_seconds() if timeout is None else timeout
        deadline = started + timeout
        previous_int = _ignore_sigint_while_flushing()
        try:
            # LiteLLM's callbacks make the last calls' spans, but a callback that hangs (the program's own, say)
            # must not take the time the export of everything else needs: it gets the deadline's first 80 %.
            _drain_litellm(deadline - EXPORT_SHARE * timeout)
            _shutdown_providers(deadline)
            _quiet_log_handler_flush()
            _count_unlogged_calls(timeout)
        finally:
            _final_done.set()
            _restore_sigint(previous_int)
        spent = time.monotonic() - started
        for hook in _exit_hooks:
            try:
                hook(ledger, spent)
            except Exception:
                pass
    except Exception:
        pass
    finally:
        _final_lock.release()
    if _deferred_signals:
        _die_of(_deferred_signals[0])


def _ignore_sigint_while_flushing() -> Any:
    """A second Ctrl-C must not abort the bounded flush half-way (it lasts at most the deadline)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return _original_signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):
        return None


def _restore_sigint(previous: Any) -> None:
    if previous is None:
        return
    try:
        _original_signal(signal.SIGINT, previous)
    except (ValueError, OSError, TypeError):
        pass


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _drain_litellm(deadline: float) -> None:
    """Let LiteLLM finish the logging callbacks of calls that already returned (they create the spans)."""
    worker = _litellm_worker()
    if worker is not None and getattr(worker, "_queue", None) is not None and _worker_pending(worker):
        # Off the main thread: the program's own event loop may be the one interrupted by a signal.
        thread = _started(_silently(worker._flush_on_exit), "signoz-litellm-drain")
        if thread is not None:
            thread.join(_remaining(deadline))
    _wait_executor_idle(deadline)


def _wait_executor_idle(deadline: float) -> None:
    """Wait until LiteLLM's logging thread pool has no callback queued or running."""
    executor = forks.litellm_executor()
    if executor is not None:
        while _executor_pending(executor) and time.monotonic() < deadline:
            time.sleep(0.005)


def _count_unlogged_calls(timeout: float) -> None:
    """LiteLLM callbacks still queued or running when the deadline passed never make their call's span:
    each is counted as a dropped span, so the loss is not silent (a callback finishing later is not
    counted again: see `_wrap_processor`)."""
    executor = forks.litellm_executor()
    unlogged = _executor_pending(executor) if executor is not None else 0
    worker = _litellm_worker()
    if worker is not None and getattr(worker, "_queue", None) is not None:
        unlogged += _worker_pending(worker)
    if unlogged:  # the first cause, whatever else failed
        _calls_not_logged(unlogged, f"LiteLLM had not logged {unlogged} call{'s' if unlogged != 1 else ''} by the "
                                    f"{timeout:g} s exit deadline", replace=True)


def _calls_not_logged(count: int, reason: str, *, replace: bool = False) -> None:
    """`count` LiteLLM calls whose span will never be made: as many dropped spans (when spans are exported at
    all), and `reason` in the report, unless an earlier cause is there already and `replace` is not set."""
    if any(name == "traces" for name, _ in _providers):
        ledger.add("dropped", "traces", count)
        ledger.last_error = reason if replace else ledger.last_error or reason


_LOGGING_HANDLERS = ("success_handler", "failure_handler")


def _count_litellm_backlog_drops(module: Any) -> None:
    """LiteLLM's logging thread pool refuses new work when its backlog is full (10,000 callbacks queued or
    running, LOGGING_EXECUTOR_MAX_PENDING_TASKS: callbacks slower than the calls, a program callback stuck on a
    dead service), and hands back a cancelled future. A call whose success or failure handler was refused
    never makes its span: each is counted as a dropped span, with the reason."""
    executor = getattr(module, "executor", None)
    submit = getattr(executor, "submit", None)
    if submit is None or getattr(submit, "_signoz_litellm", False) or not hasattr(executor, "_pending_slots"):
        return  # not LiteLLM's bounded pool (an older LiteLLM queues without limit)

    def counting_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        future = submit(fn, *args, **kwargs)
        if future.cancelled():
            # The handler itself, or `contextvars.Context.run` with the handler first.
            handler = args[0] if args and getattr(fn, "__name__", None) == "run" else fn
            if getattr(handler, "__name__", None) in _LOGGING_HANDLERS:
                _calls_not_logged(1, "LiteLLM's logging backlog was full: it dropped calls' callbacks "
                                     "(LOGGING_EXECUTOR_MAX_PENDING_TASKS raises the limit)")
        return future

    counting_submit._signoz_litellm = True  # type: ignore[attr-defined]
    executor.submit = counting_submit  # the instance only: every module that imported `executor` shares it


class _Unfinished:
    """Work submitted to a pool and not done yet (queued or running)."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # the parent's work is not the child's to wait for

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.count = 0

    def add(self, future: Any) -> None:
        with self.lock:
            self.count += 1
        future.add_done_callback(self._done)

    def _done(self, _future: Any) -> None:
        with self.lock:
            self.count = max(0, self.count - 1)


def _count_plain_pool_work(module: Any) -> None:
    """LiteLLM before its bounded pool (up to 1.98) logs sync calls on a plain ThreadPoolExecutor, which tells how
    many callbacks are queued but not which are running: a SIGTERM right after a call did not wait for its
    running callback, and its span was lost without a word (1.80.17: 39 of 40 spans, report "0 dropped"). Its
    submissions are counted until done."""
    executor = getattr(module, "executor", None)
    submit = getattr(executor, "submit", None)
    if submit is None or getattr(submit, "_signoz_litellm", False) or hasattr(executor, "_pending_slots") \
            or not hasattr(executor, "_work_queue"):
        return
    unfinished = _Unfinished()

    def counting_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        future = submit(fn, *args, **kwargs)
        unfinished.add(future)
        return future

    counting_submit._signoz_litellm = True  # type: ignore[attr-defined]
    executor.submit = counting_submit
    executor._signoz_litellm_unfinished = unfinished


# Async calls whose logging LiteLLM's worker holds and our logger has not handled yet (call id -> None; only the
# oldest are forgotten past the cap), and the worker's coroutine of each (coroutine -> call id).
_MAX_AWAITED = 65536
_awaited_lock = threading.Lock()
_awaited: OrderedDict[str, None] = OrderedDict()
_coroutine_calls: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def logged(call_id: Any) -> None:
    """Our OTel logger handled this call (hook/litellm_arm.py, for every call it logs)."""
    if call_id and _awaited:
        with _awaited_lock:
            _awaited.pop(call_id, None)


def _count_litellm_logging_timeouts(module: Any) -> None:
    """LiteLLM's async logging worker cancels a call's logging coroutine (all its callbacks, one after the other)
    once it has run for LOGGING_WORKER_MAX_TIME_PER_COROUTINE (20 s by default): when a slow callback ahead of
    ours was the cause, the call's span is never made. Each such call is counted as a dropped span, with the
    reason; a call our logger had already handled is not."""
    worker_class = getattr(module, "LoggingWorker", None)
    enqueue = getattr(worker_class, "_enqueue_task", None)
    timed_out = getattr(worker_class, "_record_callback_timeout", None)
    if enqueue is None or timed_out is None or getattr(timed_out, "_signoz_litellm", False):
        return

    def _enqueue_task(self: Any, task: Any) -> Any:
        coroutine = task.get("coroutine") if type(task) is dict else None
        if getattr(coroutine, "__name__", None) == "async_success_handler" and coroutine not in _coroutine_calls:
            frame = getattr(coroutine, "cr_frame", None)
            call_id = getattr(frame.f_locals.get("self"), "litellm_call_id", None) if frame is not None else None
            if call_id:
                with _awaited_lock:
                    _coroutine_calls[coroutine] = call_id
                    _awaited[call_id] = None
                    if len(_awaited) > _MAX_AWAITED:
                        _awaited.popitem(last=False)
        return enqueue(self, task)

    def _record_callback_timeout(self: Any, coroutine: Any) -> Any:
        call_id = _coroutine_calls.get(coroutine)
        with _awaited_lock:
            unlogged = call_id is not None and _awaited.pop(call_id, 0) is None
        if unlogged:
            limit = getattr(self, "timeout", 20)
            _calls_not_logged(1, f"LiteLLM stopped a call's logging at its {limit:g} s limit, before our logger ran "
                                 "(a slower callback ahead of it; LOGGING_WORKER_MAX_TIME_PER_COROUTINE)")
        return timed_out(self, coroutine)

    _enqueue_task._signoz_litellm = True  # type: ignore[attr-defined]
    _record_callback_timeout._signoz_litellm = True  # type: ignore[attr-defined]
    worker_class._enqueue_task = _enqueue_task
    worker_class._record_callback_timeout = _record_callback_timeout


def _litellm_worker() -> Any:
    """LiteLLM's background logging worker for async calls, if LiteLLM made one."""
    return getattr(sys.modules.get("litellm.litellm_core_utils.logging_worker"), "GLOBAL_LOGGING_WORKER", None)


def _worker_pending(worker: Any) -> int:
    """Callbacks queued or running in LiteLLM's async logging worker: its `pending_count` from 1.109; before,
    its asyncio queue's unfinished tasks (the worker marks each done once its callbacks ran)."""
    try:
        if hasattr(type(worker), "pending_count"):
            return max(0, int(worker.pending_count))
        queue = getattr(worker, "_queue", None)
        if queue is None:
            return 0
        unfinished = getattr(queue, "_unfinished_tasks", None)
        queued = unfinished if type(unfinished) is int else int(queue.qsize())
        return max(0, queued) + len(getattr(worker, "_pending_enqueues", ()) or ())
    except Exception:
        return 0


def _executor_pending(executor: Any) -> int:
    """Callbacks queued or running in LiteLLM's logging pool (its bounded pool, from about 1.95, counts them; a
    plain ThreadPoolExecutor, as older LiteLLM releases have, only tells how many are queued).

    A plain pool at interpreter exit has already run everything queued (Python joins its threads before any
    `atexit` handler), and its queue then holds only the wake-up marks (one `None` per thread) the shutdown
    put there: counted as calls, they made a job of one call report "LiteLLM had not logged 4 calls" (one per
    thread the pool had), and the exit flush wait its whole share of the deadline for them. A shut-down pool
    takes no new work, so once its threads are gone nothing is pending."""
    try:
        slots = getattr(executor, "_pending_slots", None)
        maximum = getattr(executor, "_max_pending_tasks", None)
        if slots is not None and isinstance(maximum, int) and hasattr(slots, "_value"):
            return max(0, maximum - slots._value)
        unfinished = getattr(executor, "_signoz_litellm_unfinished", None)
        if unfinished is not None:
            return unfinished.count
        queue = getattr(executor, "_work_queue", None)
        if queue is None:
            return 0
        queued = queue.qsize()
        if queued and _pool_shut_down(executor):
            threads = [thread for thread in getattr(executor, "_threads", ()) if thread.is_alive()]
            return max(0, queued - len(getattr(executor, "_threads", ()))) if threads else 0
        return queued
    except Exception:
        return 0


def _pool_shut_down(executor: Any) -> bool:
    """The pool was shut down, by its `shutdown()` or by the interpreter's exit."""
    return bool(getattr(executor, "_shutdown", False)
                or getattr(sys.modules.get("concurrent.futures.thread"), "_shutdown", False))


def _silently(function: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            function()
        except BaseException:
            pass

    return run


_final_deadline: float | None = None  # set when the final flush starts


def _quiet_log_handler_flush() -> None:
    """OpenTelemetry's logging handler (contrib 0.61b0 on) flushes its provider on a new thread when
    `logging.shutdown` flushes the handlers at exit; under Python 3.12.0/3.12.1 that thread cannot start and a
    traceback is printed. The providers are shut down by now, so there is nothing left to flush: the handlers'
    flush becomes a no-op for the rest of the exit."""
    import logging

    for handler in logging.getLogger().handlers:
        if type(handler).__module__.startswith("opentelemetry."):
            handler.flush = lambda: None  # type: ignore[method-assign]


def _started(target: Callable[[], None], name: str) -> threading.Thread | None:
    """`target` started on a daemon thread; or, where no thread can start any more (Python 3.12.0 and 3.12.1
    refuse new threads once the interpreter is exiting, atexit handlers included: RuntimeError), run here and
    now (None). The exporters' timeouts are capped to the deadline either way."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        target()
        return None
    return thread


def _shutdown_providers(deadline: float) -> None:
    global _final_deadline
    _final_deadline = deadline
    remaining = _remaining(deadline)
    for signal_name, exporter in _exporters:  # no single export may outlive the deadline
        _cap_timeout(exporter, remaining)
    threads = []
    for signal_name, provider in _providers:
        _unregister_sdk_atexit(provider)
        if signal_name == "metrics":
            target = _silently(lambda p=provider: p.shutdown(timeout_millis=max(1.0, _remaining(deadline) * 1000)))
        else:
            target = _silently(provider.shutdown)
        thread = _started(target, f"signoz-litellm-{signal_name}-flush")
        if thread is not None:
            threads.append(thread)
    for thread in threads:
        thread.join(_remaining(deadline))
    if any(t.is_alive() for t in threads):
        # The deadline passed: stop every retry and cancel what is on the wire.
        ledger.last_error = ledger.last_error or f"no answer within the {timeout_seconds():g} s exit deadline"
        # on threads: a channel whose lock is never released must not hold the exit
        cancels = [_started(_silently(exporter.shutdown), "signoz-litellm-cancel") for _, exporter in _exporters]
        for cancel in cancels:
            if cancel is not None:
                cancel.join(0.1)
        for _, batch in _batch_processors:
            batch._shutdown = True
            batch._shutdown_timeout_exceeded = True
        for thread in threads:
            thread.join(0.05)
    for signal_name, batch in _batch_processors:
        left = len(getattr(batch, "_queue", ()))
        if left:
            ledger.add("dropped", signal_name, left)  # never handed to the exporter
            batch._queue.clear()


def _cap_timeout(exporter: Any, seconds: float) -> None:
    seconds = max(seconds, 0.05)
    client = getattr(exporter, "_client", None)
    if client is not None and hasattr(client, "_timeout") and not isinstance(client, _StubProxy):
        client._timeout = min(client._timeout, seconds)
    if isinstance(getattr(exporter, "_timeout", None), (int, float)):
        exporter._timeout = min(exporter._timeout, seconds)


def _unregister_sdk_atexit(provider: Any) -> None:
    for name in ("_atexit_handler", "_at_exit_handler"):
        handler = getattr(provider, name, None)
        if handler is not None:
            atexit.unregister(handler)
            setattr(provider, name, None)


# --------------------------------------------------------------------------------------------- asyncio


def _patch_asyncio_runners(runners: Any) -> None:
    original = getattr(runners, "_cancel_all_tasks", None)
    if original is None or getattr(original, "_signoz_litellm", False):
        return

    def _cancel_all_tasks(loop: Any) -> Any:
        _drain_worker_on(loop)
        _finish_logging_tasks_on(loop)
        return original(loop)

    _cancel_all_tasks._signoz_litellm = True  # type: ignore[attr-defined]
    runners._cancel_all_tasks = _cancel_all_tasks


def _drain_worker_on(loop: Any) -> None:
    """Before asyncio.run cancels what is left, let LiteLLM's logging worker finish on this loop."""
    worker = _litellm_worker()
    if worker is None or _loop_of(worker) is not loop or not _worker_pending(worker):
        return
    try:
        import asyncio

        loop.run_until_complete(asyncio.wait_for(_flush(worker), timeout=max(timeout_seconds(), 0.1)))
    except BaseException:
        pass


def _loop_of(worker: Any) -> Any:
    """The event loop LiteLLM's logging worker runs on (`_bound_loop` from 1.80; before, its task's loop)."""
    loop = getattr(worker, "_bound_loop", None)
    if loop is None:
        task = getattr(worker, "_worker_task", None)
        try:
            loop = task.get_loop() if task is not None else None
        except Exception:
            loop = None
    return loop


async def _flush(worker: Any) -> None:
    """The worker's own flush; before 1.109 that waits only while its queue holds something, so the callbacks
    it already took off the queue are waited for too: asyncio.run cancelled them, and with them the last call's
    span (1.77.7: a Router's acompletion as the program's last step lost its litellm_request)."""
    await worker.flush()
    queue = getattr(worker, "_queue", None)
    if not hasattr(type(worker), "pending_count") and queue is not None and _worker_pending(worker):
        await queue.join()


_LOGGING_COROUTINES = ("async_success_handler", "async_failure_handler")


def _finish_logging_tasks_on(loop: Any) -> None:
    """LiteLLM before its logging worker (1.75; 1.76.3 has the worker) runs each async call's logging as a task of
    its own on the program's loop: asyncio.run cancelled those not done at its end, and their calls' spans were
    never made (a Router's acompletion, the last thing a program did, lost its litellm_request). They get the exit
    deadline to finish first."""
    try:
        import asyncio

        tasks = [task for task in asyncio.all_tasks(loop)
                 if not task.done() and getattr(task.get_coro(), "__name__", None) in _LOGGING_COROUTINES]
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=max(timeout_seconds(), 0.1)))
    except BaseException:
        pass


# --------------------------------------------------------------------------------------------- signals


def _install_signal_handling() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _FATAL_SIGNALS:
        try:
            current = _original_getsignal(signum)
            _app_handlers[signum] = current
            real = _real_handler(signum, current)
            if real is not current:
                _original_signal(signum, real)
        except (ValueError, OSError):
            _app_handlers.pop(signum, None)
    signal.signal = _signal
    signal.getsignal = _getsignal


def _signal(signalnum: Any, handler: Any) -> Any:
    """`signal.signal` as the program knows it; SIG_DFL for SIGTERM/SIGINT/SIGHUP keeps our flush first."""
    if signalnum not in _app_handlers:
        return _original_signal(signalnum, handler)
    _original_signal(signalnum, _real_handler(signalnum, handler))  # raises exactly what the original would
    previous = _app_handlers[signalnum]
    if not callable(handler) and handler in (signal.SIG_DFL, signal.SIG_IGN):
        handler = signal.Handlers(handler)
    _app_handlers[signalnum] = handler
    return previous


def _real_handler(signum: int, handler: Any) -> Any:
    """What is really installed for the handler the program asked for."""
    if not callable(handler) and handler == signal.SIG_DFL:
        return _on_fatal_signal
    if signum == signal.SIGINT and handler is signal.default_int_handler:
        return _on_default_sigint
    return handler


def _getsignal(signalnum: Any) -> Any:
    if signalnum in _app_handlers:
        return _app_handlers[signalnum]
    return _original_getsignal(signalnum)


def _on_default_sigint(signum: int, frame: Any) -> None:
    """Python's own SIGINT behaviour (KeyboardInterrupt), after LiteLLM finished the callbacks of the calls
    that already returned. Besides delivering them, this keeps the exit status: a LiteLLM logging thread
    still importing modules while the interpreter exits makes Python forget that it is dying of SIGINT
    (status 1 instead of 130)."""
    _wait_executor_idle(time.monotonic() + timeout_seconds())
    signal.default_int_handler(signum, frame)


def _on_fatal_signal(signum: int, frame: Any) -> None:
    """The program left this signal at its default (die at once): deliver, then die of it. When the final
    flush is already under way (the process is exiting; a multiprocessing worker that `Pool.terminate()`
    signals while it runs its exit flush), let it finish within its deadline and die of the signal after it:
    dying at once threw away everything the worker had left to send."""
    signal_relay.handled(signum)
    if _final_lock.locked():
        _deferred_signals.append(signum)
        return
    try:
        final_flush(signal.Signals(signum).name)
    finally:
        _die_of(signum)


def _die_of(signum: int) -> None:
    try:
        _original_signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
    finally:
        os._exit(128 + signum)  # only if the signal is blocked

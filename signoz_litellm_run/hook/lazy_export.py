"""OpenTelemetry's OTLP exporters, built when first needed instead of at every process's start.

Importing and building the OTLP exporters (grpc or requests, protobuf and the exporter modules) was about a fifth
of what start-up cost a process under `run` (907 M of its instructions before, 742 M after), and a process that
never sends anything (a `python -c` in a CI script, a helper, a tool) never needs them. The SDK is given stand-ins
instead: each builds OpenTelemetry's own exporter, from the entry point the SDK would have loaded, at its first
export, or when the program imports LiteLLM (so a LiteLLM process has its exporters ready before its first call,
as before, and a multiprocessing pool forks them already built).

The exporters read their configuration from the environment when they are built, and a program may have
changed it since start: LiteLLM's weave integration rewrites OTEL_EXPORTER_OTLP_ENDPOINT and _HEADERS, its
arize/phoenix set-up OTEL_EXPORTER_OTLP_TRACES_HEADERS, the proxy applies its config's environment_variables.
A stand-in keeps the OTLP variables as they were at start and builds its exporter from those, so the job's
telemetry still goes where the launcher sent it, with its key. (When they changed, the exporter modules' own
`environ` and `os` names are pointed at the environment of start while the exporter is built: a few milliseconds in
which another thread building an OTLP exporter of its own would see it too. Nothing else reads them.)

An exporter that cannot be built (a broken install) says so once on stderr; what it was given to send is counted
as failed, and the program runs on.

Stand-ins are used only where building later can give nothing else than building at start:
- the SDK asked for OpenTelemetry's own OTLP exporters (gRPC or HTTP), by the entry points they ship;
- the OTLP variables set are only destinations, headers, protocols, `insecure` and certificates: a timeout,
  a compression, a client certificate, a credential provider or a metrics temporality or aggregation
  (whose errors OpenTelemetry raises when the exporter is built) keep every exporter built at start.
Anything else, and any doubt, is OpenTelemetry's own behaviour: the exporters built at start.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# The entry points OpenTelemetry's OTLP exporters register: (group, value) -> signal
OTLP_ENTRY_POINTS = {
    ("opentelemetry_traces_exporter", "opentelemetry.exporter.otlp.proto.grpc.trace_exporter:OTLPSpanExporter"):
        "traces",
    ("opentelemetry_traces_exporter", "opentelemetry.exporter.otlp.proto.http.trace_exporter:OTLPSpanExporter"):
        "traces",
    ("opentelemetry_logs_exporter", "opentelemetry.exporter.otlp.proto.grpc._log_exporter:OTLPLogExporter"): "logs",
    ("opentelemetry_logs_exporter", "opentelemetry.exporter.otlp.proto.http._log_exporter:OTLPLogExporter"): "logs",
    ("opentelemetry_metrics_exporter", "opentelemetry.exporter.otlp.proto.grpc.metric_exporter:OTLPMetricExporter"):
        "metrics",
    ("opentelemetry_metrics_exporter", "opentelemetry.exporter.otlp.proto.http.metric_exporter:OTLPMetricExporter"):
        "metrics",
}
_PREFIXES = ("OTEL_EXPORTER_OTLP_", "OTEL_PYTHON_EXPORTER_OTLP_")
# What an OTLP variable may set (after its signal, if any) for an exporter to be built later.
_LATER_OK = frozenset({"ENDPOINT", "HEADERS", "PROTOCOL", "INSECURE", "CERTIFICATE"})
_SIGNALS = ("TRACES_", "METRICS_", "LOGS_")

# The names OpenTelemetry's `_import_exporters` looks up, as this was written against (SDK 1.45; before the log
# exporter base class was renamed, as in SDK 1.38, `LogExporter`): it loads each named entry point of the three
# groups and checks its class, nothing more.
_IMPORT_EXPORTERS_NAMES = ('_import_config_components', 'issubclass', 'SpanExporter', 'RuntimeError',
                           'MetricExporter', 'MetricReader', 'LogRecordExporter')
_IMPORT_EXPORTERS_NAMES_BEFORE_RENAME = _IMPORT_EXPORTERS_NAMES[:-1] + ('LogExporter',)

_lock = threading.RLock()
_stand_ins: list[Any] = []
_after_build: list[Callable[[str, Any], None]] = []  # (signal, exporter): run once each exporter is built
_snapshot: dict[str, str] = {}


def otlp_variables(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if name.startswith(_PREFIXES)}


def at_start(name: str) -> str:
    """An OTLP variable as it was at start ("" when unset)."""
    return _snapshot.get(name, "")


def may_build_later(environ: Mapping[str, str]) -> bool:
    """Whether every OTLP variable set is one whose exporter builds later exactly as at start."""
    for name in otlp_variables(environ):
        if not name.startswith(_PREFIXES[0]):
            return False  # a credential provider
        rest = name[len(_PREFIXES[0]):]
        for signal in _SIGNALS:
            if rest.startswith(signal):
                rest = rest[len(signal):]
                break
        if rest not in _LATER_OK:
            return False
    return True


def install(configuration: Any) -> bool:
    """Give the SDK's configuration (`opentelemetry.sdk._configuration`, before it runs) stand-ins for the OTLP
    exporters; False (nothing changed) when its exporter import is not the one this was written against, or
    when the environment asks for something only an exporter built at start does."""
    from signoz_litellm_run.hook import is_as_written

    original = getattr(configuration, "_import_exporters", None)
    caller = getattr(getattr(configuration, "_initialize_components", None), "__code__", None)
    as_written = is_as_written(original, _IMPORT_EXPORTERS_NAMES) or \
        is_as_written(original, _IMPORT_EXPORTERS_NAMES_BEFORE_RENAME)
    if original is None or not as_written or caller is None \
            or "_import_exporters" not in caller.co_names or not may_build_later(os.environ):
        return False
    _snapshot.clear()
    _snapshot.update(otlp_variables(os.environ))

    def _import_exporters(trace_names: Sequence[str], metric_names: Sequence[str],
                          log_names: Sequence[str]) -> Any:
        lazy: dict[str, dict[str, type]] = {"traces": {}, "metrics": {}, "logs": {}}
        rest: list[list[str]] = []
        for signal, group, names in (("traces", "opentelemetry_traces_exporter", trace_names),
                                     ("metrics", "opentelemetry_metrics_exporter", metric_names),
                                     ("logs", "opentelemetry_logs_exporter", log_names)):
            left = []
            for name in names:
                entry_point = _entry_point(group, name)
                if entry_point is not None and OTLP_ENTRY_POINTS.get((group, entry_point.value)) == signal:
                    lazy[signal][name] = stand_in_class(signal, entry_point)
                else:
                    left.append(name)
            rest.append(left)
        traces, metrics, logs = original(*rest) if any(rest) else ({}, {}, {})
        return ({**lazy["traces"], **traces}, {**lazy["metrics"], **metrics}, {**lazy["logs"], **logs})

    _import_exporters._signoz_litellm = True  # type: ignore[attr-defined]
    _import_exporters.__wrapped__ = original  # type: ignore[attr-defined]
    configuration._import_exporters = _import_exporters
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_new_lock)
    return True


def _entry_point(group: str, name: str) -> Any:
    from opentelemetry.util._importlib_metadata import entry_points

    try:
        return next(iter(entry_points(group=group, name=name)), None)
    except Exception:
        return None


def _new_lock() -> None:
    """A fork copies the lock, perhaps held by a thread the child does not have."""
    global _lock
    _lock = threading.RLock()


def after_build(hook: Callable[[str, Any], None]) -> None:
    """Run `hook(signal, exporter)` once each exporter is built (now, for those built already)."""
    with _lock:
        _after_build.append(hook)
        for stand_in in _stand_ins:
            if stand_in._exporter is not None:
                hook(stand_in._signal, stand_in._exporter)


def build_all() -> None:
    """Build every exporter not built yet (the program imported LiteLLM: it is about to send telemetry)."""
    for stand_in in list(_stand_ins):
        stand_in._built()


def stand_ins() -> list[Any]:
    return list(_stand_ins)


def stand_in_class(signal: str, entry_point: Any) -> type:
    """A class the SDK instantiates in place of the entry point's exporter class."""
    base = _sdk_classes(signal)[0]

    class Later(_StandIn, base):  # type: ignore[valid-type, misc]
        def __init__(self, **kwargs: Any) -> None:
            _StandIn.__init__(self, signal, entry_point, kwargs)
            if signal == "metrics":
                base.__init__(self, preferred_temporality=cumulative_temporality(),
                              preferred_aggregation=default_aggregation())

    Later.__name__ = Later.__qualname__ = f"Later{entry_point.value.rsplit(':', 1)[-1]}"
    return Later


class _StandIn:
    """Builds OpenTelemetry's exporter when first needed; passes every call on to it."""

    _signoz_later = True

    def __init__(self, signal: str, entry_point: Any, kwargs: dict[str, Any]) -> None:
        self._signal = signal
        self._entry_point = entry_point
        self._kwargs = kwargs
        self._exporter: Any = None
        self._failed = False
        self._closed = False
        self.on_unbuilt: Callable[[int], None] | None = None  # told the count of what it could not send
        self.gate: Callable[[], Any] | None = None  # the current fork gate, entered while building
        with _lock:
            _stand_ins.append(self)

    def _built(self) -> Any:
        exporter = self._exporter
        if exporter is not None or self._failed or self._closed:
            return exporter
        gate = self.gate() if self.gate is not None else None
        if gate is not None:
            gate.enter()  # a fork waits for a build under way, as for an export (fork_gate._ForkGate)
        try:
            with _lock:
                if self._exporter is None and not self._failed and not self._closed:
                    try:
                        exporter = _build(self._entry_point, self._kwargs)
                        for hook in _after_build:  # before any other thread can reach the exporter
                            hook(self._signal, exporter)
                    except Exception as exc:  # telemetry must never break the program
                        self._failed = True
                        print(f"signoz-litellm: the {self._signal} exporter could not be built in this process: "
                              f"{type(exc).__name__}: {exc}", file=sys.stderr)
                        return None
                    self._exporter = exporter
                return self._exporter
        finally:
            if gate is not None:
                gate.leave(False)

    def export(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        exporter = self._built()
        if exporter is None:
            if self.on_unbuilt is not None:
                self.on_unbuilt(1 if self._signal == "metrics" else len(batch))
            return _sdk_classes(self._signal)[1].FAILURE
        return exporter.export(batch, *args, **kwargs)

    def force_flush(self, *args: Any, **kwargs: Any) -> bool:
        exporter = self._exporter
        return True if exporter is None else exporter.force_flush(*args, **kwargs)

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self._closed = True  # never built after this
        exporter = self._exporter
        if exporter is not None:
            exporter.shutdown(*args, **kwargs)


def _build(entry_point: Any, kwargs: dict[str, Any]) -> Any:
    """The entry point's exporter, built from the OTLP variables as they were at start."""
    exporter_class = entry_point.load()
    if otlp_variables(os.environ) == _snapshot:
        return exporter_class(**kwargs)
    # Changed since start: the exporter modules read the environment through `environ` (`from os import environ`)
    # or `os.environ`; theirs is, while this one is built, the environment with the OTLP variables of start.
    started = {name: value for name, value in os.environ.items() if not name.startswith(_PREFIXES)}
    started.update(_snapshot)
    rebound: list[tuple[Any, str, Any]] = []
    for name, module in list(sys.modules.items()):
        if name.startswith("opentelemetry.exporter.otlp.") and module is not None:
            if getattr(module, "environ", None) is os.environ:
                rebound.append((module, "environ", started))
            if getattr(module, "os", None) is os:
                rebound.append((module, "os", _OsAsStarted(started)))
    for module, attribute, value in rebound:
        setattr(module, attribute, value)
    try:
        return exporter_class(**kwargs)
    finally:
        for module, attribute, _ in rebound:
            setattr(module, attribute, os.environ if attribute == "environ" else os)


class _OsAsStarted:
    """`os`, with the environment of start."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.environ = environ

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def _sdk_classes(signal: str) -> tuple[type, Any]:
    """The SDK's exporter base class and export result for the signal."""
    if signal == "traces":
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

        return SpanExporter, SpanExportResult
    if signal == "logs":
        try:
            from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
        except ImportError:  # their names in older SDKs (1.38)
            from opentelemetry.sdk._logs.export import LogExporter, LogExportResult

            return LogExporter, LogExportResult
        return LogRecordExporter, LogRecordExportResult
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

    return MetricExporter, MetricExportResult


def cumulative_temporality() -> dict[type, Any]:
    """What OpenTelemetry's OTLP metric exporters prefer with no temporality preference set: cumulative."""
    from opentelemetry.sdk.metrics import (
        Counter,
        Histogram,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
        UpDownCounter,
    )
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    return {kind: AggregationTemporality.CUMULATIVE for kind in (
        Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter, ObservableGauge)}


def default_aggregation() -> dict[type, Any]:
    """What they prefer with no default histogram aggregation set: explicit buckets for histograms."""
    from opentelemetry.sdk.metrics import Histogram
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation

    return {Histogram: ExplicitBucketHistogramAggregation()}

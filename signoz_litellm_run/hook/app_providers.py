"""`init()` in a program that already set its own OpenTelemetry providers: ours join them.

OpenTelemetry allows one global tracer, meter and logger provider per process, and refuses to replace one that is
set ("Overriding of current TracerProvider is not allowed"): the providers its configurator builds for us would
hold our exporters and receive nothing. So, while `init()` runs the configurator, the provider it builds for a
signal the program already has is the program's own: our span and log record processors are added to it and our
metric reader is registered with it (`add_metric_reader`). One provider, one span per operation, sent to both the
program's exporters and ours, under the program's resource. At exit only what we added is flushed and shut down
(within --shutdown-timeout); the program's provider and its own exporters are left to it.

Where that cannot be done (a provider that is not the SDK's, a MeterProvider without `add_metric_reader`, a
configuration module not as written against), one line on stderr says which signal does not go to SigNoz, why,
and what to do; the other signals are unaffected.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from signoz_litellm_run.hook import delivery_count

# (signal, provider class name in the configuration module, its setter, the call adding to it, the init function)
_SIGNALS = (
    ("traces", "TracerProvider", "set_tracer_provider", "add_span_processor", "_init_tracing"),
    ("metrics", "MeterProvider", "set_meter_provider", "add_metric_reader", "_init_metrics"),
    ("logs", "LoggerProvider", "set_logger_provider", "add_log_record_processor", "_init_logging"),
)
_NOUN = {"traces": "tracer", "metrics": "meter", "logs": "logger"}


def current() -> dict[str, Any]:
    """signal -> the provider the program set itself (nothing for a signal still at OpenTelemetry's default)."""
    from opentelemetry import _logs, metrics, trace

    found = {}
    for signal_name, provider, default in (
            ("traces", trace.get_tracer_provider(), trace.ProxyTracerProvider),
            ("metrics", metrics.get_meter_provider(), _proxy_meter_provider()),
            ("logs", _logs.get_logger_provider(), _proxy_logger_provider())):
        if default is not None and not isinstance(provider, default):
            found[signal_name] = provider
    return found


def _proxy_meter_provider() -> Any:
    from opentelemetry.metrics import _internal

    return getattr(_internal, "_ProxyMeterProvider", None)


def _proxy_logger_provider() -> Any:
    from opentelemetry._logs import _internal

    return getattr(_internal, "ProxyLoggerProvider", None)


def join(providers: dict[str, Any]) -> list[str]:
    """Have the SDK's configuration (run next, by `initialize()`) add our exporters to `providers`; the lines
    telling what could not be joined. Undone by `restore()`."""
    from opentelemetry.sdk import _configuration

    notes: list[str] = []
    for signal_name, class_name, setter, add, init_function in _SIGNALS:
        app = providers.get(signal_name)
        if app is None:
            continue
        names = getattr(getattr(_configuration, init_function, None), "__code__", None)
        noun = _NOUN[signal_name]
        if names is None or class_name not in names.co_names or setter not in names.co_names:
            notes.append(f"the application's own {noun} provider is set, and this OpenTelemetry version's set-up "
                         f"cannot be joined to it: its {signal_name} do not go to SigNoz. Call "
                         "signoz_litellm_run.init() before the application sets its providers.")
            continue
        if not callable(getattr(app, add, None)):
            notes.append(f"the application's own {noun} provider ({type(app).__name__}) takes no "
                         f"{add.replace('add_', '').replace('_', ' ')}s, so the {signal_name} made through it do not "
                         f"also go to SigNoz. Call signoz_litellm_run.init() before the application sets its {noun} "
                         f"provider, or use the OpenTelemetry SDK's {class_name}.")
            continue
        joined = _Joined(app, signal_name)
        _saved.append((_configuration, class_name, getattr(_configuration, class_name)))
        _saved.append((_configuration, setter, getattr(_configuration, setter)))
        setattr(_configuration, class_name, _factory(joined, signal_name))
        setattr(_configuration, setter, _setter(getattr(_configuration, setter)))
        delivery_count.adopted[signal_name] = joined.added
    return notes


_saved: list[tuple[Any, str, Any]] = []


def restore() -> None:
    while _saved:
        module, name, value = _saved.pop()
        setattr(module, name, value)


def has_otel_log_handler() -> bool:
    """The root logger already sends records to OpenTelemetry (the program added a LoggingHandler): a second
    handler would send each record twice."""
    return any(type(h).__name__ == "LoggingHandler" and type(h).__module__.startswith("opentelemetry")
               for h in logging.getLogger().handlers)


class _Joined:
    """Stands for the provider the configuration would build: what it adds goes to the program's own."""

    def __init__(self, app: Any, signal_name: str) -> None:
        self._app = app
        self.added: list[Any] = []
        self._signal = signal_name

    def add_span_processor(self, processor: Any) -> None:
        self.added.append(processor)
        self._app.add_span_processor(processor)

    def add_log_record_processor(self, processor: Any) -> None:
        self.added.append(processor)
        self._app.add_log_record_processor(processor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


def _factory(joined: _Joined, signal_name: str) -> Any:
    def provider(*args: Any, metric_readers: Any = (), **kwargs: Any) -> Any:
        for reader in metric_readers or ():
            joined.added.append(reader)
            joined._app.add_metric_reader(reader)
        return joined

    return provider


def _setter(original: Any) -> Any:
    def set_provider(provider: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(provider, _Joined):
            return None  # the program's own stays the global one
        return original(provider, *args, **kwargs)

    return set_provider


def say(notes: list[str]) -> None:
    for note in notes:
        print(f"signoz-litellm: note: {note}", file=sys.stderr)

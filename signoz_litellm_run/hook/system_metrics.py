"""Host and process metrics (SigNoz's "Code" set-up has them), from the job's main process only.

OpenTelemetry's `SystemMetricsInstrumentor` (psutil) is started here instead of by auto-instrumentation, which
would start it in every Python process of a job (`environment.DISABLED_REASONS` turns its entry point off):
each would repeat the host-wide `system.*` series and load psutil. The first Python process of the job whose
hook finds `SIGNOZ_LITELLM_SYSTEM_METRICS` true claims it and sets the variable to false in its own environment,
so the processes it starts do not, and starts it when LiteLLM is imported or a second later (`install`); a process
forked from it (a multiprocessing worker) copies its meter but observes nothing (every callback answers only in the
process that started it).

The set is small on purpose (one export a minute by default, OTEL_METRIC_EXPORT_INTERVAL):
`system.cpu.utilization` (user, system, idle: 3 series per CPU), `system.memory.usage` (used, free, cached),
`system.memory.utilization` (used), `process.cpu.time` (user, system), `process.cpu.utilization`,
`process.memory.usage` (resident), `process.thread.count`.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from signoz_litellm_run.hook import env_flag

ENV = "SIGNOZ_LITELLM_SYSTEM_METRICS"
METRICS: dict[str, list[str] | None] = {
    "system.cpu.utilization": ["user", "system", "idle"],
    "system.memory.usage": ["used", "free", "cached"],
    "system.memory.utilization": ["used"],
    "process.cpu.time": ["user", "system"],
    "process.cpu.utilization": None,
    "process.memory.usage": None,
    "process.thread.count": None,
}
_started: Any = None


START_AFTER_SECONDS = 1.0
_claimed = False


def install() -> bool:
    """When this process is the job's main one and the metrics are on: claim them (the processes it starts leave the
    host's series to it) and start them when the program imports LiteLLM (at once if it has: its import takes
    seconds, so this is little more), or START_AFTER_SECONDS after start-up, on a thread, in a process that has not.
    Importing psutil and the instrumentation and registering the instruments cost some 64 M instructions (+9% of a
    `python -c pass` under `run`), which a process that ends within a second (a CLI step, a helper) would pay for no
    data point. (A timer alone started them while the first LiteLLM calls' callbacks ran, which then missed a
    SIGTERM's flush deadline.) True when claimed."""
    global _claimed
    if _claimed or not env_flag(ENV):
        return False
    _claimed = True
    os.environ[ENV] = "false"
    import wrapt

    pid = os.getpid()
    wrapt.register_post_import_hook(lambda _module: start(pid), "litellm")
    if _started is None:
        timer = threading.Timer(START_AFTER_SECONDS, start, kwargs={"pid": pid})
        timer.daemon = True
        timer.name = "signoz-litellm-system-metrics"
        timer.start()
    return True


_start_lock = threading.Lock()


def start(pid: int | None = None) -> bool:
    """Register the system metrics with the global meter provider (observing only in process `pid`), once; True when
    started, now or before."""
    with _start_lock:
        if pid is not None and pid != os.getpid():
            return False  # a forked child: its parent reports the host
        return _start()


def _start() -> bool:
    global _started
    if _started is not None:
        return True
    try:
        from opentelemetry import metrics
        from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
    except ImportError:  # an environment without the package: the rest of the telemetry is unaffected
        return False
    try:
        instrumentor = SystemMetricsInstrumentor(config=METRICS)
        instrumentor.instrument(meter_provider=_ThisProcessOnly(metrics.get_meter_provider(), os.getpid()))
    except Exception as exc:  # never the program's problem
        print(f"signoz-litellm: system metrics could not start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    _started = instrumentor
    return True


def started() -> bool:
    return _started is not None


def start_claimed() -> None:
    """Start now metrics this process claimed and has not started (a Ctrl-C before their timer): the timer
    would import their modules during the exit, which makes Python forget an unhandled KeyboardInterrupt."""
    if _claimed and _started is None:
        start(os.getpid())


def sdk_resources_without_psutil() -> None:
    """Import OpenTelemetry's resources module (the configuration imports it next) with psutil hidden. That module
    imports psutil whenever it is installed (about 10 ms of each process's start-up here), only to read the
    process's owner in the `process` resource detector, which is off unless OTEL_EXPERIMENTAL_RESOURCE_DETECTORS
    names it. psutil stays importable for the program, and for the system metrics (`start`)."""
    if "psutil" in sys.modules or "opentelemetry.sdk.resources" in sys.modules:
        return
    detectors = os.environ.get("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "")
    if "process" in detectors or "*" in detectors:
        return
    sys.modules["psutil"] = None  # type: ignore[assignment]  # `import psutil` raises ImportError meanwhile
    try:
        import opentelemetry.sdk.resources  # noqa: F401
    except Exception:
        pass
    finally:
        if "psutil" in sys.modules and sys.modules["psutil"] is None:
            del sys.modules["psutil"]


class _ThisProcessOnly:
    """A meter provider whose meters' observable instruments observe only in process `pid`: a forked child
    copies the instruments (and psutil's handle on its parent), and would report its parent's figures as its own."""

    def __init__(self, provider: Any, pid: int) -> None:
        self._provider = provider
        self._pid = pid

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        return _Meter(self._provider.get_meter(*args, **kwargs), self._pid)


class _Meter:
    def __init__(self, meter: Any, pid: int) -> None:
        self._meter = meter
        self._pid = pid

    def _guarded(self, callbacks: Any) -> list[Any]:
        pid = self._pid

        def guard(callback: Any) -> Any:
            def observe(options: Any) -> Any:
                return callback(options) if os.getpid() == pid else ()

            return observe

        return [guard(callback) for callback in callbacks or ()]

    def create_observable_counter(self, name: str, callbacks: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._meter.create_observable_counter(name, self._guarded(callbacks), *args, **kwargs)

    def create_observable_gauge(self, name: str, callbacks: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._meter.create_observable_gauge(name, self._guarded(callbacks), *args, **kwargs)

    def create_observable_up_down_counter(self, name: str, callbacks: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._meter.create_observable_up_down_counter(name, self._guarded(callbacks), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meter, name)

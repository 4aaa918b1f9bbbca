"""Host and process metrics (SigNoz's "Code" set-up has them), from the job's main process only.

OpenTelemetry's `SystemMetricsInstrumentor` (psutil) is started here instead of by auto-instrumentation, which
would start it in every Python process of a job (`environment.DISABLED_REASONS` turns its entry point off):
each would repeat the host-wide `system.*` series and load psutil. The first Python process of the job whose
hook finds `SIGNOZ_LITELLM_SYSTEM_METRICS` true starts it and sets the variable to false in its own environment,
so the processes it starts do not; a process forked from it (a multiprocessing worker) copies its meter but
observes nothing (every callback answers only in the process that started it).

The set is small on purpose (one export a minute by default, OTEL_METRIC_EXPORT_INTERVAL):
`system.cpu.utilization` (user, system, idle: 3 series per CPU), `system.memory.usage` (used, free, cached),
`system.memory.utilization` (used), `process.cpu.time` (user, system), `process.cpu.utilization`,
`process.memory.usage` (resident), `process.thread.count`.
"""

from __future__ import annotations

import os
import sys
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


def install() -> bool:
    """Start the metrics when this process is the job's main one and they are on; True when started."""
    global _started
    if _started is not None or not env_flag(ENV):
        return False
    os.environ[ENV] = "false"  # claimed: the processes this one starts leave the host's series to it
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


def sdk_resources_without_psutil() -> None:
    """Import OpenTelemetry's resources module (the configuration imports it next) with psutil hidden, in a process
    that will not run the system metrics. That module imports psutil whenever it is installed (about 10 ms of each
    process's start-up here), only to read the process's owner in the `process` resource detector, which is off
    unless OTEL_EXPERIMENTAL_RESOURCE_DETECTORS names it. psutil stays importable for the program."""
    if env_flag(ENV) or "psutil" in sys.modules or "opentelemetry.sdk.resources" in sys.modules:
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

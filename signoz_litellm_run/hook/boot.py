"""Start telemetry in a process of the job: OpenTelemetry's auto-instrumentation, through our distro."""

from __future__ import annotations

import logging
import os
import sys

from signoz_litellm_run.hook import freeze_heap

_SITE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_site")
_logger = logging.getLogger("signoz_litellm")
_started = False
started_by: str | None = None  # "run" (our sitecustomize) or "init" (signoz_litellm_run.init())


def start(by: str = "run") -> bool:
    """Start telemetry in this process, once (`run`'s sitecustomize and `init()` both come here); False when it
    had already started or could not start."""
    global _started, started_by
    if _started:
        return False
    _started = True
    started_by = by
    try:
        from signoz_litellm_run.hook import resource_detect, system_metrics

        system_metrics.sdk_resources_without_psutil()
        with resource_detect.detected_while_configuring():
            _initialize_without_recursion()  # our distro arms LiteLLM (hook/distro.py)
        from signoz_litellm_run.hook import (export_filter, export_size, lazy_export, metric_direct, metric_record,
                                             report, shutdown, span_attributes, span_wire)

        span_wire.install()
        export_size.install()  # after span_wire: it wraps the encoder span_wire installs
        metric_record.install()
        metric_direct.install()
        span_attributes.install()
        shutdown.install()
        export_filter.install()  # after shutdown: the batch is filtered before it is counted, split and sent
        report.install()
        lazy_export.after_build(_exporter_built)  # exporters built later (hook/lazy_export.py): the same as these
        if "litellm" in sys.modules:  # a lazy start at LiteLLM's import: the arm ran before the exporters existed
            lazy_export.build_all()
        system_metrics.install()  # the job's main process only
    except Exception as exc:  # telemetry must never break the program
        print(f"signoz-litellm: telemetry could not start in this process: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        try:
            from signoz_litellm_run import delivery

            delivery.telemetry_off(f"{sys.executable}: {type(exc).__name__}: {exc}")
        except Exception:
            pass
        return False
    else:
        # What start-up imported (OpenTelemetry, its SDK and instrumentation: some 30,000 objects) lives as long as
        # the process: out of full collections, and out of the one at exit, which walked it all (about 50 ms a process).
        freeze_heap()
        return True


def _exporter_built(signal_name: str, exporter: object) -> None:
    """An exporter built after start-up (its first export, or LiteLLM's import): the encoders its modules
    brought get our faster and size-aware ones, and the exporter is counted, as those built at start."""
    from signoz_litellm_run.hook import delivery_count, export_size, span_wire

    span_wire.install()
    export_size.install()
    delivery_count.exporter_built(signal_name, exporter)


def _initialize_without_recursion() -> None:
    """OpenTelemetry's own `initialize()`, with our directory off PYTHONPATH meanwhile, so that a
    subprocess started during initialisation does not initialise again (as OpenTelemetry does)."""
    from opentelemetry.instrumentation.auto_instrumentation import initialize

    before = os.environ.get("PYTHONPATH")
    if before is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in before.split(os.pathsep) if p != _SITE_DIR)
    try:
        initialize()
    finally:
        if before is not None:
            os.environ["PYTHONPATH"] = before

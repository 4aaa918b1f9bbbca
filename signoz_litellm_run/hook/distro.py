"""Our OpenTelemetry distro: OpenTelemetry's own, except that instrumentors wait for their library.

`opentelemetry-instrument` imports every instrumented library at start-up (aiohttp and httpx alone
cost about 150 ms) even in a process that never uses them. This distro registers a post-import hook
instead and instruments a library when the program imports it, so a process pays only for what it
uses. Instrumentors whose library is already imported, or that we do not know, load at once. A program
that imports an instrumentation package itself (which imports its library first) has the library
instrumented once that package's import is done.

The check that the installed library is a version the instrumentation supports (which reads and parses
the metadata of every instrumentation package, about 25 ms of each process's start) waits for the library
too: it runs when the library is imported, before its instrumentor loads, and a conflict is logged then,
as OpenTelemetry logs it. A process that never imports the library never reads its metadata.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.distro import OpenTelemetryDistro

from signoz_litellm_run.hook.lazy_triggers import LAZY_MODULES  # entry point name -> the module whose import triggers it

_logger = logging.getLogger(__name__)


class _OneAtATime(threading.local):
    """Loading an instrumentor imports its module, which may import another watched library (the
    httpx instrumentation imports httpx2 as well) and so fire a second hook while the first module
    is only half initialised. Such nested loads wait until the outer one has finished."""

    def __init__(self) -> None:
        self.busy = False
        self.queue: list[Callable[[], None]] = []

    def run(self, load: Callable[[], None]) -> None:
        if self.busy:
            self.queue.append(load)
            return
        self.busy = True
        try:
            load()
            while self.queue:
                self.queue.pop(0)()
        finally:
            self.busy = False


_serial = _OneAtATime()

# instrumentor entry point name -> (its distribution, OpenTelemetry's check), run at the library's import
_deferred_checks: dict[str, tuple[Any, Callable[[Any], Any]]] = {}


# Set for the SDK's configurator only, and taken back once it has run (see _python_logs_through_the_sdk)
_LOGS_SWITCH = "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"
_switched_logs = False


def _python_logs_through_the_sdk() -> None:
    """Python log records reach OpenTelemetry through a logging handler. From contrib 0.61b0 the logging
    instrumentation attaches its own; before (0.59b0, with SDK 1.38) only the SDK's configurator attaches one,
    and only when `OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED` is true. So, where the instrumentation has
    no handler and the program did not choose, the switch is on while the configurator runs (taken back after,
    so that a child process with a newer OpenTelemetry does not take the SDK's deprecated handler too)."""
    global _switched_logs
    import importlib.util
    import os

    if _LOGS_SWITCH in os.environ:
        return
    try:
        has_handler = importlib.util.find_spec("opentelemetry.instrumentation.logging.handler") is not None
    except (ImportError, ValueError):
        has_handler = False
    if not has_handler:
        os.environ[_LOGS_SWITCH] = "true"
        _switched_logs = True


def _logs_switch_back() -> None:
    global _switched_logs
    if _switched_logs:
        import os

        os.environ.pop(_LOGS_SWITCH, None)
        _switched_logs = False


DISTRO_NAME = "signoz_litellm"


def chosen_by_name() -> bool:
    """This distro was asked for by name (`run` and `init()` set OTEL_PYTHON_DISTRO=signoz_litellm). A plain
    `opentelemetry-instrument` without OTEL_PYTHON_DISTRO loads whichever distro entry point it finds first, which
    may be this one, depending on the order distributions are found in: then it is OpenTelemetry's own distro,
    exactly, so that command means the same thing in every environment (docs/how-it-works.md)."""
    import os

    return os.environ.get("OTEL_PYTHON_DISTRO", "").strip() == DISTRO_NAME


class SignozLitellmDistro(OpenTelemetryDistro):
    def _configure(self, **kwargs: Any) -> None:
        super()._configure(**kwargs)
        if not chosen_by_name():
            return
        _python_logs_through_the_sdk()
        _defer_dependency_checks()
        from opentelemetry.sdk import _configuration

        from signoz_litellm_run.hook import lazy_export

        lazy_export.install(_configuration)  # before the SDK's configurator, which runs next
        # Armed here, inside initialize(), so LiteLLM is instrumented whichever sitecustomize ran it:
        # ours, or opentelemetry-instrument's when a user wraps the command in it as well.
        from signoz_litellm_run.hook import aiohttp_span, httpx_span, litellm_arm, proxy, server_span

        litellm_arm.install()
        proxy.install()
        httpx_span.install()
        aiohttp_span.install()
        server_span.install()

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if not chosen_by_name():
            OpenTelemetryDistro.load_instrumentor(self, entry_point, **kwargs)
            return
        _logs_switch_back()  # the configurator has run: instrumentors load after it

        def load() -> None:
            OpenTelemetryDistro.load_instrumentor(self, entry_point, **kwargs)

        module = LAZY_MODULES.get(entry_point.name)
        if module is None or module in sys.modules:
            if _dependencies_met(entry_point.name):  # a check left for the library, imported since
                _serial.run(load)  # errors propagate to initialize(), which reports them as usual
            return

        own_module = getattr(entry_point, "module", None) or entry_point.value.split(":")[0]
        loaded = False

        def on_import(_module: object, own_module_done: bool = False) -> None:
            nonlocal loaded
            if loaded or (not own_module_done and _initializing(own_module)):
                # The library imported by its instrumentation's module, which a program or another instrumentor
                # is importing (`opentelemetry.instrumentation.httpx` imports httpx first): loading it now would
                # find that module half made, and lose it. It is loaded once that module has run (below).
                return
            loaded = True

            def guarded() -> None:
                try:
                    if not _dependencies_met(entry_point.name):
                        return
                    load()
                except Exception:  # as initialize() does: one failing instrumentor must not stop the program
                    _logger.debug("Instrumenting %s failed", entry_point.name, exc_info=True)

            _serial.run(guarded)

        import wrapt

        wrapt.register_post_import_hook(on_import, module)
        wrapt.register_post_import_hook(
            lambda _module: on_import(_module, own_module_done=True) if module in sys.modules else None, own_module)


def _defer_dependency_checks() -> None:
    """Have `_load_instrumentors` (which runs after this distro's `_configure`) skip the dependency check of an
    instrumentation whose every instrumentor waits for a library not imported yet; `_dependencies_met` runs it
    at that import. Only while `_load_instrumentors` looks the check up by the name it was written against."""
    from opentelemetry.instrumentation.auto_instrumentation import _load

    original = getattr(_load, "get_dist_dependency_conflicts", None)
    code = getattr(getattr(_load, "_load_instrumentors", None), "__code__", None)
    if original is None or getattr(original, "_signoz_litellm", False) or code is None or \
            "get_dist_dependency_conflicts" not in code.co_names:
        return

    def conflicts(dist: Any) -> Any:
        names = _instrumentor_names(dist)
        if names and all(name in LAZY_MODULES and LAZY_MODULES[name] not in sys.modules for name in names):
            for name in names:
                _deferred_checks[name] = (dist, original)
            return None
        return original(dist)

    conflicts._signoz_litellm = True  # type: ignore[attr-defined]
    _load.get_dist_dependency_conflicts = conflicts


def _instrumentor_names(dist: Any) -> list[str]:
    try:
        return [ep.name for ep in dist.entry_points if ep.group == "opentelemetry_instrumentor"]
    except Exception:
        return []


def _dependencies_met(name: str) -> bool:
    """The dependency check `_load_instrumentors` left for the library's import; a conflict is logged as there."""
    deferred = _deferred_checks.pop(name, None)
    if deferred is None:
        return True
    dist, check = deferred
    conflict = check(dist)
    if conflict:
        conflict._log(logging.getLogger("opentelemetry.instrumentation.auto_instrumentation._load"), name)
        return False
    return True


def _initializing(name: str) -> bool:
    """The module is being imported right now (in sys.modules, its code still running)."""
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))

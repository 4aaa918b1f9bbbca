"""Our OpenTelemetry distro: OpenTelemetry's own, except that instrumentors wait for their library.

`opentelemetry-instrument` imports every instrumented library at start-up (aiohttp and httpx alone
cost about 150 ms) even in a process that never uses them. This distro registers a post-import hook
instead and instruments a library when the program imports it, so a process pays only for what it
uses. Instrumentors whose library is already imported, or that we do not know, load at once. A program
that imports an instrumentation package itself (which imports its library first) has the library
instrumented once that package's import is done.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.distro import OpenTelemetryDistro

_logger = logging.getLogger(__name__)

# entry point name -> the module whose import triggers it
LAZY_MODULES = {
    "httpx": "httpx",
    "httpx2": "httpx2",
    "aiohttp-client": "aiohttp",
    "aiohttp-server": "aiohttp",
    "requests": "requests",
    "urllib3": "urllib3",
    "urllib": "urllib.request",
    "fastapi": "fastapi",
    "starlette": "starlette",
    "flask": "flask",
    "django": "django",
    "falcon": "falcon",
    "tornado": "tornado",
    "redis": "redis",
    "sqlalchemy": "sqlalchemy",
    "sqlite3": "sqlite3",
    "psycopg": "psycopg",
    "psycopg2": "psycopg2",
    "asyncpg": "asyncpg",
    "pymongo": "pymongo",
    "pymysql": "pymysql",
    "botocore": "botocore",
    "aiobotocore": "aiobotocore",  # opentelemetry-instrumentation-botocore's second entry point
    "boto3sqs": "boto3",
    "boto3": "boto3",  # opentelemetry-instrumentation-boto3sqs's entry point is named boto3
    "tortoiseorm": "tortoise",
    "celery": "celery",
    "jinja2": "jinja2",
    "click": "click",
    "openai_v2": "openai",
    "anthropic": "anthropic",
}


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


class SignozLitellmDistro(OpenTelemetryDistro):
    def _configure(self, **kwargs: Any) -> None:
        super()._configure(**kwargs)
        # Armed here, inside initialize(), so LiteLLM is instrumented whichever sitecustomize ran it:
        # ours, or opentelemetry-instrument's when a user wraps the command in it as well.
        from signoz_litellm_run.hook import httpx_span, litellm_arm, proxy

        litellm_arm.install()
        proxy.install()
        httpx_span.install()

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:  # type: ignore[override]
        def load() -> None:
            OpenTelemetryDistro.load_instrumentor(self, entry_point, **kwargs)

        module = LAZY_MODULES.get(entry_point.name)
        if module is None or module in sys.modules:
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
                    load()
                except Exception:  # as initialize() does: one failing instrumentor must not stop the program
                    _logger.debug("Instrumenting %s failed", entry_point.name, exc_info=True)

            _serial.run(guarded)

        import wrapt

        wrapt.register_post_import_hook(on_import, module)
        wrapt.register_post_import_hook(
            lambda _module: on_import(_module, own_module_done=True) if module in sys.modules else None, own_module)


def _initializing(name: str) -> bool:
    """The module is being imported right now (in sys.modules, its code still running)."""
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))

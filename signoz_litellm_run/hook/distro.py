"""Our OpenTelemetry distro: OpenTelemetry's own, except that instrumentors wait for their library.

`opentelemetry-instrument` imports every instrumented library at start-up (aiohttp and httpx alone
cost about 150 ms) even in a process that never uses them. This distro registers a post-import hook
instead and instruments a library when the program imports it, so a process pays only for what it
uses. Instrumentors whose library is already imported, or that we do not know, load at once.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from opentelemetry.distro import OpenTelemetryDistro

_logger = logging.getLogger(__name__)

# entry point name -> the module whose import triggers it
LAZY_MODULES = {
    "httpx": "httpx",
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


class SignozLitellmDistro(OpenTelemetryDistro):
    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:  # type: ignore[override]
        module = LAZY_MODULES.get(entry_point.name)
        if module is None or module in sys.modules:
            super().load_instrumentor(entry_point, **kwargs)
            return

        def instrument(_module: object) -> None:
            try:
                OpenTelemetryDistro.load_instrumentor(self, entry_point, **kwargs)
            except Exception:  # as initialize() does: one failing instrumentor must not stop the program
                _logger.debug("Instrumenting %s failed", entry_point.name, exc_info=True)

        import wrapt

        wrapt.register_post_import_hook(instrument, module)

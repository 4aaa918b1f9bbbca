"""The exit deadline and the final flush's state, shared by the modules that deliver at exit.

`SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT` seconds (default 1) for the whole final flush; the counting wrappers read
`_final_deadline` (an export's one retry at once, an exporter built during the flush) and `shutdown.final_flush`
sets it. Work that must finish within it runs on daemon threads (`_started`), silently (`_silently`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

TIMEOUT_ENV = "SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT"
EXPORT_SHARE = 0.2  # of the exit deadline, kept for the export whatever LiteLLM's callbacks do

_final_done = threading.Event()
_final_lock = threading.Lock()
_final_deadline: float | None = None  # set when the final flush starts


def timeout_seconds() -> float:
    try:
        value = float(os.environ.get(TIMEOUT_ENV, "1"))
    except ValueError:
        return 1.0
    return value if value >= 0 else 1.0


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _silently(function: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            function()
        except BaseException:
            pass

    return run


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

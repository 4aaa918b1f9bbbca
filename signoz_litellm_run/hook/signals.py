"""SIGTERM, SIGINT and SIGHUP: a signal whose disposition is the default (the process would die on the spot,
skipping `atexit`) first delivers the telemetry, then dies of the same signal, so the status the parent sees is
unchanged (143 / 130 in a shell). A handler the program installs (before or after us) is left in place and runs
as usual; an ignored signal stays ignored; `signal.getsignal` reports what the program set. A fatal signal that
comes during the final flush is deferred until the flush is done; a second Ctrl-C does not cut the flush short.

`shutdown.install()` hands `_install_signal_handling` the final flush (this module does not import `shutdown`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from signoz_litellm_run.hook.exit_deadline import _final_lock, timeout_seconds
from signoz_litellm_run.hook import lazy_export, signal_relay, system_metrics
from signoz_litellm_run.hook.litellm_logging import _wait_executor_idle

# SIGHUP: the terminal or ssh session of a job run by hand went away (no SIGHUP on Windows).
_FATAL_SIGNALS = (signal.SIGTERM, signal.SIGINT) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())
_app_handlers: dict[int, Any] = {}
_original_signal = signal.signal
_original_getsignal = signal.getsignal
_deferred_signals: list[int] = []  # fatal signals that came during the final flush: die of them after it
_final_flush: Callable[[str], None] = lambda reason: None  # shutdown.final_flush, from _install_signal_handling


def _install_signal_handling(final_flush: Callable[[str], None]) -> None:
    global _final_flush
    _final_flush = final_flush
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
    that already returned, and with the exporters built. Besides delivering, this keeps the exit status: module
    code run once the KeyboardInterrupt went unhandled (a LiteLLM logging thread importing modules; an exporter
    built at its first export, at exit, importing grpc) makes Python forget that it is dying of SIGINT (status 1
    instead of 130); so does the system metrics' timer starting them then. Imports done here, before the
    KeyboardInterrupt is raised, do not."""
    _wait_executor_idle(time.monotonic() + timeout_seconds())
    lazy_export.build_all()
    system_metrics.start_claimed()
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
        _final_flush(signal.Signals(signum).name)
    finally:
        _die_of(signum)


def _die_of(signum: int) -> None:
    try:
        _original_signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
    finally:
        os._exit(128 + signum)  # only if the signal is blocked


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

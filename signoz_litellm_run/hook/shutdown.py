"""Deliver everything at exit, fast, and count what was delivered.

Started from `hook/boot.py` right after OpenTelemetry's `initialize()` built the providers.

- Counting: the exporters the SDK built are wrapped (instance attributes, nothing global) so every
  span, log record and metric export is counted as sent, failed (the endpoint refused or never
  answered, or rejected it through OTLP partial success) or dropped (a full queue, or still queued
  when the deadline passed). Nothing is lost silently: a call whose logging LiteLLM itself dropped (its
  logging thread pool's backlog full, or its async logging cancelled at LiteLLM's time limit before our
  logger ran) is a dropped span too.
- Exit with a deadline: one `atexit` handler, registered after the SDK's so it runs first, drains
  LiteLLM's pending callbacks, then shuts the providers down in helper threads and waits at most
  `SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT` seconds (default 1). The SDK's own exit handlers are then
  unregistered: they would wait up to 30 s on a dead endpoint.
- Signals: a SIGTERM, SIGINT or SIGHUP whose disposition is the default (the process would die on the spot,
  skipping `atexit`) first delivers the telemetry, then dies of the same signal, so the status
  the parent sees is unchanged (143 / 130 in a shell). A handler the program installs (before or
  after us) is left in place and runs as usual; an ignored signal stays ignored; `signal.getsignal`
  reports what the program set.
- `asyncio.run(...)`: before the loop cancels its leftover tasks, LiteLLM's background logging
  worker is drained on that loop, so the spans of the last calls are not cancelled with it.
- Forks: a fork waits for LiteLLM's logging threads and the exports in flight (bounded); the child gets a
  ledger, connections and a LiteLLM logging pool of its own, and multiprocessing children flush on the way
  out (they end with `os._exit()`, skipping atexit).
- One warning line on stderr at exit when something could not be delivered (plus one when it first
  happens in a process that has run for 30 s, such as a server); the OpenTelemetry exporters' own
  retry and error log lines are counted instead of printed.

Here: `install()`, the final flush and `flush()`. The parts: counting in `delivery_count.py`, the deadline's
state in `exit_deadline.py`, signals in `signals.py`, forks in `forks.py` and `fork_gate.py`, LiteLLM's
logging pool, worker and asyncio tasks in `litellm_logging.py`.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from signoz_litellm_run.hook import delivery_count, exit_deadline, forks, litellm_logging, signal_relay, signals
from signoz_litellm_run.hook.delivery_count import (
    Ledger,
    _batch_processors,
    _cap_timeout,
    _exporters,
    _providers,
    _quiet_sdk_loggers,
    _wrap_providers,
)
from signoz_litellm_run.hook.exit_deadline import (
    EXPORT_SHARE,
    _final_done,
    _final_lock,
    _remaining,
    _silently,
    _started,
    timeout_seconds,
)
from signoz_litellm_run.hook.litellm_logging import _count_unlogged_calls, _drain_litellm, _wait_executor_idle
from signoz_litellm_run.hook.signals import _deferred_signals, _die_of, _ignore_sigint_while_flushing, _restore_sigint

_exit_hooks: list[Callable[[Ledger, float], None]] = []  # run after the final flush (the report)


def install() -> None:
    """Wrap the providers' exporters, arm the exit paths. Cheap: a few attribute look-ups."""
    _wrap_providers()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=forks._before_fork, after_in_parent=forks._after_fork_in_parent,
                            after_in_child=forks._after_fork_in_child)
    atexit.register(_at_exit)
    signals._install_signal_handling(final_flush)
    _quiet_sdk_loggers()
    import wrapt

    wrapt.register_post_import_hook(litellm_logging._patch_asyncio_runners, "asyncio.runners")
    wrapt.register_post_import_hook(_flush_in_multiprocessing_children, "multiprocessing.util")
    wrapt.register_post_import_hook(litellm_logging._count_litellm_backlog_drops,
                                    "litellm.litellm_core_utils.thread_pool_executor")
    wrapt.register_post_import_hook(litellm_logging._count_plain_pool_work,
                                    "litellm.litellm_core_utils.thread_pool_executor")
    wrapt.register_post_import_hook(litellm_logging._count_litellm_logging_timeouts,
                                    "litellm.litellm_core_utils.logging_worker")
    forks.install()


class _Token:
    """A weak-referenceable key for multiprocessing's after-fork registry, alive for the whole process."""


_MP_TOKEN = _Token()


def _flush_in_multiprocessing_children(util: Any) -> None:
    """multiprocessing's fork and forkserver children (Pool and ProcessPoolExecutor workers included) end with
    `os._exit()`: atexit never runs there, so whatever they produced in their last second was lost, and their
    counts never reached the report. Every child multiprocessing starts runs its after-fork registry, then,
    on the way out, the finalizers registered there: ours runs the final flush last."""
    util.register_after_fork(_MP_TOKEN, _register_child_flush)


def _register_child_flush(_token: Any) -> None:
    from multiprocessing import util

    util.Finalize(None, final_flush, args=("exit",), exitpriority=-(2**31))
    # Pool.terminate()'s SIGTERM may land on any thread of an idle worker (signal_relay)
    signal_relay.install(lambda signum: signals._original_getsignal(signum) is signals._on_fatal_signal)


def flush(timeout: float) -> bool:
    """Send what is produced so far, within `timeout` seconds, and go on (`init()`'s handle, a notebook's cell):
    LiteLLM's callbacks of the calls that returned first, then each provider's (or adopted processor's) flush."""
    deadline = time.monotonic() + timeout
    _wait_executor_idle(deadline - EXPORT_SHARE * timeout)
    results: list[bool] = []

    def one(target: Any) -> None:
        try:
            results.append(target.force_flush(timeout_millis=max(1, int(_remaining(deadline) * 1000))) is not False)
        except Exception:
            results.append(False)

    threads = [threading.Thread(target=one, args=(target,), name="signoz-litellm-flush", daemon=True)
               for _, target in _providers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(_remaining(deadline))
    return len(results) == len(threads) and all(results)


def is_shut_down() -> bool:
    return _final_done.is_set()


def on_exit(hook: Callable[[Ledger, float], None]) -> None:
    """Run `hook(ledger, seconds_spent)` once, after the final flush (used by the report)."""
    _exit_hooks.append(hook)


# --------------------------------------------------------------------------------------------- exit


def _at_exit() -> None:
    final_flush("exit")


def final_flush(reason: str, timeout: float | None = None) -> None:
    """Deliver what is produced, within the deadline (`timeout`, else SIGNOZ_LITELLM_SHUTDOWN_TIMEOUT), once per
    process; then run the exit hooks."""
    if not _final_lock.acquire(blocking=False):
        return  # another exit path is doing it
    try:
        if _final_done.is_set() or not _providers:
            return
        started = time.monotonic()
        timeout = timeout_seconds() if timeout is None else timeout
        deadline = started + timeout
        previous_int = _ignore_sigint_while_flushing()
        try:
            # LiteLLM's callbacks make the last calls' spans, but a callback that hangs (the program's own, say)
            # must not take the time the export of everything else needs: it gets the deadline's first 80 %.
            _drain_litellm(deadline - EXPORT_SHARE * timeout)
            _shutdown_providers(deadline)
            _quiet_log_handler_flush()
            _count_unlogged_calls(timeout)
        finally:
            _final_done.set()
            _restore_sigint(previous_int)
        spent = time.monotonic() - started
        for hook in _exit_hooks:
            try:
                hook(delivery_count.ledger, spent)
            except Exception:
                pass
    except Exception:
        pass
    finally:
        _final_lock.release()
    if _deferred_signals:
        _die_of(_deferred_signals[0])


def _quiet_log_handler_flush() -> None:
    """OpenTelemetry's logging handler (contrib 0.61b0 on) flushes its provider on a new thread when
    `logging.shutdown` flushes the handlers at exit; under Python 3.12.0/3.12.1 that thread cannot start and a
    traceback is printed. The providers are shut down by now, so there is nothing left to flush: the handlers'
    flush becomes a no-op for the rest of the exit."""
    import logging

    for handler in logging.getLogger().handlers:
        if type(handler).__module__.startswith("opentelemetry."):
            handler.flush = lambda: None  # type: ignore[method-assign]


def _shutdown_providers(deadline: float) -> None:
    exit_deadline._final_deadline = deadline
    remaining = _remaining(deadline)
    for signal_name, exporter in _exporters:  # no single export may outlive the deadline
        _cap_timeout(exporter, remaining)
    threads = []
    for signal_name, provider in _providers:
        _unregister_sdk_atexit(provider)
        if signal_name == "metrics":
            target = _silently(lambda p=provider: p.shutdown(timeout_millis=max(1.0, _remaining(deadline) * 1000)))
        else:
            target = _silently(provider.shutdown)
        thread = _started(target, f"signoz-litellm-{signal_name}-flush")
        if thread is not None:
            threads.append(thread)
    for thread in threads:
        thread.join(_remaining(deadline))
    if any(t.is_alive() for t in threads):
        # The deadline passed: stop every retry and cancel what is on the wire.
        ledger = delivery_count.ledger
        ledger.last_error = ledger.last_error or f"no answer within the {timeout_seconds():g} s exit deadline"
        # on threads: a channel whose lock is never released must not hold the exit
        cancels = [_started(_silently(exporter.shutdown), "signoz-litellm-cancel") for _, exporter in _exporters]
        for cancel in cancels:
            if cancel is not None:
                cancel.join(0.1)
        for _, batch in _batch_processors:
            batch._shutdown = True
            batch._shutdown_timeout_exceeded = True
        for thread in threads:
            thread.join(0.05)
    for signal_name, batch in _batch_processors:
        left = len(getattr(batch, "_queue", ()))
        if left:
            delivery_count.ledger.add("dropped", signal_name, left)  # never handed to the exporter
            batch._queue.clear()


def _unregister_sdk_atexit(provider: Any) -> None:
    for name in ("_atexit_handler", "_at_exit_handler"):
        handler = getattr(provider, name, None)
        if handler is not None:
            atexit.unregister(handler)
            setattr(provider, name, None)

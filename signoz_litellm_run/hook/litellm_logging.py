"""LiteLLM's logging of calls, as delivery sees it: its logging thread pool and async worker waited for (at exit,
before a fork, before `asyncio.run` cancels what is left), and the calls whose logging LiteLLM dropped or stopped
counted as dropped spans. Each release's shape is recognised from its code: the bounded pool (about 1.95 on),
the plain ThreadPoolExecutor and bare async logging tasks of older releases (up to 1.98, 1.75), the worker's
`pending_count` (1.109 on). Hooked when LiteLLM's modules are imported (`shutdown.install`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any

from signoz_litellm_run.hook.delivery_count import _calls_not_logged
from signoz_litellm_run.hook.exit_deadline import _remaining, _silently, _started, timeout_seconds

def litellm_executor() -> Any:
    """LiteLLM's logging thread pool (its sync callbacks run there), once LiteLLM is imported."""
    return getattr(sys.modules.get("litellm.litellm_core_utils.thread_pool_executor"), "executor", None)


def _drain_litellm(deadline: float) -> None:
    """Let LiteLLM finish the logging callbacks of calls that already returned (they create the spans)."""
    worker = _litellm_worker()
    if worker is not None and getattr(worker, "_queue", None) is not None and _worker_pending(worker):
        # Off the main thread: the program's own event loop may be the one interrupted by a signal.
        thread = _started(_silently(worker._flush_on_exit), "signoz-litellm-drain")
        if thread is not None:
            thread.join(_remaining(deadline))
    _wait_executor_idle(deadline)


def _wait_executor_idle(deadline: float) -> None:
    """Wait until LiteLLM's logging thread pool has no callback queued or running."""
    executor = litellm_executor()
    if executor is not None:
        while _executor_pending(executor) and time.monotonic() < deadline:
            time.sleep(0.005)


def _count_unlogged_calls(timeout: float) -> None:
    """LiteLLM callbacks still queued or running when the deadline passed never make their call's span:
    each is counted as a dropped span, so the loss is not silent (a callback finishing later is not
    counted again: see `_wrap_processor`)."""
    executor = litellm_executor()
    unlogged = _executor_pending(executor) if executor is not None else 0
    worker = _litellm_worker()
    if worker is not None and getattr(worker, "_queue", None) is not None:
        unlogged += _worker_pending(worker)
    if unlogged:  # the first cause, whatever else failed
        _calls_not_logged(unlogged, f"LiteLLM had not logged {unlogged} call{'s' if unlogged != 1 else ''} by the "
                                    f"{timeout:g} s exit deadline", replace=True)


_LOGGING_HANDLERS = ("success_handler", "failure_handler")


def _count_litellm_backlog_drops(module: Any) -> None:
    """LiteLLM's logging thread pool refuses new work when its backlog is full (10,000 callbacks queued or
    running, LOGGING_EXECUTOR_MAX_PENDING_TASKS: callbacks slower than the calls, a program callback stuck on a
    dead service), and hands back a cancelled future. A call whose success or failure handler was refused
    never makes its span: each is counted as a dropped span, with the reason."""
    executor = getattr(module, "executor", None)
    submit = getattr(executor, "submit", None)
    if submit is None or getattr(submit, "_signoz_litellm", False) or not hasattr(executor, "_pending_slots"):
        return  # not LiteLLM's bounded pool (an older LiteLLM queues without limit)

    def counting_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        future = submit(fn, *args, **kwargs)
        if future.cancelled():
            # The handler itself, or `contextvars.Context.run` with the handler first.
            handler = args[0] if args and getattr(fn, "__name__", None) == "run" else fn
            if getattr(handler, "__name__", None) in _LOGGING_HANDLERS:
                _calls_not_logged(1, "LiteLLM's logging backlog was full: it dropped calls' callbacks "
                                     "(LOGGING_EXECUTOR_MAX_PENDING_TASKS raises the limit)")
        return future

    counting_submit._signoz_litellm = True  # type: ignore[attr-defined]
    executor.submit = counting_submit  # the instance only: every module that imported `executor` shares it


class _Unfinished:
    """Work submitted to a pool and not done yet (queued or running)."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # the parent's work is not the child's to wait for

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.count = 0

    def add(self, future: Any) -> None:
        with self.lock:
            self.count += 1
        future.add_done_callback(self._done)

    def _done(self, _future: Any) -> None:
        with self.lock:
            self.count = max(0, self.count - 1)


def _count_plain_pool_work(module: Any) -> None:
    """LiteLLM before its bounded pool (up to 1.98) logs sync calls on a plain ThreadPoolExecutor, which tells how
    many callbacks are queued but not which are running: a SIGTERM right after a call did not wait for its
    running callback, and its span was lost without a word (1.80.17: 39 of 40 spans, report "0 dropped"). Its
    submissions are counted until done."""
    executor = getattr(module, "executor", None)
    submit = getattr(executor, "submit", None)
    if submit is None or getattr(submit, "_signoz_litellm", False) or hasattr(executor, "_pending_slots") \
            or not hasattr(executor, "_work_queue"):
        return
    unfinished = _Unfinished()

    def counting_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        future = submit(fn, *args, **kwargs)
        unfinished.add(future)
        return future

    counting_submit._signoz_litellm = True  # type: ignore[attr-defined]
    executor.submit = counting_submit
    executor._signoz_litellm_unfinished = unfinished


# Async calls whose logging LiteLLM's worker holds and our logger has not handled yet (call id -> None; only the
# oldest are forgotten past the cap), and the worker's coroutine of each (coroutine -> call id).
_MAX_AWAITED = 65536
_awaited_lock = threading.Lock()
_awaited: OrderedDict[str, None] = OrderedDict()
_coroutine_calls: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def logged(call_id: Any) -> None:
    """Our OTel logger handled this call (hook/litellm_arm.py, for every call it logs)."""
    if call_id and _awaited:
        with _awaited_lock:
            _awaited.pop(call_id, None)


def _count_litellm_logging_timeouts(module: Any) -> None:
    """LiteLLM's async logging worker cancels a call's logging coroutine (all its callbacks, one after the other)
    once it has run for LOGGING_WORKER_MAX_TIME_PER_COROUTINE (20 s by default): when a slow callback ahead of
    ours was the cause, the call's span is never made. Each such call is counted as a dropped span, with the
    reason; a call our logger had already handled is not."""
    worker_class = getattr(module, "LoggingWorker", None)
    enqueue = getattr(worker_class, "_enqueue_task", None)
    timed_out = getattr(worker_class, "_record_callback_timeout", None)
    if enqueue is None or timed_out is None or getattr(timed_out, "_signoz_litellm", False):
        return

    def _enqueue_task(self: Any, task: Any) -> Any:
        coroutine = task.get("coroutine") if type(task) is dict else None
        if getattr(coroutine, "__name__", None) == "async_success_handler" and coroutine not in _coroutine_calls:
            frame = getattr(coroutine, "cr_frame", None)
            call_id = getattr(frame.f_locals.get("self"), "litellm_call_id", None) if frame is not None else None
            if call_id:
                with _awaited_lock:
                    _coroutine_calls[coroutine] = call_id
                    _awaited[call_id] = None
                    if len(_awaited) > _MAX_AWAITED:
                        _awaited.popitem(last=False)
        return enqueue(self, task)

    def _record_callback_timeout(self: Any, coroutine: Any) -> Any:
        call_id = _coroutine_calls.get(coroutine)
        with _awaited_lock:
            unlogged = call_id is not None and _awaited.pop(call_id, 0) is None
        if unlogged:
            limit = getattr(self, "timeout", 20)
            _calls_not_logged(1, f"LiteLLM stopped a call's logging at its {limit:g} s limit, before our logger ran "
                                 "(a slower callback ahead of it; LOGGING_WORKER_MAX_TIME_PER_COROUTINE)")
        return timed_out(self, coroutine)

    _enqueue_task._signoz_litellm = True  # type: ignore[attr-defined]
    _record_callback_timeout._signoz_litellm = True  # type: ignore[attr-defined]
    worker_class._enqueue_task = _enqueue_task
    worker_class._record_callback_timeout = _record_callback_timeout


def _litellm_worker() -> Any:
    """LiteLLM's background logging worker for async calls, if LiteLLM made one."""
    return getattr(sys.modules.get("litellm.litellm_core_utils.logging_worker"), "GLOBAL_LOGGING_WORKER", None)


def _worker_pending(worker: Any) -> int:
    """Callbacks queued or running in LiteLLM's async logging worker: its `pending_count` from 1.109; before,
    its asyncio queue's unfinished tasks (the worker marks each done once its callbacks ran)."""
    try:
        if hasattr(type(worker), "pending_count"):
            return max(0, int(worker.pending_count))
        queue = getattr(worker, "_queue", None)
        if queue is None:
            return 0
        unfinished = getattr(queue, "_unfinished_tasks", None)
        queued = unfinished if type(unfinished) is int else int(queue.qsize())
        return max(0, queued) + len(getattr(worker, "_pending_enqueues", ()) or ())
    except Exception:
        return 0


def _executor_pending(executor: Any) -> int:
    """Callbacks queued or running in LiteLLM's logging pool (its bounded pool, from about 1.95, counts them; a
    plain ThreadPoolExecutor, as older LiteLLM releases have, only tells how many are queued).

    A plain pool at interpreter exit has already run everything queued (Python joins its threads before any
    `atexit` handler), and its queue then holds only the wake-up marks (one `None` per thread) the shutdown
    put there: counted as calls, they made a job of one call report "LiteLLM had not logged 4 calls" (one per
    thread the pool had), and the exit flush wait its whole share of the deadline for them. A shut-down pool
    takes no new work, so once its threads are gone nothing is pending."""
    try:
        slots = getattr(executor, "_pending_slots", None)
        maximum = getattr(executor, "_max_pending_tasks", None)
        if slots is not None and isinstance(maximum, int) and hasattr(slots, "_value"):
            return max(0, maximum - slots._value)
        unfinished = getattr(executor, "_signoz_litellm_unfinished", None)
        if unfinished is not None:
            return unfinished.count
        queue = getattr(executor, "_work_queue", None)
        if queue is None:
            return 0
        queued = queue.qsize()
        if queued and _pool_shut_down(executor):
            threads = [thread for thread in getattr(executor, "_threads", ()) if thread.is_alive()]
            return max(0, queued - len(getattr(executor, "_threads", ()))) if threads else 0
        return queued
    except Exception:
        return 0


def _pool_shut_down(executor: Any) -> bool:
    """The pool was shut down, by its `shutdown()` or by the interpreter's exit."""
    return bool(getattr(executor, "_shutdown", False)
                or getattr(sys.modules.get("concurrent.futures.thread"), "_shutdown", False))


# --------------------------------------------------------------------------------------------- asyncio


def _patch_asyncio_runners(runners: Any) -> None:
    original = getattr(runners, "_cancel_all_tasks", None)
    if original is None or getattr(original, "_signoz_litellm", False):
        return

    def _cancel_all_tasks(loop: Any) -> Any:
        _drain_worker_on(loop)
        _finish_logging_tasks_on(loop)
        return original(loop)

    _cancel_all_tasks._signoz_litellm = True  # type: ignore[attr-defined]
    runners._cancel_all_tasks = _cancel_all_tasks


def _drain_worker_on(loop: Any) -> None:
    """Before asyncio.run cancels what is left, let LiteLLM's logging worker finish on this loop."""
    worker = _litellm_worker()
    if worker is None or _loop_of(worker) is not loop or not _worker_pending(worker):
        return
    try:
        import asyncio

        loop.run_until_complete(asyncio.wait_for(_flush(worker), timeout=max(timeout_seconds(), 0.1)))
    except BaseException:
        pass


def _loop_of(worker: Any) -> Any:
    """The event loop LiteLLM's logging worker runs on (`_bound_loop` from 1.80; before, its task's loop)."""
    loop = getattr(worker, "_bound_loop", None)
    if loop is None:
        task = getattr(worker, "_worker_task", None)
        try:
            loop = task.get_loop() if task is not None else None
        except Exception:
            loop = None
    return loop


async def _flush(worker: Any) -> None:
    """The worker's own flush; before 1.109 that waits only while its queue holds something, so the callbacks
    it already took off the queue are waited for too: asyncio.run cancelled them, and with them the last call's
    span (1.77.7: a Router's acompletion as the program's last step lost its litellm_request)."""
    await worker.flush()
    queue = getattr(worker, "_queue", None)
    if not hasattr(type(worker), "pending_count") and queue is not None and _worker_pending(worker):
        await queue.join()


_LOGGING_COROUTINES = ("async_success_handler", "async_failure_handler")


def _finish_logging_tasks_on(loop: Any) -> None:
    """LiteLLM before its logging worker (1.75; 1.76.3 has the worker) runs each async call's logging as a task of
    its own on the program's loop: asyncio.run cancelled those not done at its end, and their calls' spans were
    never made (a Router's acompletion, the last thing a program did, lost its litellm_request). They get the exit
    deadline to finish first."""
    try:
        import asyncio

        tasks = [task for task in asyncio.all_tasks(loop)
                 if not task.done() and getattr(task.get_coro(), "__name__", None) in _LOGGING_COROUTINES]
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=max(timeout_seconds(), 0.1)))
    except BaseException:
        pass

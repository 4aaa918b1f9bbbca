"""hook/litellm_logging.py with what older LiteLLM releases log calls on: the plain thread pool before its bounded pool
(`concurrent.futures.ThreadPoolExecutor`, up to 1.98), bare asyncio tasks before its logging worker (1.75)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from signoz_litellm_run.hook import litellm_logging


def test_a_plain_pool_counts_what_is_queued() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    started, release = threading.Event(), threading.Event()
    try:
        pool.submit(lambda: (started.set(), release.wait(10)))
        assert started.wait(10)
        pool.submit(lambda: None)
        pool.submit(lambda: None)
        assert litellm_logging._executor_pending(pool) == 2  # queued behind the running one
    finally:
        release.set()
        pool.shutdown(wait=True)


def test_a_shut_down_pool_has_nothing_pending_though_its_queue_holds_wake_up_marks() -> None:
    pool = ThreadPoolExecutor(max_workers=4)
    for _ in range(8):
        pool.submit(lambda: None)
    threads = len(pool._threads)
    pool.shutdown(wait=True)
    assert pool._work_queue.qsize() >= 1 and threads >= 1  # the marks the shutdown left, not calls
    assert litellm_logging._executor_pending(pool) == 0


def test_asyncio_run_lets_bare_logging_tasks_finish_before_it_cancels_them() -> None:
    # LiteLLM 1.75 logs an async call in a task of its own (`Logging.async_success_handler`) on the program's loop.
    program = textwrap.dedent("""
        import asyncio
        from signoz_litellm_run.hook import litellm_logging

        litellm_logging._patch_asyncio_runners(asyncio.runners)

        async def async_success_handler():
            await asyncio.sleep(0.2)
            print("logged")

        async def main():
            asyncio.get_running_loop().create_task(async_success_handler())

        asyncio.run(main())
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, "logged\n"), result.stderr


def test_a_plain_pools_running_callback_is_waited_for() -> None:
    # A SIGTERM right after a call: its callback is running, none is queued; the flush must still wait for it.
    import types

    module = types.SimpleNamespace(executor=ThreadPoolExecutor(max_workers=2))
    litellm_logging._count_plain_pool_work(module)
    pool = module.executor
    started, release = threading.Event(), threading.Event()
    try:
        pool.submit(lambda: (started.set(), release.wait(10)))
        assert started.wait(10)
        assert pool._work_queue.qsize() == 0 and litellm_logging._executor_pending(pool) == 1
        release.set()
        deadline = time.monotonic() + 10
        while litellm_logging._executor_pending(pool) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert litellm_logging._executor_pending(pool) == 0
    finally:
        release.set()
        pool.shutdown(wait=True)


def test_asyncio_run_lets_an_older_logging_worker_finish_the_callback_it_runs() -> None:
    # The logging worker as LiteLLM 1.77 has it: no `_bound_loop`, one callback at a time, taken off its queue
    # before it runs, and a `flush` that waits only while the queue holds something.
    program = textwrap.dedent("""
        import asyncio, sys, types
        from signoz_litellm_run.hook import litellm_logging

        litellm_logging._patch_asyncio_runners(asyncio.runners)

        class LoggingWorker:
            def __init__(self):
                self._queue = None
                self._worker_task = None

            def enqueue(self, coroutine):
                if self._queue is None:
                    self._queue = asyncio.Queue()
                    self._worker_task = asyncio.create_task(self._worker_loop())
                self._queue.put_nowait(coroutine)

            async def _worker_loop(self):
                while True:
                    coroutine = await self._queue.get()
                    try:
                        await coroutine
                    finally:
                        self._queue.task_done()

            async def flush(self):
                while not self._queue.empty():
                    await self._queue.join()

        module = types.ModuleType("litellm.litellm_core_utils.logging_worker")
        module.GLOBAL_LOGGING_WORKER = worker = LoggingWorker()
        sys.modules[module.__name__] = module

        async def async_success_handler():
            await asyncio.sleep(0.2)
            print("logged")

        async def main():
            worker.enqueue(async_success_handler())
            await asyncio.sleep(0.05)  # the worker has taken it off its queue and runs it

        asyncio.run(main())
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, "logged\n"), result.stderr

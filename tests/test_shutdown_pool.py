"""hook/shutdown.py's count of LiteLLM's sync logging callbacks still pending, on the plain thread pool LiteLLM
releases before its bounded pool use (`concurrent.futures.ThreadPoolExecutor`)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from signoz_litellm_run.hook import shutdown


def test_a_plain_pool_counts_what_is_queued() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    started, release = threading.Event(), threading.Event()
    try:
        pool.submit(lambda: (started.set(), release.wait(10)))
        assert started.wait(10)
        pool.submit(lambda: None)
        pool.submit(lambda: None)
        assert shutdown._executor_pending(pool) == 2  # queued behind the running one
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
    assert shutdown._executor_pending(pool) == 0

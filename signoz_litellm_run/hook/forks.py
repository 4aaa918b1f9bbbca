"""What a forked child must not share with its parent: open HTTP connections and LiteLLM's logging threads.

`shutdown.install()` runs `install()`; `shutdown`'s after-fork hook runs `in_child()` in every forked child
(multiprocessing's fork and forkserver workers, `os.fork()` itself), before the child runs any of its own code.

- HTTP connections: LiteLLM keeps one HTTP client per provider and key, and the client keeps its connections
  open. A fork copies those sockets, so every child forked after a call sent its requests on the parent's
  connection, several processes at once: requests and answers mixed, a garbled request came back as an error,
  and a `multiprocessing.Pool` whose worker raised LiteLLM's (unpicklable) error hung forever. Connection pools
  of httpcore (httpx's transport, which LiteLLM and the OpenAI SDK use) are tracked weakly as they are made; a
  child starts them empty, leaving the parent's connections unclosed (closing one could end the parent's).
- LiteLLM's logging thread pool: see `_renew_litellm_executor`.
- The resource's `process.pid`: see `_own_pid_in_resource`.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from typing import Any

_pools: weakref.WeakSet[Any] = weakref.WeakSet()


def install() -> None:
    import wrapt

    wrapt.register_post_import_hook(_track_httpcore_pools, "httpcore")


def _track_httpcore_pools(httpcore: Any) -> None:
    for name in ("ConnectionPool", "AsyncConnectionPool"):
        cls = getattr(httpcore, name, None)
        original = getattr(cls, "__init__", None)
        if original is None or getattr(original, "_signoz_litellm", False):
            continue

        def __init__(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> None:
            __original(self, *args, **kwargs)
            try:
                _pools.add(self)
            except TypeError:
                pass

        __init__._signoz_litellm = True  # type: ignore[attr-defined]
        __init__.__doc__ = original.__doc__
        cls.__init__ = __init__  # type: ignore[union-attr]


def in_child() -> None:
    _leave_parent_connections()
    _renew_litellm_executor()
    _own_pid_in_resource()


def _leave_parent_connections() -> None:
    for pool in list(_pools):
        try:
            lock = getattr(pool, "_optional_thread_lock", None)
            if lock is not None:  # a parent thread may have held it at the fork
                pool._optional_thread_lock = type(lock)()
            if hasattr(pool, "_connections"):
                pool._connections = []
                pool._requests = []
        except Exception:
            pass


def litellm_executor() -> Any:
    """LiteLLM's logging thread pool (its sync callbacks run there), once LiteLLM is imported."""
    return getattr(sys.modules.get("litellm.litellm_core_utils.thread_pool_executor"), "executor", None)


def _renew_litellm_executor() -> None:
    """A fork copies LiteLLM's logging thread pool but none of its threads. The copy still counted the
    parent's idle threads, so the child's first callbacks were queued for threads that do not exist there:
    the span of a child's only call was never made (the exit flush waited its whole deadline for it), and
    in a longer child each such span waited for a later call. The child starts with no threads, an empty
    queue (the parent's pending callbacks are the parent's to run) and fresh locks and counts."""
    executor = litellm_executor()
    if executor is None or not hasattr(executor, "_idle_semaphore") or not hasattr(executor, "_work_queue"):
        return
    try:
        import queue

        executor._work_queue = queue.SimpleQueue()
        executor._idle_semaphore = threading.Semaphore(0)
        executor._threads = set()
        executor._shutdown_lock = threading.Lock()
        maximum = getattr(executor, "_max_pending_tasks", None)
        if isinstance(maximum, int) and hasattr(executor, "_pending_slots"):
            executor._pending_slots = threading.Semaphore(maximum)
        if hasattr(executor, "_drop_lock"):
            executor._drop_lock = threading.Lock()
    except Exception:
        pass


def _own_pid_in_resource() -> None:
    """The providers' resource is made once, at start-up, with the process's pid in it. Gunicorn's master
    preloads the LiteLLM proxy and forks its workers: every worker's spans, logs and metrics named the master's
    pid, so in SigNoz the workers could not be told apart (nor a `multiprocessing` fork child from its parent).
    The resource object the providers, tracers and spans share gets the child's pid in place of the parent's;
    a `process.pid` that is not the parent's (set by the user) is left alone."""
    parent = os.getppid()
    try:
        from opentelemetry import trace
        from opentelemetry.attributes import BoundedAttributes
    except Exception:
        return
    providers = [trace.get_tracer_provider()]
    for module_name, getter in (("opentelemetry.metrics", "get_meter_provider"),
                                ("opentelemetry._logs", "get_logger_provider")):
        module = sys.modules.get(module_name)
        if module is not None:
            providers.append(getattr(module, getter)())
    seen: set[int] = set()
    for provider in providers:
        resource = getattr(provider, "_resource", None) or getattr(getattr(provider, "_sdk_config", None),
                                                                    "resource", None)
        if resource is None or id(resource) in seen:
            continue
        seen.add(id(resource))
        attributes = getattr(resource, "_attributes", None)
        if not isinstance(attributes, BoundedAttributes):
            continue  # not the SDK's Resource as written against
        pid = attributes.get("process.pid")
        if pid is None or str(pid) != str(parent):
            continue
        try:
            own = dict(attributes)
            own["process.pid"] = str(os.getpid()) if isinstance(pid, str) else os.getpid()
            resource._attributes = BoundedAttributes(maxlen=attributes.maxlen, attributes=own, immutable=True)
        except Exception:
            continue
    span_wire = sys.modules.get("signoz_litellm_run.hook.span_wire")
    if span_wire is not None and seen:
        span_wire.forget_resources()

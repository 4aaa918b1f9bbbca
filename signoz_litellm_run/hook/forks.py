"""What a forked child must not share with its parent: open HTTP connections and LiteLLM's logging threads.

`shutdown.install()` runs `install()` and registers the fork handlers at the end of this module: before a fork,
wait for LiteLLM's logging threads and the exports in flight; in every forked child (multiprocessing's fork and
forkserver workers, `os.fork()` itself), before it runs any of its own code, a ledger, connections to the endpoint
and `in_child()`.

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
import time
import weakref
from typing import Any

from signoz_litellm_run.hook import delivery_count, fork_gate, signal_relay
from signoz_litellm_run.hook.fork_gate import FORK_WAIT_SECONDS
from signoz_litellm_run.hook.litellm_logging import _wait_executor_idle, litellm_executor

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


def _renew_urllib3_pool(transport: Any) -> None:
    """The HTTP exporters of SDK 1.45.0 send through urllib3 (`Urllib3HTTPTransport._pool`, a PoolManager), not a
    requests session: a forked child got a new pool manager with the same settings (60 children forked next to
    busy HTTP exports: 230 spans dropped and 1 failed without it)."""
    pool = getattr(transport, "_pool", None)
    urllib3 = sys.modules.get("urllib3")
    if pool is None or urllib3 is None or type(pool) is not getattr(urllib3, "PoolManager", None):
        return
    transport._pool = urllib3.PoolManager(num_pools=getattr(pool.pools, "_maxsize", 10), headers=pool.headers,
                                          **pool.connection_pool_kw)


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


# --------------------------------------------------------------------------------------------- fork handlers


def _before_fork() -> None:
    """Before `os.fork()` (multiprocessing's fork and forkserver workers, `os.fork` itself): wait, within
    FORK_WAIT_SECONDS, until LiteLLM's logging threads are idle and no export is in flight. A fork copies the
    locks those threads hold but not the threads: LiteLLM's first success callback imports modules on one of
    them, and a child forked meanwhile waited forever for that import lock (the job hung at the child's exit);
    for exports, see `_ForkGate`. `subprocess` does not run this (no fork hooks)."""
    deadline = time.monotonic() + FORK_WAIT_SECONDS
    _wait_executor_idle(deadline)
    fork_gate._fork_gate.close(deadline)


def _after_fork_in_parent() -> None:
    fork_gate._fork_gate.open()


def _after_fork_in_child() -> None:
    """A forked child reports its own deliveries, not a copy of its parent's, over channels of its own; it logs
    its LiteLLM calls on threads of its own and calls its provider over connections of its own (`in_child`)."""
    fresh = delivery_count.Ledger()
    fresh.endpoints = dict(delivery_count.ledger.endpoints)
    delivery_count.ledger = fresh
    fork_gate._fork_gate = fork_gate._ForkGate()  # no export in flight here: the parent's threads were not copied
    _renew_connections()
    in_child()
    signal_relay.in_child()


def _renew_connections() -> None:
    """A fork copies the parent's connections to the endpoint, not its threads. gRPC: a channel's copy keeps
    the locks the parent's export threads held at that moment, so a child's export (and the channel's close at
    exit) could wait on one forever. HTTP: the session's pooled keep-alive sockets are the parent's own, and a
    child sending on one mixed its requests and answers with the parent's (exports failed on both sides, and
    the parent's queue was dropped at exit). The child gets new channels and empty pools; the copies are left
    alone, unclosed: closing one could block, or end the parent's connection."""
    for _, exporter in delivery_count._exporters:
        try:
            renew = getattr(exporter, "_initialize_channel_and_stub", None)
            if renew is not None and getattr(exporter, "_channel", None) is not None:
                renew()
                continue
            transport = getattr(getattr(exporter, "_client", None), "_transport", None)
            _renew_urllib3_pool(transport)
            session = getattr(transport, "_session", None)
            for adapter in getattr(session, "adapters", {}).values():
                if hasattr(adapter, "init_poolmanager") and hasattr(adapter, "_pool_connections"):
                    adapter.init_poolmanager(adapter._pool_connections, adapter._pool_maxsize,
                                             block=adapter._pool_block)
                    adapter.proxy_manager = {}
        except Exception:
            pass

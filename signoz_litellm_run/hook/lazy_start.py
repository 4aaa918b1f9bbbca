"""Telemetry started at a process's first use of it, not at its start.

OpenTelemetry's start-up (its auto-instrumentation, the SDK's providers, metrics and resources, `packaging`,
`importlib.metadata`) was some 660 M instructions of every Python process a job starts, 7 times a bare
`python -c pass`, although most of a CI script's processes never import anything instrumented or log a line.
Under `run`, our sitecustomize arms this instead, and the whole start-up (`boot.start`, as before) runs at the
first of:
- the import of a library an instrumentor waits for (`LAZY_MODULES`), of LiteLLM, of OpenTelemetry itself (a
  program using its API or SDK), or of `signoz_litellm_run.in_process` / `auto` (`init()` under `run`): once the
  module has been executed, before the importer gets it, so the distro instruments it as if it had started first;
- a log record reaching the root logger's handlers (a stand-in handler takes the place the SDK's handler takes,
  starts, and hands the record to the handlers the start-up attached);
- the system metrics' first second in the job's main process (they are claimed at once, as before).

A SIGTERM, SIGINT or SIGHUP that comes while a start-up runs on the main thread waits for it (blocked, then
delivered to the handlers that flush). A start-up that runs on another thread cannot install those handlers
(only the main thread may): the next import on the main thread does.

Armed only where what the start-up would do is known (hook/lazy_triggers.py decides, from the installed
instrumentors: hook/entry_point_survey.py); anything else starts at once.
"""

from __future__ import annotations

import os
import sys

from signoz_litellm_run.hook.lazy_triggers import AFTER_RUN, triggers_for

WAIT_SECONDS = 10.0  # another thread's start-up, at most (then the import goes on; the distro catches up)
_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")
_METRICS_ENV = "SIGNOZ_LITELLM_SYSTEM_METRICS"

ARMED, STARTING, STARTED = "armed", "starting", "started"
state: str | None = None  # None: not armed (started at once, or not under run)
reason: str | None = None  # what started it, for tests and debugging
_lock = None  # a _thread.RLock, made when armed
_finder = None
_nesting = None  # per thread: how many trigger modules this thread is importing (their code running)
_log_stand_in = None
_signals_pending = False  # started off the main thread: the main thread installs the signal handlers
_claimed_metrics = False  # this process claimed the job's system metrics (started with the rest)
_records: list = []  # log records the stand-in handler took before the start-up
_new_handlers: list = []  # the root logger's handlers the start-up attached
_starting_thread: list = []  # the ident of the thread running the start-up
_triggers: set = set()  # TRIGGERS, and the modules the installed instrumentors add (EXTRA_TRIGGERS)


def arm(environ=os.environ) -> bool:
    """Arm the lazy start-up; False (the caller starts at once) where it is not known to give the same result."""
    global state, _lock, _finder, _nesting
    found = triggers_for(environ)
    if found is None:
        return False
    triggers, installed = found
    _triggers.update(triggers)
    import _thread

    _lock = _thread.RLock()
    _nesting = _thread._local()
    state = ARMED
    _claim_system_metrics(environ)
    _finder = _Finder()
    sys.meta_path.insert(0, _finder)
    if "logging" in sys.modules:
        _attach_log_stand_in()
    if "exceptions" in installed:
        _uncaught_exception_stand_ins()
    return True


def start(why: str) -> bool:
    """Run the start-up now (once, whichever thread comes first); True when it has run."""
    global state, reason, _signals_pending
    if state == STARTED or _lock is None:
        return state == STARTED
    if not _lock.acquire(timeout=WAIT_SECONDS):
        return False  # another thread is starting and may be waiting for this import: let it go on
    try:
        if state != ARMED:
            return state == STARTED
        state, reason = STARTING, why
        _starting_thread[:] = [_thread_ident()]
        _wait_for_other_threads_imports()
        from signoz_litellm_run.hook import boot

        main = _on_main_thread()
        blocked = _block_signals() if main else None
        handlers = _root_handlers()
        try:
            boot.start()
            if "litellm" in sys.modules:
                # LiteLLM was armed inside the start-up, before the SDK had exporters (its hook fired at once):
                # built now, as at its import when everything starts with the process
                from signoz_litellm_run.hook import lazy_export

                lazy_export.build_all()
            if _claimed_metrics:
                _start_system_metrics(now=why == "system metrics")
            _detach_log_stand_in()  # records other threads made meanwhile went to it: handed on now
            _forward_records(handlers)
        finally:
            if blocked is not None:
                _unblock_signals(blocked)  # a signal that came meanwhile is delivered now, to the flushing handlers
        state = STARTED
        _signals_pending = not main
        if not _signals_pending:
            _remove_finder()
        return True
    except Exception:  # boot.start reports its own failures; this must never break an import
        state = STARTED
        _detach_log_stand_in()
        _remove_finder()
        return False
    finally:
        _lock.release()


def _wait_for_other_threads_imports() -> None:
    """A trigger module another thread is importing right now: its hooks (registered by the start-up) would fire on
    the half-made module, so the start-up waits until it is made (that thread lets it be seen, then waits for us)."""
    import time

    deadline = time.monotonic() + WAIT_SECONDS * 3
    for name in _triggers:
        module = sys.modules.get(name)
        while module is not None and getattr(getattr(module, "__spec__", None), "_initializing", False) \
                and time.monotonic() < deadline:
            time.sleep(0.002)
            module = sys.modules.get(name)


# --------------------------------------------------------------------------------------------- imports


class _Finder:
    """First on sys.meta_path while armed: a trigger module's import gets a loader that starts telemetry once the
    module has run (and `logging`'s, one that attaches the stand-in handler)."""

    def find_spec(self, name, path=None, target=None):
        if state != ARMED and not (state == STARTING and name == "logging"):
            if _signals_pending and state == STARTED and _on_main_thread():
                _install_signal_handling()
            return None  # (while another thread starts: its distro instruments what is imported meanwhile)
        if name not in _triggers and name != "logging":
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            if name != "logging":
                start(f"import {name}")  # a loader we do not know: start before it runs, as at process start
            return spec
        spec.loader = _ThenStart(spec.loader)
        return spec


class _ThenStart:
    """The module's own loader, then the start-up (or, for `logging`, the stand-in handler)."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module) -> None:
        spec = getattr(module, "__spec__", None)
        # The module keeps its own loader (importlib.resources and pkgutil read it; LiteLLM reads its package data)
        if getattr(module, "__loader__", None) is self:
            try:
                module.__loader__ = self._loader
            except AttributeError:
                pass
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        name = module.__name__
        before = name not in AFTER_RUN and name != "logging" and not getattr(_nesting, "depth", 0)
        if before:
            _start_before(module)
        _nesting.depth = getattr(_nesting, "depth", 0) + 1
        try:
            self._loader.exec_module(module)
        finally:
            _nesting.depth -= 1
        if before:
            _notify_loaded(module)
            return
        if name == "logging":
            _attach_log_stand_in()
            return
        if _nesting.depth:
            return  # inside another trigger's import: started once that one is made
        # What the import system does next, done now, so another thread may use the module at once (a start-up on
        # another thread may need it, while this one waits for that start-up)
        final = sys.modules.get(name, module)
        parent, _, child = name.rpartition(".")
        if parent and parent in sys.modules:
            try:
                setattr(sys.modules[parent], child, final)
            except AttributeError:
                pass
        if spec is not None:
            spec._initializing = False
        try:
            start(f"import {name}")
        except Exception:
            pass


def _start_before(module) -> None:
    """The start-up, before a library's code runs: what it imports (httpx inside LiteLLM's) is instrumented at its
    import, and the clients it makes at import are made instrumented, as when everything starts with the process.
    Meanwhile the half-made module is out of sys.modules: post-import hooks registered now wait for its import."""
    name = module.__name__
    taken = sys.modules.get(name) is module
    if taken:
        del sys.modules[name]
    try:
        start(f"import {name}")
    except Exception:
        pass
    finally:
        if taken:
            sys.modules[name] = module


def _notify_loaded(module) -> None:
    """The post-import hooks the start-up registered for this module (wrapt's finder came after it was found)."""
    wrapt = sys.modules.get("wrapt")
    if wrapt is None or state != STARTED:
        return
    try:
        wrapt.notify_module_loaded(module)
    except Exception:
        pass


def _remove_finder() -> None:
    global _signals_pending
    _signals_pending = False
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass


# --------------------------------------------------------------------------------------------- log records


def _attach_log_stand_in() -> None:
    """A handler on the root logger, where the SDK's would be: the first record it is given starts telemetry (or, in
    the middle of a trigger's import, once that import is done) and goes to the handlers the start-up attached."""
    global _log_stand_in
    import logging

    if _log_stand_in is not None or state not in (ARMED, STARTING):
        return

    class _StartOnRecord(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if state == STARTING and _starting_thread == [_thread_ident()]:
                if record.levelno >= logging.lastResort.level:  # the start-up's own: as with no handler at all
                    logging.lastResort.handle(record)
                return
            _records.append(record)
            if state != ARMED or getattr(_nesting, "depth", 0):
                return  # handed on when the start-up under way (or the import around this) is done
            self.release()  # the start-up may log; this handler's lock is not needed any more
            try:
                if start("a log record"):
                    _flush_records()
            finally:
                self.acquire()

    _log_stand_in = _StartOnRecord()
    logging.getLogger().addHandler(_log_stand_in)


def _detach_log_stand_in() -> None:
    logging = sys.modules.get("logging")
    if _log_stand_in is not None and logging is not None:
        logging.getLogger().removeHandler(_log_stand_in)


def _thread_ident() -> int:
    import _thread

    return _thread.get_ident()


def _root_handlers() -> list:
    logging = sys.modules.get("logging")
    return list(logging.getLogger().handlers) if logging is not None else []


def _forward_records(before: list) -> None:
    """The records the stand-in took, to the handlers the start-up attached to the root logger."""
    logging = sys.modules.get("logging")
    if logging is not None:
        _new_handlers[:] = [h for h in logging.getLogger().handlers if h not in before and h is not _log_stand_in]
    _flush_records()


def _flush_records() -> None:
    """Also those another thread's stand-in call took while this start-up ran."""
    while _records:
        try:
            record = _records.pop(0)
        except IndexError:
            return
        for handler in _new_handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


# --------------------------------------------------------------------------------------------- uncaught exceptions


def _uncaught_exception_stand_ins() -> None:
    """The exceptions instrumentation logs uncaught exceptions from `sys.excepthook` and `threading.excepthook`: an
    uncaught exception before the start-up starts it, then goes to the hook it installed (which calls the one here
    again: that one then calls the hook that was there before)."""
    import threading

    for owner in (sys, threading):
        before = owner.excepthook

        def stand_in(*args, _owner=owner, _before=before):
            if state == ARMED:
                hook = None
                try:
                    start("an uncaught exception")
                    hook = _owner.excepthook
                except Exception:
                    pass
                if hook is not None and hook is not stand_in_of[_owner]:
                    return hook(*args)
            return _before(*args)

        stand_in_of[owner] = stand_in
        owner.excepthook = stand_in


stand_in_of: dict = {}


# --------------------------------------------------------------------------------------------- signals


def _on_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _block_signals():
    """Block them in this thread (`_signal`: the `signal` module's enums cost more than this whole module)."""
    import _signal

    try:
        return _signal.pthread_sigmask(_signal.SIG_BLOCK, {getattr(_signal, n) for n in _SIGNALS if hasattr(_signal, n)})
    except (AttributeError, OSError, ValueError):
        return None


def _unblock_signals(previous) -> None:
    import _signal

    try:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, previous)
    except (AttributeError, OSError, ValueError):
        pass


def _install_signal_handling() -> None:
    """On the main thread, after a start-up on another one: the flushing signal handlers (hook/signals.py)."""
    global _signals_pending
    _signals_pending = False
    _remove_finder()
    try:
        from signoz_litellm_run.hook import shutdown, signals

        signals._install_signal_handling(shutdown.final_flush)
    except Exception:
        pass


# --------------------------------------------------------------------------------------------- system metrics


def _claim_system_metrics(environ) -> None:
    """The job's main process claims the system metrics at start, as `system_metrics.install` does (its children
    leave them to it), and starts telemetry with them a second later, unless something started it before."""
    global _claimed_metrics
    from signoz_litellm_run.hook import env_flag

    if environ is not os.environ or not env_flag(_METRICS_ENV):
        return
    os.environ[_METRICS_ENV] = "false"
    _claimed_metrics = True
    import threading

    timer = threading.Timer(1.0, start, args=("system metrics",))
    timer.daemon = True
    timer.name = "signoz-litellm-lazy-start"
    # Started with SIGTERM, SIGINT and SIGHUP blocked, which it keeps: the kernel gives a process's signal to a
    # thread that does not block it, and one given to this thread while the main thread's start-up has them blocked
    # would end the process at once (their default), before the handlers that flush exist.
    blocked = _block_signals()
    try:
        timer.start()
    finally:
        if blocked is not None:
            _unblock_signals(blocked)


def _start_system_metrics(now: bool) -> None:
    """`system_metrics.install` found them claimed (by us, at arm): claim them there, start them now or as it does."""
    from signoz_litellm_run.hook import system_metrics

    os.environ[_METRICS_ENV] = "true"
    try:
        system_metrics.install()  # claims them again: false in the environment
    finally:
        os.environ[_METRICS_ENV] = "false"
    if now:
        system_metrics.start(os.getpid())

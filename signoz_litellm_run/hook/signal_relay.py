"""A fatal signal the kernel hands to another thread still reaches the main thread.

`shutdown` replaces the default action of SIGTERM / SIGINT / SIGHUP (die at once) with a handler that delivers the
telemetry first. Python runs a handler on the main thread only, when that thread next runs Python code, but the
kernel may deliver a process-directed signal (`kill PID`, `Pool.terminate()`) to any thread of the process: the
exporters', LiteLLM's logging threads, gRPC's. When the main thread was waiting in C without a timeout (a
`multiprocessing.Pool` worker waiting for its next task on the pool's queue lock; `thread.join()`), the handler
never ran and the process lived on, where the default action would have ended it: `with Pool(2) as pool:` then
waited forever in `__exit__` for a worker it had terminated (2 hangs in 12 runs on a loaded machine).

Python writes the number of each signal it catches to the wakeup descriptor (`signal.set_wakeup_fd`), whichever
thread caught it. In each multiprocessing child, a relay thread reads it; when the main thread has not run our
handler within RELAY_AFTER seconds, the relay sends the signal to the main thread itself (`pthread_kill`), which
interrupts its wait. Where the program sets a wakeup descriptor of its own (asyncio's `add_signal_handler`), it
replaces ours and the relay idles; one it had before us is left in place (no relay).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

RELAY_AFTER = 0.2  # seconds the main thread gets to run the handler by itself

_handled: dict[int, int] = {}  # signal -> times our handler started in this process
_relayed: Callable[[int], bool] | None = None  # whether a caught signal is one to relay (its handler is ours)
_fds: tuple[int, int] | None = None  # (read, write) of this process's wakeup pipe


def handled(signum: int) -> None:
    """Called first thing by the handler the relay stands behind."""
    _handled[signum] = _handled.get(signum, 0) + 1


def install(relayed: Callable[[int], bool]) -> None:
    """In the main thread: relay the caught signals for which `relayed(signum)` is true. `shutdown` installs it
    in multiprocessing's children (Pool and Process workers), whose main thread waits in C for the next task: a
    program's own main thread keeps its wakeup descriptor free (trio warns when it finds one set)."""
    global _relayed
    _relayed = relayed
    if _fds is None:
        _start(ours=None)


def in_child() -> None:
    """After a fork (in the child's only thread, now its main one): a pipe and a relay of its own. The parent's
    pipe must not get the child's signals: the parent's relay would pass them to the parent's main thread."""
    global _fds
    _handled.clear()
    if _fds is None:
        return
    inherited, _fds = _fds, None
    _start(ours=inherited[1])
    if _fds is None:  # no pipe of its own: at least stop writing into the parent's
        try:
            signal.set_wakeup_fd(-1)
        except (ValueError, OSError):
            pass
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass


def _start(ours: int | None) -> None:
    """A wakeup pipe and the relay reading it; none where the program set a wakeup descriptor of its own."""
    global _fds
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return
    try:
        os.set_blocking(write_fd, False)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        if previous not in (-1, ours):
            signal.set_wakeup_fd(previous)
            raise OSError("the program has a wakeup descriptor")
        main = threading.main_thread().ident
        threading.Thread(target=_relay, args=(read_fd, main), name="signoz-litellm-signal-relay", daemon=True).start()
    except (ValueError, OSError, RuntimeError):
        for fd in (read_fd, write_fd):
            os.close(fd)
        return
    _fds = (read_fd, write_fd)


def _relay(read_fd: int, main: int | None) -> None:
    accounted: dict[int, int] = {}  # signal -> our handler's runs already matched to a caught signal
    own: dict[int, int] = {}  # signal -> bytes still to come from the signals this relay sent
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data:
            return
        for signum in data:
            try:
                if own.get(signum):
                    own[signum] -= 1
                    continue
                if main is None or _relayed is None or not _relayed(signum):
                    continue
                _wait_handled(signum, accounted, RELAY_AFTER)
                if _handled.get(signum, 0) <= accounted.get(signum, 0):
                    own[signum] = own.get(signum, 0) + 1
                    signal.pthread_kill(main, signum)  # interrupts the main thread's wait: the handler runs
                    _wait_handled(signum, accounted, 5.0)
                accounted[signum] = _handled.get(signum, 0)
            except Exception:
                pass


def _wait_handled(signum: int, accounted: dict[int, int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while _handled.get(signum, 0) <= accounted.get(signum, 0) and time.monotonic() < deadline:
        time.sleep(0.01)

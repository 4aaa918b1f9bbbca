"""The fork gate: exports pass through it, and a fork waits at it until none is in flight (see `_ForkGate`).

`forks.py` closes it before a fork, opens it after, and gives a forked child a gate of its own: read `_fork_gate`
as this module's attribute, never imported by name.
"""

from __future__ import annotations

import os
import threading
import time

FORK_WAIT_SECONDS = 2.0


class _ForkGate:
    """Exports pass through this gate, and a fork waits at it until none is in flight.

    gRPC skips its fork handlers when another thread is inside a call ("Other threads are currently calling
    into gRPC, skipping fork() handlers", on the program's stderr), and a child forked during an export could
    then never export: all its spans were lost (1 child in 100 forked next to a busy exporter), sometimes
    with its counts. A fork now waits for the exports in flight, at most its FORK_WAIT_SECONDS, and holds new
    ones until it is done. Once such a wait has timed out (an endpoint that never answers), forks stop waiting
    until an export succeeds again, so a pool of workers is not slowed down once per worker."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.active = 0
        self.forking = False
        self.stalled = False
        self.pid = os.getpid()
        self.waits: list[bool] = []  # each fork's wait for exports in flight: whether it ran out (read by tests)

    def enter(self) -> None:
        with self.cond:
            # For the few milliseconds a fork takes; never in a child (which gets its own gate) that exports
            # before its fork hooks have all run.
            if self.forking and self.pid == os.getpid():
                self.cond.wait_for(lambda: not self.forking, timeout=FORK_WAIT_SECONDS)
            self.active += 1

    def leave(self, ok: bool) -> None:
        with self.cond:
            self.active -= 1
            if ok:
                self.stalled = False
            if self.active == 0:
                self.cond.notify_all()

    def close(self, deadline: float) -> None:
        with self.cond:
            self.forking = True
            if self.active and not self.stalled:
                ran_out = not self.cond.wait_for(lambda: self.active == 0,
                                                 timeout=max(0.0, deadline - time.monotonic()))
                self.stalled = ran_out
                if len(self.waits) < 1000:
                    self.waits.append(ran_out)

    def open(self) -> None:
        with self.cond:
            self.forking = False
            self.cond.notify_all()


_fork_gate = _ForkGate()

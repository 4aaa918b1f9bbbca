"""Give a benchmark's measured process a CPU of its own.

`split_cpus()` pins the calling script (and what it starts afterwards: receiver, fake provider, load generator)
to all CPUs but the last, and returns the prefix that starts a command on the last one, so that neither side takes
the other's CPU time. Used by bench_batch.py (the job) and bench_proxy.py (the proxies).
"""

from __future__ import annotations

import os
import sys

_EXEC_ON = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])}); os.execvp(sys.argv[2], sys.argv[2:])"


def split_cpus() -> tuple[list[str], int | None, list[int]]:
    """Pin this process to all CPUs but the last; return the prefix that runs a command on the last CPU, that CPU,
    and the others. With one CPU (or no affinity on this system) nothing is pinned and the prefix is []."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return [], None, cpus
    os.sched_setaffinity(0, set(cpus[:-1]))
    return [sys.executable, "-c", _EXEC_ON, str(cpus[-1])], cpus[-1], cpus[:-1]

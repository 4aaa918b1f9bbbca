"""`--fail-on-telemetry-loss`: run the command as a child, then decide the exit status.

Only this option needs the launcher to stay alive (by default it execs the command): a process
cannot know its own exit status from inside `atexit`, so the top-level command writes its delivery
counts to a file and the launcher, knowing the command's real status, turns "succeeded but lost
telemetry" into `LOSS_STATUS`. Signals sent to the launcher (SIGTERM from CI or `docker stop`,
SIGHUP, SIGQUIT, SIGUSR1/2) are passed on to the command; SIGINT from a terminal already reaches the
whole foreground process group, so it is not passed on twice. A command killed by a signal makes
the launcher die of the same signal, so the caller sees the same status as without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from signoz_litellm_run.launcher import resolve_executable

LOSS_STATUS = 3
STATUS_FILE_ENV = "SIGNOZ_LITELLM_STATUS_FILE"
SUPERVISOR_PID_ENV = "SIGNOZ_LITELLM_SUPERVISOR_PID"
_FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
                   if hasattr(signal, name))


def run_supervised(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run `argv`, wait for it, and return the status the launcher must exit with."""
    path = resolve_executable(argv[0], env)
    fd, status_file = tempfile.mkstemp(prefix="signoz-litellm-", suffix=".json")
    os.close(fd)
    child_env = dict(env, **{STATUS_FILE_ENV: status_file, SUPERVISOR_PID_ENV: str(os.getpid())})
    child: list[subprocess.Popen[Any]] = []
    pending: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        if child:
            try:
                child[0].send_signal(signum)
            except OSError:
                pass
        else:
            pending.append(signum)

    previous = {signum: signal.signal(signum, forward) for signum in _FORWARDED}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, _noop)  # a handler, not SIG_IGN: not inherited
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        child.append(subprocess.Popen(list(argv), executable=path, env=child_env))
        for signum in pending:
            child[0].send_signal(signum)
        status = child[0].wait()
        lost = _lost(status_file)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        try:
            os.unlink(status_file)
        except OSError:
            pass
    if status < 0:
        _die_of(-status)
    if status == 0 and lost:
        print(f"signoz-litellm: {lost} telemetry item(s) were not delivered; exiting with status {LOSS_STATUS} "
              "(--fail-on-telemetry-loss).", file=sys.stderr)
        return LOSS_STATUS
    return status


def _noop(_signum: int, _frame: Any) -> None:
    pass


def _lost(status_file: str) -> int:
    try:
        with open(status_file, encoding="utf-8") as f:
            text = f.read()
        return int(json.loads(text).get("lost", 0)) if text.strip() else 0
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def _die_of(signum: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    sys.exit(128 + signum)  # not reached unless the signal is blocked

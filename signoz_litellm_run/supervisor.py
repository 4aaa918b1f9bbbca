"""`--fail-on-telemetry-loss`: run the command as a child, then decide the exit status.

Only this option needs the launcher to stay alive (by default it execs the command): a process
cannot know its own exit status from inside `atexit`, so the top-level command writes its delivery
counts to a file and the launcher, knowing the command's real status, turns "succeeded but lost
telemetry" into `LOSS_STATUS`. Signals sent to the launcher (SIGTERM from CI or `docker stop`,
SIGHUP, SIGQUIT, SIGUSR1/2, and SIGINT unless a terminal already sent it to the whole foreground
group) are passed on to the command, as in `--local` (`launcher.spawn_and_wait`). A command killed
by a signal makes the launcher die of the same signal, so the caller sees the same status as without it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import NoReturn

from signoz_litellm_run.launcher import exit_like, resolve_executable, spawn_and_wait

LOSS_STATUS = 3
STATUS_FILE_ENV = "SIGNOZ_LITELLM_STATUS_FILE"
SUPERVISOR_PID_ENV = "SIGNOZ_LITELLM_SUPERVISOR_PID"


def run_supervised(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Run `argv` as a child (the launcher's one spawn path), then exit with the status it decides."""
    path = resolve_executable(argv[0], env)
    fd, status_file = tempfile.mkstemp(prefix="signoz-litellm-", suffix=".json")
    os.close(fd)
    child_env = dict(env, **{STATUS_FILE_ENV: status_file, SUPERVISOR_PID_ENV: str(os.getpid())})
    try:
        returncode = spawn_and_wait(argv, path, child_env)
        lost = _lost(status_file)
    finally:
        try:
            os.unlink(status_file)
        except OSError:
            pass
    if returncode == 0 and lost:
        print(f"signoz-litellm: {lost} telemetry item(s) were not delivered; exiting with status {LOSS_STATUS} "
              "(--fail-on-telemetry-loss).", file=sys.stderr)
        sys.exit(LOSS_STATUS)
    exit_like(returncode)  # the command's own status; a command killed by a signal: the same signal


def _lost(status_file: str) -> int:
    try:
        with open(status_file, encoding="utf-8") as f:
            text = f.read()
        return int(json.loads(text).get("lost", 0)) if text.strip() else 0
    except (OSError, ValueError, TypeError, AttributeError):
        return 0

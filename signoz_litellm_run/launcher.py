"""The edge where the launcher becomes the user's command: resolve it, then exec it.

`exec_command` is the one place that replaces this process. The command keeps our pid, receives
signals directly, and its exit status is the job's.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from signoz_litellm_run.errors import CommandNotExecutable, CommandNotFound, UsageError


def resolve_executable(command: str, env: Mapping[str, str]) -> str:
    """The path `command` names, looked up on the child's PATH like a shell would."""
    if not command:
        raise UsageError("No command to run.", "Put the command after the options: signoz-litellm run -- python app.py")
    if os.sep in command or (os.altsep and os.altsep in command):
        if not os.path.exists(command):
            raise CommandNotFound(f"Command not found: {command}.", "Check the path.")
        if os.path.isdir(command) or not os.access(command, os.X_OK):
            raise CommandNotExecutable(
                f"Command is not executable: {command}.",
                f"Run it through its interpreter (e.g. python {command}) or chmod +x it.",
            )
        return command
    found = shutil.which(command, path=env.get("PATH", os.defpath))
    if found is None:
        # Present on PATH but not executable?
        for directory in env.get("PATH", os.defpath).split(os.pathsep):
            candidate = os.path.join(directory or ".", command)
            if os.path.isfile(candidate):
                raise CommandNotExecutable(
                    f"Command is not executable: {candidate}.", f"chmod +x {candidate}, or run it through its interpreter."
                )
        raise CommandNotFound(
            f"Command not found: {command}.",
            "Check the spelling, or activate the virtual environment that provides it.",
        )
    return found


def exec_command(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Replace this process with `argv`, or raise a LauncherError saying why it cannot start."""
    path = resolve_executable(argv[0], env)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(path, list(argv), dict(env))
    except OSError as exc:
        raise start_error(argv[0], exc) from None


def start_error(command: str, exc: OSError) -> CommandNotFound | CommandNotExecutable:
    """The error for a command the system refused to start (exec or spawn): 127 or 126, as a shell."""
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return CommandNotFound(f"Command not found: {command} ({exc.strerror}).",
                               "If it is a script, check its #! line names an installed interpreter.")
    return CommandNotExecutable(
        f"Command cannot be executed: {command} ({exc.strerror}).",
        "Check it is a program or a script with a #! line, and that you may execute it.",
    )

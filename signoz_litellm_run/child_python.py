"""Which Python will run the command (`python ...` itself, or the interpreter on a script's `#!` line), and the
options of a `python ...` command that keep telemetry from starting. Used by `run` (supervise or exec), `proxy`
and bootstrap."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping, Sequence

from signoz_litellm_run.errors import LauncherError

_PYTHON_RE = re.compile(r"^(python|pypy)(\d+(\.\d+)?)?[mtwd]?(\.exe)?$")


def find_python(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The interpreter that will run `argv`: the command itself when it is `python...`, else the one on
    a script's `#!` line (console scripts included), else None (not a Python program)."""
    from signoz_litellm_run.launcher import resolve_executable

    if not argv:
        return None
    try:
        path = resolve_executable(argv[0], env)
    except LauncherError:
        return None
    if _PYTHON_RE.match(os.path.basename(path)):
        return os.path.abspath(path)
    return shebang_python(path, env)


_OPTIONS_WITHOUT_TELEMETRY = {
    "I": "isolates Python from PYTHONPATH",
    "E": "ignores PYTHONPATH",
    "S": "skips the site module",
}


def options_without_telemetry(argv: Sequence[str]) -> list[tuple[str, str]]:
    """The options of a `python ...` command that keep telemetry from starting (it starts from our sitecustomize,
    found through PYTHONPATH): `-I`, `-E`, `-S`, alone or grouped (`-IS`); with what each does. Only the options
    before the script, `-c` or `-m` are the interpreter's."""
    if not argv or not _PYTHON_RE.match(os.path.basename(argv[0])):
        return []
    found: dict[str, str] = {}
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-", "--") or not arg.startswith("-"):
            break
        if arg.startswith("--"):
            if arg == "--check-hash-based-pycs":
                next(args, None)
            continue
        for i, letter in enumerate(arg[1:], 1):
            if letter in _OPTIONS_WITHOUT_TELEMETRY:
                found.setdefault(f"-{letter}", _OPTIONS_WITHOUT_TELEMETRY[letter])
            elif letter in "cm":
                return list(found.items())
            elif letter in "WX":  # its value is the rest of this argument, or the next one
                if i == len(arg) - 1:
                    next(args, None)
                break
    return list(found.items())


def shebang_python(path: str, env: Mapping[str, str]) -> str | None:
    """The Python named on `path`'s `#!` line (`/venv/bin/python`, `/usr/bin/env python3`, or pip's
    `#!/bin/sh` + `'''exec' "/long path/python"` form), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    lines = head.split(b"\n")
    words = lines[0][2:].decode("utf-8", "replace").split()
    if not words:
        return None
    program = words[0]
    if os.path.basename(program) == "env":
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not rest:
            return None
        program = shutil.which(rest[0], path=env.get("PATH", os.defpath)) or ""
    elif os.path.basename(program) == "sh" and len(lines) > 1 and lines[1].startswith(b"'''exec' "):
        try:
            program = shlex.split(lines[1][len(b"'''exec' "):].decode("utf-8", "replace"))[0]
        except (ValueError, IndexError):
            return None
    if program and _PYTHON_RE.match(os.path.basename(program)) and os.path.isfile(program):
        return os.path.abspath(program)
    return None

"""The default service.name, derived from the command: readable, never `unknown_service`."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

_PYTHON_RE = re.compile(r"^python(\d+(\.\d+)?)?[mtwd]?(\.exe)?$")


def derive_service_name(command: Sequence[str], cwd: Path | None = None) -> str:
    """A readable service.name from the command; never `unknown_service`.

    `python main.py` -> main, `python -m pkg.app` -> pkg.app, `litellm --config x` -> litellm-proxy,
    `uvicorn app:api` -> uvicorn, `python -c ...` -> the working directory's name.
    """
    program = os.path.basename(command[0]) if command else ""
    args = list(command[1:])
    if program in ("litellm", "litellm-proxy"):
        return "litellm-proxy"
    if _PYTHON_RE.match(program):
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "-m" and i + 1 < len(args):
                return _clean(args[i + 1])
            if arg.startswith("-m") and len(arg) > 2:
                return _clean(arg[2:])
            if arg == "-c" or (arg.startswith("-c") and len(arg) > 2):
                break
            if arg in ("-W", "-X", "-Q") and i + 1 < len(args):
                i += 2
                continue
            if arg.startswith("-"):
                i += 1
                continue
            stem = Path(arg).stem
            if stem in ("__main__", "main", "app") and Path(arg).parent.name:
                # `python src/myjob/__main__.py` -> myjob; `python main.py` stays main
                return _clean(Path(arg).parent.name) if stem == "__main__" else _clean(stem)
            return _clean(stem) or "python-app"
        name = (cwd or Path.cwd()).name
        return _clean(name) or "python-app"
    return _clean(Path(program).stem) or "app"


def _clean(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")

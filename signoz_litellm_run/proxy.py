"""The LiteLLM proxy server, launcher side: recognise it, check it can start, run it.

`signoz-litellm proxy --config config.yaml` is `signoz-litellm run -- litellm --config config.yaml`.
The user's config file is read by LiteLLM as it is: nothing here rewrites it. What the proxy needs
inside its process (one OpenTelemetry logger from the start, whatever the config lists under
`litellm_settings.callbacks`, and no spans for health probes) is done by `hook/proxy.py`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence

from signoz_litellm_run.errors import UsageError

PROXY_PROGRAMS = ("litellm", "litellm-proxy")
PROXY_MODULES = ("litellm", "litellm.proxy.proxy_cli", "litellm_cli", "litellm_cli.main")
EXTRA_HINT = "pip install 'signoz-litellm[proxy]'"
# Top-level modules the proxy server imports that plain `litellm` does not bring; one per
# requirement of the `proxy` extra that the server cannot start without.
SERVER_MODULES = ("fastapi", "uvicorn", "backoff", "orjson", "apscheduler", "jwt", "multipart",
                  "nacl", "fastapi_sso", "rq", "mcp", "semver", "expression", "soundfile",
                  "litellm_enterprise", "litellm_proxy_extras")
_CHECK_TIMEOUT = 20.0


def is_proxy_command(argv: Sequence[str]) -> bool:
    """`litellm ...`, `litellm-proxy ...` or `python -m litellm[.proxy.proxy_cli] ...`."""
    if not argv:
        return False
    program = os.path.basename(argv[0])
    if program in PROXY_PROGRAMS:
        return True
    if program.startswith("python"):
        args = list(argv[1:])
        for i, arg in enumerate(args):
            if arg == "-m" and i + 1 < len(args):
                return args[i + 1] in PROXY_MODULES
            if not arg.startswith("-"):
                return False
    return False


def missing_server_modules(python: str | None, env: Mapping[str, str]) -> list[str]:
    """The proxy server's modules that `python` cannot find; empty when unsure (never blocks)."""
    if python is None:
        return []
    # The same interpreter in the same environment (a venv's python is a link to the base one).
    same_env = os.path.dirname(os.path.dirname(os.path.abspath(python))) == sys.prefix
    if same_env and os.path.realpath(python) == os.path.realpath(sys.executable):
        return [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    code = ("import importlib.util, sys; "
            f"print(' '.join(m for m in {SERVER_MODULES!r} if importlib.util.find_spec(m) is None))")
    clean_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # no hook in the check
    import subprocess  # here: `run` imports this module for every command, and most are not the proxy

    try:
        done = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                              timeout=_CHECK_TIMEOUT, env=clean_env)
    except (OSError, subprocess.SubprocessError):
        return []
    if done.returncode != 0:
        return []
    return done.stdout.split()


def check_installed(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Raise a UsageError naming the extra to install when the proxy server cannot start."""
    from signoz_litellm_run.child_python import find_python  # the interpreter that will run the command

    missing = missing_server_modules(find_python(argv, env), env)
    if missing:
        raise UsageError(
            f"The LiteLLM proxy server's dependencies are not installed (missing: {_few(missing)}).",
            f"Install them in the environment that runs {os.path.basename(argv[0])}: {EXTRA_HINT}",
        )


def _few(names: Sequence[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def command(litellm_args: Sequence[str]) -> list[str]:
    """`signoz-litellm proxy ARGS` is `run -- litellm ARGS` (`runner.run_proxy`)."""
    import shutil

    program = "litellm"
    if shutil.which(program) is None:
        # Installed with pipx (or called by full path): the `litellm` beside our own interpreter.
        beside = os.path.join(os.path.dirname(sys.executable), program)
        if os.access(beside, os.X_OK):
            program = beside
    return [program, *litellm_args]

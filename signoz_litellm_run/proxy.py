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
# Our `proxy` extra fits LiteLLM from 1.108 (mcp 2, litellm-proxy-extras 0.4.110); an older release's proxy
# cannot import mcp 2, and its users install LiteLLM's own extra at their release instead.
EXTRA_FITS_FROM = (1, 108)
OLD_RELEASE_HINT = "pip install 'litellm[proxy]=={version}' (LiteLLM's own proxy extra, for your release)"
# Top-level modules the proxy server imports that plain `litellm` does not bring; one per
# requirement of the `proxy` extra that the server cannot start without.
SERVER_MODULES = ("fastapi", "uvicorn", "backoff", "orjson", "apscheduler", "jwt", "multipart",
                  "nacl", "fastapi_sso", "rq", "mcp", "semver", "expression", "soundfile",
                  "litellm_enterprise", "litellm_proxy_extras")
# Modules only newer proxies need (read from LiteLLM's wheels: soundfile listed from 1.80.17, expression from
# 1.99, semver from 1.110): required only where the installed LiteLLM's own `proxy` extra lists them.
BY_RELEASE = {"semver": "semver", "expression": "expression", "soundfile": "soundfile"}  # module: distribution
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


def survey(modules: Sequence[str], by_release: Mapping[str, str]) -> tuple[list[str], str]:
    """The proxy server's modules this interpreter cannot find, and the installed LiteLLM's release ("" if
    unknown). Its source also runs in the command's interpreter: standard library only."""
    import importlib.metadata
    import importlib.util
    import re

    try:
        release = importlib.metadata.version("litellm")
        listed = {re.split(r"[^A-Za-z0-9_.-]", requirement, 1)[0].lower()
                  for requirement in importlib.metadata.requires("litellm") or ()
                  if re.search(r"extra\s*==\s*[\"']proxy[\"']", requirement)}
    except Exception:  # no LiteLLM, or unreadable metadata: only the modules every release needs
        release, listed = "", set()
    wanted = [m for m in modules if m not in by_release or by_release[m] in listed]
    return [m for m in wanted if importlib.util.find_spec(m) is None], release


def missing_server_modules(python: str | None, env: Mapping[str, str]) -> tuple[list[str], str]:
    """The proxy server's modules that `python` cannot find (empty when unsure: never blocks), and its LiteLLM's
    release."""
    if python is None:
        return [], ""
    # The same interpreter in the same environment (a venv's python is a link to the base one).
    same_env = os.path.dirname(os.path.dirname(os.path.abspath(python))) == sys.prefix
    if same_env and os.path.realpath(python) == os.path.realpath(sys.executable):
        return survey(SERVER_MODULES, BY_RELEASE)
    import inspect
    import subprocess  # here: `run` imports this module for every command, and most are not the proxy

    clean_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # no hook in the check
    try:
        code = (f"from __future__ import annotations\n{inspect.getsource(survey)}\n"
                f"missing, release = survey({SERVER_MODULES!r}, {BY_RELEASE!r})\nprint(release, *missing)")
        done = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                              timeout=_CHECK_TIMEOUT, env=clean_env)
    except (OSError, TypeError, subprocess.SubprocessError):  # OSError also: our source is not readable
        return [], ""
    if done.returncode != 0 or not done.stdout.strip("\n"):
        return [], ""
    release, *missing = done.stdout.rstrip("\n").split(" ")
    return [m for m in missing if m], release


def install_hint(release: str) -> str:
    """Our extra where it fits the installed LiteLLM; LiteLLM's own extra at that release where it does not."""
    import re

    match = re.match(r"(\d+)\.(\d+)", release)
    if match and (int(match.group(1)), int(match.group(2))) < EXTRA_FITS_FROM:
        return OLD_RELEASE_HINT.format(version=release)
    return EXTRA_HINT


def check_installed(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Raise a UsageError naming what to install when the proxy server cannot start."""
    from signoz_litellm_run.child_python import find_python  # the interpreter that will run the command

    missing, release = missing_server_modules(find_python(argv, env), env)
    if missing:
        raise UsageError(
            f"The LiteLLM proxy server's dependencies are not installed (missing: {_few(missing)}).",
            f"Install them in the environment that runs {os.path.basename(argv[0])}: {install_hint(release)}",
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

"""Run `signoz-litellm` as a real subprocess, the way a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

APPS = Path(__file__).resolve().parent.parent / "apps"
REPO = Path(__file__).resolve().parent.parent.parent

# Variables from the developer's shell that would change what a launched job does.
_SCRUB = ("SIGNOZ_", "OTEL_", "LITELLM_", "USE_OTEL_", "PYTHONPATH", "OPENAI_")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env["PYTHONUNBUFFERED"] = "1"
    env["SIGNOZ_BOOTSTRAP"] = "false"  # never reach a package index from a test (tests/test_bootstrap.py covers it)
    env.update(extra or {})
    return env


def launcher(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
             timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signoz_litellm_run", *args],
        env=dict(env) if env is not None else clean_env(),
        cwd=str(cwd) if cwd else None,
        capture_output=True, text=True, timeout=timeout, input=input,
    )


def app(name: str) -> str:
    return str(APPS / name)

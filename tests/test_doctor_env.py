"""doctor's environment checks, called directly."""

from __future__ import annotations

import os
from pathlib import Path

from signoz_litellm_run import doctor_env


def test_litellm_callback_check_creates_the_logger_or_reports_the_timeout() -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    result = doctor_env.litellm_callback_check(60.0, env)
    assert (result.status, result.detail) == ("pass", "LiteLLM's OpenTelemetry logger can be created")
    result = doctor_env.litellm_callback_check(0.05, env)
    assert result.status == "warn" and "took over" in result.detail


def test_a_user_sitecustomize_is_reported(tmp_path: Path) -> None:
    """One in the working directory (first on the child's path after ours) is the one chained."""
    (tmp_path / "sitecustomize.py").write_text("")
    result = doctor_env._sitecustomize_check({}, tmp_path)
    assert result.status == "pass"
    assert result.detail == f"{tmp_path / 'sitecustomize.py'} will run after signoz-litellm's"

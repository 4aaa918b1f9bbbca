"""The default service.name derived from the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoz_litellm_run.service_name import derive_service_name


@pytest.mark.parametrize("command, expected", [
    (["python", "main.py"], "main"),
    (["/usr/bin/python3.11", "-u", "scripts/eval_run.py", "--x"], "eval_run"),
    (["python3", "-m", "mypkg"], "mypkg"),
    (["python", "-mmypkg.cli"], "mypkg.cli"),
    (["python", "src/summarize/__main__.py"], "summarize"),
    (["litellm", "--config", "c.yaml"], "litellm-proxy"),
    (["uvicorn", "app:api"], "uvicorn"),
    (["/opt/venv/bin/my-job"], "my-job"),
])
def test_derive_service_name(command: list[str], expected: str) -> None:
    assert derive_service_name(command) == expected


def test_derive_service_name_for_inline_code_uses_the_directory(tmp_path: Path) -> None:
    assert derive_service_name(["python", "-c", "pass"], tmp_path / "billing-job") == "billing-job"
    assert derive_service_name(["python"], Path("/")) == "python-app"

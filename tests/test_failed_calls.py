"""A failed LLM call in LiteLLM's operation duration metric, with `error.type` (hook/failed_calls.py)."""

from __future__ import annotations

import sys

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import clean_env, launcher
from tests.support.litellm_release import HAS_GENAI_METRICS

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(not HAS_GENAI_METRICS, reason="this LiteLLM release has no GenAI metrics")]

PROGRAM = """
import os, litellm
call = dict(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test", num_retries=0)
for content in ("hello there", "FAIL please", "hello again"):
    try:
        litellm.completion(messages=[{"role": "user", "content": content}], **call)
    except Exception as exc:
        print("failed:", type(exc).__name__)
"""


def _last_points(receiver: Receiver, name: str) -> list[dict]:
    exports = [m for m in receiver.metrics() if m.name == name]
    return exports[-1].data_points if exports else []


def test_a_failed_call_is_measured_with_the_labels_of_an_answered_one(
        receiver: Receiver, fake_provider: FakeProvider) -> None:
    env = clean_env({"FAKE_BASE_URL": fake_provider.base_url})
    result = launcher(["run", "--endpoint", receiver.endpoint("grpc"), "--", sys.executable, "-c", PROGRAM], env=env)
    assert result.returncode == 0, result.stderr
    assert "failed: InternalServerError" in result.stdout
    assert receiver.wait_for(lambda r: len(_last_points(r, "gen_ai.client.operation.duration")) == 2, timeout=30)
    points = {p["attributes"].get("error.type"): p for p in _last_points(receiver, "gen_ai.client.operation.duration")}
    assert points[None]["count"] == 2 and points["InternalServerError"]["count"] == 1
    failed = dict(points["InternalServerError"]["attributes"])
    assert failed.pop("error.type") == "InternalServerError"
    assert failed == points[None]["attributes"]  # the same series labels: error rate = failed / all, per model
    # Only the duration: tokens, cost and time to first token describe answers.
    for name in ("gen_ai.client.token.usage", "gen_ai.client.response.duration"):
        assert all("error.type" not in p["attributes"] for p in _last_points(receiver, name)), name

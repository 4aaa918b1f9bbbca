"""Content capture, secret scrubbing and attribution, end to end: real launcher, real child, real LiteLLM, the real
OTLP receiver, a fake provider whose errors quote the request. Assertions are on what the receiver received."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import app, clean_env, launcher
from tests.support.litellm_release import RECORDS_EXCEPTIONS

pytestmark = pytest.mark.timeout(180)

PROMPT = "The-Prompt-Text purple elephants dance at midnight"
SECRET = "sk-live-ABCDEF0123456789ABCDEF"
COMPLETION = "The-Completion-Text zebra quartz"
EMAIL = "bob@example.com"
KINDS = ("sync", "stream", "async", "FAIL")


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider(reply=COMPLETION, quote_request_in_errors=True) as fake:
        yield fake


def _run(receiver: Receiver, provider: FakeProvider, options: list[str], *, protocol: str = "http/protobuf",
         extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = clean_env({"FAKE_BASE_URL": provider.base_url, "PROMPT_TEXT": PROMPT, "PLANTED_SECRET": SECRET,
                     **(extra_env or {})})
    args = ["run", "--endpoint", receiver.endpoint(protocol), "--protocol", protocol, *options, "--", sys.executable,
            app("privacy_app.py")]
    result = launcher(args, env=env)
    assert result.returncode == 0, result.stderr
    assert "own logger saw the whole prompt 4 of 4" in result.stdout, result.stdout + result.stderr
    return result


def _calls(receiver: Receiver) -> list:
    """The four litellm_request spans (sync, streaming, async, failed), once they arrived and a second passed."""
    assert receiver.wait_for(lambda r: len([s for s in r.spans() if s.name == "litellm_request"]) >= 4, timeout=20), \
        [s.name for s in receiver.spans()]
    receiver.wait_for(lambda r: False, timeout=1.0)  # late ones (duplicates) and log records
    spans = [s for s in receiver.spans() if s.name == "litellm_request"]
    assert len(spans) == 4
    kinds = sorted(str(s.attributes.get("llm.request.type")) + "/" + str(s.attributes.get("llm.is_streaming")) +
                   "/" + str(s.status_code) for s in spans)
    assert kinds == ["acompletion/False/1", "completion/False/1", "completion/False/2", "completion/True/1"], kinds
    return spans


def _every_byte(receiver: Receiver) -> bytes:
    """Every OTLP request body as it arrived (HTTP: the bytes posted, after content decoding)."""
    assert receiver.requests and all(r.raw for r in receiver.requests)
    return b"\n".join(r.raw for r in receiver.requests)


def test_capture_none_sends_no_prompt_completion_or_secret(receiver: Receiver, provider: FakeProvider) -> None:
    _run(receiver, provider, ["--capture-content", "none"])
    spans = _calls(receiver)
    for span in spans:
        attributes = span.attributes
        assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
        for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                    "gen_ai.prompt.0.content", "gen_ai.completion.0.content", "error.message"):
            assert key not in attributes, key
        # what the call cost and how it went stays
        if span.status_code != 2:
            assert attributes["gen_ai.usage.input_tokens"] > 0 and attributes["gen_ai.usage.output_tokens"] > 0
        # attribution is not content
        assert attributes["user.id"] == "user-42" and attributes["session.id"] == "sess-7"
    failed = [s for s in spans if s.status_code == 2]
    assert len(failed) == 1
    if RECORDS_EXCEPTIONS:
        events = [attrs for name, attrs in failed[0].events if name == "exception"]
        assert events and "exception.type" in events[0]
        assert "exception.message" not in events[0]
    data = _every_byte(receiver)
    for text in (PROMPT, COMPLETION, SECRET, "purple elephants", "zebra quartz"):
        assert text.encode() not in data, text
    assert b"gen_ai.usage.input_tokens" in data  # the search looks where the spans are


def test_capture_full_scrubs_the_secret_and_keeps_the_prompt(receiver: Receiver, provider: FakeProvider) -> None:
    _run(receiver, provider, [])
    spans = _calls(receiver)
    answered = [s for s in spans if s.status_code != 2]
    assert len(answered) == 3
    for span in answered:
        prompt = str(span.attributes.get("gen_ai.input.messages", span.attributes.get("gen_ai.prompt.1.content")))
        assert PROMPT in prompt and "[REDACTED:" in prompt
        assert "gen_ai.input.messages" in span.attributes["signoz_litellm.scrubbed"] or \
            "gen_ai.prompt.1.content" in span.attributes["signoz_litellm.scrubbed"]
    data = _every_byte(receiver)
    assert SECRET.encode() not in data
    assert PROMPT.encode() in data and COMPLETION.encode() in data

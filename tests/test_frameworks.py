"""Frameworks whose LLM layer is LiteLLM, end to end: a tiny program run bare and under `run` against the fake
provider gives the same output and exit status, and the receiver gets exactly one `litellm_request` per LLM call.

The frameworks are not dev dependencies (they pin their own ranges); each test is skipped unless its framework is
installed, as in the compatibility harness's `frameworks` corner:
    pip install -e '.[dev]' 'dspy==3.4.1' 'smolagents[litellm]==1.26.0'
    python -m pytest tests/test_frameworks.py
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import clean_env, launcher

pytestmark = pytest.mark.timeout(600)
KEY = "sk-signoz-test-0123456789abcdef"


@dataclass(frozen=True)
class Program:
    framework: str  # the module pytest.importorskip needs
    reply: str  # what the fake provider answers, in the form the framework parses
    source: str


PROGRAMS = {
    # DSPy's ChatAdapter reads the output fields between `[[ ## name ## ]]` markers.
    "dspy": Program("dspy", "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]", """
        import inspect
        import os
        import dspy

        # DSPy 3.4 calls providers through its own engine unless told LiteLLM (older DSPy: LiteLLM only).
        engine = {"engine": "litellm"} if "engine" in inspect.signature(dspy.LM.__init__).parameters else {}
        lm = dspy.LM("openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test", cache=False,
                     **engine)
        dspy.configure(lm=lm)
        qa = dspy.Predict("question -> answer")
        for question in ("What is the capital of France?", "And of Italy?", "And of Spain?"):
            print("answer:", qa(question=question).answer)
    """),
    "dspy_async": Program("dspy", "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]", """
        import asyncio
        import inspect
        import os
        import dspy

        # DSPy 3.4 calls providers through its own engine unless told LiteLLM (older DSPy: LiteLLM only).
        engine = {"engine": "litellm"} if "engine" in inspect.signature(dspy.LM.__init__).parameters else {}
        lm = dspy.LM("openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test", cache=False,
                     **engine)
        dspy.configure(lm=lm)
        qa = dspy.Predict("question -> answer")

        async def main():
            questions = [f"What is the capital of country {i}?" for i in range(4)]
            answers = await asyncio.gather(*(qa.acall(question=q) for q in questions))
            print("answers:", [a.answer for a in answers])

        asyncio.run(main())
    """),
    # smolagents' CodeAgent runs the code between its code tags; final_answer ends the run.
    "smolagents": Program("smolagents", 'Thought: I know it.\n<code>\nfinal_answer("Paris")\n</code>', """
        import os
        from smolagents import CodeAgent, LiteLLMModel

        model = LiteLLMModel(model_id="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test")
        agent = CodeAgent(tools=[], model=model, max_steps=2, verbosity_level=0)
        for task in ("What is the capital of France?", "Say it again."):
            print("answer:", agent.run(task))
    """),
}


def _litellm_spans(receiver: Receiver) -> list:
    return [s for s in receiver.spans() if s.name == "litellm_request"]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_a_framework_program_runs_the_same_and_each_llm_call_is_one_litellm_request(
        receiver: Receiver, tmp_path: Path, name: str) -> None:
    program = PROGRAMS[name]
    pytest.importorskip(program.framework)
    script = tmp_path / f"{name}_app.py"
    script.write_text(textwrap.dedent(program.source))
    with FakeProvider(reply=program.reply) as provider:
        env = clean_env({"FAKE_BASE_URL": provider.base_url, "DSPY_CACHEDIR": str(tmp_path / "dspy_cache")})
        bare = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
        assert bare.returncode == 0, bare.stderr
        bare_calls = provider.calls
        assert bare_calls >= 2 and "answer" in bare.stdout
        provider.reset()

        result = launcher(["run", "--endpoint", receiver.endpoint("grpc"), "--", sys.executable, str(script)],
                          env={**env, "SIGNOZ_INGESTION_KEY": KEY}, cwd=tmp_path, timeout=300)
        calls = provider.calls
    assert (result.returncode, result.stdout) == (bare.returncode, bare.stdout), result.stderr
    assert calls == bare_calls
    assert receiver.wait_for(lambda r: len(_litellm_spans(r)) >= calls, timeout=30), \
        (calls, sorted({s.name for s in receiver.spans()}))
    receiver.wait_for(lambda r: False, timeout=1.0)  # a late duplicate would arrive meanwhile
    spans = _litellm_spans(receiver)
    assert len(spans) == calls
    for span in spans:
        assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
        assert span.attributes["gen_ai.usage.prompt_tokens"] > 0
        assert span.attributes["gen_ai.usage.completion_tokens"] > 0
        assert "gen_ai.cost.total_cost" in span.attributes
    assert len({s.trace_id for s in spans}) == calls  # one trace per call: the program opens no span of its own
    assert "could not deliver" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr

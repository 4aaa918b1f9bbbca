"""A small LiteLLM application for the quickstart: `bash scripts/demo` runs it under `signoz-litellm run --local`.

It makes a plain completion, a streaming one, two concurrent async ones and one that fails, and writes a
log line. It has no telemetry code: signoz-litellm adds that from the outside.

With OPENAI_API_KEY set it calls OpenAI (model: QUICKSTART_MODEL, default gpt-4o-mini; a few tokens).
Without it, every call uses LiteLLM's `mock_response`, which still runs LiteLLM's whole pipeline and
callbacks (spans, token usage, cost, metrics), so the demo works offline and for free.
The failing call is always simulated, so the report shows what a failure looks like.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import litellm

MODEL = os.environ.get("QUICKSTART_MODEL", "gpt-4o-mini")
REAL = bool(os.environ.get("OPENAI_API_KEY"))
litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banner for the planned failure
log = logging.getLogger("quickstart")
log.setLevel(logging.INFO)


def offline(answer: str) -> dict[str, Any]:
    """Extra arguments for a call: none with a key, else a canned answer."""
    return {} if REAL else {"mock_response": answer}


def ask(question: str) -> str:
    response = litellm.completion(model=MODEL, messages=[{"role": "user", "content": question}],
                                  max_tokens=40, **offline("Observability is knowing what your code did."))
    return response.choices[0].message.content


def ask_streaming(question: str) -> str:
    stream = litellm.completion(model=MODEL, messages=[{"role": "user", "content": question}], max_tokens=40,
                                stream=True, **offline("Traces, metrics and logs, one token at a time."))
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream)


async def ask_async(questions: list[str]) -> list[str]:
    responses = await asyncio.gather(*(
        litellm.acompletion(model=MODEL, messages=[{"role": "user", "content": q}], max_tokens=40,
                            **offline(f"An async answer to: {q}"))
        for q in questions
    ))
    return [r.choices[0].message.content for r in responses]


def ask_and_fail() -> None:
    try:
        litellm.completion(model=MODEL, messages=[{"role": "user", "content": "This call fails on purpose."}],
                           mock_response=Exception("simulated provider outage"))
    except Exception as exc:  # noqa: BLE001 - the demo shows the failure in the report
        print(f"failed call, as planned: {type(exc).__name__}")


def main() -> None:
    print(f"quickstart: {'real calls to ' + MODEL if REAL else 'offline, mock responses (no OPENAI_API_KEY)'}")
    print("plain:    ", ask("In one sentence, what is observability?"))
    print("streaming:", ask_streaming("Name the three OpenTelemetry signals."))
    for answer in asyncio.run(ask_async(["What is a span?", "What is a metric?"])):
        print("async:    ", answer)
    ask_and_fail()
    log.info("quickstart finished: %d LiteLLM calls", 5)


if __name__ == "__main__":
    main()

"""A LiteLLM program whose calls carry a prompt, a planted secret, a user, a session, tags and metadata: one sync,
one streaming, one async and one failed call. Its own CustomLogger records whether it saw the whole prompt (the
telemetry's --capture-content must not change what the program's callbacks get). No telemetry code."""
import asyncio
import os
import sys

import litellm
from litellm.integrations.custom_logger import CustomLogger

base = os.environ["FAKE_BASE_URL"]
PROMPT = os.environ["PROMPT_TEXT"]
SECRET = os.environ["PLANTED_SECRET"]
seen = []


class Mine(CustomLogger):
    def _saw(self, kwargs):
        seen.append(any(PROMPT in str(m.get("content")) and SECRET in str(m.get("content"))
                        for m in kwargs.get("messages") or []))

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._saw(kwargs)

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._saw(kwargs)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._saw(kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._saw(kwargs)


litellm.callbacks = [Mine()]


def common():  # a fresh metadata dict for each call: LiteLLM adds its own keys to the one it is given
    return dict(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test", user="user-42",
                metadata={"session_id": "sess-7", "tags": ["nightly", "eval"], "customer": "acme", "attempt": 2,
                          "nested": {"deep": [1, 2]}, "huge": "x" * 100_000, "odd": object()})


def messages(kind):
    return [{"role": "system", "content": f"You answer {kind} questions. {PROMPT}"},
            {"role": "user", "content": f"{kind}: {PROMPT} my key is {SECRET} and mail bob@example.com"}]


litellm.completion(messages=messages("sync"), **common())
stream = litellm.completion(messages=messages("stream"), stream=True, stream_options={"include_usage": True}, **common())
"".join((c.choices[0].delta.content or "") for c in stream if c.choices)


async def main():
    await litellm.acompletion(messages=messages("async"), **common())


asyncio.run(main())
try:
    litellm.completion(messages=messages("FAIL"), num_retries=0, **common())
except Exception as exc:
    print("failed as planned:", type(exc).__name__, flush=True)

import time  # noqa: E402

deadline = time.time() + 15  # success callbacks of sync calls run later, on LiteLLM's thread pool
while len(seen) < 4 and time.time() < deadline:
    time.sleep(0.05)
print("own logger saw the whole prompt", sum(seen), "of", len(seen), flush=True)
sys.exit(0)

"""A plain LiteLLM script: N sync calls, one streaming call, one log line. No telemetry code."""
import logging
import os

import litellm

logging.basicConfig(level=logging.INFO)
base = os.environ["FAKE_BASE_URL"]
calls = int(os.environ.get("CALLS", "3"))
for i in range(calls):
    r = litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test",
                           messages=[{"role": "user", "content": f"hello number {i}"}])
    assert r.choices[0].message.content
stream = litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test", stream=True,
                            stream_options={"include_usage": True},
                            messages=[{"role": "user", "content": "stream please"}])
text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
logging.getLogger("sync_app").warning("sync app finished after %d calls: %s", calls + 1, text[:10])
print("pid", os.getpid(), flush=True)

"""What the dashboards chart, in one LiteLLM script: calls with a user, a streaming call, a failed call, logs."""
import logging
import os

import litellm

logging.basicConfig(level=logging.INFO)
base = os.environ["FAKE_BASE_URL"]
for i in range(2):
    litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test", user="alice",
                       messages=[{"role": "user", "content": f"hello number {i}"}])
stream = litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test", stream=True,
                            stream_options={"include_usage": True},
                            messages=[{"role": "user", "content": "stream please"}])
"".join((c.choices[0].delta.content or "") for c in stream if c.choices)
try:
    litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test", num_retries=0,
                       messages=[{"role": "user", "content": "FAIL please"}])
except Exception as exc:  # the fake provider answers 500 to FAIL
    logging.getLogger("dashboard_app").error("call failed: %s", type(exc).__name__)
logging.getLogger("dashboard_app").warning("dashboard app finished")

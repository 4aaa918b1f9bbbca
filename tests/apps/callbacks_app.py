"""An app that manages LiteLLM callbacks itself, per MODE:
- guide:    litellm.callbacks = ["otel"], as SigNoz's LiteLLM guide says
- own:      litellm.callbacks = [its own CustomLogger] after import (and success_callback replaced too)
- instance: litellm.callbacks = [OpenTelemetry()] built by the app itself
Prints how many events its own logger saw."""
import os

import litellm
from litellm.integrations.custom_logger import CustomLogger

base = os.environ["FAKE_BASE_URL"]
mode = os.environ["MODE"]
seen = []


class Mine(CustomLogger):
    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        seen.append("logger")


def plain(kwargs, response, start, end):
    seen.append("fn")


if mode == "guide":
    litellm.callbacks = ["otel"]
elif mode == "own":
    litellm.callbacks = [Mine()]
    litellm.success_callback = [plain]
elif mode == "instance":
    from litellm.integrations.opentelemetry import OpenTelemetry

    litellm.callbacks = [OpenTelemetry()]

for i in range(3):
    litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test",
                       messages=[{"role": "user", "content": f"cb {i}"}])
if mode == "own":
    # The app replaces the list again mid-run: telemetry must not stop.
    litellm.callbacks = [Mine()]
    litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test",
                       messages=[{"role": "user", "content": "cb after reassignment"}])
import time

deadline = time.time() + 15  # sync success callbacks run later, on LiteLLM's thread pool
while mode == "own" and len(seen) < 8 and time.time() < deadline:
    time.sleep(0.05)
print("own logger events", seen.count("logger"), "function events", seen.count("fn"), flush=True)

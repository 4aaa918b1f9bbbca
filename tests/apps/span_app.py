"""An app that opens its own span and calls LiteLLM inside it (sync, then async)."""
import asyncio
import os

import litellm
from opentelemetry import trace

base = os.environ["FAKE_BASE_URL"]
tracer = trace.get_tracer("span_app")

with tracer.start_as_current_span("handle-request") as span:
    litellm.completion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test",
                       messages=[{"role": "user", "content": "inside a span"}])
    ctx = span.get_span_context()
    print("sync-parent", format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"), flush=True)


async def main() -> None:
    with tracer.start_as_current_span("async-request") as span:
        await litellm.acompletion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test",
                                  messages=[{"role": "user", "content": "inside an async span"}])
        ctx = span.get_span_context()
        print("async-parent", format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"), flush=True)


asyncio.run(main())

"""An asyncio LiteLLM script: sequential and streaming acompletion calls."""
import asyncio
import os

import litellm

base = os.environ["FAKE_BASE_URL"]


async def main() -> None:
    for i in range(3):
        r = await litellm.acompletion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test",
                                      messages=[{"role": "user", "content": f"async {i}"}])
        assert r.choices[0].message.content
    stream = await litellm.acompletion(model="openai/gpt-4o-mini", api_base=base, api_key="sk-test", stream=True,
                                       messages=[{"role": "user", "content": "async stream"}])
    async for _ in stream:
        pass


asyncio.run(main())
print("async done", flush=True)

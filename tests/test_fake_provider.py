"""The fake OpenAI-compatible provider, driven by real litellm calls and raw HTTP."""

from __future__ import annotations

import http.client
import json
import os
import time
from typing import Any

import pytest

from tests.support.fake_provider import DEFAULT_REPLY, FakeProvider

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402

pytestmark = pytest.mark.timeout(60)

MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello to the tests"}]  # 3 + 5 = 8 words


def complete(provider: FakeProvider, **kw: Any) -> Any:
    """litellm.completion against the fake provider, without SDK retries."""
    kw.setdefault("messages", MESSAGES)
    return litellm.completion(model="openai/gpt-4o-mini", api_base=provider.base_url,
                              api_key="sk-test", max_retries=0, **kw)


def raw(provider: FakeProvider, method: str, path: str, body: Any = None,
        conn: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, str], bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", provider.port, timeout=5)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        if own:
            conn.close()


def test_base_url(fake_provider: FakeProvider) -> None:
    assert fake_provider.base_url == f"http://127.0.0.1:{fake_provider.port}/v1"
    assert fake_provider.port > 0


def test_litellm_completion_returns_content_and_usage(fake_provider: FakeProvider) -> None:
    response = complete(fake_provider)

    assert response.choices[0].message.content == DEFAULT_REPLY
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 8
    assert response.usage.completion_tokens == 5
    assert response.usage.total_tokens == 13
    assert "gpt-4o-mini" in response.model
    assert fake_provider.calls == 1
    [(path, headers, body)] = fake_provider.requests
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "gpt-4o-mini" and body["messages"] == MESSAGES


def test_litellm_streaming_yields_chunks_and_usage(fake_provider: FakeProvider) -> None:
    stream = complete(fake_provider, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == DEFAULT_REPLY
    assert len(chunks) >= 5
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage and usage[-1].prompt_tokens == 8 and usage[-1].completion_tokens == 5
    assert fake_provider.calls == 1
    assert fake_provider.requests[0][2]["stream"] is True


@pytest.mark.parametrize(("status", "exc"), [(500, litellm.InternalServerError),
                                             (429, litellm.RateLimitError),
                                             (401, litellm.AuthenticationError)])
def test_fail_status_raises(status: int, exc: type[Exception]) -> None:
    with FakeProvider(fail_status=status) as provider:
        with pytest.raises(exc):
            complete(provider)
        assert provider.calls == 0
        assert len(provider.requests) == 1  # max_retries=0: exactly one attempt


def test_fail_marker_in_message_gives_500(fake_provider: FakeProvider) -> None:
    with pytest.raises(litellm.InternalServerError):
        complete(fake_provider, messages=[{"role": "user", "content": "please FAIL now"}])
    status, _, body = raw(fake_provider, "POST", "/v1/chat/completions",
                          {"model": "m", "messages": [{"role": "user", "content": "FAIL"}]})
    assert status == 500 and json.loads(body)["error"]["type"] == "server_error"
    assert fake_provider.calls == 0
    assert complete(fake_provider).choices[0].message.content == DEFAULT_REPLY
    assert fake_provider.calls == 1


def test_custom_fail_when() -> None:
    with FakeProvider(fail_when=lambda body: body.get("temperature") == 0.3) as provider:
        assert complete(provider, temperature=0.1).choices[0].message.content == DEFAULT_REPLY
        with pytest.raises(litellm.InternalServerError):
            complete(provider, temperature=0.3)
        # the default FAIL rule is replaced, not added to
        complete(provider, messages=[{"role": "user", "content": "FAIL"}])
        assert provider.calls == 2


def test_delay() -> None:
    with FakeProvider(delay=0.3) as provider:
        start = time.monotonic()
        complete(provider)
        assert time.monotonic() - start >= 0.3


def test_litellm_embedding(fake_provider: FakeProvider) -> None:
    response = litellm.embedding(model="openai/text-embedding-3-small", api_base=fake_provider.base_url,
                                 api_key="sk-test", input=["one two", "three"])
    vectors = [d["embedding"] if isinstance(d, dict) else d.embedding for d in response.data]
    assert len(vectors) == 2 and all(len(v) == 8 for v in vectors)
    assert all(isinstance(x, float) for x in vectors[0])
    assert response.usage.prompt_tokens == 3
    assert fake_provider.calls == 0  # only chat completions are counted


def test_embedding_float_format_raw(fake_provider: FakeProvider) -> None:
    status, _, body = raw(fake_provider, "POST", "/v1/embeddings",
                          {"model": "e", "input": "hi", "encoding_format": "float"})
    data = json.loads(body)
    assert status == 200 and data["object"] == "list"
    assert data["data"][0]["object"] == "embedding" and len(data["data"][0]["embedding"]) == 8


def test_models_and_unknown_paths(fake_provider: FakeProvider) -> None:
    status, _, body = raw(fake_provider, "GET", "/v1/models")
    assert status == 200
    assert "gpt-4o-mini" in [m["id"] for m in json.loads(body)["data"]]
    assert raw(fake_provider, "GET", "/v1/nothing")[0] == 404
    assert raw(fake_provider, "POST", "/v1/nothing", {})[0] == 404


def test_raw_stream_format(fake_provider: FakeProvider) -> None:
    def events(body: dict[str, Any]) -> list[str]:
        status, headers, payload = raw(fake_provider, "POST", "/v1/chat/completions", body)
        assert status == 200 and headers["content-type"] == "text/event-stream"
        return [line[len("data: "):] for line in payload.decode().split("\n\n") if line]

    base = {"model": "gpt-x", "messages": MESSAGES, "stream": True}
    plain = events(base)
    assert plain[-1] == "[DONE]"
    chunks = [json.loads(e) for e in plain[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-x" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert not any("usage" in c for c in chunks)

    with_usage = [json.loads(e) for e in events({**base, "stream_options": {"include_usage": True}})[:-1]]
    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"] == {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13}


def test_keep_alive(fake_provider: FakeProvider) -> None:
    """200 calls on one connection: each answer sized exactly (Content-Length), the connection never closed."""
    conn = http.client.HTTPConnection("127.0.0.1", fake_provider.port, timeout=5)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    try:
        status, headers, payload = raw(fake_provider, "POST", "/v1/chat/completions", body, conn)
        assert status == 200 and int(headers["content-length"]) == len(payload)
        sock = conn.sock
        for _ in range(200):
            assert raw(fake_provider, "POST", "/v1/chat/completions", body, conn)[0] == 200
        assert conn.sock is sock  # same TCP connection reused throughout
    finally:
        conn.close()
    assert fake_provider.calls == 201


def test_reset(fake_provider: FakeProvider) -> None:
    complete(fake_provider)
    fake_provider.reset()
    assert fake_provider.calls == 0 and fake_provider.requests == []

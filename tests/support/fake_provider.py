"""An OpenAI-compatible HTTP server on loopback, standing in for the LLM provider.

Endpoints: ``POST /v1/chat/completions`` (JSON, or an SSE stream with ``"stream": true``),
``POST /v1/embeddings`` and ``GET /v1/models``. Answers are deterministic:

* the reply text is ``reply`` (default: 5 words), ``completion_tokens`` = its word count;
* ``prompt_tokens`` = number of whitespace-separated words over all message contents.

It is built for speed (per-call overhead benchmarks): HTTP/1.1 keep-alive, TCP_NODELAY,
exact Content-Length (chunked transfer encoding for streams), no sleeping unless asked.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeProvider", "DEFAULT_REPLY"]

DEFAULT_REPLY = "Hello from the fake provider."
EMBEDDING_DIM = 8


def _text_of(content: Any) -> str:
    """Text of an OpenAI message ``content`` (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _prompt_words(body: dict[str, Any]) -> int:
    return sum(len(_text_of(m.get("content")).split()) for m in body.get("messages") or []
               if isinstance(m, dict))


def _contains_fail(body: dict[str, Any]) -> bool:
    """Default failure rule: any message content containing ``FAIL``."""
    return any("FAIL" in _text_of(m.get("content")) for m in body.get("messages") or []
               if isinstance(m, dict))


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
            404: "not_found_error", 429: "rate_limit_error"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


class FakeProvider:
    """OpenAI-compatible fake provider; use as a context manager.

    Args:
        fail_status: answer every chat completion with this HTTP status and an OpenAI error.
        fail_when: predicate on the request JSON; when true the chat call gets a 500.
            Default: any message content containing ``"FAIL"``. Pass ``lambda body: False``
            to disable.
        delay: seconds to wait before answering any request.
        reply: the assistant text returned.
        stream_chunk_delay: seconds between SSE chunks of a stream.
        models: ids listed by ``GET /v1/models``.
        fail_first: HTTP statuses for the first chat completions, one each, in order (e.g. ``(429, 500)``: the
            first call is rate limited, the second a server error, then every call is answered); a provider
            that a router retries.
        quote_request_in_errors: a failure's error message quotes the last message's content, as real
            providers' content-policy and context-length errors do.

    Attributes:
        calls: chat completions answered with 200 (thread-safe counter).
        requests: every request as ``(path, headers (lower-cased), json body or None)``.
        peers: the client's port for each of those requests, in the same order (one port per TCP connection).
    """

    def __init__(
        self,
        *,
        fail_status: int | None = None,
        fail_when: Callable[[dict[str, Any]], bool] | None = _contains_fail,
        delay: float = 0.0,
        reply: str = DEFAULT_REPLY,
        stream_chunk_delay: float = 0.0,
        models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small"),
        host: str = "127.0.0.1",
        fail_first: tuple[int, ...] = (),
        quote_request_in_errors: bool = False,
    ) -> None:
        self.quote_request_in_errors = quote_request_in_errors
        self.fail_status = fail_status
        self._fail_first = list(fail_first)
        self.fail_when = fail_when
        self.delay = delay
        self.reply = reply
        self.stream_chunk_delay = stream_chunk_delay
        self.models = models
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._calls = 0
        self._requests: list[tuple[str, dict[str, str], Any]] = []
        self._peers: list[int] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> FakeProvider:
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- bookkeeping -----------------------------------------------------------------

    @property
    def calls(self) -> int:
        with self._lock:
            return self._calls

    @property
    def requests(self) -> list[tuple[str, dict[str, str], Any]]:
        with self._lock:
            return list(self._requests)

    @property
    def peers(self) -> list[int]:
        with self._lock:
            return list(self._peers)

    def reset(self) -> None:
        with self._lock:
            self._calls = 0
            self._requests.clear()
            self._peers.clear()

    def _record(self, path: str, headers: dict[str, str], body: Any, peer: int) -> None:
        with self._lock:
            self._requests.append((path, headers, body))
            self._peers.append(peer)

    def _count_call(self) -> None:
        with self._lock:
            self._calls += 1

    # ---- responses -------------------------------------------------------------------

    def chat_failure(self, body: dict[str, Any]) -> int | None:
        """HTTP status to fail this chat request with, or None to answer it."""
        with self._lock:
            if self._fail_first:
                return self._fail_first.pop(0)
        if self.fail_status is not None:
            return self.fail_status
        if self.fail_when is not None and self.fail_when(body):
            return 500
        return None

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        prompt = _prompt_words(body)
        completion = len(self.reply.split())
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    def chat_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "unknown"),
            "system_fingerprint": "fp_fake",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.reply, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": self.usage(body),
        }

    def chat_chunks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of a streamed answer."""
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body.get("model", "unknown"),
                "system_fingerprint": "fp_fake"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                         "finish_reason": finish}]}

        words = self.reply.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"content": p}) for p in pieces]
        chunks.append(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": self.usage(body)})
        return chunks

    @staticmethod
    def embeddings(body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input", "")
        if not isinstance(inputs, list) or (inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, item in enumerate(inputs):
            vector = [round(((len(str(item)) + i + k) % 10) / 10, 3) for k in range(EMBEDDING_DIM)]
            embedding: Any = vector
            if as_base64:
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        tokens = sum(len(str(item).split()) for item in inputs)
        return {"object": "list", "data": data, "model": body.get("model", "unknown"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    def model_list(self) -> dict[str, Any]:
        return {"object": "list",
                "data": [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                         for m in self.models]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 drops connections when 20+ clients connect at once on a busy machine

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 provider: FakeProvider) -> None:
        self.provider = provider
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # client hang-ups are normal for a test server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, chunks: list[dict[str, Any]], chunk_delay: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
        for i, event in enumerate(events):
            if chunk_delay and i:
                time.sleep(chunk_delay)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.write(b"0\r\n\r\n")

    def _read_json(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def _begin(self, body: Any) -> FakeProvider:
        provider = self.server.provider
        provider._record(self.path, {k.lower(): v for k, v in self.headers.items()}, body, self.client_address[1])
        if provider.delay > 0:
            time.sleep(provider.delay)
        return provider

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_json()
        provider = self._begin(body)
        path = self.path.split("?", 1)[0]
        if not isinstance(body, dict):
            self._json(400, _error_body(400, "request body is not a JSON object"))
        elif path == "/v1/chat/completions":
            status = provider.chat_failure(body)
            if status is not None:
                message = f"fake provider failure ({status})"
                if provider.quote_request_in_errors:
                    messages = body.get("messages") or [{}]
                    message += f": refused {_text_of(messages[-1].get('content'))!r}"
                self._json(status, _error_body(status, message))
            elif body.get("stream"):
                chunks = provider.chat_chunks(body)
                provider._count_call()
                self._stream(chunks, provider.stream_chunk_delay)
            else:
                payload = provider.chat_completion(body)
                provider._count_call()
                self._json(200, payload)
        elif path == "/v1/embeddings":
            self._json(200, provider.embeddings(body))
        else:
            self._json(404, _error_body(404, f"unknown path {path}"))

    def do_GET(self) -> None:  # noqa: N802
        provider = self._begin(None)
        if self.path.split("?", 1)[0] == "/v1/models":
            self._json(200, provider.model_list())
        else:
            self._json(404, _error_body(404, f"unknown path {self.path}"))

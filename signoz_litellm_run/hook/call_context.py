"""One trace per LiteLLM call: its HTTP client span becomes a child of its `litellm_request` span.

LiteLLM creates `litellm_request` only after the call, on a logging thread, while the HTTP client
span (httpx, aiohttp) is made during the call under whatever context is current: with no span of
the program's open, the two landed in separate traces. So each public LiteLLM entry point runs
under a reserved span context (trace id, span id): the HTTP span is made under it, and the
`litellm_request` span LiteLLM builds later is given exactly those ids.

Only with OpenTelemetry's random id generator (the ids are handed over through it) and while
`USE_OTEL_LITELLM_REQUEST_SPAN` is on (LiteLLM then always makes its own span for a call).
"""

from __future__ import annotations

import functools
import threading
from contextvars import ContextVar
from typing import Any

from opentelemetry import context, trace  # already imported by the auto-instrumentation this hook runs

ENTRY_POINTS = (
    "completion", "acompletion", "text_completion", "atext_completion", "embedding", "aembedding",
    "responses", "aresponses", "image_generation", "aimage_generation", "transcription", "atranscription",
    "speech", "aspeech", "rerank", "arerank", "moderation", "amoderation",
)


class Call:
    __slots__ = ("parent", "trace_id", "span_id")

    def __init__(self, parent: Any, trace_id: int, span_id: int) -> None:
        self.parent = parent  # the program's Context when it had a valid span, else None
        self.trace_id = trace_id
        self.span_id = span_id


_current: ContextVar[Call | None] = ContextVar("signoz_litellm_call", default=None)
# Set by hook/litellm_arm.py: told of each call whose arguments name its LiteLLM call id (the proxy's calls, whose
# call id and logging object are made before the call: LiteLLM's function_setup runs before the call starts).
on_call: Any = None
# Set by hook/attempts.py: the (trace id, span id) a call's litellm_request is to have, when it is one attempt of a
# request that already holds them (a lean proxy request: every attempt's HTTP span under one litellm_request);
# False for an attempt of any other proxy request (LiteLLM makes one litellm_request for a request's failed attempts,
# not one each: the HTTP spans of the others would point at spans never made), None for any other call.
ids_for: Any = None
_ids: Any = None  # the tracer provider's RandomIdGenerator (set by install)
_next_ids = threading.local()  # ids for the next span this thread creates: (trace_id, span_id)


def current() -> Call | None:
    """The call being set up in this context (read in LiteLLM's function_setup)."""
    return _current.get()


def install(litellm: Any) -> bool:
    """Wrap LiteLLM's entry points and the id generator; False when the setup does not allow it."""
    global _ids
    import os

    from litellm.secret_managers.main import str_to_bool
    from opentelemetry.sdk.trace import id_generator

    # Read as LiteLLM reads it when it decides whether a call gets its own span ("true" only).
    if not str_to_bool(os.environ.get("USE_OTEL_LITELLM_REQUEST_SPAN")):
        return False
    generator = getattr(trace.get_tracer_provider(), "id_generator", None)
    if type(generator) is not id_generator.RandomIdGenerator:
        return False
    _patch_id_generator(id_generator.RandomIdGenerator)
    _ids = generator
    for name in ENTRY_POINTS:
        function = getattr(litellm, name, None)
        if callable(function) and not getattr(function, "_signoz_litellm", False):
            setattr(litellm, name, _wrap(function))
    return True


def _wrap(function: Any) -> Any:
    import inspect

    if inspect.iscoroutinefunction(function):
        @functools.wraps(function)
        async def async_entry(*args: Any, **kwargs: Any) -> Any:
            tokens = _begin(kwargs)
            try:
                return await function(*args, **kwargs)
            finally:
                _end(tokens)

        entry = async_entry
    else:
        @functools.wraps(function)
        def sync_entry(*args: Any, **kwargs: Any) -> Any:
            tokens = _begin(kwargs)
            try:
                return function(*args, **kwargs)
            finally:
                _end(tokens)

        entry = sync_entry
    entry._signoz_litellm = True  # type: ignore[attr-defined]
    return entry


def _begin(kwargs: Any) -> Any:
    parent_ctx = context.get_current()
    parent = trace.get_current_span(parent_ctx).get_span_context()
    if parent.is_valid:
        trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
    else:
        trace_id, flags, state = _ids.generate_trace_id(), trace.TraceFlags(trace.TraceFlags.SAMPLED), None
    try:
        held = ids_for(kwargs) if ids_for is not None else None
    except Exception:  # never in the call's way: the call gets ids of its own
        held = None
    if held is False:  # a proxy request's attempt, traced under the request as it is
        return None, _current.set(None)
    if held is not None and held[0] == trace_id:
        call = Call(parent_ctx if parent.is_valid else None, trace_id, held[1])
    else:
        call = Call(parent_ctx if parent.is_valid else None, trace_id, _ids.generate_span_id())
    if on_call is not None:
        on_call(kwargs, call)
    reserved = trace.NonRecordingSpan(trace.SpanContext(trace_id, call.span_id, is_remote=False,
                                                        trace_flags=flags, trace_state=state))
    return context.attach(trace.set_span_in_context(reserved, parent_ctx)), _current.set(call)


def _end(tokens: Any) -> None:
    context_token, call_token = tokens
    _current.reset(call_token)
    if context_token is not None:
        context.detach(context_token)


def give_next_span(call: Call) -> None:
    """The next span this thread creates gets the call's ids (LiteLLM's `litellm_request`)."""
    _next_ids.ids = (call.trace_id, call.span_id)


def clear_next_span() -> None:
    _next_ids.ids = None


def _patch_id_generator(cls: Any) -> None:
    if getattr(cls, "_signoz_litellm", False):
        return
    original_trace_id = cls.generate_trace_id
    original_span_id = cls.generate_span_id

    def generate_trace_id(self: Any) -> int:
        ids = getattr(_next_ids, "ids", None)
        return ids[0] if ids is not None else original_trace_id(self)

    def generate_span_id(self: Any) -> int:
        ids = getattr(_next_ids, "ids", None)
        if ids is None:
            return original_span_id(self)
        _next_ids.ids = None
        return ids[1]

    cls.generate_trace_id = generate_trace_id
    cls.generate_span_id = generate_span_id
    cls._signoz_litellm = True

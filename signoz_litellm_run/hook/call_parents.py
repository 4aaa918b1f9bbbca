"""A LiteLLM call's parent, captured when the call starts and given to its `litellm_request` span when LiteLLM logs it.

A call made inside a span the program has open becomes a child `litellm_request` span in that trace, also for
async calls whose logging LiteLLM runs later on a background worker, where the caller's context is gone: the
context is captured (keyed by LiteLLM's call id) in LiteLLM's `function_setup`, and taken back by the logger's
`_get_span_context` inside its success / failure handler. A call one of hook/call_context.py's entry points made
carries reserved span ids: `litellm_request` is given those, so the provider's HTTP client span is its child.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from signoz_litellm_run.hook import call_context

_MAX_PENDING_PARENTS = 4096
_MAX_ATTEMPTS = 64  # entries kept per call id (a router's retries and fallbacks)
_lock = threading.Lock()
parents: OrderedDict[str, Any] = OrderedDict()  # litellm_call_id -> [(captured Context, Call)]
_handling = threading.local()  # per thread: inside one of the logger's success / failure handlers


def remember_parent(result: Any, call: call_context.Call | None) -> None:
    """Keyed by LiteLLM's call id: the caller's context when it has a valid span, and the ids reserved
    for the call's `litellm_request` span when one of the wrapped entry points made the call."""
    from opentelemetry import context, trace

    if call is not None:
        captured: tuple[Any, call_context.Call | None] = (call.parent, call)
    elif trace.get_current_span().get_span_context().is_valid:
        captured = (context.get_current(), None)
    else:
        return
    try:
        call_id = result[1].get("litellm_call_id")
    except Exception:
        return
    if call_id:
        remember(call_id, captured)


def remember(call_id: str, captured: tuple[Any, call_context.Call | None]) -> None:
    """One entry per attempt, in order: the router retries a request under one call id, and each attempt's
    handler takes the oldest. An entry without reserved ids (LiteLLM's function_setup, run before the proxy
    starts the call) is completed by the call's own."""
    with _lock:
        entries = parents.get(call_id)
        if entries is None:
            parents[call_id] = [captured]
            while len(parents) > _MAX_PENDING_PARENTS:
                parents.popitem(last=False)
        elif entries[-1][1] is None or entries[-1][1] is captured[1]:
            entries[-1] = captured if captured[1] is not None else entries[-1]
        elif len(entries) < _MAX_ATTEMPTS:
            entries.append(captured)


def on_call(kwargs: Any, call: call_context.Call) -> None:
    """A call started with its LiteLLM call id in its arguments (the proxy's): its reserved ids, remembered."""
    try:
        call_id = kwargs.get("litellm_call_id")
        if not call_id:
            call_id = getattr(kwargs.get("litellm_logging_obj"), "litellm_call_id", None)
        if call_id and type(call_id) is str:
            remember(call_id, (call.parent, call))
    except Exception:  # never in the call's way
        pass


def take_parent(kwargs: Any) -> tuple[Any, call_context.Call | None]:
    call_id = kwargs.get("litellm_call_id") if isinstance(kwargs, dict) else None
    if not call_id:
        return None, None
    with _lock:
        entries = parents.get(call_id)
        if not entries:
            return None, None
        if len(entries) == 1:
            del parents[call_id]
        return entries.pop(0)


def span_context_of(ctx: Any, parent: Any) -> Any:
    from opentelemetry import trace

    span = parent if parent is not None else (trace.get_current_span(ctx) if ctx is not None else None)
    return span.get_span_context() if span is not None else None


def handle(handler: Any, logger: Any, args: Any, kwargs: Any) -> Any:
    """Run one of the logger's handlers: inside it the call's reserved span ids are taken, and spent after."""
    outer = getattr(_handling, "active", False)
    _handling.active = True
    try:
        return handler(logger, *args, **kwargs)
    finally:
        _handling.active = outer
        call_context.clear_next_span()


def span_context_getter(original_context: Any) -> Any:
    """LiteLLM's `_get_span_context` wrapped: inside a handler (`handle`), the context captured for the call, and its
    reserved ids handed to `litellm_request`."""
    # LiteLLM up to 1.80.5 looks for no active span (`_get_span_context(kwargs)` only), always makes
    # `litellm_request`, and ends the parent span it is handed: the program's span, captured here, is given as
    # the context only, never as that parent.
    try:
        import inspect

        hands_parent = "default_span" in inspect.signature(original_context).parameters
    except (TypeError, ValueError):
        hands_parent = False

    def _get_span_context(self: Any, kwargs: Any, default_span: Any = None) -> Any:
        from opentelemetry import trace

        if hands_parent:
            ctx, parent = original_context(self, kwargs, default_span)
        else:
            ctx, parent = original_context(self, kwargs)
        if not getattr(_handling, "active", False):
            # Asked outside the handlers that make litellm_request (the proxy's post-call hook, before the
            # success is logged): the call's reserved ids stay for the handler.
            return ctx, parent
        captured, call = take_parent(kwargs)
        if call is not None:
            found = span_context_of(ctx, parent)
            if found is not None and found.span_id == call.span_id:
                ctx, parent = None, None  # the call's own reserved context, seen by a handler that inherited it
        if ctx is None and parent is None and captured is not None:
            ctx, parent = captured, trace.get_current_span(captured) if hands_parent else None
        if call is not None:
            if ctx is None and parent is None:
                from opentelemetry.context import Context

                ctx = Context()  # a root span, whatever context the handler's thread inherited
            found = span_context_of(ctx, parent)
            if not found.is_valid or found.trace_id == call.trace_id:
                call_context.give_next_span(call)  # litellm_request gets the ids its HTTP span points to
        return ctx, parent

    return _get_span_context

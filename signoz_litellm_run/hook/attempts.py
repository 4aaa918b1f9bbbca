"""A lean proxy request's retries and fallbacks, summed up on its one `litellm_request` span.

The proxy's router retries a failed provider call (`num_retries`) and falls back to other model groups
(`fallbacks`), and LiteLLM logs every attempt: each failed one makes a `litellm_request` with its error. In full
detail that stays (every attempt its own `litellm_request`, its HTTP client span under it). In the lean default a
request keeps one `litellm_request`: the answering attempt's or, when every attempt failed, a failed one's, made
once the proxy has answered with the error (the last failure seen is held until then; any later one is dropped).
Every attempt's HTTP client span is its child: the attempts share the span ids the request holds
(`call_context.ids_for`; in full detail they are children of the request's server span, LiteLLM making one
`litellm_request` for all of a request's failed attempts). It carries

    litellm.attempts            provider calls made for the request (1 when nothing was retried)
    litellm.deployment.id       the deployment of the attempt the span is for (LiteLLM's model_info id)
    litellm.deployment.model    its model as the config names it (`openai/gpt-4o`)

and, for a streamed answer, `gen_ai.server.time_to_first_token` (seconds from the provider call to the first
chunk, as LiteLLM's histogram of that name measures it).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime
from typing import Any, Callable

from signoz_litellm_run.hook.span_detail import RequestSpan

_logger = logging.getLogger("signoz_litellm")


def _metadata_span(metadata: Any) -> Any:
    if type(metadata) is dict:
        return metadata.get("litellm_parent_otel_span")
    return None


def request_span_of(kwargs: Any) -> RequestSpan | None:
    """The request a call belongs to: from a call's own arguments or from LiteLLM's logging kwargs."""
    if type(kwargs) is not dict:
        return None
    params = kwargs.get("litellm_params")
    found = None
    if type(params) is dict:
        found = _metadata_span(params.get("metadata")) or _metadata_span(params.get("litellm_metadata"))
    if found is None:
        found = _metadata_span(kwargs.get("metadata")) or _metadata_span(kwargs.get("litellm_metadata"))
    return found if isinstance(found, RequestSpan) else None


def ids_for(call_kwargs: Any) -> tuple[int, int] | bool | None:
    """(trace id, span id) for a call that is an attempt of a lean proxy request (the attempt is counted); False for
    an attempt of another proxy request; None for any other call (see call_context.ids_for)."""
    if type(call_kwargs) is not dict:
        return None
    span = _metadata_span(call_kwargs.get("metadata")) or _metadata_span(call_kwargs.get("litellm_metadata"))
    if span is None:
        return None
    if not isinstance(span, RequestSpan):
        return False
    with span.lock:
        span.started += 1
        if span.reserved_span_id == 0:
            span.reserved_span_id = random.getrandbits(64) or 1
        return span.get_span_context().trace_id, span.reserved_span_id


def hold_failure(kwargs: Any, log: Callable[[], Any]) -> bool:
    """A failed attempt's logging: True when it is held (or dropped) rather than made now."""
    span = request_span_of(kwargs)
    if span is None:
        return False
    with span.lock:
        if span.logged:
            return True  # the request has its litellm_request already: a late failure of an earlier attempt
        if not span.failed:
            span.pending_failure = log  # the newest failure: made if the request fails in the end
            return True
        span.logged = True
    return False


def success(kwargs: Any) -> None:
    span = request_span_of(kwargs)
    if span is not None:
        with span.lock:
            span.logged = True
            span.pending_failure = None


def request_failed(parent_span: Any) -> bool:
    """The proxy answered a request with an error: make its held failure's litellm_request. True when the
    request was a lean one (its `Failed Proxy Server Request` span is not made)."""
    if not isinstance(parent_span, RequestSpan):
        return False
    with parent_span.lock:
        parent_span.failed = True
        log = None if parent_span.logged else parent_span.pending_failure
        parent_span.pending_failure = None
        if log is not None:
            parent_span.logged = True
    if log is not None:
        try:
            log()
        except Exception as exc:  # never in the proxy's way
            _logger.debug("signoz-litellm: a failed request's span could not be made: %s", exc)
    return True


def summary(kwargs: Any) -> dict[str, Any] | None:
    """The attributes this module adds to a proxy request's litellm_request span."""
    if type(kwargs) is not dict:
        return None
    params = kwargs.get("litellm_params")
    if type(params) is not dict or not params.get("proxy_server_request"):
        return None
    found: dict[str, Any] = {}
    ttft = _time_to_first_token(kwargs)
    if ttft is not None:
        found["gen_ai.server.time_to_first_token"] = ttft
    span = request_span_of(kwargs)
    if span is not None:
        found["litellm.attempts"] = max(span.started, 1)
        info = params.get("model_info")
        if type(info) is dict and isinstance(info.get("id"), str):
            found["litellm.deployment.id"] = info["id"]
        metadata = params.get("metadata")
        deployment = metadata.get("deployment") if type(metadata) is dict else None
        if isinstance(deployment, str) and deployment:
            found["litellm.deployment.model"] = deployment
    return found or None


def _time_to_first_token(kwargs: dict[str, Any]) -> float | None:
    optional = kwargs.get("optional_params")
    if type(optional) is not dict or not optional.get("stream"):
        return None
    started, first = kwargs.get("api_call_start_time"), kwargs.get("completion_start_time")
    if isinstance(started, datetime) and isinstance(first, datetime):
        seconds = (first - started).total_seconds()
        return seconds if seconds >= 0 else None
    return None

"""What one LiteLLM proxy request's trace holds: `--span-detail lean` (the default) or `full`.

Measured on LiteLLM 1.110.2 under `run`, a proxy request was one trace of 12 spans: the HTTP server span,
FastAPI's (`fastapi.dependencies` / `endpoint` / `serialization`, FastAPI's own telemetry) or the ASGI
instrumentation's (`http receive`, `http send` twice), LiteLLM's `Received Proxy Server Request` and its
service spans (`auth`, `proxy_pre_call`, `router` twice, `self`), `litellm_request` and the provider's HTTP
client span; and each start-up left a `GET .../models` trace of its own. A gateway pays for every one of them
(built, exported, stored, billed), and SigNoz's proxy dashboard and ours chart only `litellm_request` and the
server span.

Lean: the server span, `litellm_request` (the request's gen_ai attributes) and the provider's HTTP client span,
one per attempt when the router retries or falls back (`hook/attempts.py`). Each internal span is not made,
where it would be made:
- LiteLLM's service spans: its OpenTelemetry logger's service hooks do nothing (other service callbacks,
  Prometheus or Datadog, still get their events);
- `Received Proxy Server Request`: the proxy is handed the server span's context as a non-recording span
  instead, so `litellm_request` is the server span's child and what LiteLLM writes on its own span (status,
  route, end) goes nowhere. Only while `litellm_request` is made (`USE_OTEL_LITELLM_REQUEST_SPAN`, which `run`
  sets): otherwise LiteLLM writes the gen_ai attributes on that span, and it stays;
- FastAPI's operation spans (`telemetry={"operation_spans": False}` on the proxy's app) and the ASGI
  instrumentation's `http receive` / `http send` spans (its `exclude_spans`), set on the proxy's own app;
- HTTP client spans with no parent (the model list LiteLLM fetches at start-up, background calls outside any
  request or LLM call): dropped by the proxy's sampler (hook/proxy.py), in the proxy only;
- on `litellm_request`, LiteLLM's per-call blobs that repeat what the trace holds, and its empty values: not set
  (hook/request_attributes.py).
Full: every span as LiteLLM, FastAPI and OpenTelemetry make it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from signoz_litellm_run.hook import attempts
from signoz_litellm_run.hook.attempts import RequestSpan

_logger = logging.getLogger("signoz_litellm")

SPAN_DETAIL_ENV = "SIGNOZ_LITELLM_SPAN_DETAIL"
_SERVICE_HOOKS = ("async_service_success_hook", "async_service_failure_hook")


def lean() -> bool:
    """The default; anything but `full` (checked by the launcher) is lean."""
    return os.environ.get(SPAN_DETAIL_ENV, "").strip().lower() != "full"


def _request_span_made() -> bool:
    """LiteLLM makes `litellm_request` under a proxy request only with this on (read as LiteLLM reads it)."""
    return os.environ.get("USE_OTEL_LITELLM_REQUEST_SPAN", "").strip().lower() == "true"


def patch_logger_class(otel_class: Any) -> None:
    """Lean: no service spans, and the server span's context in place of `Received Proxy Server Request`."""
    if not lean() or getattr(otel_class, "_signoz_litellm_lean", False):
        return
    import inspect

    for name in _SERVICE_HOOKS:
        hook = otel_class.__dict__.get(name)
        try:
            as_written = inspect.iscoroutinefunction(hook) and "payload" in inspect.signature(hook).parameters
        except (TypeError, ValueError):
            as_written = False
        if as_written:
            setattr(otel_class, name, _no_service_span)
    start = otel_class.__dict__.get("create_litellm_proxy_request_started_span")
    if callable(start):
        otel_class.create_litellm_proxy_request_started_span = _server_span_in_place_of(start)
        failed = otel_class.__dict__.get("async_post_call_failure_hook")
        if inspect.iscoroutinefunction(failed):
            otel_class.async_post_call_failure_hook = _no_failed_request_span(failed)
    otel_class._signoz_litellm_lean = True


async def _no_service_span(self: Any, *args: Any, **kwargs: Any) -> None:
    """In place of the OpenTelemetry logger's service hooks: no `auth` / `router` / `redis` ... span."""




def _server_span_in_place_of(start: Any) -> Any:
    def create_litellm_proxy_request_started_span(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            from opentelemetry import trace

            current = trace.get_current_span()
            found = current.get_span_context()
            if found.is_valid and current.is_recording() and _request_span_made():
                return RequestSpan(found)
        except Exception as exc:  # never in the proxy's way: LiteLLM's own span then
            _logger.debug("signoz-litellm: proxy request span kept: %s", exc)
        return start(self, *args, **kwargs)

    create_litellm_proxy_request_started_span.__wrapped__ = start  # type: ignore[attr-defined]
    create_litellm_proxy_request_started_span._signoz_litellm = True  # type: ignore[attr-defined]
    return create_litellm_proxy_request_started_span


def _no_failed_request_span(original: Any) -> Any:
    """LiteLLM's `Failed Proxy Server Request` span (the exception again, under its request span) is not made for
    a lean request: the server span has the status, `litellm_request` the error."""

    async def async_post_call_failure_hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        user = kwargs.get("user_api_key_dict", args[2] if len(args) > 2 else None)
        if isinstance(getattr(user, "parent_otel_span", None), RequestSpan):
            return None
        return await original(self, *args, **kwargs)

    async_post_call_failure_hook.__wrapped__ = original  # type: ignore[attr-defined]
    return async_post_call_failure_hook


def watch_request_failures(module: Any) -> None:
    """Lean: the proxy's failure hook (run for every request it answers with an error, whatever callbacks the
    config lists) tells hook/attempts.py that the request failed."""
    logging_class = getattr(module, "ProxyLogging", None)
    original = getattr(logging_class, "post_call_failure_hook", None)
    import inspect

    if not inspect.iscoroutinefunction(original) or getattr(original, "_signoz_litellm", False):
        return
    try:
        names = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        return
    if names[:4] != ["self", "request_data", "original_exception", "user_api_key_dict"]:
        return

    async def post_call_failure_hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            user = kwargs.get("user_api_key_dict", args[2] if len(args) > 2 else None)
            attempts.request_failed(getattr(user, "parent_otel_span", None))
        except Exception as exc:  # never in the proxy's way
            _logger.debug("signoz-litellm: a failed request's span: %s", exc)
        return await original(self, *args, **kwargs)

    post_call_failure_hook._signoz_litellm = True  # type: ignore[attr-defined]
    post_call_failure_hook.__wrapped__ = original  # type: ignore[attr-defined]
    logging_class.post_call_failure_hook = post_call_failure_hook


def quiet_proxy_app(module: Any) -> None:
    """Lean: the proxy's FastAPI app makes no operation spans, and the ASGI middleware no receive/send spans."""
    if not lean():
        return
    import sys

    if "litellm.proxy.utils" in sys.modules:
        watch_request_failures(sys.modules["litellm.proxy.utils"])
    app = getattr(module, "app", None)
    if app is None:
        return
    telemetry = getattr(app, "_telemetry", None)  # FastAPI's own telemetry (FastAPI 0.16x)
    if isinstance(telemetry, dict) and "operation_spans" in telemetry:
        telemetry["operation_spans"] = False
    if getattr(app, "middleware_stack", None) is not None:
        _quiet_asgi_middleware(app.middleware_stack)
    build = getattr(app, "build_middleware_stack", None)
    if callable(build) and not getattr(build, "_signoz_litellm", False):
        def build_middleware_stack() -> Any:
            stack = build()
            try:
                _quiet_asgi_middleware(stack)
            except Exception as exc:  # never in the proxy's way: its receive/send spans then
                _logger.debug("signoz-litellm: the proxy's ASGI middleware keeps its spans: %s", exc)
            return stack

        build_middleware_stack._signoz_litellm = True  # type: ignore[attr-defined]
        app.build_middleware_stack = build_middleware_stack


def _quiet_asgi_middleware(stack: Any) -> None:
    """OpenTelemetry's ASGI middleware (the FastAPI instrumentation wraps the app in it) with its `exclude_spans`
    set to receive and send, read by it on each request."""
    seen: set[int] = set()
    while stack is not None and id(stack) not in seen and len(seen) < 64:
        seen.add(id(stack))
        if (type(stack).__name__ == "OpenTelemetryMiddleware"
                and type(stack).__module__.startswith("opentelemetry.instrumentation.asgi")
                and hasattr(stack, "exclude_receive_span") and hasattr(stack, "exclude_send_span")):
            stack.exclude_receive_span = True
            stack.exclude_send_span = True
            return
        stack = getattr(stack, "app", None)


def drops_unparented_client_span(kind: Any, parent_context: Any, client_kind: Any) -> bool:
    """Lean, in the proxy: an HTTP client span with no parent is no request's (asked by the sampler)."""
    if kind is not client_kind:
        return False
    from opentelemetry import trace

    return not trace.get_current_span(parent_context).get_span_context().is_valid

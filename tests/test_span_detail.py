"""hook/span_detail.py and hook/attempts.py in-process, with the real OpenTelemetry SDK, FastAPI and ASGI
instrumentation: what lean changes, and that it leaves code it does not recognise (and `full`) alone. The proxy
itself is tested end to end in tests/test_proxy.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider

from signoz_litellm_run.hook import attempts, span_detail


def _logger_class() -> type:
    class Logger:
        made: list[str] = []

        async def async_service_success_hook(self, payload: Any, parent_otel_span: Any = None) -> None:
            self.made.append("service span")

        async def async_service_failure_hook(self, payload: Any, error: str = "", parent_otel_span: Any = None) -> None:
            self.made.append("service failure span")

        def create_litellm_proxy_request_started_span(self, start_time: Any, headers: dict) -> Any:
            return "LiteLLM's own request span"

        async def async_post_call_failure_hook(self, request_data: dict, original_exception: Exception,
                                               user_api_key_dict: Any) -> None:
            self.made.append("Failed Proxy Server Request")

    return Logger


def test_lean_makes_no_service_span_and_hands_over_the_server_span(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(span_detail.SPAN_DETAIL_ENV, raising=False)
    monkeypatch.setenv("USE_OTEL_LITELLM_REQUEST_SPAN", "true")
    logger_class = _logger_class()
    span_detail.patch_logger_class(logger_class)
    logger = logger_class()
    asyncio.run(logger.async_service_success_hook(payload={}, parent_otel_span=None))
    asyncio.run(logger.async_service_failure_hook({}, "boom"))
    assert logger.made == []
    assert logger.create_litellm_proxy_request_started_span(None, {}) == "LiteLLM's own request span"  # no server span
    with TracerProvider().get_tracer("t").start_as_current_span("POST /v1/chat/completions") as server:
        stand_in = logger.create_litellm_proxy_request_started_span(None, {})
    assert isinstance(stand_in, span_detail.RequestSpan) and not stand_in.is_recording()
    assert stand_in.get_span_context() == server.get_span_context()
    child = TracerProvider().get_tracer("t").start_span("litellm_request", trace.set_span_in_context(stand_in))
    assert child.parent.span_id == server.get_span_context().span_id

    class User:
        parent_otel_span = stand_in

    asyncio.run(logger.async_post_call_failure_hook({}, ValueError("x"), User()))
    assert logger.made == []  # no Failed Proxy Server Request under a lean request


@pytest.mark.parametrize("env", [{"SIGNOZ_LITELLM_SPAN_DETAIL": "full"},
                                 {"SIGNOZ_LITELLM_SPAN_DETAIL": "lean", "USE_OTEL_LITELLM_REQUEST_SPAN": "false"}])
def test_full_detail_or_no_litellm_request_span_leaves_litellm_alone(monkeypatch: pytest.MonkeyPatch,
                                                                     env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    logger_class = _logger_class()
    span_detail.patch_logger_class(logger_class)
    logger = logger_class()
    asyncio.run(logger.async_service_success_hook(payload={}))
    with TracerProvider().get_tracer("t").start_as_current_span("server"):
        made = logger.create_litellm_proxy_request_started_span(None, {})
    if env["SIGNOZ_LITELLM_SPAN_DETAIL"] == "full":
        assert logger.made == ["service span"]
    # Without litellm_request LiteLLM writes the request's attributes on its own span: it must stay.
    assert made == "LiteLLM's own request span"


def test_a_service_hook_unlike_litellms_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(span_detail.SPAN_DETAIL_ENV, raising=False)

    class Other:
        def async_service_success_hook(self, something: Any) -> str:  # not a coroutine, no payload
            return "kept"

    span_detail.patch_logger_class(Other)
    assert Other().async_service_success_hook(1) == "kept"


def test_the_proxy_app_makes_no_operation_or_receive_send_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(span_detail.SPAN_DETAIL_ENV, raising=False)
    fastapi = pytest.importorskip("fastapi")
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app = fastapi.FastAPI()
    wrapped = OpenTelemetryMiddleware(app)
    app.build_middleware_stack = lambda: wrapped  # as the FastAPI instrumentation builds it

    class Module:
        pass

    Module.app = app
    span_detail.quiet_proxy_app(Module)
    if isinstance(getattr(app, "_telemetry", None), dict) and "operation_spans" in app._telemetry:
        assert app._telemetry["operation_spans"] is False  # FastAPI's own telemetry
    stack = app.build_middleware_stack()
    assert stack is wrapped and wrapped.exclude_receive_span and wrapped.exclude_send_span


def test_unparented_client_spans_only() -> None:
    kinds = trace.SpanKind
    with TracerProvider().get_tracer("t").start_as_current_span("server"):
        inside = context.get_current()
    assert span_detail.drops_unparented_client_span(kinds.CLIENT, None, kinds.CLIENT)
    assert not span_detail.drops_unparented_client_span(kinds.CLIENT, inside, kinds.CLIENT)
    assert not span_detail.drops_unparented_client_span(kinds.SERVER, None, kinds.CLIENT)


def test_attempts_share_the_requests_ids_and_a_failure_is_held_until_the_request_fails() -> None:
    with TracerProvider().get_tracer("t").start_as_current_span("server") as server:
        request = span_detail.RequestSpan(server.get_span_context())
    call = {"metadata": {"litellm_parent_otel_span": request}}
    first, second = attempts.ids_for(call), attempts.ids_for(call)
    assert first == second and first[0] == server.get_span_context().trace_id
    logged_kwargs = {"litellm_params": {"metadata": {"litellm_parent_otel_span": request},
                                        "proxy_server_request": {"url": "/v1/chat/completions"},
                                        "model_info": {"id": "d1"}}}
    made: list[str] = []
    assert attempts.hold_failure(logged_kwargs, lambda: made.append("failure"))
    assert made == []
    assert attempts.summary(logged_kwargs) == {"litellm.attempts": 2, "litellm.deployment.id": "d1"}
    assert attempts.request_failed(request) and made == ["failure"]
    assert attempts.hold_failure(logged_kwargs, lambda: made.append("late")) and made == ["failure"]
    # Another proxy request's attempts run under its span; any other call is left to call_context.
    assert attempts.ids_for({"metadata": {"litellm_parent_otel_span": server}}) is False
    assert attempts.ids_for({"messages": []}) is None
    assert attempts.summary({"litellm_params": {}}) is None

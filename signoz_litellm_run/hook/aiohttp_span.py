"""The aiohttp client span (a LiteLLM proxy's call to its provider) recorded with less work, the same span.

Under `run`, disabling OpenTelemetry's aiohttp-client instrumentation took about 1.1 M instructions off a proxy
request (`scripts/bench_proxy.py`): about a sixth of what `run` adds. In its default configuration (the old HTTP
semantic conventions, no URL filter, no request or response hook, no header captured) its request callbacks:

- work out the span name and attributes, and the duration metric's attributes, from the request's method and URL
  on every request (the URL redacted, then parsed three times over, the method sanitised three times): they depend
  only on the method and the URL's text, so they are now worked out once for each of up to 256 (method, URL);
- copy every request and every response header into a dict to offer them to the header capture, then drop it when
  no header is captured, which is the default: not copied when none is.

The span (name, kind, attributes in the same order, status), its context, the trace headers injected and the
duration metric are those of the instrumentation, made with its own functions; its exception callback is its own.
Any other configuration gets the instrumentation's callbacks, and none of this is done unless the instrumentation
is the version it was written and tested against and its callbacks use the names they used then.
"""

from __future__ import annotations

from typing import Any

MODULE = "opentelemetry.instrumentation.aiohttp_client"
# The instrumentation these callbacks were written and tested against (tests/test_aiohttp_span.py compares them).
_LEAN_FOR_VERSIONS = ("0.66b0", "0.66b1")
_MAX_NAMED = 256  # requests (method, URL) whose span name and attributes are kept
# The names the instrumentation's callbacks use, as written against (0.66b1).
_CALLBACK_NAMES = {
    "on_request_start": (
        "is_http_instrumentation_enabled", "excluded_urls", "url_disabled", "str", "url", "default_timer", "start_time",
        "method", "_get_span_name", "callable", "url_filter", "redact_url", "cast", "Callable", "yarl", "URL",
        "_set_http_method", "sanitize_method", "metric_attributes", "_set_http_url", "urlparse", "hostname",
        "_set_http_host_client", "_set_http_net_peer_name_client", "_report_new", "port", "_set_http_peer_port_client",
        "ValueError", "update", "get_custom_header_attributes", "headers", "keys", "normalise_request_header_name",
        "tracer", "start_span", "SpanKind", "CLIENT", "span", "context_api", "attach", "trace", "set_span_in_context",
        "token", "inject"),
    "on_request_end": (
        "span", "callable", "_set_http_status_code_attribute", "response", "status", "metric_attributes",
        "set_attributes", "get_custom_header_attributes", "headers", "keys", "normalise_response_header_name"),
    "_end_trace": (
        "max", "default_timer", "start_time", "token", "context_api", "detach", "span", "end",
        "duration_histogram_old", "cast", "dict", "str", "Any", "_filter_semconv_duration_attrs", "metric_attributes",
        "_client_duration_attrs_old", "_client_duration_attrs_new", "_StabilityMode", "DEFAULT", "record", "round",
        "duration_histogram_new", "HTTP"),
}


def install() -> None:
    import wrapt

    wrapt.register_post_import_hook(patch, MODULE)


def _version() -> str | None:
    try:
        from opentelemetry.instrumentation.aiohttp_client.version import __version__
    except Exception:
        return None
    return __version__


def _inlined(names: tuple[str, ...]) -> tuple[str, ...]:
    """The same callback's names from Python 3.12 on, its header dict comprehension inlined (PEP 709)."""
    if "keys" not in names:
        return names
    at = names.index("keys") + 1
    return names[:at] + ("getall",) + names[at:]


def as_written(module: Any) -> bool:
    """The instrumentation's `create_trace_config` and its callbacks are the ones these stand in for."""
    create = getattr(module, "create_trace_config", None)
    code = getattr(create, "__code__", None)
    if code is None or getattr(create, "_signoz_litellm", False) or _version() not in _LEAN_FOR_VERSIONS:
        return False
    found = {c.co_name: c.co_names for c in code.co_consts if hasattr(c, "co_names")}
    return all(found.get(name) in (names, _inlined(names)) for name, names in _CALLBACK_NAMES.items())


def patch(module: Any) -> bool:
    """Sessions made from now on get our request callbacks where the configuration is the default one."""
    original = getattr(module, "create_trace_config", None)
    if getattr(original, "_signoz_litellm", False):
        return True
    if not as_written(module):
        return False
    module.create_trace_config = lean_trace_configs(original, module)
    return True


def lean_trace_configs(original: Any, module: Any) -> Any:
    def create_trace_config(url_filter: Any = None, request_hook: Any = None, response_hook: Any = None,
                            tracer_provider: Any = None, meter_provider: Any = None,
                            sem_conv_opt_in_mode: Any = module._StabilityMode.DEFAULT,
                            captured_request_headers: Any = None, captured_response_headers: Any = None,
                            sensitive_headers: Any = None) -> Any:
        trace_config = original(url_filter=url_filter, request_hook=request_hook, response_hook=response_hook,
                                tracer_provider=tracer_provider, meter_provider=meter_provider,
                                sem_conv_opt_in_mode=sem_conv_opt_in_mode,
                                captured_request_headers=captured_request_headers,
                                captured_response_headers=captured_response_headers,
                                sensitive_headers=sensitive_headers)
        default = (url_filter is None and request_hook is None and response_hook is None
                   and sem_conv_opt_in_mode is module._StabilityMode.DEFAULT
                   and not captured_request_headers and not captured_response_headers)
        if default:
            try:
                _replace(trace_config.on_request_start, _request_start(module))
                _replace(trace_config.on_request_end, _request_end(module))
            except Exception:  # a TraceConfig unlike the one written against: the instrumentation's callbacks
                pass
        return trace_config

    create_trace_config._signoz_litellm = True  # type: ignore[attr-defined]
    create_trace_config.__wrapped__ = original  # type: ignore[attr-defined]
    return create_trace_config


def _replace(signal: Any, callback: Any) -> None:
    """The instrumentation's one callback in `signal` (a TraceConfig's, not yet frozen), replaced by ours."""
    if len(signal) != 1 or getattr(signal[0], "__name__", "") != callback.__name__:
        raise ValueError("unexpected callbacks")
    signal[0] = callback


def _request_start(module: Any) -> Any:
    from opentelemetry import context as context_api
    from opentelemetry import trace
    from opentelemetry.propagate import inject
    from opentelemetry.trace import SpanKind

    enabled = module.is_http_instrumentation_enabled
    default_timer = module.default_timer
    mode = module._StabilityMode.DEFAULT
    named: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any]]] = {}

    def details(method: str, url: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """As the instrumentation's on_request_start works them out (0.66b1, default configuration)."""
        name = module._get_span_name(method)
        request_url = module.redact_url(url)
        span_attributes: dict[str, Any] = {}
        metric_attributes: dict[str, Any] = {}
        module._set_http_method(span_attributes, method, module.sanitize_method(method), mode)
        module._set_http_method(metric_attributes, method, module.sanitize_method(method), mode)
        module._set_http_url(span_attributes, request_url, mode)
        try:
            parsed_url = module.urlparse(request_url)
            if parsed_url.hostname:
                module._set_http_host_client(metric_attributes, parsed_url.hostname, mode)
                module._set_http_net_peer_name_client(metric_attributes, parsed_url.hostname, mode)
                if module._report_new(mode):
                    module._set_http_host_client(span_attributes, parsed_url.hostname, mode)
            if parsed_url.port:
                module._set_http_peer_port_client(metric_attributes, parsed_url.port, mode)
                if module._report_new(mode):
                    module._set_http_peer_port_client(span_attributes, parsed_url.port, mode)
        except ValueError:
            pass
        return name, span_attributes, metric_attributes

    async def on_request_start(_session: Any, trace_config_ctx: Any, params: Any) -> None:
        url = str(params.url)
        if not enabled() or trace_config_ctx.excluded_urls.url_disabled(url):
            return
        trace_config_ctx.start_time = default_timer()
        method = params.method
        key = (method, url)
        found = named.get(key)
        if found is None:
            found = details(method, url)
            if len(named) < _MAX_NAMED:
                named[key] = found
        name, span_attributes, metric_attributes = found
        trace_config_ctx.metric_attributes.update(metric_attributes)
        span = trace_config_ctx.span = trace_config_ctx.tracer.start_span(
            name, kind=SpanKind.CLIENT, attributes=dict(span_attributes))
        trace_config_ctx.token = context_api.attach(trace.set_span_in_context(span))
        inject(params.headers)

    return on_request_start


def _request_end(module: Any) -> Any:
    from opentelemetry import context as context_api

    default_timer = module.default_timer
    mode = module._StabilityMode.DEFAULT
    set_status_code = module._set_http_status_code_attribute
    filter_attributes = module._filter_semconv_duration_attrs
    old, new = module._client_duration_attrs_old, module._client_duration_attrs_new

    async def on_request_end(_session: Any, trace_config_ctx: Any, params: Any) -> None:
        span = trace_config_ctx.span
        if span is None:
            return
        set_status_code(span, params.response.status, trace_config_ctx.metric_attributes, mode)
        # (no header captured: the instrumentation's set_attributes({}) is a no-op)
        elapsed_time = max(default_timer() - trace_config_ctx.start_time, 0)
        if trace_config_ctx.token:
            context_api.detach(trace_config_ctx.token)
        span.end()
        histogram = trace_config_ctx.duration_histogram_old
        if histogram is not None:
            histogram.record(max(round(elapsed_time * 1000), 0),
                             attributes=filter_attributes(trace_config_ctx.metric_attributes, old, new, mode))

    return on_request_end

"""Make OpenTelemetry's httpx client span cheaper without changing what it records.

- Headers are normalised only when read. The instrumentation copies and lower-cases every request and
  response header of every call (about 60 us for a LiteLLM request's 17 headers, 85 us per call with the
  response's) to offer them to `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST` / `..._RESPONSE`,
  then drops the result when neither variable is set, which is the default. The normalised headers are now
  a mapping that does that work on first read: the same attributes when headers are captured, no cost when
  they are not.
- The request's URL is used as it is. The instrumentation re-parses every request's URL from its text
  (`URL(str(request.url))`, about 17 us a request). An httpx URL is immutable and parsing its text gives an
  equal URL, so the request's own URL object serves; except where httpx kept a scheme's default port it would
  drop on a second parse (`HTTP://host:80/`): such URLs are parsed again, as before.
- The request is wrapped with less work. In its default configuration (the old HTTP semantic conventions,
  no request or response hook, no header captured) the instrumentation's wrapper builds the same few
  attributes through layers of helpers written for every configuration, makes a `RequestInfo` that only hooks
  read, copies the URL, and sets the status code attribute and the span status twice. Our wrapper writes the
  same span (name, kind, attributes in the same order, status, exception event) and the same duration metric
  directly, and injects the trace headers with the instrumentation's own function (about 30 us a request, 0.12 M
  instructions). The span name and attributes of a request depend only on its method and URL (and on whether
  all methods are kept): they are worked out once for each of up to 256 requests (0.06 M instructions). Any
  other configuration, request or response goes to the instrumentation's wrapper; and none of this is done
  unless the instrumentation is the version it was written and tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from signoz_litellm_run.hook import is_as_written

MODULE = "opentelemetry.instrumentation.httpx"
# httpx leaves these ports out of a URL it parses; a URL still holding one is parsed again.
_DEFAULT_PORTS = {"ftp": 21, "http": 80, "https": 443, "ws": 80, "wss": 443}
# The instrumentation our wrappers were written and tested against (tests/test_httpx_span.py compares them).
# (0.66b0 and 0.66b1 are the same code; a fresh `pip install` resolves to 0.66b0, as 0.66b2 is incomplete)
_LEAN_FOR_VERSIONS = ("0.66b0", "0.66b1")
_MAX_NAMED = 256  # requests (method, URL) whose span name and attributes are kept
THEIRS, UNTRACED = object(), object()  # what our wrappers do with a request other than tracing it themselves
_WRAPPER_NAMES = (
    "is_http_instrumentation_enabled", "_extract_parameters", "url_disabled", "_normalize_url", "decode",
    "_get_default_span_name", "_apply_request_client_attributes_to_span", "RequestInfo", "start_as_current_span",
    "SpanKind", "CLIENT", "callable", "_inject_propagation_headers", "default_timer", "Exception", "getattr", "max",
    "isinstance", "Response", "tuple", "_extract_response", "_apply_response_client_attributes_to_metrics",
    "is_recording", "_apply_response_client_attributes_to_span", "ResponseInfo", "_report_new", "set_attribute",
    "ERROR_TYPE", "type", "__qualname__", "with_traceback", "__traceback__", "_filter_semconv_duration_attrs",
    "_client_duration_attrs_old", "_client_duration_attrs_new", "_StabilityMode", "DEFAULT", "record", "round",
    "HTTP")
# The names the instrumentation's helpers use, as written against (0.66b1): in 0.59b0, for one, they take no
# module argument (the httpx module is a global there); another shape is left as it is.
_EXTRACT_NAMES = ("isinstance", "Request", "method", "encode", "URL", "str", "url", "headers", "stream", "extensions",
                  "get", "len")
_NORMALIZE_NAMES = ("defaultdict", "list", "isinstance", "Headers", "keys", "lower", "extend", "get_list", "dict",
                    "items", "append", "decode")


def install() -> None:
    import wrapt

    wrapt.register_post_import_hook(patch, MODULE)


def patch(module: Any) -> None:
    _defer_header_normalising(module)
    _reuse_request_url(module)
    # The class the httpx and httpx2 instrumentors share, which holds the wrappers.
    instrumentor = getattr(module, "_BaseHTTPXClientInstrumentor", None) or getattr(module, "HTTPXClientInstrumentor",
                                                                                      None)
    if instrumentor is not None:
        lean_wrappers(module, instrumentor)


def _defer_header_normalising(module: Any) -> None:
    original = getattr(module, "_normalize_headers", None)
    if not is_as_written(original, _NORMALIZE_NAMES):
        return  # an instrumentation without it (0.59b0), or of another shape: left as it is

    def _normalize_headers(headers: Any, httpx_module: Any) -> Mapping[str, list[str]]:
        return _OnFirstRead(original, headers, httpx_module)

    _normalize_headers._signoz_litellm = True  # type: ignore[attr-defined]
    _normalize_headers.__wrapped__ = original  # type: ignore[attr-defined]
    module._normalize_headers = _normalize_headers


def _reuse_request_url(module: Any) -> None:
    original = getattr(module, "_extract_parameters", None)
    if not is_as_written(original, _EXTRACT_NAMES):
        return  # an instrumentation without it, or of another shape (0.59b0 takes no module): left as it is

    def _extract_parameters(args: tuple[Any, ...], kwargs: dict[str, Any], httpx_module: Any) -> tuple[Any, ...]:
        request = args[0] if args else None
        if isinstance(request, httpx_module.Request):
            url, port = request.url, request.url.port
            if type(url) is httpx_module.URL and (port is None or _DEFAULT_PORTS.get(url.scheme, port) != port):
                return request.method.encode(), url, request.headers, request.stream, request.extensions
        return original(args, kwargs, httpx_module)  # httpx < 0.20, or a URL parsing would change: as before

    _extract_parameters._signoz_litellm = True  # type: ignore[attr-defined]
    _extract_parameters.__wrapped__ = original  # type: ignore[attr-defined]
    module._extract_parameters = _extract_parameters


class _OnFirstRead(Mapping[str, list[str]]):
    __slots__ = ("_normalize", "_headers", "_module", "_data")

    def __init__(self, normalize: Callable[[Any, Any], dict[str, list[str]]], headers: Any, module: Any) -> None:
        self._normalize = normalize
        self._headers = headers
        self._module = module
        self._data: dict[str, list[str]] | None = None

    def _normalized(self) -> dict[str, list[str]]:
        if self._data is None:
            self._data = self._normalize(self._headers, self._module)
        return self._data

    def __bool__(self) -> bool:  # what the instrumentation reads first (`if not headers`): no normalising
        headers = self._headers
        if isinstance(headers, (self._module.Headers, dict, list)):
            return len(headers) > 0
        return bool(self._normalized())

    def __getitem__(self, key: str) -> list[str]:
        return self._normalized()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._normalized())

    def __len__(self) -> int:
        return len(self._normalized())


def lean_wrappers(module: Any, instrumentor: type) -> bool:
    """Put our wrappers in place of `instrumentor`'s (the class the instrumentation binds them from) when the
    instrumentation is the one they were written against; says whether it did."""
    try:
        from opentelemetry.instrumentation.httpx.version import __version__
    except ImportError:
        return False
    if __version__ not in _LEAN_FOR_VERSIONS:
        return False
    sync_original = _defined("_handle_request_wrapper", instrumentor)
    async_original = _defined("_handle_async_request_wrapper", instrumentor)
    if not isinstance(sync_original, staticmethod) or not isinstance(async_original, staticmethod):
        return False
    sync_original, async_original = sync_original.__func__, async_original.__func__
    if not (is_as_written(sync_original, _WRAPPER_NAMES) and is_as_written(async_original, _WRAPPER_NAMES)):
        return False
    sync_wrapper, async_wrapper = _make_wrappers(module, sync_original, async_original)
    instrumentor._handle_request_wrapper = staticmethod(sync_wrapper)  # type: ignore[attr-defined]
    instrumentor._handle_async_request_wrapper = staticmethod(async_wrapper)  # type: ignore[attr-defined]
    return True


def _defined(name: str, cls: type) -> Any:
    """The attribute as the class or its nearest base defines it (a staticmethod stays one)."""
    return next((klass.__dict__[name] for klass in cls.__mro__ if name in klass.__dict__), None)


def _make_wrappers(otel: Any, sync_original: Callable[..., Any], async_original: Callable[..., Any]) -> tuple[
        Callable[..., Any], Callable[..., Any]]:
    from os import environ

    from opentelemetry.instrumentation.utils import http_status_to_status_code
    from opentelemetry.trace import SpanKind, Status
    from opentelemetry.util.http import OTEL_PYTHON_INSTRUMENTATION_HTTP_CAPTURE_ALL_METHODS as ALL_METHODS
    from opentelemetry.util.http import redact_url, sanitize_method

    default_mode = otel._StabilityMode.DEFAULT
    is_enabled = otel.is_http_instrumentation_enabled
    span_name_of = otel._get_default_span_name
    inject = otel._inject_propagation_headers
    extract_response = otel._extract_response
    filter_attributes = otel._filter_semconv_duration_attrs
    old_names, new_names = otel._client_duration_attrs_old, otel._client_duration_attrs_new
    client = SpanKind.CLIENT
    timer = otel.default_timer

    def plain_request(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], mode: Any, hooks: tuple[Any, ...],
                      captured: tuple[Any, ...], histogram_new: Any) -> Any:
        """The request, when ours is the same as the instrumentation's wrapper for it; else None."""
        if (mode is not default_mode or histogram_new is not None or kwargs or len(args) != 1
                or hooks[0] is not None or hooks[1] is not None or captured[0] or captured[1]):
            return None
        request = args[0]
        if not isinstance(request, module.Request):
            return None
        # By default the span and the metric read only the URL's text and scheme, which a second parse keeps.
        return request if type(request.url) is module.URL else None

    named: dict[tuple[Any, str, str | None], tuple[str, dict[str, Any], dict[str, Any]]] = {}

    def request_attributes(request: Any, text: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Span name, span attributes and metric attributes, as the instrumentation sets them by default: they
        depend only on the method, the URL's text and whether all methods are kept, so they are kept for up to 256
        of those (a LiteLLM program calls the same few endpoints again and again); handed out as copies. `text`
        is the URL's text."""
        key = (request.method, text, environ.get(ALL_METHODS))
        found = named.get(key)
        if found is None:
            found = attributes_of(request.method, request.url, text)
            if len(named) < _MAX_NAMED:
                named[key] = found
        span_name, span_attributes, metric_attributes = found
        # Copies: each response completes its metric attributes, and requests may run on several threads at once.
        return span_name, dict(span_attributes), dict(metric_attributes)

    def attributes_of(request_method: Any, url: Any, text: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        method = request_method.encode().decode()
        normalized = sanitize_method(method).strip()
        span_attributes: dict[str, Any] = {}
        metric_attributes: dict[str, Any] = {}
        if normalized:
            span_attributes["http.method"] = normalized
        full = redact_url(text)
        if full:
            span_attributes["http.url"] = full
        if normalized:
            metric_attributes["http.method"] = normalized
        if url.scheme:
            metric_attributes["http.scheme"] = url.scheme
        return span_name_of(method), span_attributes, metric_attributes

    def response_attributes(module: Any, span: Any, metric_attributes: dict[str, Any], response: Any,
                            sensitive_headers: Any) -> None:
        if not isinstance(response, (module.Response, tuple)):
            return
        status_code, headers, _, _, http_version = extract_response(response)
        if type(status_code) is int and status_code >= 0:
            # What the instrumentation's two helpers leave: the code on the span and the metric, and the span's
            # status (they set both twice, to the same values).
            status = http_status_to_status_code(status_code, server_span=False)
            if span.is_recording():
                span.set_attribute("http.status_code", status_code)
                span.set_status(Status(status))
            metric_attributes["http.status_code"] = status_code
            return
        otel._apply_response_client_attributes_to_metrics(span, metric_attributes, status_code, http_version,
                                                          default_mode)
        if span.is_recording():
            otel._apply_response_client_attributes_to_span(span, status_code, http_version, default_mode, module,
                                                           headers, None, sensitive_headers)

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any], *hooks: Any) -> Any:
        """THEIRS (the instrumentation's wrapper serves this request), UNTRACED, or the request to trace and its
        URL's text."""
        request = plain_request(options["module"], args, kwargs, options["sem_conv_opt_in_mode"], hooks,
                                (options.get("captured_request_headers"), options.get("captured_response_headers")),
                                options["duration_histogram_new"])
        if request is None:
            return THEIRS
        if not is_enabled():
            return UNTRACED
        text = str(request.url)
        excluded = options["excluded_urls"]
        if excluded and excluded.url_disabled(text):
            return UNTRACED
        return request, text

    def sending(request: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> float:
        inject(request.headers, args, kwargs, options["module"])
        return timer()

    def done(span: Any, metric_attributes: dict[str, Any], response: Any, failed: bool, start: float,
             options: dict[str, Any]) -> None:
        elapsed = max(timer() - start, 0)
        response_attributes(options["module"], span, metric_attributes, response, options.get("sensitive_headers"))
        histogram = options["duration_histogram_old"]
        if histogram is not None and not failed:
            histogram.record(max(round(elapsed * 1000), 0),
                             attributes=filter_attributes(metric_attributes, old_names, new_names, default_mode))

    def _handle_request_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                                kwargs: dict[str, Any], **options: Any) -> Any:
        traced = begin(args, kwargs, options, options["request_hook"], options["response_hook"])
        if traced is THEIRS:
            return sync_original(wrapped, instance, args, kwargs, **options)
        if traced is UNTRACED:
            return wrapped(*args, **kwargs)
        request, text = traced
        span_name, span_attributes, metric_attributes = request_attributes(request, text)
        with options["tracer"].start_as_current_span(span_name, kind=client, attributes=span_attributes) as span:
            start = sending(request, args, kwargs, options)
            try:
                response, exception = wrapped(*args, **kwargs), None
            except Exception as exc:
                response, exception = getattr(exc, "response", None), exc
            done(span, metric_attributes, response, exception is not None, start, options)
            if exception:
                raise exception.with_traceback(exception.__traceback__)
        return response

    async def _handle_async_request_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...],
                                            kwargs: dict[str, Any], **options: Any) -> Any:
        traced = begin(args, kwargs, options, options["async_request_hook"], options["async_response_hook"])
        if traced is THEIRS:
            return await async_original(wrapped, instance, args, kwargs, **options)
        if traced is UNTRACED:
            return await wrapped(*args, **kwargs)
        request, text = traced
        span_name, span_attributes, metric_attributes = request_attributes(request, text)
        with options["tracer"].start_as_current_span(span_name, kind=client, attributes=span_attributes) as span:
            start = sending(request, args, kwargs, options)
            try:
                response, exception = await wrapped(*args, **kwargs), None
            except Exception as exc:
                response, exception = getattr(exc, "response", None), exc
            done(span, metric_attributes, response, exception is not None, start, options)
            if exception:
                raise exception.with_traceback(exception.__traceback__)
        return response

    for ours, theirs in ((_handle_request_wrapper, sync_original), (_handle_async_request_wrapper, async_original)):
        ours._signoz_litellm = True  # type: ignore[attr-defined]
        ours.__wrapped__ = theirs  # type: ignore[attr-defined]
    return _handle_request_wrapper, _handle_async_request_wrapper

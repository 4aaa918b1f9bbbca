"""hook/httpx_span.py against OpenTelemetry's own httpx instrumentation functions, in this process (the
end-to-end attributes are checked in test_run_e2e.py)."""

from __future__ import annotations

import importlib
import itertools
import re
import types

import pytest

from tests.support.metric_points import histogram_points

instrumentation = pytest.importorskip("opentelemetry.instrumentation.httpx")

from signoz_litellm_run.hook import httpx_span, is_as_written  # noqa: E402
from signoz_litellm_run.loopback import unused_port  # noqa: E402
from opentelemetry.instrumentation.httpx.version import __version__ as VERSION  # noqa: E402

# Each part of httpx_span applies only to the instrumentation it was written against; the comparisons with the
# instrumentation's own functions run wherever the installed release has them (0.59b0 has neither helper).
EXTRACT_AS_WRITTEN = is_as_written(getattr(instrumentation, "_extract_parameters", None), httpx_span._EXTRACT_NAMES)
NORMALIZE_AS_WRITTEN = is_as_written(getattr(instrumentation, "_normalize_headers", None),
                                     httpx_span._NORMALIZE_NAMES)
LEAN = VERSION in httpx_span._LEAN_FOR_VERSIONS
needs_extract = pytest.mark.skipif(not (EXTRACT_AS_WRITTEN and NORMALIZE_AS_WRITTEN),
                                   reason=f"opentelemetry-instrumentation-httpx {VERSION}: helpers of another shape")
needs_lean = pytest.mark.skipif(not LEAN, reason=f"opentelemetry-instrumentation-httpx {VERSION}: its own wrappers")

URLS = [
    "http://127.0.0.1:8080/v1/chat/completions",
    "https://api.openai.com/v1/chat/completions?api-version=2024-02-01&x=%20y",
    "https://user:secret@example.com:8443/p/a%2Fb;c?q=1#frag",
    "https://bücher.example/ä/ö?q=ü",
    "http://[::1]:9/x",
    "HTTP://Example.COM:80/Path/../x",  # httpx keeps :80 here and drops it when the text is parsed again
]
# Every combination of these parts (2,000 URLs), compared with what the instrumentation parses.
SCHEMES = ["http", "HTTP", "https", "HtTpS", "wss"]
HOSTS = ["Example.COM", "127.0.0.1", "[::1]", "bücher.example", "user:pw@h.io"]
PORTS = ["", ":80", ":443", ":8080"]
PATHS = ["", "/a b", "/a/../b", "/%7e%zz", "/ä"]
QUERIES = ["", "?", "?q=1&r=%20 x", "?ü=ö#f"]
# httpx2 where it is installed and the instrumentation has its instrumentor (0.59b0 has none)
MODULES = [name for name, instrumentor in (("httpx", "HTTPXClientInstrumentor"), ("httpx2", "HTTPX2ClientInstrumentor"))
           if importlib.util.find_spec(name) and hasattr(instrumentation, instrumentor)]


def _patched() -> types.SimpleNamespace:
    stand_in = types.SimpleNamespace(_extract_parameters=getattr(instrumentation, "_extract_parameters", None),
                                     _normalize_headers=getattr(instrumentation, "_normalize_headers", None))
    httpx_span.patch(stand_in)
    return stand_in


@needs_extract
@pytest.mark.parametrize("module_name", MODULES)
@pytest.mark.parametrize("url", URLS)
def test_the_request_url_is_used_as_the_instrumentation_would_parse_it(module_name: str, url: str) -> None:
    module = importlib.import_module(module_name)
    request = module.Request("POST", url, headers={"Authorization": "Bearer x"}, json={"a": 1})
    ours = _patched()._extract_parameters((request,), {}, module)
    theirs = instrumentation._extract_parameters((request,), {}, module)
    assert (ours[1] is request.url) == (not url.startswith("HTTP:"))  # parsed again only when that changes it
    assert ours[0] == theirs[0] and ours[2:] == theirs[2:]
    assert ours[1] == theirs[1] and str(ours[1]) == str(theirs[1])
    for part in ("scheme", "host", "port", "raw_path", "userinfo", "fragment"):
        assert getattr(ours[1], part) == getattr(theirs[1], part), part
    assert instrumentation._normalize_url(ours[1]) == instrumentation._normalize_url(theirs[1])


@needs_extract
@pytest.mark.parametrize("module_name", MODULES)
def test_every_url_of_many_parts_as_the_instrumentation_would_parse_it(module_name: str) -> None:
    module = importlib.import_module(module_name)
    extract = _patched()._extract_parameters
    reused = 0
    for parts in itertools.product(SCHEMES, HOSTS, PORTS, PATHS, QUERIES):
        request = module.Request("GET", "{}://{}{}{}{}".format(*parts))
        ours = extract((request,), {}, module)[1]
        theirs = instrumentation._extract_parameters((request,), {}, module)[1]
        assert (ours, str(ours), ours.port, ours.host) == (theirs, str(theirs), theirs.port, theirs.host), parts
        reused += ours is request.url
    assert reused > 1500  # all but the URLs holding their scheme's default port with an upper-case scheme


@needs_extract
def test_other_arguments_go_to_the_instrumentations_own_function() -> None:
    import httpx

    raw = (b"GET", (b"http", b"example.com", 80, b"/x"), [(b"a", b"b")])  # httpx < 0.20's arguments
    assert _patched()._extract_parameters(raw, {}, httpx) == instrumentation._extract_parameters(raw, {}, httpx)


@needs_extract
def test_patching_twice_wraps_once() -> None:
    stand_in = _patched()
    once = stand_in._extract_parameters
    httpx_span.patch(stand_in)
    assert stand_in._extract_parameters is once
    assert once.__wrapped__ is instrumentation._extract_parameters


# -- our request wrappers against the instrumentation's own, on real requests to a server on loopback

class _StatusServer:
    """Answers GET/POST/... /status/<code> with that status, and keeps the last request's headers."""

    def __init__(self) -> None:
        import http.server
        import threading

        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.headers = dict(self.headers)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                code = int(self.path.split("/status/")[1].split("?")[0]) if "/status/" in self.path else 200
                body = b'{"ok": true}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PURGE = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.headers: dict[str, str] = {}
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def status_server():  # type: ignore[no-untyped-def]
    server = _StatusServer()
    yield server
    server.close()


INSTRUMENTORS = {"httpx": "HTTPXClientInstrumentor", "httpx2": "HTTPX2ClientInstrumentor"}
REQUESTS = [  # (method, path after the server's base URL, JSON body)
    ("GET", "/status/200", None),
    ("POST", "/v1/chat/completions", {"model": "m"}),
    ("POST", "/status/404", {"a": 1}),
    ("GET", "/status/500", None),
    ("GET", "/status/302", None),  # not followed: a 302 response
    ("PURGE", "/status/200", None),  # a method the conventions do not know: span "HTTP", method "_OTHER"
    ("DELETE", "/status/204?api-version=1&sig=secret&x=%20y", None),  # a query with a key to redact
]


def _send_all(module, base: str, refused: str, asynchronous: bool, parent: bool) -> None:  # type: ignore[no-untyped-def]
    from opentelemetry import trace

    with_credentials = base.replace("http://", "http://user:pw@") + "/status/200"
    targets = [(m, base + p, body) for m, p, body in REQUESTS] + [("GET", with_credentials, None)]
    tracer = trace.get_tracer("test")

    def sync() -> None:
        with module.Client() as client:
            for method, url, body in targets:
                client.request(method, url, json=body)
            with pytest.raises(module.ConnectError):
                client.get(refused)

    async def asynchronous_calls() -> None:
        async with module.AsyncClient() as client:
            for method, url, body in targets:
                await client.request(method, url, json=body)
            with pytest.raises(module.ConnectError):
                await client.get(refused)

    def run() -> None:
        if asynchronous:
            import asyncio

            asyncio.run(asynchronous_calls())
        else:
            sync()

    if parent:
        with tracer.start_as_current_span("parent"):
            run()
    else:
        run()


def _exported(module_name: str, lean: bool, send, **instrument_options):  # type: ignore[no-untyped-def]
    """Spans and duration data points the instrumentation records for `send()`, with its wrappers or ours."""
    from opentelemetry import trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    stand_in = type("StandIn", (getattr(instrumentation, INSTRUMENTORS[module_name]),), {})
    if lean:
        if not LEAN:
            pytest.skip(f"opentelemetry-instrumentation-httpx {VERSION}: its own wrappers serve every request")
        assert httpx_span.lean_wrappers(instrumentation, stand_in)
    instrumentor = stand_in()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, **instrument_options)
    previous = trace._TRACER_PROVIDER
    trace._TRACER_PROVIDER = tracer_provider  # the parent span's provider
    try:
        send()
    finally:
        trace._TRACER_PROVIDER = previous
        instrumentor.uninstrument()
    spans = [(s.name, s.kind, list(s.attributes.items()), s.status.status_code, s.status.description,
              [(e.name, sorted(e.attributes)) for e in s.events], s.parent is not None)
             for s in exporter.get_finished_spans()]
    points = histogram_points(reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return spans, points


@pytest.mark.parametrize("module_name", MODULES)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("parent", [False, True], ids=["root", "child"])
def test_our_wrappers_record_what_the_instrumentations_record(status_server, module_name: str, asynchronous: bool,
                                                              parent: bool) -> None:
    module = importlib.import_module(module_name)
    refused = f"http://127.0.0.1:{unused_port()}/x"  # nothing listens there

    def send() -> None:
        _send_all(module, status_server.base, refused, asynchronous, parent)

    theirs = _exported(module_name, False, send)
    ours = _exported(module_name, True, send)
    assert ours == theirs
    spans, points = ours
    names = [s[0] for s in spans if s[0] != "parent"]
    assert len(names) == len(REQUESTS) + 2 and "HTTP" in names  # every request, the refused one included
    assert {s[3].name for s in spans} >= {"UNSET", "ERROR"}
    assert any(events for *_, events, _ in spans)  # the refused connection's exception event
    assert sum(p[2] for p in points) == len(REQUESTS) + 1  # one duration per answered request


@pytest.mark.parametrize("module_name", MODULES)
def test_kept_span_names_and_attributes_follow_the_all_methods_setting(status_server, module_name: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Ours keeps each request's span name and attributes; a method the conventions do not know is named by
    OTEL_PYTHON_INSTRUMENTATION_HTTP_CAPTURE_ALL_METHODS, read at each request: the same request, with the
    setting changed in between, is named as the instrumentation names it."""
    module = importlib.import_module(module_name)
    setting = "OTEL_PYTHON_INSTRUMENTATION_HTTP_CAPTURE_ALL_METHODS"

    def send() -> None:
        with module.Client() as client:
            for capture_all in (None, "true", None):
                if capture_all is None:
                    monkeypatch.delenv(setting, raising=False)
                else:
                    monkeypatch.setenv(setting, capture_all)
                for _ in range(2):
                    client.request("PURGE", status_server.base + "/status/200")

    theirs = _exported(module_name, False, send)
    ours = _exported(module_name, True, send)
    assert ours == theirs
    assert [s[0] for s in ours[0]] == ["HTTP", "HTTP", "PURGE", "PURGE", "HTTP", "HTTP"]
    assert [dict(s[2])["http.method"] for s in ours[0]] == ["_OTHER"] * 2 + ["PURGE"] * 2 + ["_OTHER"] * 2


@pytest.mark.parametrize("module_name", MODULES)
def test_the_trace_context_travels_with_the_request(status_server, module_name: str) -> None:
    module = importlib.import_module(module_name)
    seen = []

    def send() -> None:
        with module.Client() as client:
            client.get(status_server.base + "/status/200", headers={"X-Other": "kept"})
        seen.append(dict(status_server.headers))

    spans, _ = _exported(module_name, True, send)
    assert spans and seen[0]["X-Other"] == "kept"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[13]", seen[0]["traceparent"])


@pytest.mark.parametrize("module_name", MODULES)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_suppressed_or_excluded_requests_get_no_span_either_way(status_server, module_name: str, asynchronous: bool,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from opentelemetry.instrumentation.utils import suppress_http_instrumentation

    module = importlib.import_module(module_name)
    answers = []

    async def send_async() -> None:
        async with module.AsyncClient() as client:
            with suppress_http_instrumentation():
                answers.append((await client.get(status_server.base + "/status/200")).status_code)
            answers.append((await client.get(status_server.base + "/excluded/path")).status_code)
            answers.append((await client.get(status_server.base + "/status/201")).status_code)

    def send() -> None:
        if asynchronous:
            asyncio.run(send_async())
            return
        with module.Client() as client:
            with suppress_http_instrumentation():
                answers.append(client.get(status_server.base + "/status/200").status_code)
            answers.append(client.get(status_server.base + "/excluded/path").status_code)
            answers.append(client.get(status_server.base + "/status/201").status_code)

    monkeypatch.setenv("OTEL_PYTHON_HTTPX_EXCLUDED_URLS", "excluded/path")
    theirs = _exported(module_name, False, send)
    ours = _exported(module_name, True, send)
    assert ours == theirs
    assert [s[2][1][1].rsplit("/", 1)[-1] for s in ours[0]] == ["201"]
    assert answers == [200, 200, 201] * 2  # the requests were sent, just not traced


@pytest.mark.parametrize("module_name", MODULES)
@pytest.mark.parametrize("kind", ["request", "response"])
def test_hooks_go_to_the_instrumentations_wrapper(status_server, module_name: str, kind: str) -> None:
    module = importlib.import_module(module_name)
    called = []

    def hook(span, *args) -> None:  # type: ignore[no-untyped-def]
        called.append(kind)
        span.set_attribute("hooked", kind)

    def send() -> None:
        with module.Client() as client:
            client.get(status_server.base + "/status/200")

    theirs = _exported(module_name, False, send, **{f"{kind}_hook": hook})
    ours = _exported(module_name, True, send, **{f"{kind}_hook": hook})
    assert ours == theirs and called == [kind, kind]
    assert ("hooked", kind) in ours[0][0][2]


@pytest.mark.parametrize("module_name", MODULES)
def test_a_captured_response_header_goes_to_the_instrumentations_wrapper(status_server, module_name: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(module_name)

    def send() -> None:
        with module.Client() as client:
            client.get(status_server.base + "/status/200")

    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE", "content-length")
    theirs = _exported(module_name, False, send)
    ours = _exported(module_name, True, send)
    assert ours == theirs
    assert "http.response.header.content_length" in dict(ours[0][0][2])


@pytest.mark.parametrize("module_name", MODULES)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_other_configurations_go_to_the_instrumentations_wrapper(status_server, module_name: str, asynchronous: bool,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """New or both HTTP semantic conventions, captured headers, a URL the instrumentation parses again: the same
    spans and metrics as the instrumentation's own wrapper gives (which ours would not give on its own)."""
    from opentelemetry.instrumentation import _semconv

    module = importlib.import_module(module_name)

    def send() -> None:
        with module.Client() as client:
            client.get(status_server.base + "/status/200", headers={"X-Captured": "yes"})
            with pytest.raises(module.HTTPError):
                client.get("HTTP://127.0.0.1:80/x")  # nothing listens there; httpx keeps ":80" until parsed again

    async def send_async() -> None:
        async with module.AsyncClient() as client:
            await client.get(status_server.base + "/status/200", headers={"X-Captured": "yes"})
            with pytest.raises(module.HTTPError):
                await client.get("HTTP://127.0.0.1:80/x")

    def sender() -> None:
        if asynchronous:
            import asyncio

            asyncio.run(send_async())
        else:
            send()

    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", "x-captured")
    for mode in ("http/dup", ""):
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", mode)
        monkeypatch.setattr(_semconv._OpenTelemetrySemanticConventionStability, "_initialized", False)
        theirs = _exported(module_name, False, sender)
        ours = _exported(module_name, True, sender)
        assert ours == theirs
        attributes = dict(ours[0][0][2])
        assert attributes["http.request.header.x_captured"] == ("yes",)
        assert ("url.full" in attributes) == (mode == "http/dup")
        assert dict(ours[0][1][2])["http.url"] == "http://127.0.0.1/x"  # as parsed again, without the port
    monkeypatch.undo()
    _semconv._OpenTelemetrySemanticConventionStability._initialized = False


@needs_lean
def test_another_version_of_the_instrumentation_keeps_its_wrappers(monkeypatch: pytest.MonkeyPatch) -> None:
    import opentelemetry.instrumentation.httpx.version as version

    stand_in = type("StandIn", (instrumentation.HTTPXClientInstrumentor,), {})
    monkeypatch.setattr(version, "__version__", "0.67b0")
    assert not httpx_span.lean_wrappers(instrumentation, stand_in)
    assert "_handle_request_wrapper" not in stand_in.__dict__
    monkeypatch.undo()
    assert httpx_span.lean_wrappers(instrumentation, stand_in)
    assert not httpx_span.lean_wrappers(instrumentation, stand_in)  # ours are not wrapped twice


def test_an_instrumentation_it_was_not_written_against_is_left_as_it_is() -> None:
    """On every release: each helper is replaced only where it has the shape written against."""
    stand_in = _patched()
    for name, as_written in (("_extract_parameters", EXTRACT_AS_WRITTEN), ("_normalize_headers", NORMALIZE_AS_WRITTEN)):
        original = getattr(instrumentation, name, None)
        now = getattr(stand_in, name)
        assert (getattr(now, "__wrapped__", None) is original) if as_written else now is original, name
    stand_in = type("StandIn", (instrumentation.HTTPXClientInstrumentor,), {})
    assert httpx_span.lean_wrappers(instrumentation, stand_in) is LEAN

"""hook/server_span.py against OpenTelemetry's own FastAPI / ASGI instrumentation functions, in this process: a real
FastAPI app, instrumented by the real instrumentation, served in-process (Starlette's TestClient), its spans read
from the SDK (the proxy's end-to-end spans are checked in test_proxy.py and test_span_detail.py)."""

from __future__ import annotations

import pytest

fastapi = pytest.importorskip("fastapi")
fastapi_instrumentation = pytest.importorskip("opentelemetry.instrumentation.fastapi")
asgi_instrumentation = pytest.importorskip("opentelemetry.instrumentation.asgi")
pytest.importorskip("starlette.testclient")

from signoz_litellm_run.hook import is_as_written, server_span  # noqa: E402

ROUTES_AS_WRITTEN = (
    is_as_written(getattr(fastapi_instrumentation, "_get_default_span_details", None), server_span._SPAN_DETAILS_NAMES)
    and is_as_written(getattr(fastapi_instrumentation, "_get_route_details", None), server_span._ROUTE_DETAILS_NAMES))
GETTER_AS_WRITTEN = any(is_as_written(asgi_instrumentation.ASGIGetter.get, names)
                        for names in server_span._GETTER_NAMES)
needs_routes = pytest.mark.skipif(not ROUTES_AS_WRITTEN, reason="the FastAPI instrumentation is of another shape")
needs_getter = pytest.mark.skipif(not GETTER_AS_WRITTEN, reason="the ASGI instrumentation's getter is of another shape")

REQUESTS = [
    ("POST", "/v1/chat/completions"), ("GET", "/v1/chat/completions"),  # a method the route refuses: PARTIAL
    ("GET", "/v1/models/gpt-4o"), ("GET", "/v1/models/other"), ("GET", "/items/7"), ("GET", "/items/x"),
    ("GET", "/sub/inner/3"), ("GET", "/static/a.txt"), ("GET", "/nowhere"), ("DELETE", "/v1/models/a"),
    ("POST", "/v1/chat/completions"), ("GET", "/v1/models/gpt-4o"),  # the same again: remembered
]


def _app():  # type: ignore[no-untyped-def]
    from fastapi import APIRouter, FastAPI
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount

    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat() -> dict:
        return {"ok": True}

    @app.get("/v1/models/{model}")
    def model(model: str) -> dict:
        return {"model": model}

    @app.get("/items/{item_id:int}")
    def item(item_id: int) -> dict:
        return {"item": item_id}

    inner = APIRouter()

    @inner.get("/inner/{n}")
    def inner_route(n: str) -> dict:
        return {"n": n}

    app.include_router(inner, prefix="/sub")
    app.router.routes.append(Mount("/static", app=PlainTextResponse("file")))
    return app, inner


def _spans(patched: bool, requests, change=None):  # type: ignore[no-untyped-def]
    """Name and attributes of each server span the instrumentation records for `requests`, with our lookup or its
    own; `change(app, inner)` runs after the first half of the requests."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from starlette.testclient import TestClient

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original = fastapi_instrumentation._get_default_span_details
    app, inner = _app()
    try:  # (the instrumentation reads the function when the app builds its middleware: at the first request)
        if patched:
            assert server_span.patch_fastapi(fastapi_instrumentation)
        fastapi_instrumentation.FastAPIInstrumentor.instrument_app(app, tracer_provider=provider,
                                                                   exclude_spans=["receive", "send"])
        with TestClient(app) as client:
            for index, (method, path) in enumerate(requests):
                if change is not None and index == len(requests) // 2:
                    change(app, inner)
                client.request(method, path)
    finally:
        fastapi_instrumentation._get_default_span_details = original
    provider.shutdown()
    return [(s.name, dict(s.attributes)) for s in exporter.get_finished_spans() if s.kind.name == "SERVER"]


@needs_routes
def test_server_spans_are_named_as_the_instrumentation_names_them() -> None:
    theirs = _spans(False, REQUESTS)
    assert len(theirs) == len(REQUESTS)
    assert _spans(True, REQUESTS) == theirs
    assert theirs[0][0] == "POST /v1/chat/completions"


@needs_routes
@pytest.mark.parametrize("counted", [True, False], ids=["changes counted", "routes version"])
@pytest.mark.parametrize("how", ["app", "included router"])
def test_a_route_added_later_is_seen(how: str, counted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A route added after requests were served (to the app, or to a router the app includes) names the next spans
    as the instrumentation names them: with FastAPI's route changes counted, or (where they cannot be) FastAPI's
    routes version read at each request."""
    if not counted:
        import fastapi.routing

        monkeypatch.setattr(server_span, "_counting", False)
        monkeypatch.setattr(server_span, "_tries", 99)
        # What the test's patching installs on FastAPI's routers is taken off with `_counting`: a later test counts.
        monkeypatch.setattr(fastapi.routing.APIRouter, "_mark_routes_changed",
                            fastapi.routing.APIRouter._mark_routes_changed)
    else:
        server_span._count_route_changes()
        if not server_span._counting:
            pytest.skip("this FastAPI's routers do not count their changes")
    requests = [("GET", "/late/1"), ("GET", "/sub/late"), ("GET", "/late/1"), ("GET", "/sub/late")]

    def change(app, inner) -> None:  # type: ignore[no-untyped-def]
        target = app if how == "app" else inner
        target.add_api_route("/late/{n}" if how == "app" else "/late", lambda: {"late": True}, methods=["GET"])

    theirs = _spans(False, requests, change)
    assert _spans(True, requests, change) == theirs
    assert theirs[0][0] != theirs[2][0] or theirs[1][0] != theirs[3][0]  # the change is visible in the names


@needs_routes
def test_an_app_with_a_host_route_is_looked_up_every_time() -> None:
    from starlette.routing import Host

    app, _ = _app()
    app.router.routes.append(Host("api.example.com", app=app.router))
    assert not server_span._all_known(app, fastapi_instrumentation)
    assert server_span._all_known(_app()[0], fastapi_instrumentation)


@needs_routes
def test_patching_twice_wraps_once() -> None:
    original = fastapi_instrumentation._get_default_span_details
    try:
        assert server_span.patch_fastapi(fastapi_instrumentation)
        once = fastapi_instrumentation._get_default_span_details
        assert server_span.patch_fastapi(fastapi_instrumentation)
        assert fastapi_instrumentation._get_default_span_details is once
        assert once.__wrapped__ is original
    finally:
        fastapi_instrumentation._get_default_span_details = original


def test_an_instrumentation_of_another_shape_is_left_alone() -> None:
    import types

    def _get_default_span_details(scope):  # type: ignore[no-untyped-def]
        return "x", {}

    stand_in = types.SimpleNamespace(_get_default_span_details=_get_default_span_details,
                                     _get_route_details=fastapi_instrumentation._get_route_details)
    assert not server_span.patch_fastapi(stand_in)
    assert stand_in._get_default_span_details is _get_default_span_details

    class Getter:
        def get(self, carrier, key):  # type: ignore[no-untyped-def]
            return carrier.get(key)

    other = types.SimpleNamespace(ASGIGetter=Getter, _decode_header_item=lambda v: v.decode())
    assert not server_span.patch_asgi(other)
    assert Getter.get is not None and not getattr(Getter.get, "_signoz_litellm", False)


HEADERS = [
    [],
    [(b"host", b"127.0.0.1:4000"), (b"user-agent", b"curl/8"), (b"content-length", b"42")],
    [(b"Traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), (b"TRACESTATE", b"a=b")],
    [(b"baggage", b"k=v"), (b"baggage", b"k2=v2"), (b"x-empty", b"")],
    [(b"h\xc3\xb6st", b"v\xc3\xa4lue"), (b"host", b"\xff\xfe"), (b"\xff", b"x"), (b"user-agent", b"caf\xc3\xa9")],
    [("host".encode(), "ünï".encode())],
]
KEYS = ["host", "Host", "user-agent", "content-length", "traceparent", "tracestate", "baggage", "x-empty", "höst",
        "missing", "K\u212aY"]


@needs_getter
@pytest.mark.parametrize("headers", HEADERS)
def test_headers_are_read_as_the_instrumentation_reads_them(headers) -> None:  # type: ignore[no-untyped-def]
    import types

    theirs_class = type("Theirs", (), {"get": asgi_instrumentation.ASGIGetter.get})
    ours_class = type("Ours", (), {"get": asgi_instrumentation.ASGIGetter.get})
    stand_in = types.SimpleNamespace(ASGIGetter=ours_class,
                                     _decode_header_item=asgi_instrumentation._decode_header_item)
    assert server_span.patch_asgi(stand_in)
    assert getattr(ours_class.get, "_signoz_litellm", False)
    carrier = {"type": "http", "headers": headers}
    for key in KEYS:
        assert ours_class().get(carrier, key) == theirs_class().get(carrier, key), key
    assert ours_class().get({"type": "http"}, "host") is None


REQUEST_ATTRIBUTES_AS_WRITTEN = (
    is_as_written(getattr(asgi_instrumentation, "collect_request_attributes", None),
                  server_span._REQUEST_ATTRIBUTES_NAMES)
    or getattr(asgi_instrumentation.collect_request_attributes, "_signoz_litellm", False))
needs_request_attributes = pytest.mark.skipif(not REQUEST_ATTRIBUTES_AS_WRITTEN,
                                              reason="the ASGI instrumentation's attributes are of another shape")


def _scopes():  # type: ignore[no-untyped-def]
    base = {"type": "http", "http_version": "1.1", "server": ("127.0.0.1", 4000), "client": ("127.0.0.1", 51234),
            "scheme": "http", "method": "POST", "root_path": "", "path": "/v1/chat/completions",
            "query_string": b"", "headers": [(b"host", b"127.0.0.1:4000"), (b"user-agent", b"aiohttp/3.14"),
                                              (b"content-length", b"81")]}
    variants = [
        {}, {"client": ("10.0.0.7", 40000)}, {"client": None}, {"client": ["::1", 1]}, {"server": None},
        {"server": ["0.0.0.0", 80]}, {"server": ("example.com", 443), "scheme": "https"},
        {"query_string": b"a=1&sig=secret&b=%20x"}, {"query_string": "x=1"}, {"path": ""}, {"path": "/caf\u00e9"},
        {"method": "get"}, {"method": "PURGE"}, {"method": ""}, {"http_version": "2"}, {"http_version": None},
        {"headers": []}, {"headers": [(b"HOST", b"a.example:8080"), (b"User-Agent", b"Googlebot/2.1")]},
        {"headers": [(b"host", b"u:p@h"), (b"host", b"second"), (b"user-agent", b"")]},
        {"headers": [(b"user-agent", b"  curl/8  "), (b"user-agent", b"other")]},
        {"type": "websocket", "scheme": "ws"},
    ]
    for variant in variants:
        scope = dict(base, **variant)
        scope_without = {k: v for k, v in scope.items() if k != "client"}
        yield scope
        yield scope_without


@needs_request_attributes
@pytest.mark.parametrize("mode", ["DEFAULT", "HTTP", "HTTP_DUP"])
def test_request_attributes_are_the_instrumentations(mode: str) -> None:
    from opentelemetry.instrumentation._semconv import _StabilityMode

    original = getattr(asgi_instrumentation.collect_request_attributes, "__wrapped__",
                       asgi_instrumentation.collect_request_attributes)
    ours = server_span.remembering_request_attributes(original, asgi_instrumentation)
    stability = getattr(_StabilityMode, mode)
    for _ in range(2):  # worked out, then remembered
        for scope in _scopes():
            theirs = original(scope, stability)
            got = ours(scope, stability)
            assert list(got.items()) == list(theirs.items()), scope
            got["changed"] = 1  # the middleware adds to it: nothing remembered changes
    assert 0 < len(ours.shapes) <= server_span._MAX_SHAPES
    assert ours(_scopes().__next__()) == original(_scopes().__next__())  # the default mode


@needs_request_attributes
def test_request_attributes_of_an_odd_scope_are_the_instrumentations() -> None:
    original = getattr(asgi_instrumentation.collect_request_attributes, "__wrapped__",
                       asgi_instrumentation.collect_request_attributes)
    ours = server_span.remembering_request_attributes(original, asgi_instrumentation)
    unhashable = {"type": "http", "path": "/", "server": ["h", [1]], "headers": [], "client": ("h", 1)}
    assert ours(unhashable) == original(unhashable)
    assert not ours.shapes
    with pytest.raises(IndexError):  # as the instrumentation fails on it
        original({"type": "http", "path": "/", "headers": [], "client": ()})
    with pytest.raises(IndexError):
        ours({"type": "http", "path": "/", "headers": [], "client": ()})


@needs_request_attributes
@needs_routes
def test_server_spans_of_a_real_app_carry_the_instrumentations_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    original = getattr(asgi_instrumentation.collect_request_attributes, "__wrapped__",
                       asgi_instrumentation.collect_request_attributes)
    monkeypatch.setattr(asgi_instrumentation, "collect_request_attributes", original)
    theirs = _spans(False, REQUESTS)
    assert server_span.remember_request_attributes(asgi_instrumentation)
    assert asgi_instrumentation.collect_request_attributes is not original
    assert _spans(False, REQUESTS) == theirs
    assert "net.peer.port" in theirs[0][1] or "client.port" in theirs[0][1]


def _route_states(routes) -> int:  # type: ignore[no-untyped-def]
    """Live FastAPI route states (FastAPI 0.137 on builds one per included route when first needed) of `routes`."""
    import gc

    ids = {id(route) for route in routes}
    return sum(1 for o in gc.get_objects()
               if type(o).__name__ == "_EffectiveRouteContext" and id(getattr(o, "original_route", None)) in ids)


def _start_lifespan(app) -> None:  # type: ignore[no-untyped-def]
    """The app's lifespan start (as a server starts it), then its end."""
    import asyncio

    async def main() -> None:
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent = []

        async def receive():  # type: ignore[no-untyped-def]
            return next(messages)

        async def send(message):  # type: ignore[no-untyped-def]
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"], sent

    asyncio.run(main())


@needs_routes
@pytest.mark.skipif(not hasattr(__import__("fastapi.routing").routing, "_EffectiveRouteContext"),
                    reason="this FastAPI builds no route state lazily")
@pytest.mark.parametrize("ours", [True, False], ids=["ours", "the instrumentation's own"])
def test_the_routes_state_is_built_when_the_lifespan_starts(ours: bool) -> None:
    # What the first request's route lookup would build after a server's gc.freeze() (the LiteLLM proxy's) is built
    # before the app's own start-up instead; with the instrumentation's own middleware it is not.
    from opentelemetry.sdk.trace import TracerProvider

    middleware = asgi_instrumentation.OpenTelemetryMiddleware
    original_call = middleware.__call__
    original_details = fastapi_instrumentation._get_default_span_details
    app, inner = _app()
    try:
        assert server_span.patch_fastapi(fastapi_instrumentation)
        if ours:
            assert server_span.build_routes_at_start(asgi_instrumentation)
        else:
            middleware.__call__ = getattr(original_call, "__wrapped__", original_call)
        fastapi_instrumentation.FastAPIInstrumentor.instrument_app(app, tracer_provider=TracerProvider())
        assert _route_states(inner.routes) == 0  # nothing built yet
        _start_lifespan(app)
        assert _route_states(inner.routes) == (len(inner.routes) if ours else 0)
    finally:
        middleware.__call__ = original_call
        fastapi_instrumentation._get_default_span_details = original_details

"""hook/aiohttp_span.py against OpenTelemetry's own aiohttp-client instrumentation, in this process: real aiohttp
sessions against a real HTTP server on loopback, the spans and duration data points the real SDK records with the
instrumentation's callbacks and with ours (the proxy's client spans end to end are checked in test_proxy.py)."""

from __future__ import annotations

import asyncio
import http.server
import threading

import pytest

from tests.support.metric_points import histogram_points

aiohttp = pytest.importorskip("aiohttp")
instrumentation = pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")

from signoz_litellm_run.hook import aiohttp_span  # noqa: E402
from signoz_litellm_run.loopback import unused_port  # noqa: E402

AS_WRITTEN = aiohttp_span.as_written(instrumentation)
needs_lean = pytest.mark.skipif(not AS_WRITTEN, reason="the aiohttp-client instrumentation is another version")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def status_server():  # type: ignore[no-untyped-def]
    """Answers /status/N with status N, and records the trace headers each request carried."""
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.headers.get("traceparent"))
            status = int(self.path.split("/status/", 1)[1].split("?")[0]) if "/status/" in self.path else 200
            body = b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.seen = seen  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


def _exported(lean: bool, requests, parent: bool = False, **options):  # type: ignore[no-untyped-def]
    """Spans and duration data points recorded for `requests` ((method, url) each) with the instrumentation's
    callbacks or ours."""
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
    original = instrumentation.create_trace_config
    if lean:
        assert aiohttp_span.patch(instrumentation)
    try:
        trace_config = instrumentation.create_trace_config(tracer_provider=tracer_provider,
                                                           meter_provider=meter_provider, **options)
    finally:
        instrumentation.create_trace_config = original
    ours = getattr(trace_config.on_request_start[0], "__module__", "") == aiohttp_span.__name__

    async def send() -> None:
        async with aiohttp.ClientSession(trace_configs=[trace_config]) as session:
            for method, url in requests:
                try:
                    async with session.request(method, url) as response:
                        await response.read()
                except aiohttp.ClientError:
                    pass

    async def main() -> None:
        if parent:
            with tracer_provider.get_tracer("test").start_as_current_span("parent"):
                await send()
        else:
            await send()

    asyncio.run(main())
    spans = [(s.name, s.kind, list(s.attributes.items()), s.status.status_code, s.status.description,
              [(e.name, sorted(e.attributes)) for e in s.events],
              s.parent.span_id if s.parent is not None and s.name != "parent" else None)
             for s in exporter.get_finished_spans() if s.name != "parent"]
    points = histogram_points(reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    del trace
    return ours, [s[:6] + (s[6] is not None,) for s in spans], points


def _requests(server) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{server.server_address[1]}"
    return [
        ("POST", f"{base}/v1/chat/completions"), ("POST", f"{base}/v1/chat/completions"),  # the same: remembered
        ("GET", f"{base}/v1/chat/completions"),  # the same URL, another method
        ("GET", f"{base}/status/404"), ("GET", f"{base}/status/500"), ("PUT", f"{base}/x?api-key=secret&q=1"),
        ("get", f"{base}/lower"), ("PURGE", f"{base}/other-method"),
        ("GET", f"http://user:password@127.0.0.1:{server.server_address[1]}/creds"),
        ("GET", f"http://127.0.0.1:{unused_port()}/refused"),  # an exception: the instrumentation's callback
    ]


@needs_lean
@pytest.mark.parametrize("parent", [False, True], ids=["root", "child"])
def test_our_callbacks_record_what_the_instrumentations_record(status_server, parent: bool) -> None:
    requests = _requests(status_server)
    theirs_used, theirs, their_points = _exported(False, requests, parent)
    ours_used, ours, our_points = _exported(True, requests, parent)
    assert not theirs_used and ours_used
    assert len(theirs) == len(requests)
    assert ours == theirs
    assert our_points == their_points
    assert any(count > 1 for _, _, count in their_points)


@needs_lean
def test_the_trace_context_travels_with_the_request(status_server) -> None:
    status_server.seen.clear()
    _exported(True, _requests(status_server)[:2], parent=True)
    assert len(status_server.seen) == 2 and all(status_server.seen), status_server.seen


@needs_lean
@pytest.mark.parametrize("options", [
    {"request_hook": lambda span, params: span.set_attribute("hooked", True)},
    {"url_filter": lambda url: str(url.with_query(None))},
    {"captured_request_headers": ["content-type"]},
], ids=["request hook", "url filter", "captured headers"])
def test_any_other_configuration_gets_the_instrumentations_callbacks(status_server, options) -> None:
    requests = _requests(status_server)[:3]
    used, spans, points = _exported(True, requests, **options)
    assert not used
    assert _exported(False, requests, **options)[1:] == (spans, points)


def test_another_version_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiohttp_span, "_LEAN_FOR_VERSIONS", ("0.0b0",))
    original = instrumentation.create_trace_config
    assert not aiohttp_span.patch(instrumentation)
    assert instrumentation.create_trace_config is original


@needs_lean
def test_patching_twice_wraps_once() -> None:
    original = instrumentation.create_trace_config
    try:
        assert aiohttp_span.patch(instrumentation)
        once = instrumentation.create_trace_config
        assert aiohttp_span.patch(instrumentation)
        assert instrumentation.create_trace_config is once and once.__wrapped__ is original
    finally:
        instrumentation.create_trace_config = original

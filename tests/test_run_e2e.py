"""`signoz-litellm run` end to end: real launcher, real child process, real LiteLLM, real OTLP receiver."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import app, clean_env, launcher
from tests.support.litellm_release import (HAS_GENAI_METRICS, OUTPUT_TOKEN_TYPE, PROMPT_ATTRIBUTE,
                                           RAW_REQUEST_SPAN_OPTIONAL)

KEY = "sk-signoz-test-0123456789abcdef"
pytestmark = pytest.mark.timeout(180)


def _run(receiver: Receiver, provider: FakeProvider, argv: list[str], *, protocol: str = "grpc",
         extra_env: dict[str, str] | None = None, options: list[str] | None = None,
         cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    env = clean_env({"FAKE_BASE_URL": provider.base_url, "SIGNOZ_INGESTION_KEY": KEY, **(extra_env or {})})
    args = ["run", "--endpoint", receiver.endpoint(protocol), "--protocol", protocol, *(options or []), "--", *argv]
    return launcher(args, env=env, cwd=cwd)


def _litellm_spans(receiver: Receiver) -> list:
    return [s for s in receiver.spans() if s.name == "litellm_request"]


def _wait_spans(receiver: Receiver, count: int) -> None:
    receiver.wait_for(lambda r: len(_litellm_spans(r)) >= count, timeout=10)


def _settled_spans(receiver: Receiver, count: int) -> list:
    """The litellm_request spans once `count` have arrived and a second has passed for late ones (duplicates)."""
    _wait_spans(receiver, count)
    receiver.wait_for(lambda r: False, timeout=1.0)
    return _litellm_spans(receiver)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sync_script_traces_logs_metrics(receiver: Receiver, fake_provider: FakeProvider, protocol: str) -> None:
    result = _run(receiver, fake_provider, [sys.executable, app("sync_app.py")], protocol=protocol)
    assert result.returncode == 0, result.stderr
    _wait_spans(receiver, 4)

    spans = _litellm_spans(receiver)
    assert len(spans) == 4, [s.name for s in receiver.spans()]  # 3 plain + 1 streaming, one span each
    for span in spans:
        assert span.resource["service.name"] == "sync_app"
        assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        # the names SigNoz's LiteLLM dashboards query
        assert span.attributes["gen_ai.usage.prompt_tokens"] == span.attributes["gen_ai.usage.input_tokens"]
        assert span.attributes["gen_ai.usage.completion_tokens"] == span.attributes["gen_ai.usage.output_tokens"]
        assert span.attributes["llm.usage.total_tokens"] == span.attributes["gen_ai.usage.total_tokens"]
        # what LiteLLM has no value for is left out, not written as "" (some 36 metadata.* attributes)
        assert [k for k, v in span.attributes.items() if v == ""] == []
        assert "metadata.user_api_key_hash" not in span.attributes
    # The HTTP client span of each sync call (httpx).
    http_spans = [s for s in receiver.spans() if s.scope.startswith("opentelemetry.instrumentation.httpx")]
    assert len(http_spans) >= 4
    assert all(s.attributes.get("server.port") == fake_provider.port or
               str(fake_provider.port) in str(s.attributes.get("url.full", s.attributes.get("http.url", "")))
               for s in http_spans)

    # The app's own log record, with the service name.
    assert receiver.wait_for(lambda r: any("sync app finished" in str(l.body) for l in r.log_records()))
    record = next(l for l in receiver.log_records() if "sync app finished" in str(l.body))
    assert record.severity_text == "WARN" or record.severity_number >= 13
    assert record.resource["service.name"] == "sync_app"

    # LiteLLM's GenAI metrics.
    if HAS_GENAI_METRICS:
        assert receiver.wait_for(lambda r: {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"}
                                 <= r.metric_names())

    # Every request carried the key header, and the key is nowhere in the job's output.
    assert receiver.requests and all(r.headers.get("signoz-ingestion-key") == KEY for r in receiver.requests)
    assert KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_job_whose_calls_all_arrived_reports_no_loss(receiver: Receiver, fake_provider: FakeProvider) -> None:
    # LiteLLM before its bounded logging pool (1.75 to 1.9x) logs sync calls on a plain thread pool, whose queue
    # at exit holds one wake-up mark per thread: counted as calls not logged, a job whose spans all arrived
    # warned "could not deliver 4 spans ... LiteLLM had not logged 4 calls".
    result = _run(receiver, fake_provider, [sys.executable, app("sync_app.py")])
    assert result.returncode == 0, result.stderr
    assert len(_settled_spans(receiver, 4)) == 4
    assert "could not deliver" not in result.stderr, result.stderr


def test_async_script_with_streaming(receiver: Receiver, fake_provider: FakeProvider) -> None:
    result = _run(receiver, fake_provider, [sys.executable, app("async_app.py")],
                  options=["--service-name", "async-job", "--environment", "ci",
                           "--resource-attributes", "team=llm,tier=batch"],
                  extra_env={"OTEL_RESOURCE_ATTRIBUTES": "owner=me,team=old"})
    assert result.returncode == 0, result.stderr
    _wait_spans(receiver, 4)
    spans = _litellm_spans(receiver)
    assert len(spans) == 4
    resource = spans[0].resource
    assert resource["service.name"] == "async-job"
    assert resource["deployment.environment"] == "ci"
    assert resource["team"] == "llm" and resource["tier"] == "batch" and resource["owner"] == "me"
    # Async calls go through aiohttp: each has its aiohttp client span.
    aiohttp_spans = [s for s in receiver.spans() if "aiohttp" in s.scope]
    assert len(aiohttp_spans) >= 4, sorted({s.scope for s in receiver.spans()})


@pytest.mark.parametrize("mode", ["guide", "own", "instance"])
def test_exactly_one_span_per_call_whatever_the_app_does_with_callbacks(
        receiver: Receiver, fake_provider: FakeProvider, mode: str) -> None:
    result = _run(receiver, fake_provider, [sys.executable, app("callbacks_app.py")], extra_env={"MODE": mode})
    assert result.returncode == 0, result.stderr
    calls = 4 if mode == "own" else 3
    assert len(_settled_spans(receiver, calls)) == calls  # a late duplicate would have arrived
    if mode == "own":
        # The app's own callbacks kept working: its logger and its function saw every call.
        assert "own logger events 4 function events 4" in result.stdout, result.stdout


def _last_points(receiver: Receiver, name: str) -> list[dict]:
    """Data points of the last export of a cumulative metric (it holds every series)."""
    exports = [m for m in receiver.metrics() if m.name == name]
    return exports[-1].data_points if exports else []


@pytest.mark.skipif(not HAS_GENAI_METRICS, reason="this LiteLLM release has no GenAI metrics")
def test_genai_metrics_have_one_series_per_model_not_one_per_call(
        receiver: Receiver, fake_provider: FakeProvider) -> None:
    # LiteLLM labels each measurement with per-call values (hidden_params: overhead ms, Date header,
    # cost); unbounded, each call would be a new series kept for the life of the process.
    result = _run(receiver, fake_provider, [sys.executable, app("sync_app.py")], extra_env={"CALLS": "6"})
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(lambda r: _last_points(r, "gen_ai.client.operation.duration"))
    points = _last_points(receiver, "gen_ai.client.operation.duration")
    assert sum(p["count"] for p in points) == 7  # 6 calls + 1 streaming call
    assert len(points) <= 2, [p["attributes"] for p in points]  # at most streaming / not streaming
    for point in points:
        assert point["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
        assert not {"hidden_params", "metadata.requester_metadata"} & set(point["attributes"])
    tokens = _last_points(receiver, "gen_ai.client.token.usage")
    assert sorted(p["attributes"]["gen_ai.token.type"] for p in tokens) == sorted(["input", OUTPUT_TOKEN_TYPE])


def test_the_programs_own_metric_attribute_choice_wins(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    script = tmp_path / "attrs_app.py"
    script.write_text(textwrap.dedent("""
        import os
        import litellm

        litellm.callback_settings = {"otel": {"attributes": {"include_list": ["gen_ai.request.model", "hidden_params"]}}}
        for i in range(2):
            litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test",
                               messages=[{"role": "user", "content": f"hello {i}"}])
    """))
    result = _run(receiver, fake_provider, [sys.executable, str(script)])
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(lambda r: _last_points(r, "gen_ai.client.operation.duration"))
    points = _last_points(receiver, "gen_ai.client.operation.duration")
    assert {frozenset(p["attributes"]) for p in points} == {frozenset({"gen_ai.request.model", "hidden_params"})}


def _http_children(receiver: Receiver, span) -> list:
    return [s for s in receiver.spans() if s.kind == 3 and s.name != "litellm_request"
            and s.trace_id == span.trace_id and s.parent_span_id == span.span_id]


@pytest.mark.parametrize("script", ["sync_app.py", "async_app.py"])
def test_each_calls_http_span_is_a_child_of_its_litellm_request(
        receiver: Receiver, fake_provider: FakeProvider, script: str) -> None:
    # One trace per call in SigNoz: litellm_request with the provider's HTTP client span under it (sync through
    # httpx, async through aiohttp, streaming included), not two unrelated traces.
    result = _run(receiver, fake_provider, [sys.executable, app(script)])
    assert result.returncode == 0, result.stderr
    spans = _settled_spans(receiver, 4)
    assert len(spans) == 4
    for span in spans:
        assert span.parent_span_id == ""  # a root: no app span is open
        children = _http_children(receiver, span)
        assert len(children) == 1, (span.name, [(s.name, s.scope, s.trace_id, s.parent_span_id) for s in receiver.spans()])
        assert children[0].start_time_unix_nano >= span.start_time_unix_nano
    http = [s for s in receiver.spans() if s.scope.startswith(("opentelemetry.instrumentation.httpx",
                                                                  "opentelemetry.instrumentation.aiohttp"))]
    assert all(s.parent_span_id for s in http), "an HTTP span of a LiteLLM call is a root of its own trace"


@pytest.mark.parametrize("package, instrumentor, call", [
    ("httpx", "HTTPXClientInstrumentor", "litellm.completion(**ARGS)"),
    ("aiohttp_client", "AioHttpClientInstrumentor", "asyncio.run(litellm.acompletion(**ARGS))"),
])
def test_a_program_importing_the_instrumentation_itself_keeps_its_http_spans(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, package: str, instrumentor: str,
        call: str) -> None:
    # An instrumentation package imports its library first: when the program imported the package before the
    # library, the instrumentor was loaded from the half-made package (at the library's import), failed quietly,
    # and no HTTP span was ever made.
    script = tmp_path / "imports_instrumentation.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, os
        from opentelemetry.instrumentation.{package} import {instrumentor}
        import litellm

        ARGS = dict(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test",
                    messages=[{{"role": "user", "content": "instrumentation imported first"}}])
        {call}
        print({instrumentor}().is_instrumented_by_opentelemetry)
    """))
    result = _run(receiver, fake_provider, [sys.executable, str(script)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]
    [span] = _settled_spans(receiver, 1)
    assert len(_http_children(receiver, span)) == 1


def test_router_calls_are_one_trace_each(receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    script = tmp_path / "router_app.py"
    script.write_text(textwrap.dedent("""
        import asyncio
        import os
        import litellm

        router = litellm.Router(model_list=[{"model_name": "m", "litellm_params": {
            "model": "openai/gpt-4o-mini", "api_base": os.environ["FAKE_BASE_URL"], "api_key": "sk-test"}}])
        router.completion(model="m", messages=[{"role": "user", "content": "router sync"}])
        asyncio.run(router.acompletion(model="m", messages=[{"role": "user", "content": "router async"}]))
    """))
    result = _run(receiver, fake_provider, [sys.executable, str(script)])
    assert result.returncode == 0, result.stderr
    spans = _settled_spans(receiver, 2)
    assert len(spans) == 2
    assert sorted(len(_http_children(receiver, s)) for s in spans) == [1, 1]


def _one_call_app(tmp_path: Path, prompt: str, after: str = "") -> Path:
    """A script making one LiteLLM call to the fake provider with `prompt`, then running `after`."""
    script = tmp_path / "one_call_app.py"
    script.write_text(textwrap.dedent("""
        import os
        import litellm

        litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test",
                           messages=[{"role": "user", "content": %r}])
    """) % prompt + textwrap.dedent(after))
    return script


@pytest.mark.parametrize("limit", [None, "OTEL_ATTRIBUTE_COUNT_LIMIT=200"])
def test_a_call_offering_many_tools_keeps_its_model_tokens_and_cost(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, limit: str | None) -> None:
    """LiteLLM sets 3 attributes per tool a call offers, after the model, tokens and cost: past OpenTelemetry's
    128 a span, those were evicted first (under the plain recipe too). `run` raises the span limit to 1,024,
    unless the user set a limit."""
    script = tmp_path / "tools_app.py"
    script.write_text(textwrap.dedent("""
        import os
        import litellm

        tools = [{"type": "function", "function": {"name": f"tool_{i}", "description": f"does thing {i}",
                  "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}} for i in range(60)]
        litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test",
                           messages=[{"role": "user", "content": "pick a tool"}], tools=tools)
    """))
    extra = dict([limit.split("=")]) if limit else {}
    result = _run(receiver, fake_provider, [sys.executable, str(script)], extra_env=extra)
    assert result.returncode == 0, result.stderr
    [span] = _settled_spans(receiver, 1)
    functions = [k for k in span.attributes if k.startswith("llm.request.functions.")]
    if limit is None:
        assert len(functions) == 180  # every tool's name, description and parameters
        for key in ("gen_ai.request.model", "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens",
                    "llm.usage.total_tokens", "gen_ai.cost.total_cost"):
            assert key in span.attributes, key
    else:
        assert len(span.attributes) == 200  # the user's limit stands


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_spans_go_through_the_faster_encoder_and_arrive_whole(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, protocol: str) -> None:
    module = "grpc" if protocol == "grpc" else "http"
    script = _one_call_app(tmp_path, "encoder probe", after=f"""
        from opentelemetry import trace
        import opentelemetry.exporter.otlp.proto.{module}.trace_exporter as exporter

        print("faster encoder:", getattr(exporter.encode_spans, "_signoz_litellm", False))
        attributes = {{"probe.list": ["a", "b"], "probe.float": -0.5, "probe.big": -2**62, "probe.flag": False,
                       "probe.text": "\u00e9\u4e2d" * 100}}
        with trace.get_tracer("probe", "1.2").start_as_current_span("app span", attributes=attributes) as span:
            span.add_event("probe event", {{"n": 1}})
            span.set_status(trace.Status(trace.StatusCode.ERROR, "probe failed"))
    """)
    result = _run(receiver, fake_provider, [sys.executable, str(script)], protocol=protocol)
    assert result.returncode == 0, result.stderr
    assert "faster encoder: True" in result.stdout
    [call] = _settled_spans(receiver, 1)
    assert "encoder probe" in call.attributes[PROMPT_ATTRIBUTE]
    assert call.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert call.attributes.get("litellm.cache_hit", False) is False  # (LiteLLM 1.108 does not set it)
    assert len(_http_children(receiver, call)) == 1
    assert receiver.wait_for(lambda r: any(s.name == "app span" for s in r.spans()))
    [app_span] = [s for s in receiver.spans() if s.name == "app span"]
    assert app_span.attributes == {"probe.list": ["a", "b"], "probe.float": -0.5, "probe.big": -2**62,
                                   "probe.flag": False, "probe.text": "\u00e9\u4e2d" * 100}
    assert app_span.scope == "probe" and app_span.resource == call.resource
    assert app_span.events == [("probe event", {"n": 1})]
    assert (app_span.status_code, app_span.status_message) == (2, "probe failed")


@pytest.mark.parametrize("chosen", [None, "trace_based"])
def test_no_metric_exemplars_unless_the_user_chooses_them(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, chosen: str | None) -> None:
    # The HTTP duration is recorded inside the HTTP span: OpenTelemetry's default filter attaches an
    # exemplar to it, which SigNoz does not store.
    script = _one_call_app(tmp_path, "exemplar probe")
    result = _run(receiver, fake_provider, [sys.executable, str(script)],
                  extra_env={"OTEL_METRICS_EXEMPLAR_FILTER": chosen} if chosen else None)
    assert result.returncode == 0, result.stderr
    assert receiver.wait_for(lambda r: _last_points(r, "http.client.duration"))
    exemplars = sum(p["exemplars"] for p in _last_points(receiver, "http.client.duration"))
    assert (exemplars > 0) if chosen else (exemplars == 0)


def _normalize_as_written() -> bool:
    from opentelemetry.instrumentation import httpx as instrumentation

    from signoz_litellm_run.hook import httpx_span, is_as_written

    return is_as_written(getattr(instrumentation, "_normalize_headers", None), httpx_span._NORMALIZE_NAMES)


_NORMALIZE_AS_WRITTEN = _normalize_as_written()


def _captures_headers() -> bool:
    import inspect

    from opentelemetry.instrumentation import httpx as instrumentation

    return "CAPTURE_HEADERS" in inspect.getsource(instrumentation)


_CAPTURES_HEADERS = _captures_headers()


@pytest.mark.parametrize("captured", [False, True])
def test_http_headers_on_client_spans_only_when_asked(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, captured: bool) -> None:
    script = _one_call_app(tmp_path, "headers", after="""
        import opentelemetry.instrumentation.httpx as instrumentation
        print(getattr(getattr(instrumentation, "_normalize_headers", None), "_signoz_litellm", False))
    """)
    env = {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": "content-type,authorization",
           "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE": "content-type"} if captured else {}
    result = _run(receiver, fake_provider, [sys.executable, str(script)], extra_env=env)
    assert result.returncode == 0, result.stderr
    # headers are normalised only when read, where the instrumentation's helper is the one written against (0.59b0
    # has none: its own code runs); the attributes are the same either way
    assert result.stdout.split() == [str(_NORMALIZE_AS_WRITTEN)]
    [span] = _settled_spans(receiver, 1)
    [http] = _http_children(receiver, span)
    headers = {k: v for k, v in http.attributes.items() if ".header." in k}
    if captured and _CAPTURES_HEADERS:  # contrib 0.59b0's httpx instrumentation captures no headers at all
        assert headers["http.request.header.content_type"] == ["application/json"]
        assert headers["http.request.header.authorization"] == ["[REDACTED]"]  # sensitive: redacted by default
        assert headers["http.response.header.content_type"] == ["application/json"]
    else:
        assert headers == {}


def test_batched_span_attributes_are_those_set_one_by_one(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    # LiteLLM's attributes for a litellm_request span are collected and set together (hook/litellm_arm.py):
    # the span must get the same attributes, values and order as when each is set as LiteLLM sets it.
    script = tmp_path / "batch_probe.py"
    script.write_text(textwrap.dedent("""
        import os, time
        import litellm
        from litellm.integrations.opentelemetry import OpenTelemetry
        from opentelemetry import trace

        seen = {}
        name = "_handle_success" if hasattr(OpenTelemetry, "_handle_success") else "_handle_sucess"  # 1.75's
        handle = getattr(OpenTelemetry, name)

        def capture(self, kwargs, response_obj, start_time, end_time):
            seen["call"] = (self, kwargs, response_obj)
            return handle(self, kwargs, response_obj, start_time, end_time)

        setattr(OpenTelemetry, name, capture)
        litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test",
                           messages=[{"role": "system", "content": "terse"}, {"role": "user", "content": "batch probe"}],
                           temperature=0.2, max_tokens=50, user="someone", metadata={"run": "nightly"})
        deadline = time.monotonic() + 10
        while "call" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        logger, kwargs, response = seen["call"]
        tracer = trace.get_tracer("compare")
        batched = tracer.start_span("batched")
        OpenTelemetry.set_attributes(logger, batched, kwargs, response)
        batching = OpenTelemetry.safe_set_attribute

        def one_by_one(self, span, key, value):  # what the hook did before: skip None, else LiteLLM's own
            if value is not None:
                batching.__wrapped__(self, span, key, value)

        OpenTelemetry.safe_set_attribute = one_by_one
        single = tracer.start_span("one by one")
        OpenTelemetry.set_attributes(logger, single, kwargs, response)
        print(len(batched.attributes), list(batched.attributes.items()) == list(single.attributes.items()))
    """))
    result = _run(receiver, fake_provider, [sys.executable, str(script)])
    assert result.returncode == 0, result.stderr
    count, same = result.stdout.split()
    assert int(count) >= 20 and same == "True", result.stdout  # 25 attributes on LiteLLM 1.75, 30+ later


def test_litellm_otel_v2_does_not_lose_the_llm_spans(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    # LiteLLM's V2 OTel logger builds exporters of its own: under `run` with LITELLM_OTEL_V2=true, only the
    # HTTP client spans reached the endpoint. `run` says so and keeps LiteLLM's standard logger.
    script = _one_call_app(tmp_path, "v2 probe")
    result = _run(receiver, fake_provider, [sys.executable, str(script)], extra_env={"LITELLM_OTEL_V2": "true"})
    assert result.returncode == 0, result.stderr
    [note] = [line for line in result.stderr.splitlines() if "LITELLM_OTEL_V2" in line]
    assert note.startswith("signoz-litellm: note: LITELLM_OTEL_V2 is set"), note
    [span] = _settled_spans(receiver, 1)
    assert "v2 probe" in span.attributes[PROMPT_ATTRIBUTE]
    assert len(_http_children(receiver, span)) == 1
    assert receiver.wait_for(lambda r: _last_points(r, "gen_ai.client.token.usage"))


@pytest.mark.parametrize("kept", [False, True])
def test_raw_request_span_only_when_asked(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, kept: bool) -> None:
    if not kept and not RAW_REQUEST_SPAN_OPTIONAL:
        pytest.skip("this LiteLLM release always makes raw_gen_ai_request")
    script = _one_call_app(tmp_path, "raw span probe")
    result = _run(receiver, fake_provider, [sys.executable, str(script)],
                  options=["--raw-request-span"] if kept else [])
    assert result.returncode == 0, result.stderr
    [span] = _settled_spans(receiver, 1)
    assert "raw span probe" in str(span.attributes[PROMPT_ATTRIBUTE])  # the prompt is there either way
    assert len(_http_children(receiver, span)) == 1
    raw = [s for s in receiver.spans() if s.name == "raw_gen_ai_request"]
    if kept:
        assert len(raw) == 1, [s.name for s in receiver.spans()]
        assert raw[0].trace_id == span.trace_id and raw[0].parent_span_id == span.span_id
        assert "raw span probe" in str(raw[0].attributes)
    else:
        assert raw == [], [s.name for s in receiver.spans()]


def test_a_failed_calls_http_attempts_are_children_of_its_litellm_request(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    script = tmp_path / "fail_app.py"
    script.write_text(textwrap.dedent("""
        import os
        import litellm

        try:
            litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test",
                               messages=[{"role": "user", "content": "FAIL please"}])
        except Exception as exc:
            print("failed", type(exc).__name__)
    """))
    result = _run(receiver, fake_provider, [sys.executable, str(script)])
    assert result.returncode == 0 and "failed" in result.stdout, result.stderr
    [span] = _settled_spans(receiver, 1)
    assert span.status_code == 2  # ERROR
    attempts = _http_children(receiver, span)
    assert len(attempts) >= 1 and all(a.attributes.get("http.status_code") == 500 for a in attempts)
    assert len(attempts) == len([s for s in receiver.spans() if s.scope.startswith("opentelemetry.instrumentation.httpx")])


def test_call_inside_an_app_span_is_a_child_in_its_trace(receiver: Receiver, fake_provider: FakeProvider) -> None:
    result = _run(receiver, fake_provider, [sys.executable, app("span_app.py")])
    assert result.returncode == 0, result.stderr
    _wait_spans(receiver, 2)
    parents = {}
    for line in result.stdout.splitlines():
        kind, trace_id, span_id = line.split()
        parents[kind] = (trace_id, span_id)
    spans = _litellm_spans(receiver)
    assert len(spans) == 2
    by_trace = {s.trace_id: s for s in spans}
    for kind in ("sync-parent", "async-parent"):
        trace_id, span_id = parents[kind]
        assert trace_id in by_trace, f"{kind}: LiteLLM span not in the app's trace"
        child = by_trace[trace_id]
        assert child.parent_span_id == span_id
        assert child.attributes["gen_ai.usage.input_tokens"] > 0
        assert len(_http_children(receiver, child)) == 1  # app span -> litellm_request -> HTTP client span


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_log_line_inside_a_span_carries_its_trace_and_litellms_stamp_is_left_out(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path, protocol: str) -> None:
    """On every OpenTelemetry release we support: Python log records are exported (through the logging
    instrumentation's handler from contrib 0.61b0, the SDK's before) with the trace and span they were made in."""
    script = tmp_path / "log_in_span.py"
    script.write_text(textwrap.dedent("""
        import logging, os
        import litellm
        from opentelemetry import trace

        logging.basicConfig(level=logging.INFO)
        with trace.get_tracer("log_app").start_as_current_span("job-step") as span:
            litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test",
                               messages=[{"role": "user", "content": "hi"}])
            logging.getLogger("log_app").warning("inside the job step")
            ctx = span.get_span_context()
            print("ids", format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"), flush=True)
        logging.getLogger("LiteLLM").warning("a LiteLLM line")
    """))
    result = _run(receiver, fake_provider, [sys.executable, str(script)], protocol=protocol)
    assert result.returncode == 0, result.stderr
    _, trace_id, span_id = next(line for line in result.stdout.splitlines() if line.startswith("ids ")).split()
    assert receiver.wait_for(lambda r: {"inside the job step", "a LiteLLM line"} <= {str(l.body) for l in
                                                                                    r.log_records()})
    record = next(l for l in receiver.log_records() if str(l.body) == "inside the job step")
    assert (record.trace_id, record.span_id) == (trace_id, span_id)
    assert record.resource["service.name"] == "log_in_span"
    assert all("litellm_redacted" not in l.attributes for l in receiver.log_records())
    assert "Invalid type" not in result.stderr and "Traceback" not in result.stderr


def test_litellm_is_never_imported_by_the_hook(receiver: Receiver) -> None:
    env = clean_env()
    result = launcher(["run", "--endpoint", receiver.grpc_endpoint, "--", sys.executable, "-c",
                       "import sys; print('litellm' in sys.modules, 'httpx' in sys.modules, "
                       "type(sys.modules['sitecustomize']).__name__)"], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "module"]


def _old_aiohttp(tmp_path: Path) -> Path:
    """A directory holding an aiohttp 1.0: a version OpenTelemetry's aiohttp-client instrumentation (one of ours)
    does not support."""
    fakes = tmp_path / "fakes"
    (fakes / "aiohttp").mkdir(parents=True)
    (fakes / "aiohttp" / "__init__.py").write_text('__version__ = "1.0"\n')
    (fakes / "aiohttp-1.0.dist-info").mkdir()
    (fakes / "aiohttp-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: aiohttp\nVersion: 1.0\n")
    return fakes


def _conflict_logs(receiver: Receiver) -> list[str]:
    return [str(r.body) for r in receiver.log_records() if "only instruments" in str(r.body)]


def test_an_unsupported_library_version_is_checked_when_the_library_is_imported(
        receiver: Receiver, tmp_path: Path) -> None:
    # The version check of a library's instrumentation waits for the library (it read every instrumentation's
    # metadata at each process's start): a process that never imports it neither pays for it nor logs its conflict;
    # one that does gets OpenTelemetry's own conflict log and no instrumentor, as before.
    env = clean_env({"PYTHONPATH": str(_old_aiohttp(tmp_path))})
    probe = "import sys; {}; print('opentelemetry.instrumentation.aiohttp_client' in sys.modules)"
    run = ["run", "--endpoint", receiver.grpc_endpoint, "--", sys.executable, "-c"]

    result = launcher([*run, probe.format("pass")], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]
    receiver.wait_for(lambda r: False, timeout=1.0)
    assert _conflict_logs(receiver) == []

    result = launcher([*run, probe.format("import aiohttp; assert aiohttp.__version__ == '1.0'")], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]  # not instrumented
    assert receiver.wait_for(lambda r: _conflict_logs(r))
    messages = _conflict_logs(receiver)  # one per instrumentation of aiohttp installed (client, maybe server)
    assert any(m.startswith("aiohttp-client only instruments") for m in messages)
    assert all('("aiohttp 1.0")' in m for m in messages)

    result = launcher([*run, probe.format("import aiohttp; assert aiohttp.__version__ != '1.0'")], env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]  # the installed aiohttp: instrumented at its import


def test_the_heap_start_up_and_litellm_import_leave_is_frozen_out_of_full_collections(receiver: Receiver) -> None:
    # Frozen objects are walked neither by full collections nor by the last one Python makes at exit (which walked
    # the whole start-up heap: about 50 ms in every Python process of a job, LiteLLM or not).
    script = textwrap.dedent("""
        import gc
        import opentelemetry.trace  # starts telemetry, as any first use of it (hook/lazy_start.py)
        class Cycle: pass
        cycle = Cycle(); cycle.me = cycle; del cycle
        at_start, collected_at_start = gc.get_freeze_count(), gc.collect()
        import litellm
        after = gc.get_freeze_count()
        cycle = Cycle(); cycle.me = cycle; del cycle
        print(at_start, collected_at_start, after, gc.collect())
    """)
    result = launcher(["run", "--endpoint", receiver.grpc_endpoint, "--", sys.executable, "-c", script], env=clean_env())
    assert result.returncode == 0, result.stderr
    at_start, collected_at_start, after, collected = (int(x) for x in result.stdout.split())
    assert at_start > 10_000  # what start-up imported (OpenTelemetry, its SDK and instrumentation): some 30,000 objects
    assert after - at_start > 100_000  # LiteLLM's import: some 400,000 objects
    assert collected_at_start >= 1 and collected >= 1  # the program's own garbage is still collected


def test_a_program_that_turns_the_collector_off_keeps_it_off_and_nothing_more_is_frozen(receiver: Receiver) -> None:
    script = textwrap.dedent("""
        import gc
        gc.disable()
        before = gc.get_freeze_count()
        import litellm
        print(gc.isenabled(), gc.get_freeze_count() - before)
    """)
    result = launcher(["run", "--endpoint", receiver.grpc_endpoint, "--", sys.executable, "-c", script], env=clean_env())
    assert result.returncode == 0, result.stderr
    enabled, added = result.stdout.split()
    assert enabled == "False"
    assert int(added) <= 0  # LiteLLM's import not frozen (the count only drops, as frozen objects are freed)


def test_user_sitecustomize_runs_and_grandchildren_are_instrumented(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    user_site = tmp_path / "usersite"
    user_site.mkdir()
    marker = tmp_path / "marker"
    (user_site / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import os, sys
        hooked = "signoz_litellm_run.hook.lazy_start" in sys.modules or "signoz_litellm_run.hook.boot" in sys.modules
        with open({str(marker)!r}, "a") as f:
            f.write(f"{{os.getpid()}}:{{hooked}}\\n")
    """))
    result = _run(receiver, fake_provider, [sys.executable, app("parent_app.py")],
                  extra_env={"PYTHONPATH": str(user_site), "EXIT_WITH": "7"})
    assert result.returncode == 7, result.stderr  # the child's own status
    # The user's sitecustomize ran, after our hook, in the job's process and in its grandchild. (It
    # also runs in the launcher before the exec, as it does for any Python program: hooked False.)
    hooked_pids = {line.split(":")[0] for line in marker.read_text().split() if line.endswith(":True")}
    assert len(hooked_pids) == 2, marker.read_text()
    # The grandchild's call arrived, under the inherited service name.
    _wait_spans(receiver, 2)
    spans = _litellm_spans(receiver)
    assert len(spans) == 2  # grandchild: 1 plain + 1 streaming
    assert {s.resource["service.name"] for s in spans} == {"parent_app"}


def test_exec_keeps_pid_and_status(receiver: Receiver) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint, "--",
         sys.executable, "-c", "import os, sys; print(os.getpid(), flush=True); sys.exit(42)"],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 42, err
    assert int(out.split()[0]) == proc.pid


def test_command_found_on_path_and_options_after_command_belong_to_it(receiver: Receiver, tmp_path: Path) -> None:
    script = tmp_path / "tool"
    script.write_text(f"#!{sys.executable}\nimport sys; print(' '.join(sys.argv[1:]))\n")
    script.chmod(0o755)
    env = clean_env({"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"})
    result = launcher(["run", "--endpoint", receiver.grpc_endpoint, "tool", "--service-name", "x", "-v"], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "--service-name x -v"


def test_wrapping_opentelemetry_instrument_too_still_gives_one_span_per_call(
        receiver: Receiver, fake_provider: FakeProvider) -> None:
    """Users coming from SigNoz's recipe may keep `opentelemetry-instrument` in their command."""
    otel = str(Path(sys.executable).parent / "opentelemetry-instrument")
    result = _run(receiver, fake_provider, [otel, sys.executable, app("sync_app.py")], extra_env={"CALLS": "2"})
    assert result.returncode == 0, result.stderr
    assert len(_settled_spans(receiver, 3)) == 3
    assert receiver.wait_for(lambda r: "gen_ai.client.token.usage" in r.metric_names())


def test_command_gets_default_signal_dispositions(receiver: Receiver) -> None:
    """As from a shell: SIGPIPE is not left ignored by the launcher's Python (`yes | head` must end)."""
    result = launcher(["run", "--endpoint", receiver.grpc_endpoint, "--", "sh", "-c",
                       "grep -E '^SigIgn' /proc/self/status; yes | head -n 1"], env=clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    ignored = int(result.stdout.split()[1], 16)
    assert not ignored & (1 << (13 - 1)), "SIGPIPE ignored"  # signal 13
    assert not ignored & (1 << (25 - 1)), "SIGXFSZ ignored"  # signal 25
    assert result.stdout.splitlines()[-1] == "y"

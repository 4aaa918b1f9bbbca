"""The real LiteLLM proxy server under signoz-litellm: one proxy per config, stopped with SIGTERM.

Each scenario starts `litellm --config ...` on loopback (models pointing at the fake provider),
sends chat requests and probe requests, stops it with SIGTERM and keeps what the receiver got.
Export delays are set far beyond the test's length, so everything that arrives was flushed by the
proxy's exit after SIGTERM.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from signoz_litellm_run.hook.request_attributes import LEAN_LEFT_OUT, LEAN_LEFT_OUT_WHEN_ZERO
from signoz_litellm_run.loopback import unused_port
from signoz_litellm_run.received import MetricData, SpanRecord
from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.litellm_release import HAS_GENAI_METRICS, HIDDEN_PARAMS_ON_SPANS, STREAM_USAGE_FROM_PROVIDER

# Its module fixtures each start a proxy (seconds of start-up): under pytest-xdist one worker runs the module, so
# each starts once (scripts/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("proxy")

MASTER_KEY = "sk-proxy-test-master"
PROXY_SPAN = "Received Proxy Server Request"
PROBES = ("/health/liveliness", "/health/liveness", "/health/readiness")
CHATS = 3
START_TIMEOUT = 240.0

CUSTOM_CALLBACK = '''
import os
from litellm.integrations.custom_logger import CustomLogger


class CountingLogger(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        with open(os.environ["PROXY_TEST_CALLBACK_FILE"], "a") as out:
            out.write("success\\n")


handler = CountingLogger()
'''


@dataclass
class ProxyRun:
    """What one proxy run produced."""

    spans: list[SpanRecord]
    metric_names: set[str]
    spans_before_sigterm: int
    returncode: int
    stderr: str
    config_before: bytes
    config_after: bytes
    callback_lines: int
    chat_statuses: list[int] = field(default_factory=list)
    metrics: list[MetricData] = field(default_factory=list)
    trace_bytes: int = 0  # size of the trace export requests received (protobuf)

    def traces_with_server_span(self, route: str) -> dict[str, list[SpanRecord]]:
        by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
        for span in self.spans:
            by_trace[span.trace_id].append(span)
        return {t: spans for t, spans in by_trace.items()
                if any(_path(s) == route and s.kind == 2 for s in spans)}


def _path(span: SpanRecord) -> str:
    """The request path of a server span: FastAPI's own telemetry writes url.path, the OpenTelemetry
    FastAPI instrumentation (older HTTP conventions) http.target."""
    return str(span.attributes.get("url.path") or span.attributes.get("http.target") or "")


def _config(base_url: str, litellm_settings: str, models: tuple[str, ...] = ("fake-model",)) -> str:
    return "model_list:\n" + "".join(
        f"  - model_name: {model}\n"
        "    litellm_params:\n"
        f"      model: openai/{model}\n"
        f"      api_base: {base_url}\n"
        "      api_key: sk-test\n"
        for model in models) + litellm_settings


def _run_proxy(directory: Path, litellm_settings: str, command: list[str], *, fail_one: bool = False,
               env_updates: dict[str, str] | None = None, provider_options: dict[str, Any] | None = None,
               models: tuple[str, ...] = ("fake-model",), chats: list[dict[str, Any]] | None = None) -> ProxyRun:
    """`fail_one`: after the chats, one more that the provider fails (its content says FAIL). `chats`: the
    request bodies to send instead of the CHATS greetings."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "custom_callbacks.py").write_text(CUSTOM_CALLBACK)
    callback_file = directory / "callbacks.txt"
    with FakeProvider(**(provider_options or {})) as provider, Receiver() as receiver:
        port = unused_port()  # once the provider and the receiver hold theirs
        config = directory / "config.yaml"
        config.write_text(_config(provider.base_url, litellm_settings, models))
        config_before = config.read_bytes()
        env = dict(os.environ)
        env.update({
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
            "DISABLE_SCHEMA_UPDATE": "true",
            "PROXY_TEST_CALLBACK_FILE": str(callback_file),
            # Nothing is exported on a timer during the test: what arrives was flushed at exit.
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",
            "OTEL_BLRP_SCHEDULE_DELAY": "600000",
            "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        })
        for name in ("DATABASE_URL", "OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "OTEL_RESOURCE_ATTRIBUTES",
                     "SIGNOZ_LITELLM_SPAN_DETAIL", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"):
            env.pop(name, None)
        env.update(env_updates or {})
        argv = [sys.executable, "-m", "signoz_litellm_run", *command[:1],
                "--endpoint", receiver.grpc_endpoint, "--no-bootstrap", *command[1:]]
        argv = [a.replace("{config}", str(config)).replace("{port}", str(port)) for a in argv]
        out = open(directory / "proxy.log", "w+b")
        child = subprocess.Popen(argv, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        statuses: list[int] = []
        try:
            with httpx.Client(base_url=base, timeout=30.0) as client:
                wait_until_ready(client, child, directory / "proxy.log")
                bodies = chats if chats is not None else [
                    {"model": "fake-model", "messages": [{"role": "user", "content": f"hello number {i}"}]}
                    for i in range(CHATS)]
                for body in bodies:
                    response = client.post(
                        "/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}"}, json=body)
                    statuses.append(response.status_code)
                if fail_one:
                    response = client.post(
                        "/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                        json={"model": "fake-model", "messages": [{"role": "user", "content": "FAIL please"}]})
                    statuses.append(response.status_code)
                for _ in range(2):
                    for probe in PROBES:
                        client.get(probe)
            # The success callbacks run after the answer is sent; let them finish before stopping.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _lines(callback_file) < CHATS and "custom_callbacks" in litellm_settings:
                time.sleep(0.2)
            time.sleep(1.0)
            spans_before = len(receiver.spans())
            child.send_signal(signal.SIGTERM)
            returncode = child.wait(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            out.close()
        return ProxyRun(
            spans=receiver.spans(), metric_names=receiver.metric_names(), spans_before_sigterm=spans_before,
            returncode=returncode, stderr=(directory / "proxy.log").read_text(errors="replace"),
            config_before=config_before, config_after=config.read_bytes(),
            callback_lines=_lines(callback_file), chat_statuses=statuses, metrics=receiver.metrics(),
            trace_bytes=sum(r.message.ByteSize() for r in receiver.requests if r.signal == "traces"))


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def wait_until_ready(client: httpx.Client, child: subprocess.Popen, log: Path) -> None:
    """Until the proxy answers its readiness probe; fails with its log's tail if it exits or never gets ready."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert child.poll() is None, "proxy exited:\n" + _tail(log)
        try:
            if client.get("/health/readiness").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "proxy not ready:\n" + _tail(log)
        time.sleep(0.5)


def _tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


RUN = ["run", "--", "litellm", "--config", "{config}", "--host", "127.0.0.1", "--port", "{port}"]


@pytest.fixture(scope="module")
def no_otel(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    """A config that does not mention otel at all, run with `run -- litellm`."""
    return _run_proxy(tmp_path_factory.mktemp("no_otel"), "", RUN)


@pytest.fixture(scope="module")
def otel_and_custom(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    """callbacks as a list holding another callback and otel."""
    settings = 'litellm_settings:\n  callbacks: ["custom_callbacks.handler", "otel"]\n'
    return _run_proxy(tmp_path_factory.mktemp("otel_and_custom"), settings, RUN)


@pytest.fixture(scope="module")
def single_callback_probes(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    """callbacks as a single value, which replaces litellm.callbacks (LiteLLM reads a single value
    as a `module.instance` path, so `callbacks: otel` is not valid LiteLLM config), through the
    `proxy` shorthand, with --trace-health-probes and --span-detail full."""
    settings = "litellm_settings:\n  callbacks: custom_callbacks.handler\n"
    command = ["proxy", "--trace-health-probes", "--span-detail", "full", "--config", "{config}", "--host", "127.0.0.1", "--port", "{port}"]
    return _run_proxy(tmp_path_factory.mktemp("single_callback"), settings, command)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    """`--num_workers 2`: uvicorn's supervisor spawns two worker processes that serve the requests (each gets
    the hook through PYTHONPATH) and, on SIGTERM, stops them: each flushes on its way out."""
    return _run_proxy(tmp_path_factory.mktemp("two_workers"), "", [*RUN, "--num_workers", "2"])


@pytest.fixture(scope="module")
def fastapi_native(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    """OpenTelemetry's FastAPI instrumentation off: FastAPI's own telemetry (0.16x) makes the server span, and
    in full detail its operation spans (fastapi.dependencies, fastapi.endpoint, fastapi.serialization)."""
    return _run_proxy(tmp_path_factory.mktemp("fastapi_native"), "", RUN,
                      env_updates={"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "fastapi"})


SCENARIOS = ("no_otel", "otel_and_custom", "single_callback_probes", "two_workers")
# FastAPI's own telemetry came with FastAPI 0.16x; with an older FastAPI (LiteLLM 1.75's proxy extra pins 0.115)
# and the OpenTelemetry FastAPI instrumentation off, nothing makes a server span.
FASTAPI_TELEMETRY = importlib.util.find_spec("fastapi.telemetry") is not None
LEAN = ("no_otel", "otel_and_custom", "two_workers", pytest.param("fastapi_native", marks=pytest.mark.skipif(
    not FASTAPI_TELEMETRY, reason="this FastAPI has no telemetry of its own")))
FULL = ("single_callback_probes",)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_request_has_one_litellm_span(scenario: str, request: pytest.FixtureRequest) -> None:
    run: ProxyRun = request.getfixturevalue(scenario)
    assert run.chat_statuses == [200] * CHATS, run.stderr[-3000:]
    chats = run.traces_with_server_span("/v1/chat/completions")
    assert len(chats) == CHATS, f"{len(chats)} chat traces: {Counter(s.name for s in run.spans)}"
    proxy_spans = 1 if scenario in FULL else 0  # LiteLLM's own request span: kept in full detail only
    for trace_id, spans in chats.items():
        names = Counter(s.name for s in spans)
        assert names[PROXY_SPAN] == proxy_spans, (trace_id, names)
        assert names["litellm_request"] == 1, (trace_id, names)
    everywhere = Counter(s.name for s in run.spans)
    assert everywhere["litellm_request"] == CHATS and everywhere[PROXY_SPAN] == CHATS * proxy_spans, everywhere
    llm = next(s for s in run.spans if s.name == "litellm_request")
    assert llm.service_name == "litellm-proxy"
    assert llm.attributes.get("gen_ai.request.model") == "fake-model"
    assert llm.attributes.get("gen_ai.usage.prompt_tokens") == 3  # "hello number N", dashboard alias


def _by_trace(spans: list[SpanRecord]) -> dict[str, list[SpanRecord]]:
    by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    return by_trace


def _one(spans: list[SpanRecord], name: str) -> SpanRecord:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


@pytest.mark.parametrize("scenario", LEAN)
def test_lean_request_is_server_span_litellm_request_and_provider_call(scenario: str,
                                                                       request: pytest.FixtureRequest) -> None:
    """The default: three spans a request, each with its parent in the trace; nothing else, start-up included."""
    run: ProxyRun = request.getfixturevalue(scenario)
    assert run.chat_statuses == [200] * CHATS, run.stderr[-3000:]
    by_trace = _by_trace(run.spans)
    assert len(by_trace) == CHATS, {t: [s.name for s in spans] for t, spans in by_trace.items()}  # no stray trace
    for spans in by_trace.values():
        assert len(spans) == 3, [s.name for s in spans]
        server = next(s for s in spans if s.kind == 2 and _path(s) == "/v1/chat/completions")
        llm = _one(spans, "litellm_request")
        provider_call = next(s for s in spans if s.kind == 3)  # the provider's HTTP client span
        assert server.parent_span_id == ""
        if scenario != "fastapi_native":  # named by OpenTelemetry's FastAPI instrumentation (hook/server_span.py)
            assert server.name == "POST /v1/chat/completions", server.name
            assert server.attributes.get("http.route") == "/v1/chat/completions", server.attributes
        assert llm.parent_span_id == server.span_id
        assert provider_call.parent_span_id == llm.span_id
        assert provider_call.name == "POST", provider_call.name  # made by hook/aiohttp_span.py's callbacks
        assert provider_call.attributes.get("http.method") == "POST", provider_call.attributes
        assert str(provider_call.attributes.get("http.url")).endswith("/chat/completions"), provider_call.attributes
        assert provider_call.attributes.get("http.status_code") == 200, provider_call.attributes
        assert llm.attributes.get("gen_ai.request.model") == "fake-model"
        assert llm.attributes.get("gen_ai.usage.completion_tokens") == 5
        assert "gen_ai.cost.total_cost" in llm.attributes
        # LiteLLM's blobs that repeat the trace, and its empty containers, are left off (kept in full detail)
        assert not LEAN_LEFT_OUT & set(llm.attributes), sorted(LEAN_LEFT_OUT & set(llm.attributes))
        empty = {k: v for k, v in llm.attributes.items() if v in ("{}", "[]")}
        assert not empty, empty
        zero_adjustments = {k for k in LEAN_LEFT_OUT_WHEN_ZERO if llm.attributes.get(k) == 0}
        assert not zero_adjustments, zero_adjustments
        assert llm.attributes.get("metadata.user_api_key_request_route") == "/v1/chat/completions"


@pytest.fixture(scope="module")
def raw_kept(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    """`--raw-request-span`: LiteLLM's raw_gen_ai_request span kept (lean otherwise)."""
    return _run_proxy(tmp_path_factory.mktemp("raw_kept"), "", ["run", "--raw-request-span", *RUN[1:]])


def test_raw_request_span_only_when_asked(raw_kept: ProxyRun, no_otel: ProxyRun) -> None:
    """LiteLLM 1.75 makes raw_gen_ai_request whatever it is told (the proxy's sampler drops it), later releases
    when asked: in the proxy it is there only with --raw-request-span, under litellm_request."""
    assert not any(s.name == "raw_gen_ai_request" for s in no_otel.spans)
    assert raw_kept.chat_statuses == [200] * CHATS, raw_kept.stderr[-3000:]
    traces = raw_kept.traces_with_server_span("/v1/chat/completions")
    assert len(traces) == CHATS
    for spans in traces.values():
        raw = _one(spans, "raw_gen_ai_request")
        assert raw.parent_span_id == _one(spans, "litellm_request").span_id


@pytest.mark.parametrize("scenario", FULL)
def test_full_detail_keeps_every_internal_span(scenario: str, request: pytest.FixtureRequest) -> None:
    run: ProxyRun = request.getfixturevalue(scenario)
    chats = run.traces_with_server_span("/v1/chat/completions")
    assert len(chats) == CHATS
    for spans in chats.values():
        names = Counter(s.name for s in spans)
        assert {PROXY_SPAN, "auth", "router", "litellm_request"} <= set(names), names
        assert any(name.endswith(("http receive", "http send")) for name in names), names
        ids = {s.span_id for s in spans}
        assert all(s.parent_span_id in ids for s in spans if s.parent_span_id), names
        assert _one(spans, PROXY_SPAN).span_id == _one(spans, "litellm_request").parent_span_id
        llm = _one(spans, "litellm_request").attributes
        assert "metadata.usage_object" in llm and "metadata.requester_metadata" in llm, sorted(llm)
        assert "hidden_params" in llm or not HIDDEN_PARAMS_ON_SPANS, sorted(llm)
        # the cost breakdown's adjustments, 0 here, kept wherever the release writes a breakdown
        breakdown = {k for k in llm if k.startswith("gen_ai.cost.") and k != "gen_ai.cost.total_cost"}
        assert not breakdown or LEAN_LEFT_OUT_WHEN_ZERO & breakdown, sorted(llm)


RETRY_SETTINGS = ("router_settings:\n  num_retries: 2\n  retry_after: 0\n"
                  "litellm_settings:\n  fallbacks: [{\"broken-model\": [\"fake-model\"]}]\n")
RETRY_CHATS = [
    {"model": "fake-model", "messages": [{"role": "user", "content": "answered at the third attempt"}]},
    {"model": "broken-model", "messages": [{"role": "user", "content": "answered by the fallback"}]},
    {"model": "fake-model", "messages": [{"role": "user", "content": "FAIL at every attempt"}]},
    {"model": "fake-model", "messages": [{"role": "user", "content": "streamed"}], "stream": True},
]


def _run_retries(directory: Path, command: list[str]) -> ProxyRun:
    """The provider rate-limits the first call and fails the second (then answers), fails every call for
    broken-model (which falls back to fake-model) and every call whose content says FAIL; the router retries
    each deployment twice."""
    return _run_proxy(directory, RETRY_SETTINGS, command, models=("fake-model", "broken-model"), chats=RETRY_CHATS,
                      provider_options={"fail_first": (429, 500),
                                        "fail_when": lambda body: body.get("model") == "broken-model"
                                        or "FAIL" in str(body.get("messages"))})


@pytest.fixture(scope="module")
def retries_lean(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    return _run_retries(tmp_path_factory.mktemp("retries_lean"), RUN)


@pytest.fixture(scope="module")
def retries_full(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    return _run_retries(tmp_path_factory.mktemp("retries_full"), [RUN[0], "--span-detail", "full", *RUN[1:]])


def _chat_traces_in_order(run: ProxyRun) -> list[list[SpanRecord]]:
    chats = run.traces_with_server_span("/v1/chat/completions").values()
    return sorted(chats, key=lambda spans: min(s.start_time_unix_nano for s in spans))


def _provider_calls(spans: list[SpanRecord]) -> list[SpanRecord]:
    return sorted((s for s in spans if s.kind == 3), key=lambda s: s.start_time_unix_nano)


def test_lean_retries_and_fallbacks_are_summed_up_on_one_litellm_request(retries_lean: ProxyRun) -> None:
    run = retries_lean
    assert run.chat_statuses == [200, 200, 500, 200], run.stderr[-3000:]
    assert len(_by_trace(run.spans)) == len(RETRY_CHATS)  # nothing outside the requests' traces
    expected = [  # the provider's answers, attempt by attempt
        [429, 500, 200],
        [500, 500, 500, 200],  # broken-model three times, then its fallback
        [500, 500, 500],
        [200],
    ]
    for spans, statuses in zip(_chat_traces_in_order(run), expected):
        llm = _one(spans, "litellm_request")
        server = next(s for s in spans if s.kind == 2)
        calls = _provider_calls(spans)
        assert len(spans) == 2 + len(statuses), [s.name for s in spans]
        assert [c.attributes.get("http.status_code") for c in calls] == statuses
        assert all(c.parent_span_id == llm.span_id for c in calls)
        assert llm.parent_span_id == server.span_id
        assert llm.attributes["litellm.attempts"] == len(statuses)
        assert llm.attributes["litellm.deployment.model"] == "openai/fake-model"  # the deployment that answered
        assert isinstance(llm.attributes["litellm.deployment.id"], str)
        assert llm.attributes["gen_ai.request.model"] == "fake-model"
        assert llm.status_code == (2 if statuses[-1] != 200 else 1), llm.status_message  # ERROR / OK
    streamed = _chat_traces_in_order(run)[-1]
    assert _one(streamed, "litellm_request").attributes["gen_ai.server.time_to_first_token"] >= 0
    assert not any(s.name.startswith("Failed Proxy") for s in run.spans)


def test_full_detail_shows_every_attempt(retries_full: ProxyRun) -> None:
    run = retries_full
    assert run.chat_statuses == [200, 200, 500, 200], run.stderr[-3000:]
    traces = _chat_traces_in_order(run)
    assert [len(_provider_calls(spans)) for spans in traces] == [3, 4, 3, 1]
    for spans in traces:
        ids = {s.span_id for s in spans}
        assert all(s.parent_span_id in ids for s in spans if s.parent_span_id), [s.name for s in spans]
        assert PROXY_SPAN in {s.name for s in spans}
        assert all("litellm.attempts" not in s.attributes for s in spans)
    first = Counter((s.name, s.status_code) for s in traces[0])
    assert first[("litellm_request", 2)] >= 1 and first[("litellm_request", 1)] == 1, first  # failed and answered


DEPLOYMENTS = 300
BIG_PROMPT = "word " * 200_000  # 1 MB


@pytest.fixture(scope="module")
def gateway_scale(tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    """A config with hundreds of deployments, a client sending a 1 MB prompt, then a streamed one."""
    models = ("fake-model", *(f"deployment-{i}" for i in range(DEPLOYMENTS - 1)))
    chats = [{"model": "fake-model", "messages": [{"role": "user", "content": BIG_PROMPT}]},
             {"model": "deployment-7", "messages": [{"role": "user", "content": BIG_PROMPT}], "stream": True}]
    return _run_proxy(tmp_path_factory.mktemp("gateway_scale"), "", RUN, models=models, chats=chats)


def test_big_configs_and_prompts_pass_through_lean(gateway_scale: ProxyRun) -> None:
    run = gateway_scale
    assert run.chat_statuses == [200, 200], run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    traces = _chat_traces_in_order(run)
    assert len(_by_trace(run.spans)) == 2
    for spans, model in zip(traces, ("fake-model", "deployment-7")):
        assert len(spans) == 3, [s.name for s in spans]
        llm = _one(spans, "litellm_request")
        assert llm.attributes["gen_ai.request.model"] == model
        if model == "deployment-7" and not STREAM_USAGE_FROM_PROVIDER:
            # LiteLLM 1.75's proxy does not ask a streamed answer for its usage: LiteLLM counts the prompt itself
            # (tiktoken, with its per-message overhead)
            assert 200_000 <= llm.attributes["gen_ai.usage.prompt_tokens"] <= 200_016, llm.attributes
        else:
            assert llm.attributes["gen_ai.usage.prompt_tokens"] == 200_000, (model, llm.attributes)


@pytest.mark.skipif(not HAS_GENAI_METRICS, reason="this LiteLLM has no GenAI metrics")
def test_failed_calls_are_measured_with_their_error_type(retries_lean: ProxyRun) -> None:
    """LiteLLM measures answered calls only; a failed one gets the same series labels plus error.type. (LiteLLM
    reports a proxy request's first failed attempt to its callbacks, not every one.)"""
    exports = [m for m in retries_lean.metrics if m.name == "gen_ai.client.operation.duration"]
    points = exports[-1].data_points  # cumulative: the last export holds every series
    failed: Counter[tuple[str, str | None]] = Counter()
    for p in points:
        failed[(p["attributes"]["gen_ai.request.model"], p["attributes"].get("error.type"))] += p["count"]
    assert failed[("fake-model", "RateLimitError")] == 1, failed  # the 429 of the first request
    assert failed[("broken-model", "InternalServerError")] == 1, failed
    assert failed[("fake-model", "InternalServerError")] == 1, failed  # the request failing at every attempt
    assert failed[("fake-model", None)] == 3, failed  # answered: the first, the fallback's, the streamed
    answered = next(p["attributes"] for p in points if "error.type" not in p["attributes"])
    assert {k: v for k, v in next(p["attributes"] for p in points if "error.type" in p["attributes"]).items()
            if k not in ("error.type", "gen_ai.request.model")} == \
        {k: v for k, v in answered.items() if k != "gen_ai.request.model"}


# GenAI metric labels a gateway may carry: bounded by the config (models, teams, guardrails), never per request,
# key or user.
BOUNDED_METRIC_LABELS = {
    "gen_ai.framework", "gen_ai.operation.name", "gen_ai.request.model", "gen_ai.system", "gen_ai.provider.name",
    "gen_ai.token.type", "metadata.applied_guardrails", "metadata.user_api_key_team_id",
    "metadata.user_api_key_team_alias", "metadata.user_api_key_org_id", "error.type",
}


@pytest.mark.parametrize("scenario", ("no_otel", "retries_lean"))
def test_metric_labels_are_bounded(scenario: str, request: pytest.FixtureRequest) -> None:
    run: ProxyRun = request.getfixturevalue(scenario)
    genai = [m for m in run.metrics if m.name.startswith("gen_ai.")]
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= {m.name for m in genai} or (
        not HAS_GENAI_METRICS and not genai)  # LiteLLM 1.75 has none: its HTTP metrics' labels are checked below
    for metric in genai:
        for point in metric.data_points:
            assert set(point["attributes"]) <= BOUNDED_METRIC_LABELS, (metric.name, point["attributes"])
    series = {(m.name, tuple(sorted(p["attributes"].items()))) for m in genai for p in m.data_points}
    duration = [dict(s[1]) for s in series if s[0] == "gen_ai.client.operation.duration"]
    answered = [s for s in duration if "error.type" not in s]
    assert len(answered) == (1 if HAS_GENAI_METRICS else 0), duration  # one model, one operation: one series
    assert any(m.name.startswith("http.") for m in run.metrics), [m.name for m in run.metrics]
    for metric in run.metrics:
        if metric.name.startswith("http."):
            for point in metric.data_points:
                assert not {"http.url", "url.full", "url.query", "user_agent.original"} & set(point["attributes"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sigterm_exports_everything_buffered(scenario: str, request: pytest.FixtureRequest) -> None:
    run: ProxyRun = request.getfixturevalue(scenario)
    assert run.spans_before_sigterm == 0  # export timers are far away: nothing was sent before
    # Uvicorn shuts down gracefully, then dies of the signal it got (older releases exit 0): the
    # proxy's own status, unchanged by us.
    assert run.returncode in (-signal.SIGTERM, 0), run.stderr[-3000:]
    assert "Application shutdown complete" in run.stderr
    assert sum(s.name == "litellm_request" for s in run.spans) == CHATS
    if HAS_GENAI_METRICS:
        assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= run.metric_names
    else:  # LiteLLM 1.75 has none: the HTTP instrumentations' metrics show the metrics were flushed
        assert any(name.startswith("http.") for name in run.metric_names), run.metric_names


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_users_config_file_is_not_modified(scenario: str, request: pytest.FixtureRequest) -> None:
    run: ProxyRun = request.getfixturevalue(scenario)
    assert run.config_after == run.config_before


@pytest.mark.parametrize("scenario", ("no_otel", "otel_and_custom", "two_workers"))
def test_health_probes_leave_no_spans_by_default(scenario: str, request: pytest.FixtureRequest) -> None:
    run: ProxyRun = request.getfixturevalue(scenario)
    for probe in PROBES:
        assert not run.traces_with_server_span(probe), probe
    probe_spans = [s for s in run.spans if any(p in _path(s) for p in PROBES)]
    assert probe_spans == []


def test_trace_health_probes_brings_them_back(single_callback_probes: ProxyRun) -> None:
    for probe in PROBES:
        assert single_callback_probes.traces_with_server_span(probe), probe


@pytest.mark.parametrize("scenario", ("otel_and_custom", "single_callback_probes"))
def test_other_callbacks_keep_working(scenario: str, request: pytest.FixtureRequest) -> None:
    run: ProxyRun = request.getfixturevalue(scenario)
    assert run.callback_lines == CHATS


def test_proxy_without_its_dependencies_says_what_to_install(tmp_path: Path) -> None:
    """A `litellm` whose interpreter lacks the server's packages: exit 2 and the extra to install."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    script = bin_dir / "litellm"
    script.write_text(f"#!{bin_dir / 'python'}\nprint('the proxy must not start')\n")
    script.chmod(0o755)
    env = dict(os.environ, PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    for command in (["run", "--endpoint", "http://127.0.0.1:4317", "--", "litellm", "--config", "c.yaml"],
                    ["proxy", "--endpoint", "http://127.0.0.1:4317", "--config", "c.yaml"]):
        done = subprocess.run([sys.executable, "-m", "signoz_litellm_run", *command], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "pip install 'signoz-litellm[proxy]'" in done.stderr
        assert "fastapi" in done.stderr
        assert "must not start" not in done.stdout
        assert "Traceback" not in done.stderr


def _fake_litellm(venv: Path, release: str, proxy_requires: tuple[str, ...]) -> None:
    """LiteLLM's metadata (no code) at `release`, its `proxy` extra listing `proxy_requires`."""
    site = next(venv.glob("lib/python*/site-packages"))
    info = site / f"litellm-{release}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: litellm\nVersion: " + release + "\n" + "".join(
        f'Requires-Dist: {name} ; extra == "proxy"\n' for name in ("fastapi", *proxy_requires)))


@pytest.mark.parametrize(("release", "proxy_requires", "hint", "newer_modules"), [
    # 1.75's own proxy extra lists none of semver / expression / soundfile: they are not asked for, and our
    # extra (mcp 2) would break its proxy: LiteLLM's own extra at that release is the fix.
    ("1.75.0", (), "pip install 'litellm[proxy]==1.75.0'", set()),
    ("1.110.2", ("semver", "expression", "soundfile"), "pip install 'signoz-litellm[proxy]'",
     {"semver", "expression", "soundfile"}),
])
def test_proxy_check_asks_for_what_the_installed_release_needs(tmp_path: Path, release: str,
                                                                 proxy_requires: tuple[str, ...], hint: str,
                                                                 newer_modules: set[str]) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    _fake_litellm(venv, release, proxy_requires)
    bin_dir = venv / "bin"
    script = bin_dir / "litellm"
    script.write_text(f"#!{bin_dir / 'python'}\nprint('the proxy must not start')\n")
    script.chmod(0o755)
    env = dict(os.environ, PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run([sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", "http://127.0.0.1:4317",
                           "--", "litellm", "--config", "c.yaml"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert hint in done.stderr
    assert "fastapi" in done.stderr and "Traceback" not in done.stderr
    from signoz_litellm_run.proxy import missing_server_modules

    missing, found = missing_server_modules(str(bin_dir / "python"), env)
    assert found == release
    assert set(missing) & {"semver", "expression", "soundfile"} == newer_modules


@pytest.mark.parametrize(("argv", "expected"), [
    (["litellm", "--config", "c.yaml"], True),
    (["/venv/bin/litellm-proxy"], True),
    (["python", "-m", "litellm", "--config", "c.yaml"], True),
    (["python3.11", "-u", "-m", "litellm.proxy.proxy_cli"], True),
    (["python", "main.py", "-m", "litellm"], False),
    (["python", "-m", "uvicorn", "app:api"], False),
    (["uvicorn", "app:api"], False),
])
def test_recognises_the_proxy_command(argv: list[str], expected: bool) -> None:
    from signoz_litellm_run.proxy import is_proxy_command

    assert is_proxy_command(argv) is expected


def test_an_sdk_program_does_not_import_the_proxy_server(receiver: Receiver, fake_provider: FakeProvider) -> None:
    """With the proxy's packages installed, LiteLLM's OTel logger imports the whole proxy server when
    it is created (seconds at the first call); under signoz-litellm an SDK program never does."""
    code = (
        "import sys, litellm\n"
        f"litellm.completion(model='openai/fake-model', api_base={fake_provider.base_url!r}, api_key='sk-test',\n"
        "                  messages=[{'role': 'user', 'content': 'hi'}])\n"
        "print('PROXY_SERVER_IMPORTED', 'litellm.proxy.proxy_server' in sys.modules)\n"
    )
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run([sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint,
                           "--no-bootstrap", "--", sys.executable, "-c", code],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "PROXY_SERVER_IMPORTED False" in done.stdout
    assert "Proxy Server is not installed" not in done.stderr
    assert receiver.wait_for(lambda r: any(s.name == "litellm_request" for s in r.spans()), timeout=30)

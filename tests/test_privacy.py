"""Content capture, secret scrubbing and attribution, end to end: real launcher, real child, real LiteLLM, the real
OTLP receiver, a fake provider whose errors quote the request. Assertions are on what the receiver received."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import app, clean_env, launcher
from tests.support.litellm_release import RECORDS_EXCEPTIONS

pytestmark = pytest.mark.timeout(180)

PROMPT = "The-Prompt-Text purple elephants dance at midnight"
SECRET = "sk-live-ABCDEF0123456789ABCDEF"
COMPLETION = "The-Completion-Text zebra quartz"
EMAIL = "bob@example.com"
KINDS = ("sync", "stream", "async", "FAIL")


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider(reply=COMPLETION, quote_request_in_errors=True) as fake:
        yield fake


def _run(receiver: Receiver, provider: FakeProvider, options: list[str], *, protocol: str = "http/protobuf",
         extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = clean_env({"FAKE_BASE_URL": provider.base_url, "PROMPT_TEXT": PROMPT, "PLANTED_SECRET": SECRET,
                     **(extra_env or {})})
    args = ["run", "--endpoint", receiver.endpoint(protocol), "--protocol", protocol, *options, "--", sys.executable,
            app("privacy_app.py")]
    result = launcher(args, env=env)
    assert result.returncode == 0, result.stderr
    assert "own logger saw the whole prompt 4 of 4" in result.stdout, result.stdout + result.stderr
    return result


def _calls(receiver: Receiver) -> list:
    """The four litellm_request spans (sync, streaming, async, failed), once they arrived and a second passed."""
    assert receiver.wait_for(lambda r: len([s for s in r.spans() if s.name == "litellm_request"]) >= 4, timeout=20), \
        [s.name for s in receiver.spans()]
    receiver.wait_for(lambda r: False, timeout=1.0)  # late ones (duplicates) and log records
    spans = [s for s in receiver.spans() if s.name == "litellm_request"]
    assert len(spans) == 4
    kinds = sorted(str(s.attributes.get("llm.request.type")) + "/" + str(s.attributes.get("llm.is_streaming")) +
                   "/" + str(s.status_code) for s in spans)
    assert kinds == ["acompletion/False/1", "completion/False/1", "completion/False/2", "completion/True/1"], kinds
    return spans


def _every_byte(receiver: Receiver) -> bytes:
    """Every OTLP request body as it arrived (HTTP: the bytes posted, after content decoding)."""
    assert receiver.requests and all(r.raw for r in receiver.requests)
    return b"\n".join(r.raw for r in receiver.requests)


def test_capture_none_sends_no_prompt_completion_or_secret(receiver: Receiver, provider: FakeProvider) -> None:
    _run(receiver, provider, ["--capture-content", "none"])
    spans = _calls(receiver)
    for span in spans:
        attributes = span.attributes
        assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
        for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                    "gen_ai.prompt.0.content", "gen_ai.completion.0.content", "error.message"):
            assert key not in attributes, key
        # what the call cost and how it went stays
        if span.status_code != 2:
            assert attributes["gen_ai.usage.input_tokens"] > 0 and attributes["gen_ai.usage.output_tokens"] > 0
        # attribution is not content
        assert attributes["user.id"] == "user-42" and attributes["session.id"] == "sess-7"
    failed = [s for s in spans if s.status_code == 2]
    assert len(failed) == 1
    if RECORDS_EXCEPTIONS:
        events = [attrs for name, attrs in failed[0].events if name == "exception"]
        assert events and "exception.type" in events[0]
        assert "exception.message" not in events[0]
    data = _every_byte(receiver)
    for text in (PROMPT, COMPLETION, SECRET, "purple elephants", "zebra quartz"):
        assert text.encode() not in data, text
    assert b"gen_ai.usage.input_tokens" in data  # the search looks where the spans are


def test_capture_full_scrubs_the_secret_and_keeps_the_prompt(receiver: Receiver, provider: FakeProvider) -> None:
    _run(receiver, provider, [])
    spans = _calls(receiver)
    answered = [s for s in spans if s.status_code != 2]
    assert len(answered) == 3
    for span in answered:
        prompt = str(span.attributes.get("gen_ai.input.messages", span.attributes.get("gen_ai.prompt.1.content")))
        assert PROMPT in prompt and "[REDACTED:" in prompt
        assert "gen_ai.input.messages" in span.attributes["signoz_litellm.scrubbed"] or \
            "gen_ai.prompt.1.content" in span.attributes["signoz_litellm.scrubbed"]
    data = _every_byte(receiver)
    assert SECRET.encode() not in data
    assert PROMPT.encode() in data and COMPLETION.encode() in data


def test_without_scrubbing_the_secret_arrives_and_attribution_stays_off_metrics(
        receiver: Receiver, provider: FakeProvider) -> None:
    # The same job with --no-scrub: the secret is in the export (what the scrubbing test would catch), and the
    # call's user, session, tags and metadata are on its span, never on a metric; the job's tags are on both.
    _run(receiver, provider, ["--no-scrub", "--tag", "team=search", "--tag", "run=nightly-42"])
    spans = _calls(receiver)
    for span in spans:
        a = span.attributes
        assert (a["user.id"], a["llm.user"], a["session.id"], a["gen_ai.conversation.id"]) == (
            "user-42", "user-42", "sess-7", "sess-7")
        assert list(a["tags"]) == ["nightly", "eval"]
        assert a["metadata.customer"] == "acme" and a["metadata.attempt"] == 2
        assert len(a["metadata.huge"]) == 256  # cut
        assert "metadata.nested" not in a and "metadata.odd" not in a  # nested, not serialisable: skipped
        assert "signoz_litellm.scrubbed" not in a
        assert span.resource["tag.team"] == "search" and span.resource["tag.run"] == "nightly-42"
    assert SECRET.encode() in _every_byte(receiver)
    assert receiver.wait_for(lambda r: "gen_ai.client.operation.duration" in r.metric_names(), timeout=20)
    metrics = receiver.metrics()
    labels = {key for m in metrics for point in m.data_points for key in point.get("attributes", {})}
    values = {str(v) for m in metrics for point in m.data_points for v in point.get("attributes", {}).values()}
    assert labels and not labels & {"user.id", "session.id", "gen_ai.conversation.id", "tags", "llm.user"}
    assert not [k for k in labels if k.startswith("metadata.") and k != "metadata.applied_guardrails"], labels
    assert not values & {"user-42", "sess-7", "acme"}
    assert all(m.resource.get("tag.team") == "search" for m in metrics)


def test_pii_scrubbing_and_own_patterns_over_grpc(receiver: Receiver, provider: FakeProvider) -> None:
    _run(receiver, provider, ["--scrub", "pii", "--scrub-pattern", r"purple\s+elephants"], protocol="grpc",
         extra_env={"LITELLM_OTEL_INTEGRATION_ENABLE_EVENTS": "true"})
    spans = _calls(receiver)
    text = repr([s.attributes for s in spans]) + repr([(r.body, r.attributes) for r in receiver.log_records()])
    for secret in (SECRET, EMAIL, "purple elephants"):
        assert secret not in text, secret
    assert "The-Prompt-Text" in text and COMPLETION in text
    # LiteLLM's gen_ai events (log records) are scrubbed too, and say so
    events = [r for r in receiver.log_records() if r.attributes.get("event_name") == "gen_ai.content.prompt"]
    assert events and any("body" in (r.attributes.get("signoz_litellm.scrubbed") or ()) for r in events)


@pytest.mark.parametrize("options, env, named", [
    (["--capture-content", "some"], {}, "'some'"),
    (["--scrub", "everything"], {}, "'everything'"),
    (["--scrub-pattern", "(unclosed"], {}, "'(unclosed'"),
    (["--tag", "no-equals-sign"], {}, "'no-equals-sign'"),
    ([], {"SIGNOZ_LITELLM_CAPTURE_CONTENT": "partial"}, "SIGNOZ_LITELLM_CAPTURE_CONTENT"),
    ([], {"SIGNOZ_LITELLM_SCRUB_PATTERNS": "fine\n[broken"}, "'[broken'"),
    (["--scrub", "pii", "--no-scrub"], {}, "--no-scrub"),
])
def test_bad_input_exits_2_naming_the_value(options: list[str], env: dict[str, str], named: str) -> None:
    result = launcher(["run", "--local", *options, "--", sys.executable, "-c", "pass"], env=clean_env(env))
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "hint:" in result.stderr and "Traceback" not in result.stderr


def test_config_file_keys(tmp_path) -> None:
    (tmp_path / "signoz-litellm.toml").write_text(
        'local = true\ncapture-content = "none"\nscrub = "pii"\nscrub-patterns = ["acct-[0-9]+"]\n'
        'tags = { team = "search" }\n')
    result = launcher(["config", "--scrub-pattern", "ord-[0-9]+", "--tag", "run=7"], env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 3}
    assert "none" in lines["capture-content"] and "pii" in lines["scrub"]
    assert "acct-[0-9]+ ord-[0-9]+" in lines["scrub-patterns"]
    assert "team=search,run=7" in lines["tags"]
    (tmp_path / "signoz-litellm.toml").write_text('capture-content = "most"\n')
    result = launcher(["config"], env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2 and "capture-content in" in result.stderr and "'most'" in result.stderr


def test_proxy_with_capture_none_sends_no_prompt_completion_or_secret(tmp_path, provider: FakeProvider) -> None:
    import os
    import signal

    import httpx

    from signoz_litellm_run.loopback import unused_port
    from tests.test_proxy import wait_until_ready

    master = "sk-proxy-test-master"
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: fake-model\n    litellm_params:\n      model: openai/fake-model\n"
                      f"      api_base: {provider.base_url}\n      api_key: sk-test\n")
    port = unused_port()
    env = clean_env({"LITELLM_MASTER_KEY": master, "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
                     "DISABLE_SCHEMA_UPDATE": "true",
                     "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")})
    with Receiver(keep_raw=True) as receiver:
        argv = [sys.executable, "-m", "signoz_litellm_run", "proxy", "--endpoint", receiver.endpoint("http/protobuf"),
                "--protocol", "http/protobuf", "--capture-content", "none", "--config", str(config),
                "--host", "127.0.0.1", "--port", str(port)]
        log = open(tmp_path / "proxy.log", "w+b")
        child = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
                wait_until_ready(client, child, tmp_path / "proxy.log")
                statuses = []
                for kind in ("chat", "FAIL"):
                    response = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {master}"}, json={
                        "model": "fake-model", "user": "user-42",
                        "metadata": {"session_id": "sess-7", "tags": ["nightly"], "customer": "acme"},
                        "messages": [{"role": "user", "content": f"{kind}: {PROMPT} my key is {SECRET}"}]})
                    statuses.append(response.status_code)
                assert statuses[0] == 200 and statuses[1] >= 400, statuses
            assert receiver.wait_for(lambda r: sum(s.name == "litellm_request" for s in r.spans()) >= 2, timeout=30)
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            log.close()
        calls = [s for s in receiver.spans() if s.name == "litellm_request"]
        answered = [s for s in calls if s.status_code != 2]
        assert answered and answered[0].attributes["gen_ai.usage.input_tokens"] > 0
        assert answered[0].attributes["user.id"] == "user-42"
        data = _every_byte(receiver)
        for text in (PROMPT, COMPLETION, SECRET, "purple elephants", "zebra quartz"):
            assert text.encode() not in data, text


def test_init_keywords_and_the_programs_own_exporter_keeps_the_content(receiver: Receiver,
                                                                      provider: FakeProvider) -> None:
    # init() in a program with its own tracer provider: our exporter sends no prompt, the program's own gets it.
    import json

    kwargs = {"endpoint": receiver.endpoint("http/protobuf"), "protocol": "http/protobuf",
              "capture_content": "none", "scrub": "pii", "scrub_patterns": ["hello"], "tags": {"team": "search"}}
    env = clean_env({"FAKE_BASE_URL": provider.base_url, "MODE": "own_provider", "INIT_KWARGS": json.dumps(kwargs)})
    result = subprocess.run([sys.executable, app("init_app.py")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "own exporter prompts 2" in result.stdout, result.stdout
    assert receiver.wait_for(lambda r: sum(s.name == "litellm_request" for s in r.spans()) >= 2, timeout=20)
    spans = [s for s in receiver.spans() if s.name == "litellm_request"]
    assert all(s.attributes["gen_ai.usage.input_tokens"] > 0 for s in spans)
    assert b"hello number" not in _every_byte(receiver)


def test_local_report_sums_per_user_and_session_and_tells_content_and_scrubbing() -> None:
    import io

    from signoz_litellm_run.local_report import build_report, render
    from signoz_litellm_run.received import SpanRecord

    def call(user: str | None, session: str | None, cost: float, **extra: object) -> SpanRecord:
        attributes = {"gen_ai.request.model": "m", "gen_ai.usage.total_tokens": 10, "gen_ai.cost.total_cost": cost,
                      **({"user.id": user} if user else {}), **({"session.id": session} if session else {}), **extra}
        return SpanRecord("litellm_request", "t" * 32, "s" * 16, "", 1, 1, "", 0, 1_000_000, attributes, {}, "litellm")

    spans = [call("ann", "s1", 0.5, **{"signoz_litellm.scrubbed": ("gen_ai.input.messages", "error.message")}),
             call("ann", "s2", 0.25), call("bob", "s2", 0.125), call(None, None, 1.0)]
    report = build_report(spans, capture_content="none", scrubbed_in_logs=3)
    assert [(u.name, u.calls, u.total_tokens, u.cost) for u in report.users] == [("ann", 2, 20, 0.75),
                                                                                 ("bob", 1, 10, 0.125)]
    assert [(s.name, s.calls) for s in report.sessions] == [("s2", 2), ("s1", 1)]
    assert report.content_captured is False and report.scrubbed == 5
    out = io.StringIO()
    render(report, out)
    text = out.getvalue()
    assert "Per user (user.id)" in text and "Per session (session.id)" in text
    assert "prompts and completions not captured; 5 values scrubbed" in " ".join(text.split())
    # without the setting (a --local-output file read back): content counts as captured when a span carries it
    assert build_report([call("ann", None, 0.1, **{"gen_ai.input.messages": "[]"})]).content_captured is True

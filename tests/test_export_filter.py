"""hook/export_filter.py on real OpenTelemetry SDK spans and log records (the end-to-end checks are in
tests/test_privacy.py): what changes, and that the objects other processors hold do not."""

from __future__ import annotations

import logging

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from signoz_litellm_run.hook import export_filter
from signoz_litellm_run.hook.export_filter import NOT_CAPTURED, SCRUBBED_ATTRIBUTE, Policy, frames_only

SECRET = "sk-live-ABCDEF0123456789ABCDEF"


def _span(name: str = "litellm_request"):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span(name) as span:
        span.set_attributes({"gen_ai.input.messages": f'[{{"content": "hi {SECRET}"}}]', "gen_ai.usage.input_tokens": 7,
                             "gen_ai.completion.0.finish_reason": "stop", "gen_ai.completion.0.content": "answer",
                             "llm.request.functions.0.name": "lookup", "llm.request.functions.0.parameters": "{}",
                             "gen_ai.request.model": "gpt-4o-mini"})
        try:
            raise ValueError(f"provider refused 'hi {SECRET}'")
        except ValueError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"refused 'hi {SECRET}'"))
    return exporter.get_finished_spans()[0]


def test_none_keeps_what_a_call_cost_and_leaves_the_original_alone() -> None:
    span = _span()
    filtered = Policy("none", "off").span(span)
    assert filtered is not span
    assert dict(filtered.attributes) == {"gen_ai.usage.input_tokens": 7, "gen_ai.completion.0.finish_reason": "stop",
                                         "llm.request.functions.0.name": "lookup", "gen_ai.request.model": "gpt-4o-mini"}
    event = dict(filtered.events[0].attributes)
    assert "exception.message" not in event and event["exception.type"] == "ValueError"
    assert SECRET not in event["exception.stacktrace"] and "  File " in event["exception.stacktrace"]
    assert filtered.status.status_code is StatusCode.ERROR and not filtered.status.description
    # the span other processors (the program's own) hold is as it was
    assert "gen_ai.input.messages" in span.attributes and SECRET in span.status.description
    assert "exception.message" in span.events[0].attributes


def test_scrubbing_names_what_it_changed() -> None:
    span = _span()
    filtered = Policy("full", "default").span(span)
    assert SECRET not in repr(dict(filtered.attributes)) + repr(dict(filtered.events[0].attributes))
    assert SECRET not in filtered.status.description
    assert "[REDACTED:" in filtered.attributes["gen_ai.input.messages"]
    scrubbed = filtered.attributes[SCRUBBED_ATTRIBUTE]
    assert "gen_ai.input.messages" in scrubbed and "exception:exception.message" in scrubbed
    assert "status.description" in scrubbed
    assert SECRET in span.attributes["gen_ai.input.messages"]


def test_a_span_without_content_or_secrets_is_passed_on_as_it_is() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("POST") as span:
        span.set_attribute("http.url", "http://127.0.0.1:8000/v1/chat/completions")
    plain = exporter.get_finished_spans()[0]
    assert Policy("none", "pii").span(plain) is plain


def test_raw_request_span_loses_the_providers_request_under_none() -> None:
    span = _span("raw_gen_ai_request")
    assert not any(k.startswith("llm.") for k in Policy("none", "off").span(span).attributes)


def test_log_records_of_litellm_lose_their_text_under_none() -> None:
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    for name in ("LiteLLM", "myapp"):
        logger = logging.getLogger(name)
        handler = LoggingHandler(logger_provider=provider)
        logger.addHandler(handler)
        propagate, logger.propagate = logger.propagate, False
        try:
            logger.warning("call failed: %s", f"prompt text {SECRET}")
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate
    litellm, mine = exporter.get_finished_logs()
    policy = Policy("none", "default")
    assert policy.log(litellm).log_record.body == NOT_CAPTURED
    own = policy.log(mine).log_record
    assert "prompt text" in own.body and SECRET not in own.body and own.attributes[SCRUBBED_ATTRIBUTE] == ("body",)
    assert SECRET in mine.log_record.body  # the record the program's processors hold


def test_frames_only_keeps_the_frames() -> None:
    trace = ('Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n    call()\n'
             "ValueError: refused 'secret prompt'\n  continued 'more prompt'\n")
    kept = frames_only(trace)
    assert 'File "a.py"' in kept and "call()" in kept and "prompt" not in kept


def test_nothing_is_installed_for_full_without_scrubbing() -> None:
    assert Policy.from_environ({"SIGNOZ_LITELLM_CAPTURE_CONTENT": "full", "SIGNOZ_LITELLM_SCRUB": "off"}) is None
    assert export_filter.Policy.from_environ({}) is not None  # scrubbing is on by default

"""What leaves the process: a call's content left out (`--capture-content none`) and secrets scrubbed (`--scrub`).

Applied at our span and log exporters, the one place every span (`litellm_request`, `raw_gen_ai_request`, the
proxy's request span, HTTP spans; their events, exception events and status descriptions) and every log record
(LiteLLM's log lines and gen_ai events, the program's own) passes on its way out, whoever made it. Only what we
export changes: LiteLLM's callbacks, the program's own among them, still receive the whole call (LiteLLM's own
switch, `turn_off_message_logging`, redacts it for every callback). It runs on the exporter's thread, not the
program's, and copies only the spans and records it changes, so the program's own processors, which may hold the
same objects, see them as they were. With `--capture-content full --no-scrub` nothing is installed.

`none` keeps what a call costs and how it went: tokens, model, cost, latency, finish reasons, error type and code.
Scrubbing replaces each secret with `[REDACTED:<kind>]` (hook/scrub.py) in string attribute values, event
attributes, status descriptions and log bodies; each span or log record that had one lists the attributes in
`signoz_litellm.scrubbed`.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_logger = logging.getLogger("signoz_litellm")

CAPTURE_CONTENT_ENV = "SIGNOZ_LITELLM_CAPTURE_CONTENT"
SCRUB_ENV = "SIGNOZ_LITELLM_SCRUB"
SCRUB_PATTERNS_ENV = "SIGNOZ_LITELLM_SCRUB_PATTERNS"
SCRUBBED_ATTRIBUTE = "signoz_litellm.scrubbed"
NOT_CAPTURED = "[content not captured]"
RAW_REQUEST_SPAN = "raw_gen_ai_request"

# Attributes holding a call's content, as LiteLLM writes them on every release in our range (1.75: gen_ai.prompt.N.*,
# 1.80.17 on: gen_ai.input.messages ...), in OpenInference's and the GenAI conventions' names, and its error text
# (the provider's error often quotes the request).
CONTENT_KEYS = frozenset({
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt",
    "gen_ai.completion", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.tool.definitions",
    "input.value", "output.value", "llm.input_messages", "llm.output_messages", "llm.prompts", "llm.completions",
    "message.content", "error.message", "error.stack_trace", "exception.message", "error",
    "guardrail_response", "masked_entity_count",
})
CONTENT_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.prompts.", "llm.completions.",
                    "llm.input_messages.", "llm.output_messages.", "gen_ai.input.", "gen_ai.output.")
# ... of which these describe the content without holding it, and stay.
KEPT_SUFFIXES = (".role", ".finish_reason", ".function_call.name")
TOOL_DEFINITIONS = "llm.request.functions."  # the tools a call offers: their names stay, descriptions and schemas go
STACKTRACES = frozenset({"exception.stacktrace", "error.stack_trace"})  # kept as frames only under none
# Keys of a structured log body (LiteLLM's gen_ai events) that hold content.
BODY_CONTENT_KEYS = frozenset({"content", "arguments", "tool_calls", "text", "messages", "input", "output",
                               "parts", "system_instructions"})
_MAX_CACHED = 4096
_SHORT = 64  # string values up to this length are remembered with their scrubbed form (model names, URLs, ...)
_MAX_DEPTH = 8  # a structured log body is walked this deep; deeper values are left out
_DROP = object()


def _scope_name(item: Any) -> str:
    scope = getattr(item, "instrumentation_scope", None)
    return getattr(scope, "name", "") or ""


def is_litellm_scope(name: str) -> bool:
    """LiteLLM's loggers (`LiteLLM`, `LiteLLM Proxy`, `LiteLLM Router`) and its OTel logger (`litellm`)."""
    return name.lower().startswith("litellm")


def frames_only(trace: str) -> str:
    """A formatted traceback without its messages: the `Traceback` and `File` lines and each frame's code line."""
    kept = []
    after_frame = False
    for line in trace.splitlines():
        if line.startswith("  File "):
            kept.append(line)
            after_frame = True
        elif after_frame and line.startswith("    "):
            kept.append(line)
            after_frame = False
        else:
            if line.startswith("Traceback"):
                kept.append(line)
            after_frame = False
    kept.append(NOT_CAPTURED)
    return "\n".join(kept)


class Policy:
    """The filter one process applies, from its environment (`run` sets it; `init()` too)."""

    def __init__(self, capture: str = "full", scrub: str = "default", patterns: Sequence[str] = ()) -> None:
        self.drop_content = capture == "none"
        self.scrubber: Any = None
        if scrub != "off":
            try:
                from signoz_litellm_run.hook import scrub as scrub_module
            except ImportError as exc:  # never a reason for the program to run without telemetry
                print(f"signoz-litellm: secrets are not scrubbed: {exc}", file=sys.stderr)
                return
            try:
                self.scrubber = scrub_module.Scrubber(tuple(patterns), pii=scrub == "pii")
            except scrub_module.PatternError as exc:  # checked by `run` and init(); set by hand, it must not break
                print(f"signoz-litellm: scrub pattern {exc.pattern!r} left out: {exc.reason}", file=sys.stderr)
                good = [p for p in patterns if p != exc.pattern]
                self.scrubber = Policy("full", scrub, good).scrubber
        self._content: dict[str, bool] = {}  # key -> holds content (on any span)
        self._raw_content: dict[str, bool] = {}  # the same on raw_gen_ai_request
        self._scrubbed: dict[str, tuple[str, tuple[str, ...]]] = {}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Policy | None:
        """None when there is nothing to do (`full`, scrubbing off): nothing is installed, nothing paid."""
        capture = environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() or "full"
        scrub = environ.get(SCRUB_ENV, "").strip().lower() or "default"
        if scrub in ("false", "0", "no"):
            scrub = "off"
        patterns = [p for p in environ.get(SCRUB_PATTERNS_ENV, "").splitlines() if p.strip()]
        if capture != "none" and scrub == "off":
            return None
        return cls(capture, scrub, patterns)

    @property
    def active(self) -> bool:
        return self.drop_content or self.scrubber is not None

    # -- decisions
    def is_content(self, key: str, raw_span: bool = False) -> bool:
        cache = self._raw_content if raw_span else self._content
        found = cache.get(key)
        if found is None:
            found = _is_content(key, raw_span)
            if len(cache) < _MAX_CACHED:
                cache[key] = found
        return found

    def scrub_value(self, value: Any) -> tuple[Any, tuple[str, ...]]:
        kind = type(value)
        if kind is str:
            if len(value) <= _SHORT:
                found = self._scrubbed.get(value)
                if found is None:
                    found = self.scrubber.scrub(value)
                    if len(self._scrubbed) < _MAX_CACHED:
                        self._scrubbed[value] = found
                return found
            return self.scrubber.scrub(value)
        if kind is tuple or kind is list:
            return self.scrubber.scrub_value(value)
        return value, ()

    # -- attributes
    def attributes(self, attributes: Any, *, raw_span: bool = False, label: str = "",
                   scrubbed: list[str] | None = None) -> dict[str, Any] | None:
        """The attributes as they may leave, or None when they may leave as they are. Scrubbed keys (with `label`
        before them) are added to `scrubbed`. Called for every span and log record: one pass that only looks,
        and a new dict only when something changes (a short value's scrubbed form is remembered)."""
        if not attributes:
            return None
        items = getattr(attributes, "_dict", attributes)  # BoundedAttributes: its dict, without a lock per item
        drop = self.drop_content
        content = self._raw_content if raw_span else self._content
        scrubber = self.scrubber
        if scrubber is not None:
            remembered = self._scrubbed
            scrub = scrubber.scrub
        changes: dict[str, Any] | None = None  # key -> its new value, or _DROP
        for key, value in items.items():
            if drop:
                found = content.get(key)
                if found is None:
                    found = self.is_content(key, raw_span)
                if found:
                    if changes is None:
                        changes = {}
                    changes[key] = frames_only(value) if key in STACKTRACES and type(value) is str else _DROP
                    continue
            if scrubber is None:
                continue
            kind = type(value)
            if kind is str:
                if len(value) <= _SHORT:
                    result = remembered.get(value)
                    if result is None:
                        result = scrub(value)
                        if len(remembered) < _MAX_CACHED:
                            remembered[value] = result
                else:
                    result = scrub(value)
                if not result[1]:
                    continue
                new = result[0]
            elif kind is tuple or kind is list:
                new, kinds = scrubber.scrub_value(value)
                if not kinds:
                    continue
            else:
                continue
            if changes is None:
                changes = {}
            changes[key] = new
            if scrubbed is not None:
                scrubbed.append(label + key)
        if changes is None:
            return None
        out = {}
        for key, value in items.items():
            value = changes.get(key, value)
            if value is not _DROP:
                out[key] = value
        return out

    # -- spans
    def span(self, span: Any) -> Any:
        """The span as it may leave: itself, or a copy with what must not leave left out or scrubbed."""
        scrubbed: list[str] = []
        attributes = self.attributes(getattr(span, "_attributes", None) or span.attributes,
                                     raw_span=span.name == RAW_REQUEST_SPAN, scrubbed=scrubbed)
        events = span.events
        new_events = None
        for index, event in enumerate(events):
            changed = self.attributes(event.attributes, label=f"{event.name}:", scrubbed=scrubbed)
            if changed is not None:
                if new_events is None:
                    new_events = list(events)
                new_events[index] = _event(event, changed)
        status = span.status
        new_status = None
        description = getattr(status, "description", None)
        if description:
            if self.drop_content:
                new_status = _status(status, None)
            elif self.scrubber is not None:
                text, kinds = self.scrubber.scrub(description)
                if kinds:
                    new_status = _status(status, text)
                    scrubbed.append("status.description")
        if attributes is None and new_events is None and new_status is None:
            return span
        clone = _copy(span)
        if attributes is not None or scrubbed:
            merged = attributes if attributes is not None else dict(
                getattr(span._attributes, "_dict", span._attributes) or {})
            if scrubbed:
                merged[SCRUBBED_ATTRIBUTE] = tuple(scrubbed)
            clone._attributes = merged
        if new_events is not None:
            clone._events = tuple(new_events)
        if new_status is not None:
            clone._status = new_status
        return clone

    def spans(self, batch: Sequence[Any]) -> list[Any]:
        return _each(batch, self.span, "a span")

    # -- log records
    def log(self, item: Any) -> Any:
        record = item.log_record
        scrubbed: list[str] = []
        litellm = self.drop_content and is_litellm_scope(_scope_name(item))
        attributes = self.attributes(record.attributes, scrubbed=scrubbed)
        body = record.body
        new_body = body
        if litellm and body is not None:
            new_body = _without_content(body, 0) if isinstance(body, (Mapping, list, tuple)) else NOT_CAPTURED
        if self.scrubber is not None and new_body is not None:
            new_body, found = self._scrub_body(new_body, 0)
            if found:
                scrubbed.append("body")
        if attributes is None and new_body is body and not scrubbed:
            return item
        new_record = _copy(record)
        new_record.body = new_body
        if attributes is not None or scrubbed:
            merged = attributes if attributes is not None else dict(
                getattr(record.attributes, "_dict", record.attributes) or {})
            if scrubbed:
                merged[SCRUBBED_ATTRIBUTE] = tuple(scrubbed)
            new_record.attributes = _bounded(merged)
        clone = _copy(item)
        try:
            clone.log_record = new_record
        except AttributeError:  # a frozen dataclass (ReadableLogRecord, SDK 1.39 on)
            object.__setattr__(clone, "log_record", new_record)
        return clone

    def logs(self, batch: Sequence[Any]) -> list[Any]:
        return _each(batch, self.log, "a log record")

    def _scrub_body(self, body: Any, depth: int) -> tuple[Any, bool]:
        if type(body) is str:
            text, kinds = self.scrub_value(body)
            return text, bool(kinds)
        if depth >= _MAX_DEPTH:
            return body, False
        if isinstance(body, Mapping):
            found = False
            out = {}
            for key, value in body.items():
                out[key], hit = self._scrub_body(value, depth + 1)
                found = found or hit
            return (out, True) if found else (body, False)
        if isinstance(body, (list, tuple)):
            found = False
            items = []
            for value in body:
                new, hit = self._scrub_body(value, depth + 1)
                items.append(new)
                found = found or hit
            return (type(body)(items), True) if found else (body, False)
        return body, False


def _each(batch: Sequence[Any], filtered: Callable[[Any], Any], what: str) -> list[Any]:
    """`filtered(item)` for each item; an item it fails on is left out: never in the program's way, never sent
    unfiltered either."""
    out = []
    for item in batch:
        try:
            out.append(filtered(item))
        except Exception as exc:
            _logger.debug("signoz-litellm: %s could not be filtered and was left out: %s", what, exc)
    return out


def _is_content(key: str, raw_span: bool) -> bool:
    if key in CONTENT_KEYS:
        return True
    if raw_span and key.startswith("llm."):  # the provider's raw request parameters and response
        return True
    if key.startswith(TOOL_DEFINITIONS):
        return not key.endswith(".name")
    if key.startswith(CONTENT_PREFIXES):
        return not key.endswith(KEPT_SUFFIXES)
    return key in STACKTRACES


def _without_content(body: Any, depth: int) -> Any:
    if depth >= _MAX_DEPTH:
        return NOT_CAPTURED
    if isinstance(body, Mapping):
        return {k: _without_content(v, depth + 1) for k, v in body.items() if k not in BODY_CONTENT_KEYS}
    if isinstance(body, (list, tuple)):
        return [_without_content(v, depth + 1) for v in body]
    return body


def _copy(obj: Any) -> Any:
    """A shallow copy, without `copy.copy`'s generic protocol (a tenth of the instructions for a span); objects
    without a `__dict__` go through `copy.copy`."""
    own = getattr(obj, "__dict__", None)
    if type(own) is not dict:
        return copy.copy(obj)
    clone = object.__new__(type(obj))
    clone.__dict__.update(own)
    return clone


def _event(event: Any, attributes: dict[str, Any]) -> Any:
    clone = _copy(event)
    clone._attributes = attributes
    return clone


def _status(status: Any, description: str | None) -> Any:
    from opentelemetry.trace import Status

    return Status(status.status_code, description)


def _bounded(attributes: dict[str, Any]) -> Any:
    """Log record attributes in the SDK's own type, which its encoders and `dropped_attributes` expect."""
    try:
        from opentelemetry.attributes import BoundedAttributes

        return BoundedAttributes(maxlen=None, attributes=attributes, immutable=False)
    except Exception:
        return attributes


# --------------------------------------------------------------------------------------------- install

_policy: Policy | None = None


def policy() -> Policy | None:
    return _policy


def install(environ: Mapping[str, str] = os.environ) -> None:
    """Filter what our span and log exporters send (those of this process's providers; with `init()` in a program
    that has its own providers, only the processors we added to them)."""
    global _policy
    found = Policy.from_environ(environ)
    if found is None:
        return
    _policy = found
    from opentelemetry import _logs, trace

    from signoz_litellm_run.hook import delivery_count

    adopted = delivery_count.adopted  # init() in a program with its own providers: the processors we added
    for signal_name, provider, composite, members in (
        ("traces", trace.get_tracer_provider(), "_active_span_processor", "_span_processors"),
        ("logs", _logs.get_logger_provider(), "_multi_log_record_processor", "_log_record_processors"),
    ):
        processors = adopted.get(signal_name) or getattr(getattr(provider, composite, None), members, ())
        for processor in processors:
            exporter = _exporter_of(processor)
            if exporter is not None:
                wrap(exporter, found.spans if signal_name == "traces" else found.logs)


def _exporter_of(processor: Any) -> Any:
    batch = getattr(processor, "_batch_processor", None)
    return getattr(batch, "_exporter", None) or getattr(processor, "span_exporter", None) or getattr(
        processor, "_exporter", None)


def wrap(exporter: Any, filter_batch: Callable[[Sequence[Any]], list[Any]]) -> None:
    """The exporter's `export` hands on the filtered batch (wrapping what is there: delivery counting, size
    splitting and the lazy build all see only what may leave)."""
    if getattr(exporter, "_signoz_filtered", False):
        return
    original = exporter.export

    def export(batch: Any, *args: Any, **kwargs: Any) -> Any:
        return original(filter_batch(batch), *args, **kwargs)

    exporter.export = export
    exporter._signoz_filtered = True

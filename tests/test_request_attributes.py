"""hook/request_attributes.py's collected span attributes (on a logger class hook/litellm_arm.py patched), in this
process, against setting each one as LiteLLM does; hook/call_parents.py's context for an older release.

The logger classes here copy the methods of LiteLLM's OpenTelemetry logger that the hook wraps, as LiteLLM writes
them (`safe_set_attribute` casts, then sets), so the hook treats them as it treats LiteLLM's. A real LiteLLM call's
span is compared the same way end to end in test_run_e2e.py."""

from __future__ import annotations

import enum
import json
import logging
import random
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider

from signoz_litellm_run.hook import call_parents, litellm_arm, litellm_json, request_attributes

ALIASES = request_attributes.TOKEN_ALIASES  # both ways: a LiteLLM release writes one or the other
SOURCES = [source for source, _ in request_attributes.DASHBOARD_ALIASES]


class Kind(str, enum.Enum):
    COMPLETION = "completion"


class _Logger:
    """What the hook wraps in LiteLLM's OpenTelemetry logger. `set_attributes` replays kwargs["steps"]: a key and
    value set through safe_set_attribute, ("direct", mapping) set on the span itself, or ("raise", None)."""

    def _get_span_context(self, kwargs: Any, default_span: Any = None) -> Any:
        return None, None

    def set_attributes(self, span: Any, kwargs: Any, response_obj: Any) -> None:
        for key, value in kwargs["steps"]:
            if key == "direct":
                span.set_attributes(value)
            elif key == "raise":
                raise RuntimeError("LiteLLM failed part way")
            else:
                self.safe_set_attribute(span=span, key=key, value=value)

    # The two below as LiteLLM 1.110 writes them.
    def _cast_as_primitive_value_type(self, value: object) -> str | bool | int | float:
        if value is None:
            return ""
        if isinstance(value, (str, bool, int, float)):
            return value
        try:
            return str(value)
        except Exception:
            return ""

    def safe_set_attribute(self, span: Any, key: str, value: Any):
        primitive_value = self._cast_as_primitive_value_type(value)
        span.set_attribute(key, primitive_value)


class Patched(_Logger):
    pass


class OneByOne(_Logger):
    """The reference: each attribute set when LiteLLM sets it (None skipped, as the hook does), then each alias."""

    def set_attributes(self, span: Any, kwargs: Any, response_obj: Any) -> None:
        super().set_attributes(span, kwargs, response_obj)
        attributes = getattr(span, "attributes", None)
        if attributes:
            for source, alias in ALIASES:
                value = attributes.get(source)
                if value is not None and alias not in attributes:
                    span.set_attribute(alias, value)

    def safe_set_attribute(self, span: Any, key: str, value: Any):
        if value is not None:
            super().safe_set_attribute(span, key, value)


litellm_arm._patch_logger_class(Patched)


def _span_after(logger: _Logger, steps: list, limit: int | None, at_start: dict | None, end_first: bool,
                caplog: pytest.LogCaptureFixture, value_limit: int | None = None) -> tuple:
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=limit, max_attribute_length=value_limit))
    span = provider.get_tracer("test").start_span("litellm_request", attributes=at_start)
    if end_first:
        span.end()
    caplog.clear()
    raised = None
    with caplog.at_level(logging.WARNING):
        try:
            type(logger).set_attributes(logger, span, {"steps": steps}, None)
        except RuntimeError as exc:
            raised = str(exc)
    return list(span.attributes.items()), span.dropped_attributes, raised, bool(caplog.records)


def _compare(steps: list, caplog: pytest.LogCaptureFixture, limit: int | None = 128, at_start: dict | None = None,
             end_first: bool = False, value_limit: int | None = None) -> list:
    ours = _span_after(Patched(), steps, limit, at_start, end_first, caplog, value_limit)
    theirs = _span_after(OneByOne(), steps, limit, at_start, end_first, caplog, value_limit)
    assert ours == theirs
    return theirs[0]


def test_the_hook_is_on_the_copied_methods() -> None:
    assert getattr(Patched.set_attributes, "__wrapped__", None) is _Logger.set_attributes
    assert getattr(Patched.safe_set_attribute, "__wrapped__", None) is _Logger.safe_set_attribute


def test_a_call_gets_its_attributes_in_order_then_the_aliases(caplog: pytest.LogCaptureFixture) -> None:
    steps = [("metadata.user_api_key_hash", None), ("metadata.applied_guardrails", []),
             ("metadata.usage_object", {"prompt_tokens": 2}), ("llm.request.type", Kind.COMPLETION),
             ("gen_ai.system", "openai"), ("direct", MappingProxyType({})), ("gen_ai.usage.total_tokens", 7),
             ("gen_ai.usage.output_tokens", 5), ("gen_ai.usage.input_tokens", 2), ("gen_ai.cost.total_cost", 1.5e-05),
             ("litellm.cache_hit", False), ("gen_ai.input.messages", '[{"role": "user", "content": "hello"}]')]
    attributes = _compare(steps, caplog)
    assert [key for key, _ in attributes][-3:] == [alias for _, alias in request_attributes.DASHBOARD_ALIASES]
    values = dict(attributes)
    assert values["metadata.applied_guardrails"] == "[]"  # cast as LiteLLM casts, not stored as a list
    assert values["metadata.usage_object"] == "{'prompt_tokens': 2}"
    assert values["gen_ai.usage.prompt_tokens"] == 2 and values["llm.usage.total_tokens"] == 7
    assert "metadata.user_api_key_hash" not in values


BLOBS = [("metadata.user_api_key_request_route", "/v1/chat/completions"),
         ("metadata.requester_metadata", {"headers": {"user-agent": "httpx"}}), ("metadata.applied_guardrails", []),
         ("metadata.usage_object", {"prompt_tokens": 2}), ("metadata.requester_custom_headers", {}),
         ("hidden_params", '{"model_id": "abc"}'), ("metadata.user_api_key_spend", 0.0),
         ("metadata.user_agent", "python-httpx/0.29.0"), ("gen_ai.cost.total_cost", 0.0),
         ("gen_ai.cost.discount_amount", 0.0), ("gen_ai.cost.margin_percent", 0),
         ("gen_ai.cost.margin_total_amount", 0.5), ("gen_ai.cost.tool_usage_cost", False),
         ("gen_ai.usage.input_tokens", 2)]


def _proxy_request(lean: bool) -> dict[str, Any]:
    """The logging kwargs of a proxy request: its metadata holds the request's span (a `RequestSpan` when lean)."""
    from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan

    from signoz_litellm_run.hook.attempts import RequestSpan

    span = RequestSpan(INVALID_SPAN_CONTEXT) if lean else NonRecordingSpan(INVALID_SPAN_CONTEXT)
    return {"steps": BLOBS, "litellm_params": {"metadata": {"litellm_parent_otel_span": span}}}


def _attributes_set(logger: _Logger, kwargs: dict[str, Any]) -> dict[str, Any]:
    span = TracerProvider().get_tracer("test").start_span("litellm_request")
    type(logger).set_attributes(logger, span, kwargs, None)
    return dict(span.attributes)


@pytest.mark.parametrize("batching", [True, False])
def test_a_lean_proxy_request_leaves_litellms_repeated_blobs_and_empty_values_out(
        batching: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not batching:  # as on an SDK whose span attributes are not the ones written against (1.38, 1.41)
        monkeypatch.setattr("signoz_litellm_run.hook.span_attributes.sdk_as_written", lambda: False)

    class Lean(_Logger):
        pass

    litellm_arm._patch_logger_class(Lean)
    monkeypatch.setenv("SIGNOZ_LITELLM_SPAN_DETAIL", "full")

    class Full(_Logger):
        pass

    litellm_arm._patch_logger_class(Full)
    everything = _attributes_set(OneByOne(), {"steps": BLOBS})
    assert set(request_attributes.LEAN_LEFT_OUT) < set(everything)
    lean = _attributes_set(Lean(), _proxy_request(lean=True))
    zero_adjustments = {"gen_ai.cost.discount_amount", "gen_ai.cost.margin_percent"}
    assert zero_adjustments < request_attributes.LEAN_LEFT_OUT_WHEN_ZERO
    assert lean == {key: value for key, value in everything.items() if key not in request_attributes.LEAN_LEFT_OUT
                    and value not in ("[]", "{}") and key not in zero_adjustments}
    assert lean["metadata.user_api_key_request_route"] == "/v1/chat/completions"
    # the cost itself stays at 0, an adjustment that is not 0 stays, and so does one that is not a number
    assert lean["gen_ai.cost.total_cost"] == 0.0 and lean["gen_ai.cost.margin_total_amount"] == 0.5
    assert lean["gen_ai.cost.tool_usage_cost"] is False
    assert lean["metadata.user_api_key_spend"] == 0.0 and lean["gen_ai.usage.prompt_tokens"] == 2
    # anything but a lean proxy request keeps them: an SDK call, a full-detail proxy request
    assert _attributes_set(Lean(), {"steps": BLOBS}) == everything
    assert _attributes_set(Lean(), _proxy_request(lean=False)) == everything
    assert _attributes_set(Full(), _proxy_request(lean=True)) == everything


dumped: list[Any] = []


def _counting_dumps(data: object, max_depth: int = 10, value_transform: Any = None, *,
                    non_finite_as_null: bool = False) -> str:
    dumped.append(data)
    return json.dumps(data, default=sorted)


safe_dumps = litellm_json.faster(_counting_dumps, 10)  # as litellm_json.install gives LiteLLM's logger module


class WithHiddenParams(_Logger):
    """LiteLLM's way with `hidden_params` (1.80 on): its JSON handed to safe_set_attribute."""

    def set_attributes(self, span: Any, kwargs: Any, response_obj: Any) -> None:
        super().set_attributes(span, kwargs, response_obj)
        hidden_params = kwargs["standard_logging_object"].get("hidden_params") or {}
        if hidden_params:
            self.safe_set_attribute(span=span, key="hidden_params", value=safe_dumps(hidden_params))
        self.safe_set_attribute(span=span, key="again", value=safe_dumps(hidden_params))


@pytest.mark.parametrize("batching", [True, False])
def test_a_lean_proxy_request_does_not_turn_hidden_params_into_json(batching: bool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if not batching:  # as on an SDK whose span attributes are not the ones written against (1.38, 1.41)
        monkeypatch.setattr("signoz_litellm_run.hook.span_attributes.sdk_as_written", lambda: False)

    class Lean(WithHiddenParams):
        pass

    litellm_arm._patch_logger_class(Lean)
    if not request_attributes._sets_hidden_params_json(WithHiddenParams.set_attributes) or \
            getattr(Lean.set_attributes, "__wrapped__", None) is None:
        pytest.fail("the hook does not recognise LiteLLM's way with hidden_params")
    hidden = {"model_id": "abc", "response_cost": 0.0, "tags": {"a"}}  # a set: the faster path hands it to ours
    text = json.dumps(hidden, default=sorted)
    for lean, expected_dumps, expected in ((True, 1, {"again": text}),
                                           (False, 2, {"hidden_params": text, "again": text})):
        kwargs = {**_proxy_request(lean), "standard_logging_object": {"hidden_params": hidden}, "steps": []}
        dumped.clear()
        assert _attributes_set(Lean(), kwargs) == expected
        assert len(dumped) == expected_dumps  # lean: only the second dumps of the object, after the one skipped
    assert safe_dumps(hidden) == text  # nothing left armed


def test_a_key_set_again_keeps_its_last_value_and_place(caplog: pytest.LogCaptureFixture) -> None:
    # A primitive, then a value LiteLLM casts, for the same key: the cast value wins and moves last.
    steps = [("a", 1), ("b", "x"), ("a", {"v": 1}), ("c", True), ("b", None)]
    assert _compare(steps, caplog) == [("b", "x"), ("a", "{'v': 1}"), ("c", True)]
    # On a span that fills up, each set of a key counts: setting "a" again drops "b", then "c" drops "d".
    steps = [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("a", 5)]
    assert _compare(steps, caplog, limit=3) == [("c", 3), ("d", 4), ("a", 5)]


def test_an_alias_the_span_or_litellm_set_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    _compare([("gen_ai.usage.input_tokens", 2), ("gen_ai.usage.prompt_tokens", 9)], caplog)
    values = dict(_compare([("gen_ai.usage.input_tokens", 2)], caplog, at_start={"gen_ai.usage.prompt_tokens": 9}))
    assert values["gen_ai.usage.prompt_tokens"] == 9
    _compare([("direct", {"llm.usage.total_tokens": 4}), ("gen_ai.usage.total_tokens", 3)], caplog)


def test_a_source_the_span_already_had_gets_its_alias(caplog: pytest.LogCaptureFixture) -> None:
    values = dict(_compare([("x", 1)], caplog, at_start={"gen_ai.usage.output_tokens": 5}))
    assert values["gen_ai.usage.completion_tokens"] == 5
    values = dict(_compare([("direct", {"gen_ai.usage.total_tokens": 6})], caplog))
    assert values["llm.usage.total_tokens"] == 6
    assert dict(_compare([], caplog)) == {}


def test_a_span_that_fills_up_drops_a_source_before_its_alias_is_made(caplog: pytest.LogCaptureFixture) -> None:
    # Limit 4: the input tokens are dropped by the attributes after them, so no alias is made for them.
    steps = [("gen_ai.usage.input_tokens", 2), ("k1", 1), ("k2", 2), ("k3", 3), ("gen_ai.usage.output_tokens", 5)]
    attributes = _compare(steps, caplog, limit=4)
    assert "gen_ai.usage.prompt_tokens" not in dict(attributes)
    assert dict(attributes)["gen_ai.usage.completion_tokens"] == 5


def test_what_litellm_sets_on_the_span_itself_keeps_its_place(caplog: pytest.LogCaptureFixture) -> None:
    # LiteLLM sets its routing attributes on the span directly, in one mapping, between the others.
    routing = MappingProxyType({"litellm.routing.strategy": "auto", "a": 2})
    steps = [("a", 1), ("b", 1), ("direct", routing), ("c", 1), ("b", 3)]
    assert _compare(steps, caplog) == [("litellm.routing.strategy", "auto"), ("a", 2), ("c", 1), ("b", 3)]
    # Another mapping type, or a span that fills up: the same sets, made again in the same order.
    _compare([("a", 1), ("direct", OrderedDict(a=2, d=4)), ("c", 1)], caplog)
    _compare([("a", 1), ("direct", routing), ("c", 1), ("gen_ai.usage.input_tokens", 2)], caplog, limit=3)


def test_long_values_are_cut_as_the_span_cuts_them(caplog: pytest.LogCaptureFixture) -> None:
    steps = [("gen_ai.input.messages", "x" * 40), ("gen_ai.usage.input_tokens", 2), ("m", {"a": "y" * 20})]
    attributes = dict(_compare(steps, caplog, value_limit=12))
    assert attributes["gen_ai.input.messages"] == "x" * 12 and attributes["m"] == "{'a': 'yyyyy"


def test_an_ended_span_gets_nothing_and_warns_as_it_would(caplog: pytest.LogCaptureFixture) -> None:
    steps = [("a", 1), ("gen_ai.usage.input_tokens", 2)]
    _span_after(OneByOne(), steps, 128, None, True, caplog)
    their_warnings = len(caplog.records)
    ours = _span_after(Patched(), steps, 128, None, True, caplog)
    assert ours[0] == [] and len(caplog.records) == their_warnings == 2


def test_when_litellm_raises_what_it_set_is_kept_without_aliases(caplog: pytest.LogCaptureFixture) -> None:
    steps = [("a", 1), ("gen_ai.usage.input_tokens", 2), ("raise", None), ("b", 2)]
    ours = _span_after(Patched(), steps, 128, None, False, caplog)
    assert ours == _span_after(OneByOne(), steps, 128, None, False, caplog)
    assert ours[0] == [("a", 1), ("gen_ai.usage.input_tokens", 2)] and ours[2] == "LiteLLM failed part way"


VALUES = [None, 0, 1, 7, -3, 2.5, True, False, "", "s", "a longer text than twelve", Kind.COMPLETION, [], [1, 2],
          {"k": "v"}, (1,), 2**70]
KEYS = ["a", "b", "c", "d", *SOURCES, *(alias for _, alias in ALIASES)]


@pytest.mark.parametrize("seed", range(8))
def test_random_calls(seed: int, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        steps = []
        for _ in range(rng.randint(0, 14)):
            if rng.random() < 0.1:
                mapping = {rng.choice(KEYS): rng.choice(VALUES[1:]) for _ in range(rng.randint(0, 2))}
                steps.append(("direct", rng.choice([dict, MappingProxyType, OrderedDict])(mapping)))
            else:
                steps.append((rng.choice(KEYS), rng.choice(VALUES)))
        at_start = rng.choice([None, {}, {rng.choice(KEYS): rng.choice(VALUES[1:])}])
        _compare(steps, caplog, limit=rng.choice([None, 128, 3, 6]), at_start=at_start)


class _Before1_80_17(_Logger):
    """`_get_span_context` as LiteLLM up to 1.80.5 has it: no `default_span`, no look at the active span; its
    handler always makes `litellm_request` and ends the parent span it is given."""

    def _get_span_context(self, kwargs: Any) -> Any:  # type: ignore[override]
        return None, None


litellm_arm._patch_logger_class(_Before1_80_17)


def test_an_older_release_gets_the_programs_span_as_context_never_as_a_parent_to_end() -> None:
    from opentelemetry import context, trace

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("the program's span") as program_span:
        call_parents.parents["call-1"] = [(context.get_current(), None)]
    call_parents._handling.active = True  # as inside LiteLLM's success handler
    try:
        ctx, parent = _Before1_80_17()._get_span_context({"litellm_call_id": "call-1"})
    finally:
        call_parents._handling.active = False
    assert parent is None  # LiteLLM would end it
    assert trace.get_current_span(ctx) is program_span  # litellm_request is made in the program's trace


@pytest.mark.parametrize("limit", [128, 8])  # 8: a span that could fill up, attributes set one by one
def test_an_older_release_gets_the_newer_token_names_and_its_cost(limit: int) -> None:
    # LiteLLM up to 1.80.15 writes only the dashboards' token names and, up to 1.78, no cost attribute.
    steps = [("gen_ai.usage.prompt_tokens", 2), ("gen_ai.usage.completion_tokens", 5), ("llm.usage.total_tokens", 7)]
    for written, expected in ([], 1.5e-05), ([("gen_ai.cost.total_cost", 3.0)], 3.0):
        span = TracerProvider(span_limits=SpanLimits(max_span_attributes=limit)).get_tracer("t").start_span("x")
        Patched().set_attributes(span, {"steps": steps + written, "response_cost": 1.5e-05}, None)
        attributes = dict(span.attributes)
        assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"],
                attributes["gen_ai.usage.total_tokens"]) == (2, 5, 7)
        assert attributes["gen_ai.cost.total_cost"] == expected  # a cost LiteLLM wrote is its own

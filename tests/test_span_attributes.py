"""hook/span_attributes.py against OpenTelemetry's own BoundedAttributes, and through the SDK's real span path
in this process (the spans LiteLLM calls export end to end are checked in test_run_e2e.py)."""

from __future__ import annotations

import logging
import random
import types
from collections import OrderedDict
from importlib.metadata import version

import pytest
from opentelemetry import attributes as otel_attributes

from signoz_litellm_run.hook import is_as_written, metric_record, span_attributes
from tests.test_metric_record import CHOSEN, Name, _random_attributes

BoundedAttributes = otel_attributes.BoundedAttributes
original_clean = otel_attributes._clean_attribute_value
original_set_items = getattr(BoundedAttributes, "_set_items", None)  # absent before opentelemetry-api 1.39
API = version("opentelemetry-api")
AS_WRITTEN = (is_as_written(original_set_items, span_attributes._SET_ITEMS_NAMES)
              and is_as_written(getattr(BoundedAttributes, "_setitem_locked", None),
                                span_attributes._SETITEM_LOCKED_NAMES)
              and is_as_written(original_clean, metric_record._CLEAN_NAMES))
# The comparisons with BoundedAttributes' own code run wherever the installed API has it as written against;
# elsewhere install() leaves it alone (test_install_changes_only_what_it_recognises).
as_written = pytest.mark.skipif(not AS_WRITTEN, reason=f"opentelemetry-api {API}: BoundedAttributes of another shape")


def _ours() -> types.SimpleNamespace:
    """A module as install() leaves it: the fast cleaning, and _set_items built on it."""
    module = types.SimpleNamespace(_clean_attribute_value=metric_record.copy_plain(original_clean))
    return types.SimpleNamespace(module=module, set_items=span_attributes.set_all(original_set_items, module))


def _state(bounded: BoundedAttributes) -> tuple:
    return list(bounded._dict.items()), bounded.dropped


def _fill(maxlen: int | None, max_value_len: int | None, batches: list, set_items, immutable: bool = False):
    """Fill a BoundedAttributes batch by batch with `set_items`; its state after each, and what was logged."""
    bounded = BoundedAttributes(maxlen=maxlen, immutable=False, max_value_len=max_value_len)
    bounded._immutable = immutable
    states = []
    for batch in batches:
        try:
            set_items(bounded, batch)
            states.append(_state(bounded))
        except Exception as exc:  # the same exception, with the same message
            states.append((type(exc).__name__, str(exc)))
    return states


def _compare(maxlen, max_value_len, batches, caplog: pytest.LogCaptureFixture, immutable: bool = False) -> list:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        theirs = _fill(maxlen, max_value_len, batches, original_set_items, immutable)
        their_log = [r.getMessage() for r in caplog.records]
        caplog.clear()
        ours = _fill(maxlen, max_value_len, batches, _ours().set_items, immutable)
        our_log = [r.getMessage() for r in caplog.records]
    assert ours == theirs
    assert our_log == their_log
    return theirs


SPAN_BATCH = {"metadata.user_api_key_hash": "h", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.system": "openai",
              "llm.is_streaming": "False", "gen_ai.usage.total_tokens": 17, "gen_ai.cost.total_cost": 1.5e-05,
              "litellm.cache_hit": False, "gen_ai.input.messages": '[{"role": "user"}]'}


@as_written
@pytest.mark.parametrize("value", CHOSEN, ids=range(len(CHOSEN)))
@pytest.mark.parametrize("maxlen", [None, 128, 2, 0])
def test_a_batch_gives_what_the_sdk_gives(value: dict, maxlen: int | None, caplog: pytest.LogCaptureFixture) -> None:
    _compare(maxlen, None, [SPAN_BATCH, value, value, {"z": 1}], caplog)
    view = types.MappingProxyType  # as the SDK hands a span's attributes at its start
    _compare(maxlen, None, [view(SPAN_BATCH), view(value), value, view({"z": 1})], caplog)


@as_written
def test_keys_set_again_move_last_in_batch_order(caplog: pytest.LogCaptureFixture) -> None:
    states = _compare(None, None, [{"a": 1, "b": 2, "c": 3}, {"c": 30, "x": 0, "a": 10}], caplog)
    assert states[-1][0] == [("b", 2), ("c", 30), ("x", 0), ("a", 10)]


@as_written
def test_a_batch_that_fills_the_span_drops_the_oldest_as_the_sdk_does(caplog: pytest.LogCaptureFixture) -> None:
    states = _compare(4, None, [{"a": 1, "b": 2, "c": 3}, {"d": 4, "a": 10}, {"e": 5, "f": 6}], caplog)
    assert states[1][0] == [("b", 2), ("c", 3), ("d", 4), ("a", 10)]  # within the limit: nothing dropped
    assert states[2] == ([("d", 4), ("a", 10), ("e", 5), ("f", 6)], 2)
    assert "Attributes dict is full" in caplog.text


@as_written
def test_length_limits_non_dict_mappings_and_immutable_attributes_are_the_sdks(
        caplog: pytest.LogCaptureFixture) -> None:
    _compare(None, 3, [{"a": "long value", "b": ["xyzw"]}, {"c": Name("subclass")}], caplog)
    _compare(None, None, [types.MappingProxyType({"a": 1}), OrderedDict([("b", 2), ("a", 3)])], caplog)
    assert _compare(None, None, [{"a": 1}], caplog, immutable=True) == [
        ("TypeError", "Cannot mutate immutable BoundedAttributes")]


@as_written
@pytest.mark.parametrize("seed", range(20))
def test_random_batches(seed: int, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(seed)
    for _ in range(30):
        batches = [rng.choice([dict, types.MappingProxyType])(_random_attributes(rng)) for _ in range(rng.randint(1, 5))]
        _compare(rng.choice([None, 128, 3, 1]), rng.choice([None, None, 2]), batches, caplog)


@as_written
def test_functions_of_another_shape_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def _set_items(self, attributes):  # noqa: ANN001 - a stand-in for a changed SDK
        for key, value in attributes.items():
            self[key] = value

    monkeypatch.setattr(BoundedAttributes, "_set_items", _set_items)
    monkeypatch.setattr(otel_attributes, "_clean_attribute_value", original_clean)
    span_attributes.install()
    assert BoundedAttributes._set_items is _set_items
    assert getattr(otel_attributes._clean_attribute_value, "_signoz_litellm", False)  # as written: replaced
    assert not is_as_written(span_attributes.set_all(original_set_items, otel_attributes),
                             span_attributes._SET_ITEMS_NAMES)


def _spans(monkeypatch: pytest.MonkeyPatch, patched: bool) -> list:
    """Spans made through the SDK's real path, with attributes at start and set in batches and one by one."""
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    monkeypatch.setattr(otel_attributes, "_clean_attribute_value", original_clean)
    monkeypatch.setattr(BoundedAttributes, "_set_items", original_set_items, raising=False)
    if patched:
        span_attributes.install()
        assert getattr(getattr(BoundedAttributes, "_set_items", None), "_signoz_litellm", False) is AS_WRITTEN
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=40))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    rng = random.Random(3)
    for i in range(60):
        with tracer.start_as_current_span("s", attributes=rng.choice([None, {}, {"http.method": "POST"}])) as span:
            batch = {**SPAN_BATCH, **{f"k{j}": j for j in range(rng.randint(0, 40))}, **_random_attributes(rng)}
            span.set_attributes(batch)
            span.set_attribute("after", i)
            batch["gen_ai.system"] = "changed after setting"  # what was set keeps the value it had
            span.add_event("e", attributes={"a": 1, "b": "x"})
    provider.shutdown()
    return [(list(s.attributes.items()), s.dropped_attributes, [list(e.attributes.items()) for e in s.events])
            for s in exporter.get_finished_spans()]


def test_install_changes_only_what_it_recognises(monkeypatch: pytest.MonkeyPatch) -> None:
    """On every API release: BoundedAttributes and the cleaning are replaced only where written against."""
    monkeypatch.setattr(otel_attributes, "_clean_attribute_value", original_clean)
    monkeypatch.setattr(BoundedAttributes, "_set_items", original_set_items, raising=False)
    span_attributes.install()
    set_items = getattr(BoundedAttributes, "_set_items", None)
    assert (getattr(set_items, "__wrapped__", None) is original_set_items) if AS_WRITTEN else \
        set_items is original_set_items
    if not is_as_written(original_clean, metric_record._CLEAN_NAMES):
        assert otel_attributes._clean_attribute_value is original_clean


def test_the_sdk_makes_the_same_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    """On every release (where install() changes nothing, this checks that it does not break spans)."""
    theirs = _spans(monkeypatch, patched=False)
    ours = _spans(monkeypatch, patched=True)
    assert ours == theirs
    assert any(dropped for _, dropped, _ in theirs)  # some spans went over the limit
    assert not any(("gen_ai.system", "changed after setting") in attrs for attrs, _, _ in ours)

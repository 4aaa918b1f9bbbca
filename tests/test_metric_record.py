"""hook/metric_record.py against the OpenTelemetry SDK's own functions, and through the SDK's real record
path in this process (GenAI and HTTP metrics end to end are checked in test_run_e2e.py)."""

from __future__ import annotations

import importlib
import math
import random
import types
from importlib.metadata import version

import pytest

from signoz_litellm_run.hook import is_as_written, metric_record

measurement = importlib.import_module(metric_record._CLEAN_MODULE)
view_match = importlib.import_module(metric_record._HASH_MODULE)
original_clean = getattr(measurement, "_clean_attribute_value", None)  # absent before opentelemetry-sdk 1.39
original_hash = getattr(view_match, "_hash_attributes", None)
SDK = version("opentelemetry-sdk")
CLEAN_AS_WRITTEN = is_as_written(original_clean, metric_record._CLEAN_NAMES)
HASH_AS_WRITTEN = is_as_written(original_hash, metric_record._HASH_NAMES)
# The comparisons with the SDK's own functions run wherever the installed SDK has them as written against;
# elsewhere install() leaves the SDK alone (test_install_leaves_a_function_it_does_not_know_alone).
needs_clean = pytest.mark.skipif(not CLEAN_AS_WRITTEN, reason=f"opentelemetry-sdk {SDK} has no such cleaning")
needs_both = pytest.mark.skipif(not (CLEAN_AS_WRITTEN and HASH_AS_WRITTEN),
                                reason=f"opentelemetry-sdk {SDK} has no such cleaning and hashing")


class Name(str):
    pass


class Count(int):
    pass


# Values the SDK cleans or hashes in a way of its own: each must come out exactly as the SDK has it.
CHOSEN = [
    {},
    {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
     "gen_ai.framework": "litellm", "gen_ai.token.type": "input"},
    {"http.method": "POST", "http.scheme": "https", "http.status_code": 200},
    {"z": "1", "a": "2", "m": "3"},  # hashed in sorted order
    {"a": True}, {"a": 1}, {"a": 1.0}, {"a": 0}, {"a": False}, {"a": 0.0}, {"a": -0.0},
    {"a": None}, {"a": b"x"}, {"a": float("nan")}, {"a": math.inf}, {"a": 2 ** 70},
    {"a": ["x", 1]}, {"a": ("x",)}, {"a": {"b": "c"}}, {"a": {"b": [1, {"c": True}]}},
    # lists and tuples of plain values (LiteLLM's `tags`) become tuples; any other item is the SDK's to clean
    {"model": "gpt", "tags": ["User-Agent: Python", "team-a"], "n": 3}, {"a": [], "b": ()},
    {"a": [None, True, 1, 1.5, "x"]}, {"a": ["x", b"y"]}, {"a": [["x"]]}, {"a": [Name("v")]}, {"a": [{"b": 1}]},
    {"": "empty key"}, {1: "int key"}, {None: "none key"}, {Name("k"): "str subclass key"},
    {"a": Name("v")}, {"a": Count(3)}, {"a": "x" * 10_000},
    {"a": object()},
]


def _random_attributes(rng: random.Random) -> dict:
    pool = ["", "a", "gen_ai.system", "k", "zz", 1, None, Name("s")]
    values = [lambda: rng.choice(["", "x", "gpt", "ü"]), lambda: rng.randint(-3, 3), lambda: rng.random(),
              lambda: rng.choice([True, False]), lambda: None, lambda: [rng.randint(0, 2)],
              lambda: {"n": rng.choice(["a", 1, True])}, lambda: b"b", lambda: Name("v")]
    return {rng.choice(pool): rng.choice(values)() for _ in range(rng.randint(0, 6))}


@needs_clean
@pytest.mark.parametrize("view", [False, True], ids=["dict", "read-only view"])
@pytest.mark.parametrize("value", CHOSEN, ids=range(len(CHOSEN)))
def test_cleaning_gives_what_the_sdk_gives(value: dict, view: bool, caplog: pytest.LogCaptureFixture) -> None:
    if view:  # as the SDK hands a span's attributes at its start
        value = types.MappingProxyType(value)
    fast = metric_record.copy_plain(original_clean)
    theirs = original_clean(value, None)
    their_warnings = [r.getMessage() for r in caplog.records]
    caplog.clear()
    ours = fast(value, None)
    assert [r.getMessage() for r in caplog.records] == their_warnings  # the SDK's warnings, when it warns
    assert type(ours) is type(theirs)
    assert list(ours.items()) == list(theirs.items())  # the same objects, nan included
    assert [type(v) for v in ours.values()] == [type(v) for v in theirs.values()]
    assert ours is not value  # a copy: changing the caller's dict afterwards changes nothing recorded


@needs_clean
def test_cleaning_with_a_length_limit_is_the_sdks() -> None:
    fast = metric_record.copy_plain(original_clean)
    assert fast({"a": "abcdef"}, 3) == original_clean({"a": "abcdef"}, 3) == {"a": "abc"}
    assert fast("abcdef", 2) == "ab"
    assert fast({"a": ["abcdef"]}, 3) == original_clean({"a": ["abcdef"]}, 3) == {"a": ("abc",)}


@needs_clean
@pytest.mark.parametrize("value", ["x", "", 0, 1, -1.5, True, False, None, 2 ** 70, float("nan"), b"x", ["x", 1],
                                   ("x",), Name("v"), Count(2), object()], ids=range(16))
def test_a_single_value_is_cleaned_as_the_sdk_cleans_it(value: object, caplog: pytest.LogCaptureFixture) -> None:
    """A span's `set_attribute` cleans one value at a time."""
    fast = metric_record.copy_plain(original_clean)
    theirs = original_clean(value, None)
    their_warnings = [r.getMessage() for r in caplog.records]
    caplog.clear()
    ours = fast(value, None)
    assert [r.getMessage() for r in caplog.records] == their_warnings
    assert type(ours) is type(theirs) and repr(ours) == repr(theirs)


@needs_both
@pytest.mark.parametrize("value", CHOSEN, ids=range(len(CHOSEN)))
def test_hashing_gives_what_the_sdk_gives_first_time_and_kept(value: dict) -> None:
    cleaned = original_clean(value, None)  # the SDK hashes cleaned attributes only
    fast = metric_record.keep_hashes(original_hash)
    first, again = fast(dict(cleaned)), fast(dict(cleaned))
    theirs = original_hash(dict(cleaned))
    assert repr(first) == repr(again) == repr(theirs)  # repr: tells 1 from 1.0 and True, and -0.0 from 0.0


@needs_both
def test_equal_values_of_other_types_keep_their_own_series() -> None:
    fast = metric_record.keep_hashes(original_hash)
    for value in ({"a": True}, {"a": 1}, {"a": 1.0}, {"a": 1}, {"a": True}):
        assert repr(fast(value)) == repr(original_hash(value))
    assert len({fast({"a": True}), fast({"a": 1})}) == 2
    assert len(fast.kept) == 2  # bool and int kept, float hashed each time


@needs_both
def test_equal_keys_of_other_types_are_not_mixed_up() -> None:
    fast = metric_record.keep_hashes(original_hash)  # (the SDK hashes str keys only; this one keeps to them)
    for value in ({1: "x"}, {True: "x"}, {1.0: "x"}, {Name("k"): "x"}, {"k": "x"}):
        assert repr(fast(value)) == repr(original_hash(value))
    assert list(fast.kept) == [((("k", "x"),), (str,))]


@needs_both
@pytest.mark.parametrize("seed", range(3))
def test_random_attributes(seed: int) -> None:
    rng = random.Random(seed)
    clean, hashed = metric_record.copy_plain(original_clean), metric_record.keep_hashes(original_hash, limit=50)
    for _ in range(2000):
        value = _random_attributes(rng)
        cleaned = original_clean(value, None)
        assert repr(clean(value, None)) == repr(cleaned)
        assert repr(clean(types.MappingProxyType(value), None)) == repr(cleaned)
        assert repr(hashed(dict(cleaned))) == repr(original_hash(dict(cleaned)))
    assert len(hashed.kept) == 50  # full: further sets are hashed each time, nothing more is kept


def test_a_function_of_another_shape_is_left_alone() -> None:
    def other(value: object, limit: object = None) -> object:
        return value

    assert not is_as_written(other, metric_record._CLEAN_NAMES)
    assert not is_as_written(metric_record.copy_plain(other), metric_record._CLEAN_NAMES)
    assert not is_as_written(None, metric_record._CLEAN_NAMES)


def test_install_changes_only_what_it_recognises(monkeypatch: pytest.MonkeyPatch) -> None:
    """On every SDK release: the functions written against are replaced, anything else (another shape, or
    absent, as before opentelemetry-sdk 1.39) is left as the SDK has it."""
    monkeypatch.setattr(measurement, "_clean_attribute_value", original_clean, raising=False)
    monkeypatch.setattr(view_match, "_hash_attributes", original_hash, raising=False)
    metric_record.install()
    clean, hashed = getattr(measurement, "_clean_attribute_value", None), getattr(view_match, "_hash_attributes", None)
    assert (getattr(clean, "__wrapped__", None) is original_clean) if CLEAN_AS_WRITTEN else clean is original_clean
    assert (getattr(hashed, "__wrapped__", None) is original_hash) if HASH_AS_WRITTEN else hashed is original_hash


def _record_all(monkeypatch: pytest.MonkeyPatch, patched: bool) -> list:
    """Record a mix of measurements through the SDK's real path; the data points it would export."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    monkeypatch.setattr(measurement, "_clean_attribute_value", original_clean, raising=False)
    monkeypatch.setattr(view_match, "_hash_attributes", original_hash, raising=False)
    if patched:
        metric_record.install()
        assert getattr(getattr(measurement, "_clean_attribute_value", None), "_signoz_litellm", False) \
            is CLEAN_AS_WRITTEN
        assert getattr(getattr(view_match, "_hash_attributes", None), "_signoz_litellm", False) is HASH_AS_WRITTEN
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("test")
    histogram, counter = meter.create_histogram("h"), meter.create_counter("c")
    rng = random.Random(7)
    shared = {"gen_ai.system": "openai", "gen_ai.request.model": "m"}
    raised: list = []
    for i in range(300):
        attributes = rng.choice([shared, {**shared, "gen_ai.token.type": "input"}, {"a": True}, {"a": 1},
                                 {"a": 1.0}, {"b": "x", "a": "y"}, {"a": "y", "b": "x"}, {"a": [1, 2]},
                                 {"a": Name("y"), "b": "x"}, {}, _random_attributes(rng)])
        for record in (lambda: histogram.record(i % 17, attributes=attributes),
                       lambda: counter.add(1, attributes=attributes)):
            try:
                record()
            except TypeError as exc:  # opentelemetry-sdk 1.38 raises on a list value; what it raises is compared too
                raised.append((i, repr(exc)))
    shared["gen_ai.system"] = "changed after recording"  # what was recorded keeps the value it had
    points = []
    for metric in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics:
        for point in metric.data.data_points:
            fields = (point.count, point.sum) if hasattr(point, "count") else (point.value,)
            points.append((metric.name, repr(sorted(point.attributes.items(), key=repr)), fields))
    provider.shutdown()
    return sorted(points) + raised


def test_the_sdk_records_the_same_series_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """On every SDK release (where install() changes nothing, this checks that it does not break recording)."""
    theirs = _record_all(monkeypatch, patched=False)
    ours = _record_all(monkeypatch, patched=True)
    assert ours == theirs
    if CLEAN_AS_WRITTEN:  # the SDK copies what it records (opentelemetry-sdk 1.38 keeps the caller's dict)
        assert any("changed" in p[1] for p in ours) is False
    assert len(theirs) > 20

"""hook/metric_direct.py: the same data points, exemplars and warnings as the SDK's own record path, through real
MeterProviders and readers in this process (GenAI and HTTP metrics end to end are checked in test_run_e2e.py and
test_proxy.py)."""

from __future__ import annotations

import importlib
import math
import random
from importlib.metadata import version
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics import view as aggregation
from opentelemetry.sdk.metrics.view import View

from signoz_litellm_run.hook import metric_direct

instrument = importlib.import_module("opentelemetry.sdk.metrics._internal.instrument")
exemplar = importlib.import_module("opentelemetry.sdk.metrics._internal.exemplar")
aggregation_module = importlib.import_module("opentelemetry.sdk.metrics._internal.aggregation")
METHODS = [(instrument.Histogram, "record"), (instrument.Counter, "add"), (instrument.UpDownCounter, "add")]
ORIGINALS = {(cls, name): getattr(vars(cls)[name], "__wrapped__", vars(cls)[name]) for cls, name in METHODS}


def _install(monkeypatch: pytest.MonkeyPatch, direct: bool) -> bool:
    for (cls, name), original in ORIGINALS.items():
        monkeypatch.setattr(cls, name, original)
    return metric_direct.install() if direct else False


SDK = version("opentelemetry-sdk")
with pytest.MonkeyPatch.context() as _patch:
    AS_WRITTEN = _install(_patch, direct=True)
needs_direct = pytest.mark.skipif(not AS_WRITTEN, reason=f"opentelemetry-sdk {SDK} is not the one written against")


class Name(str):
    pass


def _random_attributes(rng: random.Random) -> Any:
    shared = {"gen_ai.system": "openai", "gen_ai.request.model": "m", "gen_ai.token.type": "input"}
    return rng.choice([
        shared, dict(reversed(shared.items())), {**shared, "gen_ai.token.type": "output"},
        {"a": True}, {"a": 1}, {"a": 1.0}, {"a": 0}, {"a": False}, {"a": -0.0}, {"a": float("nan")},
        {"a": Name("x")}, {Name("a"): "x"}, {"a": "x"}, {"": "x"}, {1: "x"}, {"a": None}, {"a": b"x"},
        {"a": [1, 2]}, {"a": ("x",)}, {}, None, {"http.method": "POST", "http.status_code": 200},
        {"k": rng.choice("abcdefgh")},
    ])


def _points(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
    data = reader.get_metrics_data()
    points = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    fields = {key: value for key, value in vars(point).items()
                              if key not in ("start_time_unix_nano", "time_unix_nano", "exemplars")}
                    exemplars = [(e.value, repr(sorted(e.filtered_attributes.items(), key=repr))
                                  if e.filtered_attributes else "") for e in getattr(point, "exemplars", ())]
                    points.append((metric.name, repr(sorted(point.attributes.items(), key=repr)),
                                   repr(sorted(fields.items())), len(exemplars)))
    return sorted(points)


def _record_all(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, direct: bool, seed: int,
                temporality: AggregationTemporality, exemplar_filter: Any = None,
                views: tuple[View, ...] = ()) -> tuple[list[Any], list[str], list[Any]]:
    """Records through two readers, collected three times along the way; the points, warnings and what raised."""
    _install(monkeypatch, direct)
    preferred = {cls: temporality for cls in (instrument.Counter, instrument.UpDownCounter, instrument.Histogram)}
    readers = [InMemoryMetricReader(preferred_temporality=preferred), InMemoryMetricReader()]
    provider = MeterProvider(metric_readers=readers, views=views,
                             exemplar_filter=exemplar_filter or exemplar.AlwaysOffExemplarFilter())
    meter = provider.get_meter("test")
    instruments = [meter.create_histogram("h").record, meter.create_counter("c").add,
                   meter.create_up_down_counter("u").add]
    rng = random.Random(seed)
    collected: list[Any] = []
    raised: list[Any] = []
    caplog.clear()
    for i in range(600):
        amount = rng.choice([1, 2.5, 0, -1, -0.5, 7, float("nan"), math.inf, True, 10 ** 20])
        attributes = _random_attributes(rng)
        try:
            rng.choice(instruments)(amount, attributes=attributes)
        except TypeError as exc:  # raised by the SDK's own path for some values: compared too
            raised.append((i, repr(exc)))
        if i % 200 == 199:
            collected.append([_points(reader) for reader in readers])
    warnings = [record.getMessage() for record in caplog.records]
    remembered = sum(len(vars(method.__self__).get(metric_direct._STATE, (None, {}))[1]) for method in instruments)
    assert (remembered > 10) if direct and exemplar_filter is None else not remembered
    provider.shutdown()
    return collected, warnings, raised


@needs_direct
@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
@pytest.mark.parametrize("seed", range(3))
def test_the_same_points_and_warnings_as_the_sdk(seed: int, temporality: AggregationTemporality,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    theirs = _record_all(monkeypatch, caplog, False, seed, temporality)
    ours = _record_all(monkeypatch, caplog, True, seed, temporality)
    assert ours == theirs
    assert theirs[1]  # the SDK warned (negative, non-finite values, bad attributes), and so did we
    assert len(theirs[0][-1][0]) > 20


@needs_direct
def test_a_seen_set_goes_straight_to_its_aggregations(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, True)
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    provider = MeterProvider(metric_readers=readers, exemplar_filter=exemplar.AlwaysOffExemplarFilter())
    histogram = provider.get_meter("test").create_histogram("h")
    consumer = histogram._measurement_consumer
    seen = {"gen_ai.system": "openai", "n": 1, "ok": True, "x": 0.5}
    histogram.record(1, attributes=seen)  # the SDK's way, then remembered: one aggregation per reader
    sets = vars(histogram)[metric_direct._STATE][1]
    assert list(sets.values()) == [tuple(sets.values())[0]] and len(tuple(sets.values())[0]) == 2
    calls = []
    monkeypatch.setattr(type(consumer), "consume_measurement", lambda *args: calls.append(args))
    histogram.record(2, attributes=dict(seen))
    histogram.record(3, attributes={"gen_ai.system": "openai", "n": True, "ok": True, "x": 0.5})  # n: bool, not int
    assert len(calls) == 1  # only the unseen set went through the consumer
    for reader in readers:
        (point,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
        assert (point.count, point.sum, dict(point.attributes)) == (2, 3, seen)
    provider.shutdown()


@needs_direct
def test_the_same_points_with_every_aggregation_a_view_may_choose(monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Exponential histogram, last value, sum and drop: each given only the value of a record it has seen."""
    views = (View(instrument_name="h", aggregation=aggregation.ExponentialBucketHistogramAggregation()),
             View(instrument_name="c", aggregation=aggregation.LastValueAggregation()),
             View(instrument_name="u", aggregation=aggregation.DropAggregation()),
             View(instrument_name="u", name="u2", aggregation=aggregation.SumAggregation()))
    theirs = _record_all(monkeypatch, caplog, False, 7, AggregationTemporality.CUMULATIVE, views=views)
    ours = _record_all(monkeypatch, caplog, True, 7, AggregationTemporality.CUMULATIVE, views=views)
    assert ours == theirs
    assert {point[0] for point in theirs[0][-1][0]} == {"h", "c", "u2"}


def _given(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What a histogram's aggregation is given for a record of a set it has seen."""
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()],
                             exemplar_filter=exemplar.AlwaysOffExemplarFilter())
    histogram = provider.get_meter("test").create_histogram("h")
    histogram.record(1, attributes={"a": "x"})
    given: list[Any] = []
    cls = aggregation_module._ExplicitBucketHistogramAggregation
    original = cls.aggregate
    monkeypatch.setattr(cls, "aggregate", lambda self, m, sample=True: (given.append(m), original(self, m, sample)))
    histogram.record(2, attributes={"a": "x"})
    provider.shutdown()
    return given


@needs_direct
def test_an_aggregation_as_written_is_given_the_value_any_other_the_sdks_measurement(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, True)
    (value,) = _given(monkeypatch)
    assert type(value) is metric_direct._Value and value.value == 2
    monkeypatch.undo()
    # An aggregation whose code is not the one written against (it might read the time, the attributes...): the
    # direct path still runs, with the SDK's own Measurement.

    def aggregate(self: Any, measurement: Any, should_sample_exemplar: bool = True) -> None:
        self._sum += measurement.value
        self.seen_at = measurement.time_unix_nano

    monkeypatch.setattr(aggregation_module._SumAggregation, "aggregate", aggregate)
    _install(monkeypatch, True)
    (measurement,) = _given(monkeypatch)
    assert type(measurement).__name__ == "Measurement" and measurement.attributes == {"a": "x"}
    assert measurement.value == 2 and measurement.time_unix_nano > 0


@needs_direct
def test_up_to_max_sets_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, True)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], exemplar_filter=exemplar.AlwaysOffExemplarFilter())
    counter = provider.get_meter("test").create_counter("c")
    for i in range(metric_direct.MAX_SETS + 10):
        counter.add(1, attributes={"i": i})
        counter.add(1, attributes={"i": i})
    assert len(vars(counter)[metric_direct._STATE][1]) == metric_direct.MAX_SETS
    points = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert sorted(p.value for p in points) == [2] * (metric_direct.MAX_SETS + 10)
    provider.shutdown()


@needs_direct
def test_a_reader_added_later_gets_every_record(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, True)
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[first], exemplar_filter=exemplar.AlwaysOffExemplarFilter())
    counter = provider.get_meter("test").create_counter("c")
    counter.add(1, attributes={"a": "x"})
    counter.add(1, attributes={"a": "x"})
    provider.add_metric_reader(second)
    counter.add(5, attributes={"a": "x"})
    counter.add(5, attributes={"a": "x"})
    values = [[p.value for p in r.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points]
              for r in (first, second)]
    assert values == [[12], [10]]
    provider.shutdown()


@needs_direct
@pytest.mark.parametrize("case", ["exemplars", "view with attribute keys"])
def test_what_it_does_not_match_goes_the_sdks_way(case: str, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """OpenTelemetry's default exemplar filter (trace_based, always_on) and views that keep some attributes: the
    SDK's path each time, nothing remembered, the same points (exemplars counted)."""
    options: dict[str, Any] = {"exemplar_filter": exemplar.AlwaysOnExemplarFilter()} if case == "exemplars" else {
        "views": (View(instrument_name="h", attribute_keys={"gen_ai.system"}),)}
    theirs = _record_all(monkeypatch, caplog, False, 5, AggregationTemporality.CUMULATIVE, **options)
    ours = _record_all(monkeypatch, caplog, True, 5, AggregationTemporality.CUMULATIVE, **options)
    assert ours == theirs
    if case == "exemplars":
        assert any(point[3] for point in theirs[0][-1][0])  # exemplars were made, by both


def test_install_changes_only_what_it_recognises(monkeypatch: pytest.MonkeyPatch) -> None:
    """On every SDK release: the three methods replaced where everything is as written against (1.45), the SDK
    left as it is anywhere else (1.38, 1.41)."""
    installed = _install(monkeypatch, True)
    assert installed is AS_WRITTEN
    for (cls, name), original in ORIGINALS.items():
        now = vars(cls)[name]
        assert (getattr(now, "__wrapped__", None) is original) if installed else now is original

    def record(self: Any, amount: Any, attributes: Any = None, context: Any = None) -> None:
        return None

    _install(monkeypatch, False)
    monkeypatch.setattr(instrument.Histogram, "record", record)
    assert metric_direct.install() is False
    assert vars(instrument.Histogram)["record"] is record and vars(instrument.Counter)["add"] is \
        ORIGINALS[(instrument.Counter, "add")]

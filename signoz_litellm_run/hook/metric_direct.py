"""A histogram record or counter add handed straight to the aggregations its attribute set already has.

OpenTelemetry's SDK takes each record through five steps before an aggregation adds it up: the instrument builds a
`Measurement` (its attributes cleaned into a copy), the measurement consumer asks the exemplar filter, each reader's
storage finds the instrument's view matches, and each match copies the attributes again, turns them into their
series key and looks that series' aggregation up. For an attribute set seen before, every step after the first
gives the same answer. Here an instrument remembers, per attribute set, the aggregations the SDK found for it (one
per reader and view), and a record with a set it has seen goes straight to them. With no exemplar offered, the
SDK's aggregations read only a measurement's value, so that is all they are given (where their code is as written
against; elsewhere the same `Measurement` as the SDK's: value, time, instrument, context, a copy of the
attributes). A record then costs 43 % of its instructions with hook/metric_record.py's path alone, 22 % of the
SDK's (scripts/bench_metric_record.py; 12 records a LiteLLM proxy request).

What is remembered, and when:
- attribute sets in a plain dict with non-empty `str` keys and values exactly `str`, `int`, `float`, `bool` or None
  (those the SDK's cleaning copies as they are: hook/metric_record.py's `PLAIN_VALUES`), keyed by their items and
  their values' types (True, 1 and 1.0 stay distinct series, as in the SDK);
- only with the exemplar filter off (`always_off`, which `run` sets: SigNoz stores no exemplars), views that keep
  every attribute, and the SDK's own aggregations; a set's first record goes the SDK's way, and the aggregations it
  made or found are looked up after it;
- up to 512 sets an instrument; forgotten when the provider's readers change.
Anything else (a non-finite or negative value the SDK warns about, other attributes, a disabled meter) goes the
SDK's way. Installed only while the instruments' methods and the steps above are the ones this was written against
(the names their code uses, as in opentelemetry-sdk 1.45); otherwise nothing is changed.
"""

from __future__ import annotations

import importlib
from math import isfinite
from time import time_ns
from typing import Any, Callable

from signoz_litellm_run.hook import is_as_written
from signoz_litellm_run.hook.metric_record import PLAIN_VALUES, STR_ONLY, set_key

_PREFIX = "opentelemetry.sdk.metrics._internal."
_RECORD_NAMES = ("_is_enabled", "super", "record", "math", "isfinite", "_logger", "warning", "name", "time_ns",
                 "_measurement_consumer", "consume_measurement", "Measurement", "get_current")
_ADD_NAMES = tuple("add" if name == "record" else name for name in _RECORD_NAMES)
_CONSUME_NAMES = ("_sdk_config", "exemplar_filter", "should_sample", "value", "time_unix_nano", "attributes",
                  "context", "_reader_storages", "values", "consume_measurement")
_STORAGE_NAMES = ("_get_or_init_view_instrument_match", "instrument", "consume_measurement")
_MATCH_NAMES = ("attributes", "dict", "_view", "_attribute_keys", "items", "_hash_attributes",
                "_attributes_aggregation", "_lock", "isinstance", "_aggregation", "DefaultAggregation",
                "_create_aggregation", "_instrument", "_exemplar_reservoir_factory", "time_ns",
                "_instrument_class_aggregation", "__class__", "aggregate")
_FIELDS = ["value", "time_unix_nano", "instrument", "context", "attributes"]
# Each aggregation's `aggregate` as written against (SDK 1.45): of the measurement it reads only `value`, and hands it
# on only to `_sample_exemplar`, which reads the rest only when told to sample (never here).
_AGGREGATIONS = {
    "_SumAggregation": ("_lock", "_value", "value", "_sample_exemplar"),
    "_LastValueAggregation": ("_lock", "value", "_value", "_sample_exemplar"),
    "_ExplicitBucketHistogramAggregation": (
        "_lock", "_value", "_get_empty_bucket_counts", "value", "_sum", "_record_min_max", "min", "_min", "max",
        "_max", "bisect_left", "_boundaries", "_sample_exemplar"),
    "_ExponentialBucketHistogramAggregation": (
        "_lock", "_value_positive", "Buckets", "_value_negative", "value", "_sum", "_record_min_max", "min", "_min",
        "max", "_max", "_count", "_zero_count", "_scale", "_mapping", "map_to_index", "len", "index_start",
        "index_end", "index_base", "_max_size", "_get_scale_change", "_downscale", "_new_mapping", "scale",
        "counts", "grow", "increment_bucket", "_sample_exemplar"),
    "_DropAggregation": (),
}
_SAMPLE_NAMES = ("_reservoir", "offer", "value", "time_unix_nano", "attributes", "context")
# (class name, method, may the value be negative): the SDK warns about a negative histogram record or counter add
_METHODS = (("Histogram", "record", _RECORD_NAMES, False), ("Counter", "add", _ADD_NAMES, False),
            ("UpDownCounter", "add", _ADD_NAMES, True))
MAX_SETS = 512  # attribute sets remembered an instrument (one per series: a handful per model in practice)
_STATE = "_signoz_litellm_sets"  # on an instrument: (the readers' storages it was found with, {set: aggregations})


def install() -> bool:
    """Put the direct path on the SDK's Histogram, Counter and UpDownCounter when everything it stands in for is
    as written against; True when it did."""
    try:
        instrument = importlib.import_module(_PREFIX + "instrument")
        consumer = importlib.import_module(_PREFIX + "measurement_consumer")
        storage = importlib.import_module(_PREFIX + "metric_reader_storage")
        match = importlib.import_module(_PREFIX + "_view_instrument_match")
        measurement = importlib.import_module(_PREFIX + "measurement")
        aggregation = importlib.import_module(_PREFIX + "aggregation")
        exemplar = importlib.import_module(_PREFIX + "exemplar")
    except ImportError:
        return False
    import dataclasses

    consumer_class = getattr(consumer, "SynchronousMeasurementConsumer", None)
    storage_class = getattr(storage, "MetricReaderStorage", None)
    match_class = getattr(match, "_ViewInstrumentMatch", None)
    measurement_class = getattr(measurement, "Measurement", None)
    always_off = getattr(exemplar, "AlwaysOffExemplarFilter", None)
    aggregations = tuple(getattr(aggregation, name, None) for name in _AGGREGATIONS)
    value_only = all(isinstance(cls, type) and is_as_written(getattr(cls, "aggregate", None), names)
                     and is_as_written(getattr(cls, "_sample_exemplar", None), _SAMPLE_NAMES)
                     for cls, names in zip(aggregations, _AGGREGATIONS.values()))
    try:
        fields = [field.name for field in dataclasses.fields(measurement_class)]  # type: ignore[arg-type]
    except TypeError:
        return False
    methods = [(getattr(instrument, name, None), method, names, negative) for name, method, names, negative
               in _METHODS]
    if not (fields == _FIELDS and "__slots__" not in vars(measurement_class) and isinstance(always_off, type)
            and all(isinstance(found, type) for found in aggregations)
            and is_as_written(getattr(consumer_class, "consume_measurement", None), _CONSUME_NAMES)
            and is_as_written(getattr(storage_class, "consume_measurement", None), _STORAGE_NAMES)
            and hasattr(storage_class, "_get_or_init_view_instrument_match")
            and is_as_written(getattr(match_class, "consume_measurement", None), _MATCH_NAMES)
            and all(isinstance(cls, type) and method in vars(cls) and is_as_written(vars(cls)[method], names)
                    for cls, method, names, _ in methods)):
        return False
    remember = _rememberer(consumer_class, always_off, frozenset(aggregations), match)
    for cls, method, _, negative in methods:
        setattr(cls, method, direct(vars(cls)[method], negative, _Value if value_only else measurement_class,
                                    instrument.get_current, remember))
    return True


class _Value:
    """A measurement as the SDK's aggregations read it when they offer it to no exemplar reservoir: its value."""

    __slots__ = ("value",)


def direct(original: Callable[..., Any], negative: bool, measurement_class: type, get_current: Callable[[], Any],
           remember: Callable[[Any, dict[str, Any]], None]) -> Callable[..., Any]:
    """The instrument method: a set it has seen straight to its aggregations (as a `_Value`, or as the SDK's
    `Measurement` when `measurement_class` is that), anything else to `original` (then remembered when it may be)."""
    new = object.__new__
    value_only = measurement_class is _Value

    def record(self: Any, amount: Any, attributes: Any = None, context: Any = None) -> None:
        if type(attributes) is not dict:
            return original(self, amount, attributes, context)
        state = self.__dict__.get(_STATE)
        if state is not None and state[0] is getattr(self._measurement_consumer, "_reader_storages", None):
            try:
                found = state[1].get(set_key(attributes))
            except TypeError:  # a value that cannot be a key (a list): never remembered
                found = None
            kind = type(amount)
            if (found is not None and (kind is float or kind is int) and isfinite(amount)
                    and (negative or amount >= 0) and self._is_enabled()):
                measurement = new(measurement_class)
                if value_only:
                    measurement.value = amount
                else:
                    measurement.__dict__.update(value=amount, time_unix_nano=time_ns(), instrument=self,
                                                context=context or get_current(), attributes=dict(attributes))
                for aggregation in found:
                    aggregation.aggregate(measurement, False)  # False: the exemplar filter is always_off
                return None
        original(self, amount, attributes, context)
        remember(self, attributes)
        return None

    record._signoz_litellm = True  # type: ignore[attr-defined]
    record.__wrapped__ = original  # type: ignore[attr-defined]
    record.__name__ = original.__name__
    return record


def _rememberer(consumer_class: type, always_off: type, aggregations: frozenset[type],
                match_module: Any) -> Callable[[Any, dict[str, Any]], None]:
    plain = PLAIN_VALUES
    only_str = STR_ONLY

    def remember(instrument: Any, attributes: dict[str, Any]) -> None:
        """After the SDK recorded `attributes` on `instrument`: the aggregations it recorded them in, remembered
        for the next record of the same set, when the set and the SDK's state are ones the direct path matches."""
        try:
            consumer = instrument._measurement_consumer
            storages = consumer._reader_storages
            if (type(consumer) is not consumer_class or type(consumer._sdk_config.exemplar_filter) is not always_off
                    or not only_str.issuperset(map(type, attributes)) or "" in attributes
                    or not plain.issuperset(map(type, attributes.values()))):
                return
            state = instrument.__dict__.get(_STATE)
            if state is None or state[0] is not storages:
                state = (storages, {})
                instrument.__dict__[_STATE] = state
            sets = state[1]
            if len(sets) >= MAX_SETS:
                return
            key = match_module._hash_attributes(dict(attributes))  # the series key the matches found them by
            found = []
            for storage in storages.values():
                for match in storage._get_or_init_view_instrument_match(instrument):
                    aggregation = match._attributes_aggregation.get(key)
                    if match._view._attribute_keys is not None or type(aggregation) not in aggregations:
                        return
                    found.append(aggregation)
            sets[set_key(attributes)] = tuple(found)
        except Exception:  # never in the way of a record: the SDK's path goes on being taken
            return

    return remember

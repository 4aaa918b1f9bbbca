"""Make OpenTelemetry's histogram and counter records cheaper without changing what they record.

A LiteLLM call records six measurements (five GenAI histograms, the HTTP client duration), about 12 us
each, and half of that goes to two steps that redo the same work for the same attributes call after call:

- Cleaning. The SDK copies a measurement's attributes through `_clean_attribute_value`, one call per
  value and type checks per key. For a dict (or a read-only view of one, as the SDK hands a span's
  attributes at its start) whose keys are non-empty `str` and whose values are exactly `str`, `int`,
  `float`, `bool` or None, that function returns a plain copy of the dict, in order: such a dict is now
  copied directly; a value that is a list or tuple of those becomes a tuple of them, as the SDK makes it
  (LiteLLM's `tags` on every `litellm_request` sent its ~50 attributes through the SDK's function one
  call each). Such a value on its own (a span's `set_attribute`) is returned as the SDK returns it,
  without a call. Anything else (nested values, bytes, other key types, subclasses, a length limit)
  goes through the SDK's function, warnings included.
- Hashing. Each record turns the attributes into the key of their time series (`_hash_attributes`:
  sorted keys, each value tagged with its type name). For attributes whose values are exactly `str`,
  `int` or `bool`, the key is now kept, looked up by the attributes' items and their types (so `True`,
  `1` and `1.0` stay apart, as the type tag keeps them), up to 512 attribute sets; others are hashed as
  before.

Both only apply while the SDK's functions are the ones this was written against (the names their code
uses, as in opentelemetry-sdk 1.45); otherwise nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from signoz_litellm_run.hook import is_as_written

_CLEAN_MODULE = "opentelemetry.sdk.metrics._internal.measurement"
_HASH_MODULE = "opentelemetry.sdk.metrics._internal._view_instrument_match"
_CLEAN_NAMES = ("isinstance", "NoneType", "bool", "int", "float", "bytes", "str", "len", "_logger", "warning",
                "Sequence", "tuple", "Mapping", "items", "type", "_is_non_custom_str", "_clean_attribute_value",
                "TYPE_CHECKING", "assert_never")
_HASH_NAMES = ("isinstance", "NoneType", "str", "int", "float", "bool", "bytes", "type", "__name__", "Sequence",
               "tuple", "Mapping", "sorted", "TYPE_CHECKING", "assert_never")
_MAX_KEYS = 512  # attribute sets whose hash is kept (one per time series: a handful per model in practice)
PLAIN_VALUES = frozenset((str, int, float, bool, type(None)))  # copied as they are by the SDK's cleaning
_KEPT_VALUES = frozenset((str, int, bool))  # equal values of one of these types hash alike
STR_ONLY = frozenset((str,))
_SEQUENCES = frozenset((list, tuple))  # made tuples of their items by the SDK's cleaning
_PLAIN_OR_SEQUENCE = PLAIN_VALUES | _SEQUENCES
# Mappings taken as the dict they hold: a dict, and the read-only view the SDK hands a span's start attributes in.
PLAIN_MAPPINGS = frozenset((dict, MappingProxyType))


def install() -> None:
    import importlib

    try:
        clean_module = importlib.import_module(_CLEAN_MODULE)
        hash_module = importlib.import_module(_HASH_MODULE)
    except ImportError:
        return
    copy_plain_in(clean_module)
    original_hash = getattr(hash_module, "_hash_attributes", None)
    if is_as_written(original_hash, _HASH_NAMES):
        hash_module._hash_attributes = keep_hashes(original_hash)


def copy_plain_in(module: Any) -> None:
    """Give `module` the faster cleaning while its `_clean_attribute_value` is the SDK's, as written against (the
    metric measurements' module here; OpenTelemetry's attributes module in hook/span_attributes.py)."""
    original = getattr(module, "_clean_attribute_value", None)
    if is_as_written(original, _CLEAN_NAMES):
        module._clean_attribute_value = copy_plain(original)


def copy_plain(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    plain = PLAIN_VALUES
    plain_or_sequence = _PLAIN_OR_SEQUENCE
    only_str = STR_ONLY
    mappings = PLAIN_MAPPINGS

    def _clean_attribute_value(value: Any, max_string_value_length: int | None) -> Any:
        kind = type(value)
        if max_string_value_length is None:
            if kind in plain:
                return value
            if kind in mappings and only_str.issuperset(map(type, value)) and "" not in value:
                if plain.issuperset(map(type, value.values())):
                    return dict(value)
                if plain_or_sequence.issuperset(map(type, value.values())):
                    cleaned = _with_tuples(value)
                    if cleaned is not None:
                        return cleaned
        return original(value, max_string_value_length)

    _clean_attribute_value._signoz_litellm = True  # type: ignore[attr-defined]
    _clean_attribute_value.__wrapped__ = original  # type: ignore[attr-defined]
    return _clean_attribute_value


def _with_tuples(value: Any) -> dict[str, Any] | None:
    """A copy of `value` (plain values, lists and tuples) with each list or tuple made a tuple, as the SDK's
    cleaning makes it; None when one holds anything but plain values (left to the SDK's function)."""
    plain = PLAIN_VALUES
    sequences = _SEQUENCES
    cleaned = {}
    for key, item in value.items():
        if type(item) in sequences:
            if not plain.issuperset(map(type, item)):
                return None
            item = tuple(item)
        cleaned[key] = item
    return cleaned


def set_key(attributes: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[type, ...]]:
    """An attribute set as a dict key: its items, and its values' types (True, 1 and 1.0 are equal values but
    distinct series for the SDK). Looking it up raises TypeError when a value cannot be a key (a list)."""
    return tuple(attributes.items()), tuple(map(type, attributes.values()))


def keep_hashes(original: Callable[[Any], Any], limit: int = _MAX_KEYS) -> Callable[[Any], Any]:
    kept: dict[tuple[tuple[Any, ...], tuple[type, ...]], Any] = {}
    kinds = _KEPT_VALUES
    only_str = STR_ONLY

    def _hash_attributes(value: Any) -> Any:
        if type(value) is not dict:
            return original(value)
        key = set_key(value)
        if not kinds.issuperset(key[1]) or not only_str.issuperset(map(type, value)):
            return original(value)
        hashed = kept.get(key)
        if hashed is None:
            hashed = original(value)
            if len(kept) < limit:
                kept[key] = hashed
        return hashed

    _hash_attributes._signoz_litellm = True  # type: ignore[attr-defined]
    _hash_attributes.__wrapped__ = original  # type: ignore[attr-defined]
    _hash_attributes.kept = kept  # type: ignore[attr-defined]
    return _hash_attributes

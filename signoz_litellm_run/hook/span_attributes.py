"""Make setting a span's attributes cheaper without changing what the span holds.

Each LiteLLM call sets some 35 attributes on its `litellm_request` span in one go (hook/litellm_arm.py
collects them) and two on its HTTP client span at its start (which the SDK hands on in a read-only view of
the dict: a `MappingProxyType`, taken here as that dict). OpenTelemetry's `BoundedAttributes` then

- cleans the attributes through `_clean_attribute_value`: one call per value, which for a dict with non-empty
  `str` keys and values exactly `str`, `int`, `float`, `bool` or None returns a plain copy; such a dict is now
  copied directly (the function of hook/metric_record.py, also used for the metric records);
- stores each one through `_setitem_locked`: drop the key if present, drop the oldest attribute when the
  span is full, then insert. When the span cannot fill up (its attributes and the new ones together stay
  within the limit, 128 by default), that is: drop the keys present, then insert all, in order. A batch that
  could fill the span, or any other mapping (nor a dict, nor a view of one), goes through the SDK's own code,
  warnings included.

Both only apply while the SDK's functions are the ones this was written against (the names their code uses,
as in opentelemetry-sdk 1.45); otherwise nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from signoz_litellm_run.hook import is_as_written
from signoz_litellm_run.hook.metric_record import PLAIN_MAPPINGS, copy_plain_in

_SET_ITEMS_NAMES = ("_raise_if_immutable", "maxlen", "_lock", "dropped", "len", "_clean_attribute_value",
                    "max_value_len", "items", "_setitem_locked")
_SETITEM_LOCKED_NAMES = ("_dict", "maxlen", "len", "_logger", "warning", "next", "iter", "keys", "dropped")


def install() -> None:
    try:
        from opentelemetry import attributes
    except ImportError:
        return
    copy_plain_in(attributes)
    bounded = getattr(attributes, "BoundedAttributes", None)
    original_set_items = getattr(bounded, "_set_items", None)
    if (is_as_written(original_set_items, _SET_ITEMS_NAMES)
            and is_as_written(getattr(bounded, "_setitem_locked", None), _SETITEM_LOCKED_NAMES)):
        bounded._set_items = set_all(original_set_items, attributes)


def sdk_as_written() -> bool:
    """OpenTelemetry's BoundedAttributes is the one this (and litellm_arm's collected attributes) was written
    against: `_set_items` and `_setitem_locked` as in opentelemetry-api 1.45 (1.38 has no `_set_items`)."""
    try:
        from opentelemetry.attributes import BoundedAttributes
    except ImportError:
        return False
    return (is_as_written(getattr(BoundedAttributes, "_set_items", None), _SET_ITEMS_NAMES)
            or getattr(getattr(BoundedAttributes, "_set_items", None), "_signoz_litellm", False)) \
        and is_as_written(getattr(BoundedAttributes, "_setitem_locked", None), _SETITEM_LOCKED_NAMES)


def set_all(original: Callable[[Any, Any], None], module: Any) -> Callable[[Any, Any], None]:
    def _set_items(self: Any, attributes: Any) -> None:
        maxlen = self.maxlen
        if type(attributes) not in PLAIN_MAPPINGS or self._immutable or maxlen == 0:
            return original(self, attributes)
        cleaned = module._clean_attribute_value(attributes, self.max_value_len)
        with self._lock:
            self.dropped += len(attributes) - len(cleaned)
            stored = self._dict
            if maxlen is not None and len(stored) + len(cleaned) > maxlen:
                for key, value in cleaned.items():
                    self._setitem_locked(key, value)  # may drop the oldest: the SDK's own step, its warning
                return
            if not stored.keys().isdisjoint(cleaned):
                for key in cleaned:
                    stored.pop(key, None)  # a key set again moves last
            stored.update(cleaned)

    _set_items._signoz_litellm = True  # type: ignore[attr-defined]
    _set_items.__wrapped__ = original  # type: ignore[attr-defined]
    return _set_items

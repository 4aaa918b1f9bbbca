"""LiteLLM's `safe_dumps`, as its OpenTelemetry logger uses it, without rebuilding plain JSON data first.

LiteLLM's OTel logger turns the prompt, the completion, the finish reasons, `hidden_params` and more into
JSON text with `safe_dumps` on every call (five or six times): it rebuilds the whole value out of fresh
containers, one Python call per leaf, to strip NUL characters, drop non-string keys, cut what is nested too
deep and break reference cycles, then hands the copy to `json.dumps`. For a LiteLLM payload that is
already plain JSON data (dicts with string keys, lists, tuples, strings without NUL, numbers, booleans,
None, within the depth limit) the copy is the value itself, so `json.dumps` of the value gives the same
text: one walk that only checks types decides that, at about a third of the rebuild's cost. Anything else
(a set, a pydantic model, a NUL character, a non-string key, a cycle, a value nested past the limit, a
subclass of str or dict, a value transform) goes to LiteLLM's own function, as before.

Only the logger module's name is rebound; the rest of LiteLLM keeps its own function.

A value whose JSON would only be dropped (`hidden_params` on a lean proxy request's span: hook/request_attributes.py)
is not turned into JSON at all: `skip_once(value)` makes this thread's next `safe_dumps` of that very object return
"" (its attribute is left off the span), once.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Callable
from typing import Any

_PARAMETERS = ("data", "max_depth", "value_transform", "non_finite_as_null")
_NOTHING = object()
_skipped = threading.local()  # per thread: `value`, the one object whose JSON is not wanted, or unset


def skip_once(value: object) -> None:
    """This thread's next `safe_dumps` of `value` itself (not of an equal one) returns "" instead of its JSON;
    None: nothing skipped."""
    _skipped.value = _NOTHING if value is None else value


def install(otel_module: Any) -> bool:
    """Rebind `safe_dumps` in LiteLLM's OTel logger module; False (nothing changed) when its function is not
    the one this was written against."""
    original = getattr(otel_module, "safe_dumps", None)
    if original is None or getattr(original, "_signoz_litellm", False):
        return False
    try:
        parameters = inspect.signature(original).parameters
        max_depth = parameters["max_depth"].default
    except (TypeError, ValueError, KeyError):
        return False
    if tuple(parameters) != _PARAMETERS or type(max_depth) is not int:
        return False
    otel_module.safe_dumps = faster(original, max_depth)
    return True


def faster(original: Callable[..., str], default_max_depth: int) -> Callable[..., str]:
    def safe_dumps(data: object, max_depth: int = default_max_depth, value_transform: Any = None,
                   *, non_finite_as_null: bool = False) -> str:
        if data is getattr(_skipped, "value", _NOTHING):
            _skipped.value = _NOTHING
            return ""
        if value_transform is None and not non_finite_as_null and _plain(data, 0, max_depth):
            return json.dumps(data)
        return original(data, max_depth, value_transform, non_finite_as_null=non_finite_as_null)

    safe_dumps._signoz_litellm = True  # type: ignore[attr-defined]
    safe_dumps.__wrapped__ = original  # type: ignore[attr-defined]
    return safe_dumps


def _plain(value: object, depth: int, max_depth: int) -> bool:
    """True when LiteLLM's rebuild of `value` (reached at `depth`) would be `value` itself: exact JSON
    types only, no NUL in a string or key, only string keys, nothing deeper than `max_depth` (LiteLLM
    puts a marker there). A cycle ends in the depth limit, so it is not plain either. Leaves are checked
    in the loop, without a call each."""
    if depth > max_depth:
        return False
    kind = type(value)
    if kind is str:
        return "\x00" not in value  # type: ignore[operator]
    if kind is int or kind is float or kind is bool or value is None:
        return True
    if kind is dict:
        for key in value:  # type: ignore[attr-defined]
            if type(key) is not str or "\x00" in key:
                return False
        items: Any = value.values()  # type: ignore[attr-defined]
    elif kind is list or kind is tuple:
        items = value
    else:
        return False
    if items and depth >= max_depth:
        return False  # its items would be past the limit
    for item in items:
        kind = type(item)
        if kind is str:
            if "\x00" in item:
                return False
        elif not (kind is int or kind is float or kind is bool or item is None) \
                and not _plain(item, depth + 1, max_depth):
            return False
    return True

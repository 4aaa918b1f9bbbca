"""hook/litellm_json.py: the same text as LiteLLM's own `safe_dumps`, whatever the value."""

from __future__ import annotations

import enum
import math
import random
import types

import pytest

safe_json_dumps = pytest.importorskip("litellm.litellm_core_utils.safe_json_dumps")

from signoz_litellm_run.hook import litellm_json  # noqa: E402

original = safe_json_dumps.safe_dumps
# Before LiteLLM 1.110 safe_dumps has other parameters: the hook leaves it alone (tested below), and there is no
# faster path to compare with it.
WRITTEN_AGAINST = litellm_json.install(types.SimpleNamespace(safe_dumps=original))
compared = pytest.mark.skipif(not WRITTEN_AGAINST, reason="this LiteLLM's safe_dumps is not the one the hook "
                                                           "was written against: the hook leaves it alone")
DEFAULT_DEPTH = 100
fast = litellm_json.faster(original, DEFAULT_DEPTH)


class Colour(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Tagged(dict):
    pass


def _nested(levels: int, leaf: object) -> object:
    value = leaf
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


shared = {"a": 1}
cycle: dict = {"name": "loop"}
cycle["self"] = cycle
list_cycle: list = [1]
list_cycle.append([list_cycle])

CASES = [
    None, True, 0, -7, 2**70, 1.5, math.nan, math.inf, -math.inf, "", "plain", "é中\n\t\"\\", "nul\x00inside",
    [], {}, (), [1, "a", None, True, 2.5], (1, (2, 3)), {"a": [1, {"b": (None, False)}]},
    {"role": "user", "parts": [{"type": "text", "content": "hello " * 50}]},
    {"nul\x00key": 1}, {1: "int key", "s": 2}, {None: 1}, {(1, 2): "tuple key"}, {"s": {3: "inner int key"}},
    {1, 2, 3}, {"x": {"b", "a"}}, frozenset({1}), b"bytes", bytearray(b"x"), object, Colour.RED, Level.HIGH,
    Tagged(a=1), {"t": Tagged(a=1)}, [shared, shared], {"x": shared, "y": [shared]},
    cycle, list_cycle, {"outer": cycle},
    _nested(99, "leaf"), _nested(100, "leaf"), _nested(101, "leaf"), _nested(102, "leaf"),
    _nested(100, []), _nested(100, {}), _nested(101, []), _nested(100, [1]), _nested(250, 1),
]


@compared
@pytest.mark.parametrize("value", CASES, ids=lambda v: type(v).__name__)
def test_the_same_text_as_litellms_own(value: object) -> None:
    assert fast(value) == original(value)


@compared
def test_plain_payloads_are_written_without_litellms_rebuild() -> None:
    calls: list[object] = []

    def counting(data: object, *args: object, **kwargs: object) -> str:
        calls.append(data)
        return original(data, *args, **kwargs)

    watched = litellm_json.faster(counting, DEFAULT_DEPTH)
    watched([{"role": "assistant", "parts": [{"type": "text", "content": "hi"}], "finish_reason": "stop"}])
    assert calls == []
    watched({"nul\x00key": 1})
    watched({"x": {1, 2}})
    assert len(calls) == 2


@compared
@pytest.mark.parametrize("depth", [-1, 0, 1, 2, 3, 5])
def test_an_explicit_depth_limit_is_kept(depth: int) -> None:
    for levels in range(0, 8):
        for leaf in ("leaf", [], {}, [1], {"k": None}):
            value = _nested(levels, leaf)
            assert fast(value, depth) == original(value, depth), (levels, leaf)


@compared
def test_a_value_transform_or_non_finite_as_null_goes_to_litellm() -> None:
    upper = lambda key, text: text.upper()  # noqa: E731
    assert fast({"a": "x"}, DEFAULT_DEPTH, upper) == original({"a": "x"}, DEFAULT_DEPTH, upper) == '{"a": "X"}'
    assert fast([math.nan], non_finite_as_null=True) == original([math.nan], non_finite_as_null=True) == "[null]"


@compared
@pytest.mark.parametrize("seed", range(30))
def test_random_payloads(seed: int) -> None:
    rng = random.Random(seed)
    leaves = [None, True, False, 0, 1, -1, 3.25, 1e300, math.nan, "", "text", "ü\x00", "\x00", Colour.RED, Level.HIGH,
              {3}, b"b"]

    def make(depth: int) -> object:
        roll = rng.random()
        if depth > 6 or roll < 0.4:
            return rng.choice(leaves[:10]) if rng.random() < 0.9 else rng.choice(leaves)
        size = rng.randint(0, 4)
        if roll < 0.7:
            keys = [rng.choice(["a", "b", "c", "d\x00", 1, "é"]) if rng.random() < 0.1 else f"k{i}" for i in range(size)]
            return {k: make(depth + 1) for k in keys}
        items = [make(depth + 1) for _ in range(size)]
        return tuple(items) if roll < 0.8 else items

    for _ in range(200):
        value = make(0)
        for depth in (DEFAULT_DEPTH, rng.randint(0, 4)):
            assert fast(value, depth) == original(value, depth), (value, depth)


def test_install_rebinds_the_otel_modules_function_once() -> None:
    otel = pytest.importorskip("litellm.integrations.opentelemetry")
    stand_in = types.SimpleNamespace(safe_dumps=otel.safe_dumps)
    if not WRITTEN_AGAINST:  # an older LiteLLM: its own function stays
        assert litellm_json.install(stand_in) is False and stand_in.safe_dumps is otel.safe_dumps
        return
    assert litellm_json.install(stand_in) is True  # the LiteLLM we ship with: the faster function is used
    assert stand_in.safe_dumps.__wrapped__ is otel.safe_dumps
    assert litellm_json.install(stand_in) is False  # already done


def test_an_unknown_safe_dumps_is_left_alone() -> None:
    def safe_dumps(data: object, max_depth: int = 10, *, sort: bool = False) -> str:
        return "theirs"

    stand_in = types.SimpleNamespace(safe_dumps=safe_dumps)
    assert litellm_json.install(stand_in) is False
    assert stand_in.safe_dumps is safe_dumps
    assert litellm_json.install(types.SimpleNamespace()) is False


@compared
def test_skip_once_skips_that_very_object_once_on_this_thread() -> None:
    import threading

    hidden = {"model_id": "abc", "additional_headers": {"x": "1"}}
    try:
        litellm_json.skip_once(hidden)
        in_other_thread: list[str] = []
        thread = threading.Thread(target=lambda: in_other_thread.append(fast(hidden)))
        thread.start()
        thread.join()
        assert in_other_thread == [original(hidden)]  # another thread's dumps are its own
        assert fast(dict(hidden)) == original(hidden)  # an equal object is not that object
        assert fast(hidden) == ""
        assert fast(hidden) == original(hidden)  # once
        litellm_json.skip_once(hidden)
        litellm_json.skip_once(None)
        assert fast(hidden) == original(hidden) and fast(None) == "null"
    finally:
        litellm_json.skip_once(None)

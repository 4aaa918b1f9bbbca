"""The attributes of a `litellm_request` span: LiteLLM's, collected and set together, with the dashboards' names.

- The ~30 attributes LiteLLM sets one by one on each `litellm_request` span (each through two of its own calls,
  then the span's lock and OpenTelemetry's per-attribute checks) are collected while LiteLLM builds them, those
  it sets on the span itself included, and set together with the aliases below, once, when it is done: the same
  attributes, values and order, for half the cost (a span that could fill up, or has ended, gets each set made
  again as LiteLLM made it);
- spans carry the token attribute names SigNoz's LiteLLM dashboards chart as well as LiteLLM's newer ones, and the
  call's cost where LiteLLM (up to 1.78) writes none;
- no empty attributes: LiteLLM writes "" for each value it has none for (some 36 empty `metadata.*` attributes on
  every span of an SDK program, each paid for in the program, the export and the backend);
- with them, the attempts of a lean proxy request (hook/attempts.py) and who the call was for (hook/attribution.py);
- a lean proxy request's span (`--span-detail lean`, the default) without LiteLLM's per-call blobs that repeat what
  other attributes and spans hold (`LEAN_LEFT_OUT`), nor its empty `{}` / `[]` values, nor the cost adjustments
  that are 0 (`LEAN_LEFT_OUT_WHEN_ZERO`): a third of a gateway's trace bytes. `hidden_params` is then not even
  turned into JSON (hook/litellm_json.py's `skip_once`), where LiteLLM's code is seen to hand that JSON to
  `safe_set_attribute` (which leaves it off).
"""

from __future__ import annotations

import threading
from typing import Any

from signoz_litellm_run.hook import attempts, attribution, is_as_written, litellm_json, span_detail
from signoz_litellm_run.hook.metric_record import PLAIN_MAPPINGS

# Token attributes as LiteLLM writes them -> the names SigNoz's published dashboards query.
DASHBOARD_ALIASES = (
    ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    ("gen_ai.usage.total_tokens", "llm.usage.total_tokens"),
)
# LiteLLM up to 1.80.15 writes only the dashboards' names; from 1.80.17 only the newer ones. Each span gets both, so
# what reads the newer names (the local report, queries written for a newer LiteLLM) finds them on every release.
NEWER_NAMES = tuple((alias, source) for source, alias in DASHBOARD_ALIASES)
TOKEN_ALIASES = DASHBOARD_ALIASES + NEWER_NAMES
# LiteLLM up to 1.78 puts no cost on the span (later releases write `gen_ai.cost.total_cost`, from the same
# `response_cost` its logging payload carries): filled in from that payload.
COST_ATTRIBUTE = "gen_ai.cost.total_cost"

# Left off a lean proxy request's `litellm_request` (`--span-detail full` keeps them), each a JSON or Python repr of a
# dict that repeats what the trace holds elsewhere: `hidden_params` (the deployment id: `litellm.deployment.id`; the
# cost: `gen_ai.cost.*`; the API base: the provider call's `http.url`; the provider's response headers and
# LiteLLM's overhead), `metadata.usage_object` (the tokens: `gen_ai.usage.*`) and `metadata.requester_metadata`
# (the client's request headers and the trace id: the server span's attributes, `metadata.trace_id`); and
# `metadata.user_agent`, the client's User-Agent header (the server span's `http.user_agent`).
LEAN_LEFT_OUT = frozenset(("hidden_params", "metadata.usage_object", "metadata.requester_metadata",
                           "metadata.user_agent"))
# Left off it too when they are 0: the parts of LiteLLM's cost breakdown that adjust the cost (tools priced apart,
# a discount, a margin), 0 on every call of a gateway that configures none. The cost itself stays, 0 or not.
LEAN_LEFT_OUT_WHEN_ZERO = frozenset(("gen_ai.cost.tool_usage_cost", "gen_ai.cost.discount_percent",
                                     "gen_ai.cost.discount_amount", "gen_ai.cost.margin_percent",
                                     "gen_ai.cost.margin_fixed_amount", "gen_ai.cost.margin_total_amount"))
_NUMBERS = frozenset((int, float))
_NOTHING_LEFT_OUT: frozenset[str] = frozenset()
_EMPTY_CONTAINERS = frozenset((dict, list))

# Per thread: (span, the attributes collected or None, the keys left off) while LiteLLM's set_attributes builds a span.
_batches = threading.local()
_PRIMITIVE_TYPES = frozenset((str, bool, int, float))


def wrappers(otel_class: Any) -> tuple[Any, Any]:
    """For LiteLLM's logger class: `set_attributes` (collect, then set together) and `safe_set_attribute` (None
    left out; a value collected while `set_attributes` runs)."""
    original_set_attributes = otel_class.set_attributes
    original_safe_set_attribute = otel_class.safe_set_attribute
    # LiteLLM's own safe_set_attribute, as this was written against: cast to a primitive, then set. Only then
    # may a value be cast here, at the same point, and wait to be set with the others (a primitive skips the
    # cast: it leaves those as they are).
    # And only on the SDK span attributes this was written against (tests/test_request_attributes.py compares both
    # ways); on another (opentelemetry-api 1.38, 1.41) each attribute is set as LiteLLM sets it, then the aliases.
    from signoz_litellm_run.hook.span_attributes import sdk_as_written

    batching = is_as_written(original_safe_set_attribute, ("_cast_as_primitive_value_type", "set_attribute")) \
        and sdk_as_written()
    lean = span_detail.lean()
    skips_hidden_params = _sets_hidden_params_json(original_set_attributes)

    def set_attributes(self: Any, span: Any, kwargs: Any, response_obj: Any) -> Any:
        left_out = LEAN_LEFT_OUT if lean and attempts.request_span_of(kwargs) is not None else _NOTHING_LEFT_OUT
        outer = getattr(_batches, "current", None)
        skipped = _hidden_params(kwargs) if left_out and skips_hidden_params else None
        if skipped is not None:  # taken off once LiteLLM's set_attributes is done, on either path below
            litellm_json.skip_once(skipped)
        if not batching:
            _batches.current = (span, None, left_out) if left_out else None
            try:
                result = original_set_attributes(self, span, kwargs, response_obj)
            finally:
                _batches.current = outer
                if skipped is not None:
                    litellm_json.skip_once(None)
            try:
                _set_aliases(span, _cost_of(kwargs))
                extra = attempts.summary(kwargs)
                if extra:
                    span.set_attributes(extra)
                for key, value in attribution.attributes(kwargs):
                    span.set_attribute(key, value)
            except Exception:  # never in the way of LiteLLM's logging
                pass
            return result
        batch: tuple[Any, list[tuple[Any, Any]], frozenset[str]] = (span, [], left_out)
        _batches.current = batch
        own = _collect_span_sets(span, batch[1])
        try:
            result = original_set_attributes(self, span, kwargs, response_obj)
        except BaseException:
            _set_collected(span, own, batch[1], aliases=False, cost=None)
            raise
        finally:
            _batches.current = outer
            if skipped is not None:
                litellm_json.skip_once(None)
        try:
            extra = attempts.summary(kwargs)
            if extra:
                batch[1].extend(extra.items())
        except Exception:  # never in the way of LiteLLM's logging
            pass
        batch[1].extend(attribution.attributes(kwargs))  # who and what the call was for (user, session, tags)
        _set_collected(span, own, batch[1], aliases=True, cost=_cost_of(kwargs))
        return result

    def safe_set_attribute(self: Any, span: Any, key: str, value: Any) -> None:
        if value is None:  # LiteLLM would write None as ""
            return
        batch = getattr(_batches, "current", None)
        if batch is not None and batch[0] is span:
            left_out = batch[2]
            if left_out and (key in left_out or (type(value) in _EMPTY_CONTAINERS and not value)
                             or (type(value) in _NUMBERS and not value and key in LEAN_LEFT_OUT_WHEN_ZERO)):
                return
            if batching:
                if type(value) not in _PRIMITIVE_TYPES:
                    value = self._cast_as_primitive_value_type(value)
                batch[1].append((key, value))
                return
        original_safe_set_attribute(self, span, key, value)

    set_attributes.__wrapped__ = original_set_attributes  # type: ignore[attr-defined]
    safe_set_attribute.__wrapped__ = original_safe_set_attribute  # type: ignore[attr-defined]
    return set_attributes, safe_set_attribute


def _sets_hidden_params_json(set_attributes: Any) -> bool:
    """LiteLLM's `set_attributes` (1.80 on) turns the payload's `hidden_params` into JSON (`safe_dumps`) for its
    `safe_set_attribute`, which a lean proxy request's stand-in (below) leaves off."""
    code = getattr(set_attributes, "__code__", None)
    return code is not None and "hidden_params" in code.co_consts \
        and {"safe_dumps", "safe_set_attribute"} <= set(code.co_names)


def _hidden_params(kwargs: Any) -> Any:
    """The logging payload's `hidden_params` dict, the object LiteLLM turns into JSON, or None."""
    logged = kwargs.get("standard_logging_object") if type(kwargs) is dict else None
    hidden = logged.get("hidden_params") if type(logged) is dict else None
    return hidden if type(hidden) is dict and hidden else None


def _set_aliases(span: Any, cost: Any) -> None:
    """One by one: the other name of each token attribute the span holds under one name only (`TOKEN_ALIASES`),
    and the call's cost where LiteLLM wrote none."""
    attributes = getattr(span, "attributes", None)
    if not attributes:
        return
    for source, alias in TOKEN_ALIASES:
        value = attributes.get(source)
        if value is not None and alias not in attributes:
            span.set_attribute(alias, value)
    if cost is not None and COST_ATTRIBUTE not in attributes:
        span.set_attribute(COST_ATTRIBUTE, cost)


_SETS = ("set_attribute", "set_attributes")
_MAPPING = object()  # marks a mapping LiteLLM set on the span itself, among the collected (key, value) pairs


def _collect_span_sets(span: Any, collected: list[tuple[Any, Any]]) -> dict[str, Any] | None:
    """While LiteLLM's set_attributes runs, what it sets on the span itself (the routing attributes, in one
    mapping) is collected too, in its place among the others, so each attribute is set in the order LiteLLM
    set it. Returns the span's instance `__dict__` the two stand-ins were put in, or None (nothing collected
    from the span: it has no `__dict__`, or already has stand-ins of an outer call)."""
    own = getattr(span, "__dict__", None)
    if type(own) is not dict or any(name in own for name in _SETS):
        return None
    own["set_attribute"] = lambda key, value: collected.append((key, value))
    own["set_attributes"] = lambda attributes: collected.append((_MAPPING, attributes))
    return own


def _cost_of(kwargs: Any) -> Any:
    """The call's cost in USD as LiteLLM logged it (`response_cost`), or None."""
    if type(kwargs) is not dict:
        return None
    cost = kwargs.get("response_cost")
    if cost is None:
        logged = kwargs.get("standard_logging_object")
        cost = logged.get("response_cost") if type(logged) is dict else None
    return cost if type(cost) in (int, float) else None


def _set_collected(span: Any, own: dict[str, Any] | None, collected: list[tuple[Any, Any]], aliases: bool,
                   cost: Any) -> None:
    """Set the attributes collected while LiteLLM's set_attributes ran, in the order it set them; then, with
    `aliases`, the other name of each token attribute the span has under one name only (`TOKEN_ALIASES`), and
    `cost` as `gen_ai.cost.total_cost` when LiteLLM wrote none.

    On an SDK span that is still recording and cannot fill up, this is one step: a key set again moves last
    (as on the span), the aliases are worked out from the span's attributes and the collected ones, and all
    are set together. That is what setting them one by one gives, without a locked set, a cleaning call and
    look-ups through the span's read-only view for each. Any other span (one that could fill up drops its
    oldest attributes as it goes; an ended one warns at each set) gets each set made again, as LiteLLM made it."""
    if own is not None:
        for name in _SETS:
            own.pop(name, None)
    bounded = getattr(span, "_attributes", None)
    current = getattr(bounded, "_dict", None)
    maxlen = getattr(bounded, "maxlen", 0)
    if type(current) is dict and getattr(span, "_end_time", 0) is None:
        pending: dict[str, Any] = {}  # a key set again: its last value, in its last place
        for key, value in collected:
            if key is not _MAPPING:
                if key in pending:
                    del pending[key]
                pending[key] = value
            elif type(value) in PLAIN_MAPPINGS:
                for inner_key, inner_value in value.items():
                    if inner_key in pending:
                        del pending[inner_key]
                    pending[inner_key] = inner_value
            else:
                break  # some other mapping: set as LiteLLM set it
        else:
            if maxlen is None or len(current) + len(pending) + len(DASHBOARD_ALIASES) + 1 <= maxlen:
                if aliases:
                    for source, alias in TOKEN_ALIASES:
                        value = pending[source] if source in pending else current.get(source)
                        if value is not None and alias not in pending and alias not in current:
                            pending[alias] = value
                    if cost is not None and COST_ATTRIBUTE not in pending and COST_ATTRIBUTE not in current:
                        pending[COST_ATTRIBUTE] = cost
                if pending:
                    span.set_attributes(pending)
                return
    for key, value in collected:
        if key is _MAPPING:
            span.set_attributes(value)
        else:
            span.set_attribute(key, value)
    if aliases:
        _set_aliases(span, cost)

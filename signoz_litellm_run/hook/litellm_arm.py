"""Arm LiteLLM's own `otel` callback when, and only if, the program imports litellm.

Guarantees, whatever the program does with LiteLLM's callback lists:
- exactly one OpenTelemetry logger serves every call: if the program (or the proxy's config) lists
  `"otel"` or registers its own `OpenTelemetry` logger, that one is used and no second is added;
- the logger stays registered even when the program replaces `litellm.callbacks` (or the success /
  failure lists) after import: registration is checked before every call, in LiteLLM's own
  `function_setup`, at the cost of a few list look-ups;
- a call made inside a span the program has open becomes a child `litellm_request` span in that
  trace, also for async calls whose logging LiteLLM runs later on a background worker, where the
  caller's context is gone: the context is captured when the call starts;
- the provider's HTTP client span of a call is a child of its `litellm_request` span (hook/call_context.py);
- spans also carry the token attribute names SigNoz's LiteLLM dashboards chart, and leave out the
  attributes LiteLLM has no value for (it writes "" for each: some 36 empty `metadata.*` attributes
  on every span of an SDK program, each paid for in the program, the export and the backend);
- GenAI metrics get one series per model and operation, not one per call: LiteLLM labels every
  measurement with attributes unique to the call (`hidden_params` holds its overhead in ms, the
  provider's Date header, its cost), so each call minted a new cumulative series, kept in memory and
  re-exported for the life of the process. Those attributes are excluded unless the program or the
  proxy config chooses its own (`callback_settings.otel.attributes`, or the logger's config), and an
  excluded `hidden_params` is not turned into JSON for the metrics only to be dropped;
- LiteLLM's `safe_dumps` in its OTel logger writes plain JSON data without rebuilding it first, the same
  text at about half the cost (hook/litellm_json.py);
- the ~30 attributes LiteLLM sets one by one on each `litellm_request` span (each through two of its own
  calls, then the span's lock and OpenTelemetry's per-attribute checks) are collected while LiteLLM builds
  them, those it sets on the span itself included, and set together with the dashboard aliases, once, when
  it is done: the same attributes, values and order, for half the cost (a span that could fill up, or has
  ended, gets each set made again as LiteLLM made it);
- LiteLLM's `raw_gen_ai_request` span (the provider's raw request and response, under every
  `litellm_request`) is not made unless `--raw-request-span` set SIGNOZ_LITELLM_RAW_REQUEST_SPAN: it
  repeats the prompt and completion its parent carries, and building, parsing and exporting it cost
  0.5-0.75 M instructions per call (a sixth of what telemetry adds);
- the heap as it stands once LiteLLM is imported is frozen out of full garbage collections, which
  spans waiting for export would otherwise trigger every few hundred calls (`hook.freeze_heap`).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from typing import Any

from signoz_litellm_run.hook import (attempts, call_context, callback_controls, env_flag, failed_calls, freeze_heap,
                                     is_as_written, lazy_export, litellm_json, llm_tally, shutdown, span_detail)
from signoz_litellm_run.hook.metric_record import PLAIN_MAPPINGS

_logger = logging.getLogger("signoz_litellm")

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
_CALLBACK_LISTS = ("input_callback", "success_callback", "failure_callback",
                   "_async_success_callback", "_async_failure_callback")
_MAX_PENDING_PARENTS = 4096
_MAX_ATTEMPTS = 64  # entries kept per call id (a router's retries and fallbacks)
RAW_REQUEST_SPAN_ENV = "SIGNOZ_LITELLM_RAW_REQUEST_SPAN"
# GenAI metric attributes whose value differs per call, per request, per key or per user (LiteLLM's names).
PER_CALL_METRIC_ATTRIBUTES = (
    "hidden_params",
    "metadata.spend_logs_metadata",
    "metadata.requester_metadata",
    "metadata.requester_ip_address",
    "metadata.prompt_management_metadata",
    "metadata.mcp_tool_call_metadata",
    "metadata.vector_store_request_metadata",
    # The proxy's per-key and per-user labels: one series per key or user (thousands on a busy gateway). The
    # team (`user_api_key_team_id` / `_team_alias`), the organisation and the guardrails stay: an admin makes them.
    "metadata.user_api_key_hash",
    "metadata.user_api_key_alias",
    "metadata.user_api_key_user_id",
    "metadata.user_api_key_user_email",
    "metadata.user_api_key_end_user_id",
)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.logger: Any = None
        self.otel_class: Any = None
        self.parents: OrderedDict[str, Any] = OrderedDict()  # litellm_call_id -> [(captured Context, Call)]


_state = _State()
_batches = threading.local()  # per thread: (span, attributes) LiteLLM's set_attributes is building
_handling = threading.local()  # per thread: inside one of the logger's success / failure handlers
_PRIMITIVE_TYPES = frozenset((str, bool, int, float))


def install() -> None:
    """Arm when litellm is imported (immediately if it already is)."""
    import wrapt

    _drop_unexportable_log_attribute()
    callback_controls.install()  # before _arm: litellm's import brings the module it changes
    wrapt.register_post_import_hook(_arm, "litellm")


def _arm(litellm: Any) -> None:
    try:
        import litellm.utils as utils
        from litellm.integrations.opentelemetry import OpenTelemetry
    except Exception as exc:  # an incompatible LiteLLM must not break the program
        _logger.warning("signoz-litellm: LiteLLM's OpenTelemetry callback is unavailable: %s", exc)
        return
    if getattr(utils.function_setup, "_signoz_litellm", False):
        return
    try:
        _patch_logger_class(OpenTelemetry)
        litellm_json.install(sys.modules[OpenTelemetry.__module__])
    except Exception as exc:  # a logger unlike any release we know: LiteLLM left as it is, the program runs on
        _logger.warning("signoz-litellm: LiteLLM's OpenTelemetry logger is not one this release knows: %s", exc)
        return
    _state.otel_class = OpenTelemetry
    try:
        if call_context.install(litellm):
            call_context.on_call = _on_call
            call_context.ids_for = attempts.ids_for
    except Exception as exc:  # the HTTP spans stay in their own traces, nothing else changes
        _logger.debug("signoz-litellm: calls not wrapped: %s", exc)
    original = utils.function_setup

    def function_setup(original_function: Any, rules_obj: Any, start_time: Any, *args: Any, **kwargs: Any) -> Any:
        ensure_registered(litellm)
        call = call_context.current()
        result = original(original_function, rules_obj, start_time, *args, **kwargs)
        _remember_parent(result, call)
        return result

    function_setup._signoz_litellm = True  # type: ignore[attr-defined]
    function_setup.__wrapped__ = original  # type: ignore[attr-defined]
    utils.function_setup = function_setup
    lazy_export.build_all()  # the program is about to send telemetry: its exporters, ready before its first call
    # What LiteLLM's import leaves (its modules, model cost map and the rest: some 400,000 objects; the exporters just
    # built too) out of full collections. Spans and log records wait in the export queues for up to a second, long
    # enough to survive into the oldest generation; that makes Python run a full collection every few hundred calls,
    # and each one walked the whole import heap (~0.2-0.3 s here): half a millisecond per call on average, the
    # largest single share of the per-call cost.
    freeze_heap()


def ensure_registered(litellm: Any) -> None:
    """Make sure one OpenTelemetry logger is in every list LiteLLM reads (fast when it already is)."""
    logger = _state.logger
    if logger is not None:  # on every call: a plain loop, no generator
        for name in _CALLBACK_LISTS:
            if logger not in getattr(litellm, name):
                break
        else:
            return
    with _state.lock:
        otel_class = _state.otel_class
        is_otel = lambda cb: type(cb) is otel_class  # noqa: E731 - exact type, as LiteLLM dedups
        if logger is None:
            lists = [litellm.callbacks, *(getattr(litellm, name) for name in _CALLBACK_LISTS)]
            logger = next((cb for lst in lists for cb in lst if is_otel(cb)), None)
            if logger is None:
                from litellm.litellm_core_utils.litellm_logging import _init_custom_logger_compatible_class

                # Registers the instance LiteLLM returns for "otel" from now on, so a program or proxy
                # config that lists "otel" gets this same logger rather than a second one.
                with _outside_the_proxy():
                    logger = _init_custom_logger_compatible_class("otel", internal_usage_cache=None, llm_router=None)
            _state.logger = logger
        manager = litellm.logging_callback_manager
        adders = {
            "input_callback": manager.add_litellm_input_callback,
            "success_callback": manager.add_litellm_success_callback,
            "failure_callback": manager.add_litellm_failure_callback,
            "_async_success_callback": manager.add_litellm_async_success_callback,
            "_async_failure_callback": manager.add_litellm_async_failure_callback,
        }
        for name, add in adders.items():
            current = getattr(litellm, name)
            if logger in current:
                continue
            if any(is_otel(cb) for cb in current):
                continue  # another OpenTelemetry logger serves this list: never two spans per call
            add(logger)


class _ProxyWarningFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Proxy Server is not installed" not in str(record.msg)


class _outside_the_proxy:
    """Creating LiteLLM's OTel logger imports the whole proxy server (FastAPI and all, seconds) just
    to register itself with it, and warns when the proxy is not installed. In a program that is not
    the proxy (the proxy server module is not imported yet) neither is useful: the import is
    blocked for the duration and the warning is not shown."""

    _filter = _ProxyWarningFilter()
    _module = "litellm.proxy.proxy_server"
    # LiteLLM up to 1.80.5 reads the logger's settings (`callback_settings` of the proxy's config) by importing the
    # proxy server, unguarded: blocked, or without the proxy's packages, the logger was never created and no
    # call got a span. Before the proxy is imported its `callback_settings` is `{}`, so that is what they get.
    _SETTINGS_READER = "_get_custom_logger_settings_from_proxy_server"
    _SETTINGS_READER_NAMES = ("litellm.proxy.proxy_server", "callback_settings", "dict", "get")

    def __enter__(self) -> None:
        self._blocked = self._module not in sys.modules
        self._reader_module: Any = None
        if self._blocked:
            sys.modules[self._module] = None  # type: ignore[assignment]  # makes the import fail fast
            module = sys.modules.get("litellm.litellm_core_utils.litellm_logging")
            reader = getattr(module, self._SETTINGS_READER, None)
            if is_as_written(reader, self._SETTINGS_READER_NAMES):
                self._reader_module, self._reader = module, reader
                setattr(module, self._SETTINGS_READER, lambda callback_name: {})
        logging.getLogger("LiteLLM").addFilter(self._filter)

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("LiteLLM").removeFilter(self._filter)
        if self._reader_module is not None:
            setattr(self._reader_module, self._SETTINGS_READER, self._reader)
        if self._blocked and sys.modules.get(self._module, 0) is None:
            del sys.modules[self._module]


def _drop_unexportable_log_attribute() -> None:
    """LiteLLM stamps its log records with `litellm_redacted = object()`; OpenTelemetry's log handler
    would warn about that value on every LiteLLM log line. The stamp means nothing outside the
    process, so it is left out of the exported record. The handler is opentelemetry-instrumentation-logging's
    (0.61b0 on; `_get_attributes(self, record)`) or, before, the SDK's
    (`opentelemetry.sdk._logs.LoggingHandler`, a static `_get_attributes(record)` -> attributes)."""
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:
        try:
            from opentelemetry.sdk._logs import LoggingHandler
        except ImportError:
            return
    declared = LoggingHandler.__dict__.get("_get_attributes")
    if isinstance(declared, staticmethod):  # the SDK's (1.38): _get_attributes(record) -> attributes
        original = declared.__func__
        if getattr(original, "_signoz_litellm", False):
            return

        def _static(record: logging.LogRecord) -> Any:
            return _without_stamp(original(record))

        _static._signoz_litellm = True  # type: ignore[attr-defined]
        LoggingHandler._get_attributes = staticmethod(_static)
    elif callable(declared) and not getattr(declared, "_signoz_litellm", False):
        method = declared  # the instrumentation's: -> attributes (0.62b1), or (attributes, event name) (0.66b1)

        def _get_attributes(self: Any, record: logging.LogRecord) -> Any:
            return _without_stamp(method(self, record))

        _get_attributes._signoz_litellm = True  # type: ignore[attr-defined]
        LoggingHandler._get_attributes = _get_attributes


def _without_stamp(found: Any) -> Any:
    attributes = found[0] if type(found) is tuple and found else found
    if isinstance(attributes, dict):
        attributes.pop("litellm_redacted", None)
    return found


def _remember_parent(result: Any, call: call_context.Call | None) -> None:
    """Keyed by LiteLLM's call id: the caller's context when it has a valid span, and the ids reserved
    for the call's `litellm_request` span when one of the wrapped entry points made the call."""
    from opentelemetry import context, trace

    if call is not None:
        captured: tuple[Any, call_context.Call | None] = (call.parent, call)
    elif trace.get_current_span().get_span_context().is_valid:
        captured = (context.get_current(), None)
    else:
        return
    try:
        call_id = result[1].get("litellm_call_id")
    except Exception:
        return
    if call_id:
        _remember(call_id, captured)


def _remember(call_id: str, captured: tuple[Any, call_context.Call | None]) -> None:
    """One entry per attempt, in order: the router retries a request under one call id, and each attempt's
    handler takes the oldest. An entry without reserved ids (LiteLLM's function_setup, run before the proxy
    starts the call) is completed by the call's own."""
    with _state.lock:
        parents = _state.parents
        entries = parents.get(call_id)
        if entries is None:
            parents[call_id] = [captured]
            while len(parents) > _MAX_PENDING_PARENTS:
                parents.popitem(last=False)
        elif entries[-1][1] is None or entries[-1][1] is captured[1]:
            entries[-1] = captured if captured[1] is not None else entries[-1]
        elif len(entries) < _MAX_ATTEMPTS:
            entries.append(captured)


def _on_call(kwargs: Any, call: call_context.Call) -> None:
    """A call started with its LiteLLM call id in its arguments (the proxy's): its reserved ids, remembered."""
    try:
        call_id = kwargs.get("litellm_call_id")
        if not call_id:
            call_id = getattr(kwargs.get("litellm_logging_obj"), "litellm_call_id", None)
        if call_id and type(call_id) is str:
            _remember(call_id, (call.parent, call))
    except Exception:  # never in the call's way
        pass


def _take_parent(kwargs: Any) -> tuple[Any, call_context.Call | None]:
    call_id = kwargs.get("litellm_call_id") if isinstance(kwargs, dict) else None
    if not call_id:
        return None, None
    with _state.lock:
        entries = _state.parents.get(call_id)
        if not entries:
            return None, None
        if len(entries) == 1:
            del _state.parents[call_id]
        return entries.pop(0)


def _span_context_of(ctx: Any, parent: Any) -> Any:
    from opentelemetry import trace

    span = parent if parent is not None else (trace.get_current_span(ctx) if ctx is not None else None)
    return span.get_span_context() if span is not None else None


def _patch_logger_class(otel_class: Any) -> None:
    if getattr(otel_class, "_signoz_litellm_patched", False):
        return
    original_context = otel_class._get_span_context
    original_set_attributes = otel_class.set_attributes
    original_safe_set_attribute = otel_class.safe_set_attribute
    # LiteLLM up to 1.80.5 looks for no active span (`_get_span_context(kwargs)` only), always makes
    # `litellm_request`, and ends the parent span it is handed: the program's span, captured here, is given as
    # the context only, never as that parent.
    try:
        import inspect

        hands_parent = "default_span" in inspect.signature(original_context).parameters
    except (TypeError, ValueError):
        hands_parent = False

    def _get_span_context(self: Any, kwargs: Any, default_span: Any = None) -> Any:
        from opentelemetry import trace

        if hands_parent:
            ctx, parent = original_context(self, kwargs, default_span)
        else:
            ctx, parent = original_context(self, kwargs)
        if not getattr(_handling, "active", False):
            # Asked outside the handlers that make litellm_request (the proxy's post-call hook, before the
            # success is logged): the call's reserved ids stay for the handler.
            return ctx, parent
        captured, call = _take_parent(kwargs)
        if call is not None:
            found = _span_context_of(ctx, parent)
            if found is not None and found.span_id == call.span_id:
                ctx, parent = None, None  # the call's own reserved context, seen by a handler that inherited it
        if ctx is None and parent is None and captured is not None:
            ctx, parent = captured, trace.get_current_span(captured) if hands_parent else None
        if call is not None:
            if ctx is None and parent is None:
                from opentelemetry.context import Context

                ctx = Context()  # a root span, whatever context the handler's thread inherited
            found = _span_context_of(ctx, parent)
            if not found.is_valid or found.trace_id == call.trace_id:
                call_context.give_next_span(call)  # litellm_request gets the ids its HTTP span points to
        return ctx, parent

    def _after_each_call(handler: Any, failure: bool) -> Any:
        """The call's reserved span ids are spent, `shutdown` hears that the call was logged, and the call is
        counted for the report (`llm_tally`). A lean proxy request's failed attempt is held (hook/attempts.py)."""

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            logged = args[0] if args and type(args[0]) is dict else None
            try:
                if logged is not None and failure:
                    failed_calls.record(self, args)
                    if _held(logged, lambda: _handle(handler, self, args, kwargs)):
                        return None
                elif logged is not None:
                    _held(logged, None)
                return _handle(handler, self, args, kwargs)
            finally:
                if logged is not None:
                    shutdown.logged(logged.get("litellm_call_id"))
                    llm_tally.count(logged)

        return wrapper

    # LiteLLM's own safe_set_attribute, as this was written against: cast to a primitive, then set. Only then
    # may a value be cast here, at the same point, and wait to be set with the others (a primitive skips the
    # cast: it leaves those as they are).
    # And only on the SDK span attributes this was written against (tests/test_litellm_arm.py compares both ways);
    # on another (opentelemetry-api 1.38, 1.41) each attribute is set as LiteLLM sets it, then the aliases.
    from signoz_litellm_run.hook.span_attributes import sdk_as_written

    batching = is_as_written(original_safe_set_attribute, ("_cast_as_primitive_value_type", "set_attribute")) \
        and sdk_as_written()

    def set_attributes(self: Any, span: Any, kwargs: Any, response_obj: Any) -> Any:
        if not batching:
            result = original_set_attributes(self, span, kwargs, response_obj)
            try:
                _set_aliases(span, _cost_of(kwargs))
                extra = attempts.summary(kwargs)
                if extra:
                    span.set_attributes(extra)
            except Exception:  # never in the way of LiteLLM's logging
                pass
            return result
        outer = getattr(_batches, "current", None)
        batch: tuple[Any, list[tuple[Any, Any]]] = (span, [])
        _batches.current = batch
        own = _collect_span_sets(span, batch[1])
        try:
            result = original_set_attributes(self, span, kwargs, response_obj)
        except BaseException:
            _set_collected(span, own, batch[1], aliases=False, cost=None)
            raise
        finally:
            _batches.current = outer
        try:
            extra = attempts.summary(kwargs)
            if extra:
                batch[1].extend(extra.items())
        except Exception:  # never in the way of LiteLLM's logging
            pass
        _set_collected(span, own, batch[1], aliases=True, cost=_cost_of(kwargs))
        return result

    def safe_set_attribute(self: Any, span: Any, key: str, value: Any) -> None:
        if value is None:  # LiteLLM would write None as ""
            return
        batch = getattr(_batches, "current", None)
        if batching and batch is not None and batch[0] is span:
            if type(value) not in _PRIMITIVE_TYPES:
                value = self._cast_as_primitive_value_type(value)
            batch[1].append((key, value))
        else:
            original_safe_set_attribute(self, span, key, value)

    set_attributes.__wrapped__ = original_set_attributes  # type: ignore[attr-defined]
    safe_set_attribute.__wrapped__ = original_safe_set_attribute  # type: ignore[attr-defined]

    otel_class._get_span_context = _get_span_context
    for name in ("_handle_success", "_handle_sucess", "_handle_failure"):  # _handle_sucess: LiteLLM 1.75
        if hasattr(otel_class, name):
            setattr(otel_class, name, _after_each_call(getattr(otel_class, name), name == "_handle_failure"))
    otel_class.set_attributes = set_attributes
    otel_class.safe_set_attribute = safe_set_attribute
    if hasattr(otel_class, "_maybe_log_raw_request") and not env_flag(RAW_REQUEST_SPAN_ENV):
        otel_class._maybe_log_raw_request = _no_raw_request_span
    _bound_metric_attributes(otel_class)
    span_detail.patch_logger_class(otel_class)
    otel_class._signoz_litellm_patched = True


def _held(logged: dict[str, Any], log_failure: Any) -> bool:
    """hook/attempts.py's part: a failed attempt held (True), or a success noted (`log_failure` None)."""
    try:
        if log_failure is None:
            attempts.success(logged)
            return False
        return attempts.hold_failure(logged, log_failure)
    except Exception:  # never in the way of LiteLLM's logging: the span is made as LiteLLM makes it
        return False


def _handle(handler: Any, logger: Any, args: Any, kwargs: Any) -> Any:
    """Run one of the logger's handlers: inside it the call's reserved span ids are taken, and spent after."""
    outer = getattr(_handling, "active", False)
    _handling.active = True
    try:
        return handler(logger, *args, **kwargs)
    finally:
        _handling.active = outer
        call_context.clear_next_span()


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


def _no_raw_request_span(self: Any, *args: Any, **kwargs: Any) -> None:
    """In place of LiteLLM's `_maybe_log_raw_request`: no raw_gen_ai_request span."""


def _bound_metric_attributes(otel_class: Any) -> None:
    """Exclude the per-call metric attributes when nothing else was chosen. LiteLLM resolves its
    metric attribute filter at the first measurement (after the proxy has read its config), so the
    default is applied there, and only when neither an include nor an exclude list was configured."""
    original = getattr(otel_class, "_ensure_metric_attribute_filter", None)
    if original is None:  # a LiteLLM without the filter (1.81.10 has none, 1.90 has it)
        _drop_per_call_metric_attributes(otel_class)
        return
    try:
        from litellm.integrations.opentelemetry import VALID_METRIC_ATTRIBUTE_NAMES as valid
    except ImportError:
        valid = frozenset(PER_CALL_METRIC_ATTRIBUTES)
    exclude = frozenset(name for name in PER_CALL_METRIC_ATTRIBUTES if name in valid)

    def _ensure_metric_attribute_filter(self: Any) -> None:
        resolved_before = getattr(self, "_metric_attr_filter_resolved", False)
        original(self)
        if (not resolved_before and getattr(self, "_metric_attr_include", None) is None
                and getattr(self, "_metric_attr_exclude", None) is None):
            self._metric_attr_exclude = exclude

    otel_class._ensure_metric_attribute_filter = _ensure_metric_attribute_filter
    record = getattr(otel_class, "_record_metrics", None)
    if record is None or not hasattr(otel_class, "_metric_attribute_allowed"):
        return

    def _record_metrics(self: Any, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> Any:
        """LiteLLM turns `hidden_params` into JSON for every measurement's attributes, then drops it when the
        filter excludes it (our default): the measurements get a logging payload without it instead."""
        logged = kwargs.get("standard_logging_object") if type(kwargs) is dict else None
        if type(logged) is dict and logged.get("hidden_params"):
            if not getattr(self, "_metric_attr_filter_resolved", False):
                self._ensure_metric_attribute_filter()  # as LiteLLM would at its first measurement
            if not self._metric_attribute_allowed("hidden_params"):
                kwargs = {**kwargs, "standard_logging_object": {**logged, "hidden_params": None}}
        return record(self, kwargs, response_obj, start_time, end_time)

    otel_class._record_metrics = _record_metrics


_PER_CALL_METADATA = frozenset(name[len("metadata."):] for name in PER_CALL_METRIC_ATTRIBUTES
                               if name.startswith("metadata."))


def _drop_per_call_metric_attributes(otel_class: Any) -> None:
    """LiteLLM releases without a metric attribute filter (1.76 to 1.81.10 tested) label every measurement with
    per-request metadata and (from 1.80) the call's `hidden_params` JSON, all read from the logging payload: each
    call minted new series. Their `_record_metrics` gets a payload without those (a copy: the spans keep them), only where it
    reads them as written against."""
    record = getattr(otel_class, "_record_metrics", None)
    constants = getattr(getattr(record, "__code__", None), "co_consts", ())
    if record is None or getattr(record, "_signoz_litellm", False) \
            or not {"standard_logging_object", "metadata"} <= set(constants):
        return

    def _record_metrics(self: Any, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> Any:
        logged = kwargs.get("standard_logging_object") if type(kwargs) is dict else None
        if type(logged) is dict:
            bounded = {**logged, "hidden_params": None}
            metadata = logged.get("metadata")
            if type(metadata) is dict and not _PER_CALL_METADATA.isdisjoint(metadata):
                bounded["metadata"] = {k: v for k, v in metadata.items() if k not in _PER_CALL_METADATA}
            kwargs = {**kwargs, "standard_logging_object": bounded}
        return record(self, kwargs, response_obj, start_time, end_time)

    _record_metrics._signoz_litellm = True  # type: ignore[attr-defined]
    _record_metrics.__wrapped__ = record  # type: ignore[attr-defined]
    otel_class._record_metrics = _record_metrics

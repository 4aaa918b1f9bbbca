"""Arm LiteLLM's own `otel` callback when, and only if, the program imports litellm.

Guarantees, whatever the program does with LiteLLM's callback lists:
- exactly one OpenTelemetry logger serves every call: if the program (or the proxy's config) lists
  `"otel"` or registers its own `OpenTelemetry` logger, that one is used and no second is added;
- the logger stays registered even when the program replaces `litellm.callbacks` (or the success /
  failure lists) after import: registration is checked before every call, in LiteLLM's own
  `function_setup`, at the cost of a few list look-ups;
- a call made inside a span the program has open becomes a child `litellm_request` span in that trace, also for
  async calls logged later on a background worker (hook/call_parents.py); the provider's HTTP client span of a
  call is a child of its `litellm_request` span (hook/call_context.py);
- the logger's class is patched once: the span's attributes (collected and set together, with the token names
  SigNoz's dashboards chart and no empty ones: hook/request_attributes.py), GenAI metrics bounded to one series
  per model and operation (hook/metric_series.py), LiteLLM's `safe_dumps` (hook/litellm_json.py), each call
  counted for the report (hook/llm_tally.py) and, in a lean proxy, its attempts (hook/attempts.py);
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
from typing import Any

from signoz_litellm_run.hook import (attempts, call_context, call_parents, callback_controls, env_flag, failed_calls,
                                     freeze_heap, is_as_written, lazy_export, litellm_json, litellm_logging, llm_tally,
                                     metric_series, request_attributes, span_detail)

_logger = logging.getLogger("signoz_litellm")

_CALLBACK_LISTS = ("input_callback", "success_callback", "failure_callback",
                   "_async_success_callback", "_async_failure_callback")
RAW_REQUEST_SPAN_ENV = "SIGNOZ_LITELLM_RAW_REQUEST_SPAN"


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.logger: Any = None
        self.otel_class: Any = None


_state = _State()


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
            call_context.on_call = call_parents.on_call
            call_context.ids_for = attempts.ids_for
    except Exception as exc:  # the HTTP spans stay in their own traces, nothing else changes
        _logger.debug("signoz-litellm: calls not wrapped: %s", exc)
    original = utils.function_setup

    def function_setup(original_function: Any, rules_obj: Any, start_time: Any, *args: Any, **kwargs: Any) -> Any:
        ensure_registered(litellm)
        call = call_context.current()
        result = original(original_function, rules_obj, start_time, *args, **kwargs)
        call_parents.remember_parent(result, call)
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


def _patch_logger_class(otel_class: Any) -> None:
    if getattr(otel_class, "_signoz_litellm_patched", False):
        return

    def _after_each_call(handler: Any, failure: bool) -> Any:
        """The call's reserved span ids are spent, `litellm_logging` hears that the call was logged, and the call is
        counted for the report (`llm_tally`). A lean proxy request's failed attempt is held (hook/attempts.py)."""

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            logged = args[0] if args and type(args[0]) is dict else None
            try:
                if logged is not None and failure:
                    failed_calls.record(self, args)
                    if _held(logged, lambda: call_parents.handle(handler, self, args, kwargs)):
                        return None
                elif logged is not None:
                    _held(logged, None)
                return call_parents.handle(handler, self, args, kwargs)
            finally:
                if logged is not None:
                    litellm_logging.logged(logged.get("litellm_call_id"))
                    llm_tally.count(logged)

        return wrapper

    get_span_context = call_parents.span_context_getter(otel_class._get_span_context)
    set_attributes, safe_set_attribute = request_attributes.wrappers(otel_class)
    otel_class._get_span_context = get_span_context
    for name in ("_handle_success", "_handle_sucess", "_handle_failure"):  # _handle_sucess: LiteLLM 1.75
        if hasattr(otel_class, name):
            setattr(otel_class, name, _after_each_call(getattr(otel_class, name), name == "_handle_failure"))
    otel_class.set_attributes = set_attributes
    otel_class.safe_set_attribute = safe_set_attribute
    if hasattr(otel_class, "_maybe_log_raw_request") and not env_flag(RAW_REQUEST_SPAN_ENV):
        otel_class._maybe_log_raw_request = _no_raw_request_span
    metric_series.bound(otel_class)
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


def _no_raw_request_span(self: Any, *args: Any, **kwargs: Any) -> None:
    """In place of LiteLLM's `_maybe_log_raw_request`: no raw_gen_ai_request span."""

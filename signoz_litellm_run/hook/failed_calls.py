"""Failed LLM calls in `gen_ai.client.operation.duration`, with `error.type`, as the GenAI conventions ask.

LiteLLM measures successful calls only: a model whose provider answers 429 or 500 showed no error in any metric,
and a gateway's error rate per model could not be charted (only per route, from the HTTP server spans, where a
request retried to success counts once, as a success). Each failed call (each failed attempt of a retried request)
is measured by LiteLLM's own metric code, so it has the labels its successes have (same model, operation, filter),
plus `error.type`: the exception's class name (`RateLimitError`, `InternalServerError`, ...), a bounded set.
Only the operation duration: the other histograms (tokens, cost, time to first token, ...) describe answers.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

_logger = logging.getLogger("signoz_litellm")
# LiteLLM may hand one failure to both its sync and its async handler (streaming paths): measured once, by the
# call id and the exception object both handlers get.
_measured: OrderedDict[tuple[Any, int], None] = OrderedDict()
_measured_lock = threading.Lock()
_MEASURED_KEPT = 1024


class _WithErrorType:
    """The operation duration histogram, its measurements labelled with the call's error."""

    __slots__ = ("_histogram", "_error_type")

    def __init__(self, histogram: Any, error_type: str) -> None:
        self._histogram = histogram
        self._error_type = error_type

    def record(self, amount: Any, attributes: Any = None, *args: Any, **kwargs: Any) -> None:
        self._histogram.record(amount, {**(attributes or {}), "error.type": self._error_type}, *args, **kwargs)


class _FailedCallView:
    """LiteLLM's OTel logger as its `_record_metrics` sees it for a failed call: the operation duration histogram
    only (the others None, which LiteLLM checks before each). The logger itself is not changed: other threads keep
    logging through it meanwhile."""

    def __init__(self, logger: Any, error_type: str) -> None:
        object.__setattr__(self, "_logger", logger)
        for name, value in vars(logger).items():
            if name.endswith("_histogram"):
                object.__setattr__(self, name, None)
        object.__setattr__(self, "_operation_duration_histogram",
                           _WithErrorType(logger._operation_duration_histogram, error_type))

    def __getattr__(self, name: str) -> Any:
        import inspect

        found = inspect.getattr_static(type(self._logger), name, None)
        if inspect.isfunction(found):
            return found.__get__(self)  # LiteLLM's methods see the view, and so its histograms
        return getattr(self._logger, name)


def record(logger: Any, args: tuple[Any, ...]) -> None:
    """From the logger's failure handler, args = (kwargs, response_obj, start_time, end_time)."""
    try:
        if getattr(logger, "_operation_duration_histogram", None) is None or len(args) < 4:
            return
        kwargs, _response, start_time, end_time = args[:4]
        if type(kwargs) is not dict:
            return
        record_metrics = getattr(type(logger), "_record_metrics", None)
        if record_metrics is None:
            return
        ensure = getattr(logger, "_ensure_metric_attribute_filter", None)
        if ensure is not None and not getattr(logger, "_metric_attr_filter_resolved", True):
            ensure()  # on the logger itself, once, as LiteLLM would at its first measurement
        exception = kwargs.get("exception")
        key = (kwargs.get("litellm_call_id"), id(exception))
        with _measured_lock:
            if exception is not None and key in _measured:
                return
            _measured[key] = None
            while len(_measured) > _MEASURED_KEPT:
                _measured.popitem(last=False)
        error_type = type(exception).__name__ if isinstance(exception, BaseException) else "error"
        record_metrics(_FailedCallView(logger, error_type), kwargs, None, start_time, end_time)
    except Exception as exc:  # never in the way of LiteLLM's logging
        _logger.debug("signoz-litellm: a failed call was not measured: %s", exc)

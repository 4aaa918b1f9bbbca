"""GenAI metrics with one series per model and operation, not one per call.

LiteLLM labels every measurement with attributes unique to the call (`hidden_params` holds its overhead in ms, the
provider's Date header, its cost), so each call minted a new cumulative series, kept in memory and re-exported for
the life of the process. Those attributes are excluded unless the program or the proxy config chooses its own
(`callback_settings.otel.attributes`, or the logger's config), and an excluded `hidden_params` is not turned into
JSON for the metrics only to be dropped.
"""

from __future__ import annotations

from typing import Any

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


def bound(otel_class: Any) -> None:
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

"""SigNoz's checks of an alert rule (`PostableRule.Validate`), ported for the double (`signoz_double.py`; its
docstring names the SigNoz files and commit): `validate_rule` raises `Invalid` (a 400)."""

from __future__ import annotations

import re
from typing import Any

from tests.support.signoz_validation import _FORMULA, Invalid, _strict, _validate_builder

_LABEL = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_OPS = {"1", "above", ">", "2", "below", "<", "3", "equal", "eq", "=", "4", "not_equal", "not_eq", "!=",
        "5", "above_or_equal", "above_or_eq", ">=", "6", "below_or_equal", "below_or_eq", "<="}
_MATCH = {"1", "at_least_once", "2", "all_the_times", "3", "on_average", "avg", "4", "in_total", "sum", "5", "last"}
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def validate_rule(body: Any) -> None:
    if not isinstance(body, dict):
        raise Invalid("failed to parse json: not an object")
    problems = []
    if not body.get("alert"):
        problems.append("alert: field is required")
    condition = body.get("condition")
    if not isinstance(condition, dict):
        raise Invalid("condition: field is required")
    if body.get("version", "v5") != "v5":
        problems.append(f"version: only v5 is supported, got {body.get('version')!r}")
    if body.get("alertType", "") not in ("", "METRIC_BASED_ALERT", "TRACES_BASED_ALERT", "LOGS_BASED_ALERT",
                                         "EXCEPTIONS_BASED_ALERT"):
        problems.append(f"alertType: unsupported value {body.get('alertType')!r}")
    if body.get("ruleType", "") not in ("", "threshold_rule", "promql_rule", "anomaly_rule"):
        problems.append(f"unsupported rule type {body.get('ruleType')!r}")
    composite = condition.get("compositeQuery")
    names = set()
    if not isinstance(composite, dict):
        problems.append("condition.compositeQuery: field is required")
    elif not composite.get("queries"):
        problems.append("condition.compositeQuery.queries: must have at least one query")
    else:
        for i, envelope in enumerate(composite["queries"]):
            _strict(envelope, {"type": str, "spec": "*"}, f"condition.compositeQuery.queries[{i}]")
            spec = envelope.get("spec") or {}
            if envelope.get("type") == "builder_query":
                _validate_builder(spec, "time_series", f"condition.compositeQuery.queries[{i}].spec")
            elif envelope.get("type") == "builder_formula":
                _strict(spec, _FORMULA, f"condition.compositeQuery.queries[{i}].spec")
                if not spec.get("expression"):
                    problems.append("formula expression is required")
            else:
                problems.append(f"unknown query type {envelope.get('type')!r}")
            names.add(spec.get("name"))
    selected = condition.get("selectedQueryName")
    if selected and names and selected not in names:
        problems.append(f"condition.selectedQueryName: {selected!r} does not match any query in compositeQuery")
    schema = body.get("schemaVersion") or "v1"
    if schema == "v2alpha1":
        thresholds = condition.get("thresholds")
        if not isinstance(thresholds, dict):
            problems.append("condition.thresholds: field is required for schemaVersion \"v2alpha1\"")
        else:
            if thresholds.get("kind") != "basic":
                problems.append(f"unknown threshold kind {thresholds.get('kind')!r}")
            for t in thresholds.get("spec") or []:
                if not isinstance(t.get("target"), (int, float)):
                    problems.append("threshold target is required")
                if str(t.get("op")) not in _OPS:
                    problems.append(f"invalid compare operator {t.get('op')!r}")
                if str(t.get("matchType")) not in _MATCH:
                    problems.append(f"invalid match type {t.get('matchType')!r}")
        evaluation = body.get("evaluation")
        if not isinstance(evaluation, dict):
            problems.append("evaluation: field is required for schemaVersion \"v2alpha1\"")
        elif evaluation.get("kind") not in ("rolling", "cumulative"):
            problems.append(f"unknown evaluation kind {evaluation.get('kind')!r}")
        elif evaluation.get("kind") == "rolling":
            for key in ("evalWindow", "frequency"):
                if not _DURATION.match(str((evaluation.get("spec") or {}).get(key, ""))):
                    raise Invalid("invalid duration")
        settings = body.get("notificationSettings")
        if not isinstance(settings, dict):
            problems.append("notificationSettings: field is required for schemaVersion \"v2alpha1\"")
        else:
            renotify = settings.get("renotify") or {}
            if renotify.get("enabled") and not _DURATION.match(str(renotify.get("interval", ""))):
                problems.append("notificationSettings.renotify.interval: must be a positive duration when renotify "
                                "is enabled")
    elif schema != "v1":
        problems.append(f"schemaVersion: unsupported value {schema!r}")
    for key in (body.get("labels") or {}):
        if not _LABEL.match(key):
            problems.append(f"invalid label name: {key}")
    for key in (body.get("annotations") or {}):
        if not _LABEL.match(key):
            problems.append(f"invalid annotation name: {key}")
    if problems:
        raise Invalid("alert rule is not valid: " + "; ".join(problems))

"""`alerts install`: three SigNoz alert rules on the LLM calls we send, installed idempotently.

Rules go through SigNoz's alert-rule API (`/api/v2/rules`, SigNoz v0.120+; `pkg/apiserver/signozapiserver/ruler.go`,
`pkg/types/ruletypes/api_params.go` in SigNoz/signoz v0.138) as `schemaVersion: "v2alpha1"` rules with v5
builder queries, the shape of SigNoz's own examples (`ruler_examples.go`). Rules have no tags: ours carry the
labels `managed_by`, `signoz_litellm_id` and `signoz_litellm_rev` (label names allow `[A-Za-z_.]` only). As for
dashboards, a rule changed in SigNoz since we wrote it is left alone without `--force`; a rule the user
disabled stays disabled when we update it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from signoz_litellm_run.dashboards.client import ApiError, Client, KeyRefused, NotFound
from signoz_litellm_run.dashboards.definitions import LLM_SPAN, Where, _expression, _key
from signoz_litellm_run.dashboards.revision import revision
from signoz_litellm_run.dashboards.plan import CREATE, SKIP_EDITED, UNCHANGED, UPDATE
from signoz_litellm_run.errors import UsageError

RULES_PATH = "/api/v2/rules"
MANAGED_BY, ID_LABEL, REV_LABEL = "managed_by", "signoz_litellm_id", "signoz_litellm_rev"
_CONTENT = ("alert", "alertType", "ruleType", "description", "condition", "evaluation", "notificationSettings",
            "annotations", "version", "schemaVersion")


@dataclass(frozen=True)
class Thresholds:
    error_rate: float = 5.0  # percent of LLM calls failed, over 5 minutes
    p95_latency: float = 10.0  # seconds, p95 of LLM call duration over 5 minutes, per model
    hourly_cost: float = 10.0  # USD spent on LLM calls in the last hour
    environment: str | None = None
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    body: dict[str, Any]

    def revision(self) -> str:
        return revision(content(self.body))


def content(rule: Mapping[str, Any]) -> dict[str, Any]:
    """What we write and compare: the rule without its server fields and our own rev label."""
    out = {k: rule.get(k) for k in _CONTENT}
    out["labels"] = {k: v for k, v in (rule.get("labels") or {}).items() if k != REV_LABEL}
    return out


def _traces_query(name: str, aggregation: str, where: Sequence[Where], *, group_by: Sequence[str] = (),
                  disabled: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "signal": "traces", "aggregations": [{"expression": aggregation}], "disabled": disabled,
                            "filter": {"expression": _expression(where)}}
    if group_by:
        spec["groupBy"] = [_key(g, "resource" if g == "service.name" else "attribute") for g in group_by]
    return {"type": "builder_query", "spec": spec}


def _rule(rule_id: str, title: str, description: str, queries: list[dict[str, Any]], selected: str, unit: str,
          op: str, target: float, target_unit: str, match: str, window: str, every: str, summary: str,
          thresholds: Thresholds) -> Rule:
    body = {
        "alert": title, "alertType": "TRACES_BASED_ALERT", "description": description, "ruleType": "threshold_rule",
        "version": "v5", "schemaVersion": "v2alpha1",
        "condition": {
            "compositeQuery": {"queryType": "builder", "panelType": "graph", "unit": unit, "queries": queries},
            "selectedQueryName": selected,
            "thresholds": {"kind": "basic", "spec": [{
                "name": "warning", "target": target, "targetUnit": target_unit, "matchType": match, "op": op,
                "channels": list(thresholds.channels)}]},
        },
        "evaluation": {"kind": "rolling", "spec": {"evalWindow": window, "frequency": every}},
        "notificationSettings": {"renotify": {"enabled": True, "interval": "4h", "alertStates": ["firing"]}},
        "labels": {MANAGED_BY: "signoz-litellm", ID_LABEL: rule_id, "severity": "warning"},
        "annotations": {"summary": summary, "description": description},
    }
    rule = Rule(rule_id, title, body)
    body["labels"][REV_LABEL] = rule.revision()
    return rule


def rules(thresholds: Thresholds) -> list[Rule]:
    scope = [Where("name", "=", LLM_SPAN)]
    if thresholds.environment:
        scope.append(Where("deployment.environment", "=", thresholds.environment))
    failed = [*scope, Where("has_error", "=", True)]
    where = f" in {thresholds.environment}" if thresholds.environment else ""
    return [
        _rule("llm-error-rate", f"LiteLLM: LLM error rate above {thresholds.error_rate:g}%{where}",
              f"More than {thresholds.error_rate:g}% of LLM calls (litellm_request spans) failed over 5 minutes.",
              [_traces_query("A", "count()", failed, disabled=True), _traces_query("B", "count()", scope, disabled=True),
               {"type": "builder_formula", "spec": {"name": "F1", "expression": "A * 100 / B"}}],
              "F1", "percent", "above", thresholds.error_rate, "percent", "on_average", "5m", "1m",
              "LLM error rate is {{$value}}% (threshold {{$threshold}}%)", thresholds),
        _rule("llm-p95-latency", f"LiteLLM: p95 LLM latency above {thresholds.p95_latency:g} s{where}",
              f"The 95th percentile of LLM call duration was above {thresholds.p95_latency:g} s over 5 minutes, "
              "for a model.",
              [_traces_query("A", "p95(duration_nano)", scope, group_by=("gen_ai.request.model",))],
              "A", "ns", "above", thresholds.p95_latency, "s", "on_average", "5m", "1m",
              "p95 latency of {{$gen_ai.request.model}} is {{$value}} (threshold {{$threshold}})", thresholds),
        _rule("llm-hourly-cost", f"LiteLLM: LLM cost above {thresholds.hourly_cost:g} USD per hour{where}",
              f"LLM calls cost more than {thresholds.hourly_cost:g} USD (gen_ai.cost.total_cost) in the last hour.",
              [_traces_query("A", "sum(gen_ai.cost.total_cost)", scope)],
              "A", "", "above", thresholds.hourly_cost, "", "in_total", "1h", "5m",
              "LLM cost in the last hour is {{$value}} USD (threshold {{$threshold}})", thresholds),
    ]


# ------------------------------------------------------------------------------------------- install


def _label(rule: Mapping[str, Any], key: str) -> str | None:
    value = (rule.get("labels") or {}).get(key)
    return None if value is None else str(value)


def plan(wanted: Sequence[Rule], found: Sequence[Mapping[str, Any]], *, force: bool) -> list[tuple[Rule, str, Any]]:
    by_id: dict[str, Mapping[str, Any]] = {}
    for existing in found:
        if _label(existing, MANAGED_BY) == "signoz-litellm" and _label(existing, ID_LABEL):
            by_id.setdefault(str(_label(existing, ID_LABEL)), existing)
    steps = []
    for rule in wanted:
        existing = by_id.get(rule.id)
        if existing is None:
            steps.append((rule, CREATE, None))
            continue
        stored = revision(content(existing))
        if stored == rule.revision():
            steps.append((rule, UNCHANGED if _label(existing, REV_LABEL) == stored else UPDATE, existing))
        elif stored != _label(existing, REV_LABEL) and not force:
            steps.append((rule, SKIP_EDITED, existing))
        else:
            steps.append((rule, UPDATE, existing))
    return steps


def install(client: Client, thresholds: Thresholds, *, force: bool = False, dry_run: bool = False,
            out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        listed = client.request("GET", RULES_PATH).data
    except NotFound:
        raise _no_v2_rules(client) from None
    if not isinstance(listed, list):
        raise ApiError(f"{client.url} answered the rule list with an unexpected shape (not a list).",
                       "Check that the URL is SigNoz's UI/API address.")
    steps = plan(rules(thresholds), [r for r in listed if isinstance(r, dict)], force=force)
    verbs = {CREATE: ("created", "would create"), UPDATE: ("updated", "would update"),
             UNCHANGED: ("unchanged", "unchanged"), SKIP_EDITED: ("skipped", "would skip")}
    lines, written = [], []
    for rule, action, existing in steps:
        server_id = (existing or {}).get("id")
        if not dry_run and action in (CREATE, UPDATE):
            try:
                if action == CREATE:
                    data = client.request("POST", RULES_PATH, rule.body).data
                    server_id = (data or {}).get("id") if isinstance(data, dict) else None
                else:
                    body = dict(rule.body, disabled=bool(existing.get("disabled")))
                    client.request("PUT", f"{RULES_PATH}/{server_id}", body)
            except KeyRefused:
                if not written:
                    raise
                raise _partial_error(rule, written) from None
            except ApiError as exc:
                raise _partial_error(rule, written, exc) from None
            written.append(rule.title)
        note = " (changed in SigNoz since signoz-litellm installed it; --force overwrites it)" if action == SKIP_EDITED else ""
        link = f"  {client.url}/alerts/edit?ruleId={server_id}" if server_id else ""
        lines.append(f"  {verbs[action][1 if dry_run else 0]:<12} {rule.title}{note}{link}\n")
    out.write(f"{'Dry run: nothing is changed. ' if dry_run else ''}Alert rules on {client.url}:\n")
    out.writelines(lines)
    if not thresholds.channels:
        out.write("No notification channel given (--channel): the alerts show in SigNoz but notify no one.\n")
    return 0


def _no_v2_rules(client: Client) -> ApiError:
    """No `/api/v2/rules`: a SigNoz before v0.120 (its `/api/v1/rules` predates the v2alpha1 rule schema, added
    in v0.118, that our rules are written in: thresholds, evaluation and notification settings), or not SigNoz."""
    try:
        client.request("GET", "/api/v1/rules")
    except NotFound:
        return ApiError(f"{client.url} has no SigNoz alert-rule API (GET {RULES_PATH} and /api/v1/rules are not "
                        "found).", "Use the address you open SigNoz at, not an ingestion or collector address.",
                        status=404)
    except KeyRefused:
        raise
    except ApiError:
        pass
    return ApiError(f"This SigNoz at {client.url} predates the v2 alert-rule API (SigNoz v0.120), which "
                    "signoz-litellm's alert rules are written for; its older /api/v1/rules is not supported.",
                    "Upgrade SigNoz to v0.120 or later, or create the three rules in SigNoz's UI (Alerts -> New "
                    "alert, on litellm_request spans; see docs/dashboards.md).", status=404)


def _partial_error(rule: Rule, written: Sequence[str], exc: ApiError | None = None) -> ApiError:
    cause = f": {exc.message.rstrip('.')}" if exc else ""
    done = f"Installed before the failure: {', '.join(written)}." if written else "Nothing was installed."
    return ApiError(f"{rule.title} was not installed{cause}. {done}",
                    (exc.hint if exc else None) or "Run the same command again once the cause is fixed.",
                    status=exc.status if exc else None)


def parse_thresholds(error_rate: float | None, p95_latency: float | None, hourly_cost: float | None,
                     environment: str | None, channels: Sequence[str]) -> Thresholds:
    defaults = Thresholds()
    values = {"--error-rate": error_rate, "--p95-latency": p95_latency, "--hourly-cost": hourly_cost}
    for flag, value in values.items():
        if value is not None and not value > 0:
            raise UsageError(f"{flag} must be a number above 0, got {value:g}.", f"For example {flag} 5.")
    if error_rate is not None and error_rate > 100:
        raise UsageError(f"--error-rate is a percentage: {error_rate:g} is above 100.", "For example --error-rate 5.")
    return Thresholds(error_rate if error_rate is not None else defaults.error_rate,
                      p95_latency if p95_latency is not None else defaults.p95_latency,
                      hourly_cost if hourly_cost is not None else defaults.hourly_cost,
                      (environment or "").strip() or None, tuple(c.strip() for c in channels if c.strip()))

"""A test double of SigNoz's dashboards HTTP API, written from SigNoz's own source.

Follows SigNoz/signoz at commit 9997c3da9c906daf4bcea664a3380cab51edd18f (v0.138.0-11, 2026-08-21):

* routes and status codes: `pkg/apiserver/signozapiserver/dashboard.go` (GET/POST `/api/v2/dashboards`,
  GET/PUT/DELETE `/api/v2/dashboards/{id}`, PUT/DELETE `/api/v2/dashboards/{id}/lock`; create 201, update 200,
  lock/unlock/delete 204); v1 routes answer 501 with the deprecation error of
  `pkg/types/dashboardtypes/v1_deprecation.go` and `pkg/modules/dashboard/impldashboard/handler.go`;
* `GET /api/v1/version`: open access, `{"version", "ee", "setupCompleted"}` without an envelope
  (`pkg/query-service/app/http_handler.go` getVersion, `pkg/query-service/model/response.go`);
* auth: the `SIGNOZ-API-KEY` header (`pkg/identn/config.go`); no or an unknown key is 401, a viewer's key on
  a write 403 (the roles of each route in dashboard.go); lock/unlock by the creator or an admin only;
* envelopes: `pkg/http/render/render.go` (`{"status": "success", "data"}` / `{"status": "error", "error":
  {"type", "code", "message", "errors", "suggestions"}}`, status from the error type);
* the body: `pkg/types/dashboardtypes/perses_dashboard.go` (PostableDashboardV2 / UpdatableDashboardV2:
  unknown fields rejected, `schemaVersion` "v6", name a DNS-1123 label and immutable, at most 10 tags, reserved
  tag keys, locked dashboards not updatable), `perses_dashboard_data.go` (variables/panels/layouts required,
  one query per panel, query kinds per panel kind, layout references), `perses_plugin_wrappers.go` and
  `perses_signoz_plugins.go` (plugin kinds, each plugin spec decoded with unknown fields rejected, enumerated
  options, their defaults written back), `perses_replicas.go` (grid of 12 columns, no overlap, variable
  names; the grid item and layout display fields of perses/spec v0.1.2 `go/dashboard`),
  `pkg/types/tagtypes/tag.go` (tag key/value characters and lengths),
  `pkg/types/querybuildertypes/querybuildertypesv5/{builder_query,builder_elements,validation}.go` (builder
  query fields, aggregations required except for raw queries, order-by keys, reduceTo for scalar metric
  queries, limit <= 10000), `list_v2.go` and `impldashboard/listfilter_visitor.go` (list envelope, the filter
  DSL: a key that is not a column is a tag key, matched case-insensitively).

Alert rules (`pkg/apiserver/signozapiserver/ruler.go`, `pkg/types/ruletypes/{api_params,threshold,compare,match,
evaluation}.go`): GET/POST `/api/v2/rules` (list: a JSON array; create 201), GET/PUT/DELETE `/api/v2/rules/{id}`
(update and delete 204); the body decoded without rejecting unknown fields (PostableRule.UnmarshalJSON uses
json.Unmarshal), then checked as PostableRule.Validate does: alert name, version "v5", alertType, ruleType,
schemaVersion v1/v2alpha1 (v2alpha1 needs thresholds, evaluation and notificationSettings), the queries (as
above, for a time series), selectedQueryName among them, label names `[A-Za-z_.][A-Za-z0-9_.]*`.

What it leaves out: the filter DSL beyond `key = 'value'` / `!=` joined by AND (and free text), PATCH, clone,
pins and views, the v1->v2 conversion of a v1 body posted to the v2 route, ClickHouse-parsing of aggregation
expressions (a top-level comma is rejected instead), and the storage of many orgs.

Server generations (`mode`): "v2" (the default: v0.138 as above, `/api/v1/dashboards*` answers 501); "v1" (a
SigNoz before v0.126, default version v0.125.1: no v2 dashboard routes, 404 with Go's plain-text "404 page not
found", and the v1 API below); "no-list" (SigNoz v0.126-v0.128, default v0.128.0: the v1 API, and a v2 create
but no v2 list, 405); "both" (SigNoz v0.129-v0.134, default v0.132.0: the v2 API and the v1 API side by side,
each seeing only the dashboards written through it). The v1 API follows SigNoz/signoz v0.125.1 (the same from v0.95 on, checked at v0.95,
v0.110, v0.128): routes `pkg/query-service/app/http_handler.go` (GET/POST `/api/v1/dashboards`, GET/PUT/DELETE
`/api/v1/dashboards/{id}`, PUT `/api/v1/dashboards/{id}/lock`; view access for GET, edit access otherwise),
handlers `pkg/modules/dashboard/impldashboard/handler.go` (any JSON object is stored as the dashboard's data:
no validation; create 201, update 200, lock 200, delete 204; lock body `{"lock": bool}`), the list of
`APIHandler.List` (every dashboard with its full data, no paging), `pkg/types/dashboardtypes/dashboard.go`
(`{id, createdAt, updatedAt, createdBy, updatedBy, data, locked, org_id}`; a locked dashboard cannot be updated
or deleted; lock/unlock by its creator or an admin). Rules: `/api/v2/rules` from v0.120 (before that only
`/api/v1/rules`, which takes an older rule format: listed as `{"rules": [...]}` here, writes refused).

Other modes stand in for servers that are not SigNoz's API: "html" (a login page or proxy answering
everything with HTML), "hang" (accepts the connection, never answers), "redirect" (301 to an https://
address), "odd-json" (200 with JSON that is not SigNoz's envelope); and `fail_writes_after` makes the n-th and
later writes fail with a 500.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ADMIN, EDITOR, VIEWER = "ADMIN", "EDITOR", "VIEWER"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ID = re.compile(r"^[a-zA-Z0-9_.-]{1,75}$")  # Perses common.ValidateID (perses/spec v0.1.2, SigNoz's go.mod)
_TAG_KEY = re.compile(r"^[a-zA-Z$_@{#][a-zA-Z0-9$_@#{}:/-]*$")
_TAG_VALUE = re.compile(r"^[a-zA-Z0-9$_@#{}:.+=/-]*$")
_RESERVED_TAG_KEYS = {"name", "description", "created_at", "updated_at", "created_by", "locked", "source"}
_IMAGE = re.compile(r"^data:image/(?:png|jpe?g|gif|webp|avif|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$")

_TIME_PREFERENCE = {"global_time", "last_5_min", "last_15_min", "last_30_min", "last_1_hr", "last_6_hr",
                    "last_1_day", "last_3_days", "last_1_week", "last_1_month"}
_ENUMS: dict[str, tuple[set[str], str]] = {  # field name -> (allowed values, the default written back)
    "timePreference": (_TIME_PREFERENCE, "global_time"),
    "position": ({"bottom", "right"}, "bottom"),
    "mode": ({"list", "table"}, "list"),
    "lineInterpolation": ({"linear", "spline", "step_after", "step_before"}, "spline"),
    "lineStyle": ({"solid", "dashed"}, "solid"),
    "fillMode": ({"solid", "gradient", "none"}, "none"),
    "decimalPrecision": ({"0", "1", "2", "3", "4", "full"}, "2"),
    "operator": ({"above", "below", "above_or_equal", "below_or_equal", "equal", "not_equal"}, "above"),
    "format": ({"text", "background"}, "text"),
}
_SORTS = {"none", "alphabetical-asc", "alphabetical-desc", "numerical-asc", "numerical-desc",
          "alphabetical-ci-asc", "alphabetical-ci-desc"}

# Allowed fields of each object (Go struct json tags). A nested dict is an object with its own fields;
# "*" marks a field whose value is checked by code below.
_FORMATTING = {"unit": str, "decimalPrecision": "enum"}
_LEGEND = {"position": "enum", "mode": "enum", "customColors": dict}
_AXES = {"softMin": float, "softMax": float, "isLogScale": bool}
_THRESHOLD_LABEL = {"value": float, "unit": str, "color": str, "label": str}
_THRESHOLD_CMP = {"value": float, "operator": "enum", "unit": str, "color": str, "format": "enum"}
_FIELD_KEY = {"name": str, "description": str, "unit": str, "signal": str, "fieldContext": str, "fieldDataType": str}
_PANEL_SPECS: dict[str, dict[str, Any]] = {
    "signoz/TimeSeriesPanel": {
        "visualization": {"timePreference": "enum", "fillSpans": bool}, "formatting": _FORMATTING,
        "chartAppearance": {"lineInterpolation": "enum", "showPoints": bool, "lineStyle": "enum", "fillMode": "enum",
                            "spanGaps": {"fillOnlyBelow": bool, "fillLessThan": str}},
        "axes": _AXES, "legend": _LEGEND, "thresholds": [_THRESHOLD_LABEL]},
    "signoz/BarChartPanel": {
        "visualization": {"timePreference": "enum", "fillSpans": bool, "stackedBarChart": bool},
        "formatting": _FORMATTING, "axes": _AXES, "legend": _LEGEND, "thresholds": [_THRESHOLD_LABEL]},
    "signoz/NumberPanel": {"visualization": {"timePreference": "enum"}, "formatting": _FORMATTING,
                           "thresholds": [_THRESHOLD_CMP]},
    "signoz/PieChartPanel": {"visualization": {"timePreference": "enum"}, "formatting": _FORMATTING, "legend": _LEGEND},
    "signoz/TablePanel": {"visualization": {"timePreference": "enum"},
                          "formatting": {"columnUnits": dict, "decimalPrecision": "enum"},
                          "thresholds": [{**_THRESHOLD_CMP, "columnName": str}]},
    "signoz/HistogramPanel": {"histogramBuckets": {"bucketCount": float, "bucketWidth": float,
                                                   "mergeAllActiveQueries": bool}, "legend": _LEGEND},
    "signoz/ListPanel": {"selectFields": [_FIELD_KEY]},
}
_ALL_QUERY_KINDS = ["signoz/BuilderQuery", "signoz/CompositeQuery", "signoz/Formula", "signoz/TraceOperator",
                    "signoz/PromQLQuery", "signoz/ClickHouseSQL"]
_ALLOWED_QUERIES = {
    "signoz/TimeSeriesPanel": _ALL_QUERY_KINDS, "signoz/BarChartPanel": _ALL_QUERY_KINDS,
    "signoz/NumberPanel": _ALL_QUERY_KINDS, "signoz/HistogramPanel": _ALL_QUERY_KINDS,
    "signoz/PieChartPanel": [k for k in _ALL_QUERY_KINDS if k != "signoz/PromQLQuery"],
    "signoz/TablePanel": [k for k in _ALL_QUERY_KINDS if k != "signoz/PromQLQuery"],
    "signoz/ListPanel": ["signoz/BuilderQuery"],
}
_REQUEST_TYPES = {"scalar", "time_series", "raw", "raw_stream", "trace", "distribution"}
_BUILDER = {"name": str, "stepInterval": "*", "signal": str, "source": str, "aggregations": "*", "disabled": bool,
            "filter": {"expression": str}, "groupBy": [_FIELD_KEY],
            "order": [{"key": _FIELD_KEY, "direction": str}], "selectFields": [_FIELD_KEY], "limit": int,
            "limitBy": "*", "offset": int, "cursor": str, "having": {"expression": str},
            "secondaryAggregations": "*", "functions": "*", "legend": str}
_FORMULA = {"name": str, "expression": str, "disabled": bool, "order": [{"key": _FIELD_KEY, "direction": str}],
            "limit": int, "having": {"expression": str}, "functions": "*", "legend": str}
_SPACE_AGGREGATIONS = {"sum", "avg", "min", "max", "count", "p50", "p75", "p90", "p95", "p99"}
_TIME_AGGREGATIONS = {"", "latest", "sum", "avg", "min", "max", "count", "count_distinct", "rate", "increase"}
_REDUCE_TO = {"sum", "count", "avg", "min", "max", "last", "median"}


class Invalid(Exception):
    """A 400: invalid input."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------------------------------- validation


def _strict(obj: Any, fields: dict[str, Any], path: str) -> None:
    if not isinstance(obj, dict):
        raise Invalid(f"{path}: json: cannot unmarshal {type(obj).__name__} into an object")
    for key, value in obj.items():
        if key not in fields:
            raise Invalid(f'{path}: json: unknown field "{key}"')
        rule = fields[key]
        where = f"{path}.{key}"
        if value is None:
            continue
        if isinstance(rule, dict):
            _strict(value, rule, where)
        elif isinstance(rule, list):
            if not isinstance(value, list):
                raise Invalid(f"{where}: json: cannot unmarshal into a list")
            for i, item in enumerate(value):
                if isinstance(rule[0], dict):
                    _strict(item, rule[0], f"{where}[{i}]")
        elif rule == "enum":
            allowed, _ = _ENUMS[key]
            text = str(value) if key == "decimalPrecision" and isinstance(value, int) else value
            if text not in allowed:
                raise Invalid(f"invalid {key} {value!r}: must be one of {sorted(allowed)}")
        elif rule is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Invalid(f"{where}: json: cannot unmarshal {type(value).__name__} into a number")
        elif rule is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise Invalid(f"{where}: json: cannot unmarshal {type(value).__name__} into an integer")
        elif rule in (str, bool, dict) and not isinstance(value, rule):
            raise Invalid(f"{where}: json: cannot unmarshal {type(value).__name__} into {rule.__name__}")


def _with_panel_defaults(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The panel options as the server writes them back: every field of the Go struct present, each
    enumerated option with its default when not given (their MarshalJSON calls ValueOrDefault)."""
    out = json.loads(json.dumps(spec))
    template = _PANEL_SPECS[kind]
    for key, rule in template.items():
        if isinstance(rule, dict):
            section = out.setdefault(key, {})
            for sub, subrule in rule.items():
                if subrule == "enum" and not section.get(sub):
                    section[sub] = _ENUMS[sub][1]
                elif subrule is bool:
                    section.setdefault(sub, False)
                elif isinstance(subrule, dict):
                    section.setdefault(sub, {k: (False if r is bool else "") for k, r in subrule.items()})
                elif subrule is str:
                    section.setdefault(sub, "")
                else:
                    section.setdefault(sub, None)
    return out


def _validate_tags(tags: Any) -> None:
    if not isinstance(tags, list):
        raise Invalid("tags: is required")
    if len(tags) > 10:
        raise Invalid("a dashboard can have at most 10 tags")
    for i, tag in enumerate(tags):
        _strict(tag, {"key": str, "value": str}, f"tags[{i}]")
        key, value = str(tag.get("key", "")).strip(), str(tag.get("value", "")).strip()
        if key.lower() in _RESERVED_TAG_KEYS:
            raise Invalid(f"tag key {key!r} is reserved")
        if not key:
            raise Invalid("tag key cannot be empty")
        if not value:
            raise Invalid("tag value cannot be empty")
        if not _TAG_KEY.match(key):
            raise Invalid(f"tag key {key!r} contains disallowed characters")
        if not _TAG_VALUE.match(value):
            raise Invalid(f"tag value {value!r} contains disallowed characters")
        if len(key) > 32:
            raise Invalid(f"tag key {key!r} exceeds the 32-character limit")
        if len(value) > 32:
            raise Invalid(f"tag value {value!r} exceeds the 32-character limit")


def _validate_name(name: Any) -> None:
    if not name:
        raise Invalid("name is required")
    if not isinstance(name, str) or len(name) > 63 or not _DNS_LABEL.match(name):
        raise Invalid(f"name {name!r} is invalid: a lowercase RFC 1123 label must consist of lower case "
                      "alphanumeric characters or '-'")


def _validate_display(display: Any, path: str) -> None:
    _strict(display, {"name": str, "description": str}, path)
    if len(display.get("name", "")) > 128:
        raise Invalid(f"{path}.name: name must be at most 128 characters")


def _validate_builder(spec: Any, request_type: str, path: str) -> None:
    _strict(spec, _BUILDER, path)
    signal = spec.get("signal", "")
    if signal not in ("traces", "logs", "metrics"):
        raise Invalid(f"{path}: invalid signal {signal!r}")
    aggregations = spec.get("aggregations") or []
    fields = ({"metricName": str, "temporality": str, "timeAggregation": str, "spaceAggregation": str,
               "comparisonSpaceAggregationParam": "*", "reduceTo": str} if signal == "metrics"
              else {"expression": str, "alias": str})
    for i, aggregation in enumerate(aggregations):
        _strict(aggregation, fields, f"{path}.aggregations[{i}]")
    raw = request_type in ("raw", "raw_stream", "trace")
    if not raw and not aggregations:
        raise Invalid(f"{path}: at least one aggregation is required")
    aliases: set[str] = set()
    valid_order = {g.get("name") for g in spec.get("groupBy") or []}
    for i, aggregation in enumerate(aggregations):
        valid_order.add(str(i))
        if signal == "metrics":
            if not aggregation.get("metricName"):
                raise Invalid(f"{path}: metric name is required for aggregation #{i + 1}")
            if aggregation.get("spaceAggregation") not in _SPACE_AGGREGATIONS:
                raise Invalid("invalid space aggregation, should be one of the following: "
                              "[`sum`, `avg`, `min`, `max`, `count`, `p50`, `p75`, `p90`, `p95`, `p99`]")
            if aggregation.get("timeAggregation", "") not in _TIME_AGGREGATIONS:
                raise Invalid(f"{path}: invalid time aggregation {aggregation.get('timeAggregation')!r}")
            if aggregation.get("temporality", "") not in ("", "delta", "cumulative", "unspecified"):
                raise Invalid(f"{path}: invalid temporality {aggregation.get('temporality')!r}")
            if request_type == "scalar" and aggregation.get("reduceTo") not in _REDUCE_TO:
                raise Invalid(f"{path}: reduceTo is required for aggregation #{i + 1} for the scalar request type")
            name, space, time = aggregation["metricName"], aggregation["spaceAggregation"], aggregation.get("timeAggregation")
            valid_order |= {"__result", f"{space}({name})"} | ({f"{time}({name})", f"{space}({time}({name}))"} if time else set())
        else:
            expression = aggregation.get("expression", "")
            if not expression:
                raise Invalid(f"{path}: expression is required for aggregation #{i + 1}")
            if " as " in expression.lower():
                raise Invalid("aliasing is not allowed in expression. Use `alias` field instead")
            depth = 0
            for ch in expression:
                depth += ch == "("
                depth -= ch == ")"
                if ch == "," and depth == 0:
                    raise Invalid(f"aggregation expression `{expression}` must contain a single function call; "
                                  "provide multiple aggregations as separate entries")
            alias = aggregation.get("alias")
            if alias:
                if alias in aliases:
                    raise Invalid(f"duplicate aggregation alias: {alias}")
                aliases.add(alias)
                valid_order.add(alias)
            valid_order.add(expression)
    for i, key in enumerate(spec.get("groupBy") or []):
        if not key.get("name"):
            raise Invalid(f"invalid empty key name for group by at index {i}")
        if request_type == "time_series" and key.get("name") == "timestamp":
            raise Invalid("group by on timestamp is not allowed")
    limit = spec.get("limit") or 0  # JSON null decodes to 0
    if limit < 0 or limit > 10000:
        raise Invalid(f"limit must be between 0 and 10000, got {limit}")
    for i, order in enumerate(spec.get("order") or []):
        if order.get("direction") not in ("asc", "desc"):
            raise Invalid(f"invalid direction for order by clause #{i + 1}: {order.get('direction')}")
        key = order.get("key", {})
        name = key.get("name", "")
        if not raw and name not in valid_order and f"{key.get('fieldContext', '')}.{name}" not in valid_order:
            raise Invalid(f"invalid order by key '{name}' for order by clause #{i + 1}")


def _validate_query(query: Any, panel_kind: str, path: str) -> None:
    _strict(query, {"kind": str, "spec": {"name": str, "plugin": "*"}}, path)
    request_type = query.get("kind")
    if request_type not in _REQUEST_TYPES:
        raise Invalid(f"{path}.kind: invalid request type {request_type!r}")
    plugin = query.get("spec", {}).get("plugin")
    _strict(plugin, {"kind": str, "spec": "*"}, f"{path}.spec.plugin")
    kind = plugin.get("kind")
    if kind not in _ALL_QUERY_KINDS:
        raise Invalid(f"unknown query plugin kind {kind!r}")
    if kind not in _ALLOWED_QUERIES[panel_kind]:
        raise Invalid(f"{path}.spec.plugin: query kind {kind!r} is not supported by panel kind {panel_kind!r}")
    spec = plugin.get("spec")
    if spec is None:
        raise Invalid(f'kind "{kind}": spec is required')
    if kind == "signoz/BuilderQuery":
        _validate_builder(spec, request_type, f"{path}.spec.plugin.spec")
    elif kind == "signoz/CompositeQuery":
        _strict(spec, {"queries": "*"}, f"{path}.spec.plugin.spec")
        queries = spec.get("queries") or []
        if not queries:
            raise Invalid("at least one query is required")
        names: set[str] = set()
        for i, envelope in enumerate(queries):
            _strict(envelope, {"type": str, "spec": "*"}, f"{path}.spec.plugin.spec.queries[{i}]")
            where = f"{path}.spec.plugin.spec.queries[{i}].spec"
            if envelope.get("type") == "builder_query":
                _validate_builder(envelope.get("spec"), request_type, where)
                name = envelope["spec"].get("name", "")
                if name in names:
                    raise Invalid(f"duplicate query name '{name}'")
                names.add(name)
            elif envelope.get("type") == "builder_formula":
                _strict(envelope.get("spec"), _FORMULA, where)
                if not envelope["spec"].get("expression"):
                    raise Invalid(f"{where}: formula expression is required")
            else:
                raise Invalid(f"unknown query type {envelope.get('type')!r}")
    elif kind == "signoz/Formula":
        _strict(spec, _FORMULA, f"{path}.spec.plugin.spec")
    # PromQL, ClickHouse and trace operators: not used by the project; accepted as the server's types allow.


def validate_spec(spec: Any) -> dict[str, Any]:
    """Validate a dashboard spec; return it as the server would store and write it back."""
    _strict(spec, {"display": "*", "variables": "*", "panels": "*", "layouts": "*", "duration": str,
                   "refreshInterval": str, "links": "*"}, "spec")
    _validate_display(spec.get("display", {}), "spec.display")
    stored = json.loads(json.dumps(spec))
    variables = spec.get("variables")
    if variables is None:
        raise Invalid("spec.variables: is required and must not be null; use [] for a dashboard with no variables")
    seen: set[str] = set()
    for i, variable in enumerate(variables):
        path = f"spec.variables[{i}]"
        _strict(variable, {"kind": str, "spec": "*"}, path)
        vspec = variable.get("spec") or {}
        if variable.get("kind") == "ListVariable":
            _strict(vspec, {"display": "*", "defaultValue": "*", "allowAllValue": bool, "allowMultiple": bool,
                            "customAllValue": str, "capturingRegexp": str, "sort": str, "plugin": "*", "name": str},
                    path + ".spec")
            if vspec.get("sort", "none") not in _SORTS:
                raise Invalid(f"unknown sort {vspec.get('sort')!r}")
            if vspec.get("allowAllValue") and not vspec.get("allowMultiple"):
                raise Invalid(f"{path}: allowAllValue cannot be set if allowMultiple is not set to true")
            if vspec.get("customAllValue") and not vspec.get("allowAllValue"):
                raise Invalid(f"{path}: customAllValue cannot be set if allowAllValue is not set to true")
            plugin = vspec.get("plugin") or {}
            _strict(plugin, {"kind": str, "spec": "*"}, path + ".spec.plugin")
            fields = {"signoz/DynamicVariable": {"name": str, "signal": str},
                      "signoz/QueryVariable": {"queryValue": str},
                      "signoz/CustomVariable": {"customValue": str}}.get(plugin.get("kind"))
            if fields is None:
                raise Invalid(f"unknown variable plugin kind {plugin.get('kind')!r}")
            _strict(plugin.get("spec"), fields, path + ".spec.plugin.spec")
            if plugin["kind"] == "signoz/DynamicVariable":
                if not plugin["spec"].get("name"):
                    raise Invalid(f"{path}: spec failed validation: name is required")
                if plugin["spec"].get("signal", "all") not in ("traces", "logs", "metrics", "all"):
                    raise Invalid(f"invalid signal {plugin['spec'].get('signal')!r}")
                stored["variables"][i]["spec"]["plugin"]["spec"].setdefault("signal", "all")
            stored["variables"][i]["spec"].setdefault("sort", "none")
        elif variable.get("kind") == "TextVariable":
            _strict(vspec, {"display": "*", "value": str, "constant": bool, "name": str}, path + ".spec")
        else:
            raise Invalid(f"unknown variable kind {variable.get('kind')!r}")
        _validate_display(vspec.get("display", {}), path + ".spec.display")
        name = vspec.get("name", "")
        if not name or not _ID.match(name) or name.isdigit():
            raise Invalid(f"{path}: invalid variable name {name!r}")
        if name in seen:
            raise Invalid(f"{path}: duplicate variable name {name!r}")
        seen.add(name)
    panels = spec.get("panels")
    if panels is None:
        raise Invalid("spec.panels: is required and must not be null; use {} for a dashboard with no panels")
    if not isinstance(panels, dict):
        raise Invalid("spec.panels: must be an object")
    for key, panel in panels.items():
        path = f"spec.panels.{key}"
        if not _ID.match(key):
            raise Invalid(f"spec.panels: invalid id {key!r}")
        if panel is None:
            raise Invalid(f"{path}: panel must not be null")
        _strict(panel, {"kind": str, "spec": {"display": "*", "plugin": "*", "queries": "*", "links": "*"}}, path)
        if panel.get("kind") != "Panel":
            raise Invalid(f"unknown panel kind {panel.get('kind')!r}")
        pspec = panel["spec"]
        _validate_display(pspec.get("display", {}), path + ".spec.display")
        plugin = pspec.get("plugin") or {}
        _strict(plugin, {"kind": str, "spec": "*"}, path + ".spec.plugin")
        kind = plugin.get("kind")
        if kind not in _PANEL_SPECS:
            raise Invalid(f"unknown panel plugin kind {kind!r}")
        if plugin.get("spec") is None:
            raise Invalid(f'kind "{kind}": spec is required')
        _strict(plugin["spec"], _PANEL_SPECS[kind], f"{path}.spec.plugin.spec")
        stored["panels"][key]["spec"]["plugin"]["spec"] = _with_panel_defaults(kind, plugin["spec"])
        queries = pspec.get("queries") or []
        if len(queries) != 1:
            raise Invalid(f"{path}.spec.queries: panel must have one query, found {len(queries)}")
        _validate_query(queries[0], kind, f"{path}.spec.queries[0]")
    layouts = spec.get("layouts")
    if layouts is None:
        raise Invalid("spec.layouts: is required and must not be null; use [] for a dashboard with no layouts")
    placed: dict[str, str] = {}
    for li, layout in enumerate(layouts):
        path = f"spec.layouts[{li}]"
        _strict(layout, {"kind": str, "spec": {"display": {"title": str, "collapse": {"open": bool}},
                                               "items": "*"}}, path)
        if layout.get("kind") != "Grid":
            raise Invalid(f"unknown layout kind {layout.get('kind')!r}")
        items = layout["spec"].get("items") or []
        if len(items) > 100:
            raise Invalid(f"{path}.spec.items: has {len(items)} items; maximum is 100")
        for ii, item in enumerate(items):
            where = f"{path}.spec.items[{ii}]"
            _strict(item, {"x": int, "y": int, "width": int, "height": int, "content": {"$ref": str}}, where)
            x, y, w, h = (item.get(k, 0) for k in ("x", "y", "width", "height"))
            if w < 1 or h < 1 or x < 0 or y < 0 or w > 12 or x >= 12 or x + w > 12:
                raise Invalid(f"{where}: geometry outside the 12-column grid")
            ref = (item.get("content") or {}).get("$ref", "")
            parts = ref.removeprefix("#/").split("/")
            if not ref.startswith("#/") or len(parts) != 3 or parts[:2] != ["spec", "panels"]:
                raise Invalid(f"{where}.content: {ref!r} must reference a panel as \"#/spec/panels/<key>\"")
            if parts[2] not in panels:
                raise Invalid(f"{where}.content: references unknown panel {parts[2]!r}")
            if parts[2] in placed:
                raise Invalid(f"{where}.content: panel {parts[2]!r} is already placed by {placed[parts[2]]}")
            placed[parts[2]] = where
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                a, b = items[i], items[j]
                if (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
                        and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]):
                    raise Invalid(f"{path}.spec.items[{i}] and items[{j}] overlap")
    return stored


def validate_body(body: Any, *, postable: bool) -> dict[str, Any]:
    fields = {"schemaVersion": str, "image": str, "name": str, "tags": "*", "spec": "*"}
    if postable:
        fields["generateName"] = bool
    _strict(body, fields, "body")
    if body.get("schemaVersion") != "v6":
        raise Invalid(f'schemaVersion must be "v6", got {body.get("schemaVersion", "")!r}')
    if postable and body.get("generateName"):
        if body.get("name"):
            raise Invalid(f"name must be empty when generateName is true, got {body['name']!r}")
    else:
        _validate_name(body.get("name"))
    _validate_tags(body.get("tags"))
    image = body.get("image", "")
    if image and not (re.match(r"^/assets/(Icons|Logos)/.+", image) or _IMAGE.match(image)):
        raise Invalid('image must be an "/assets/Icons/" or "/assets/Logos/" path, or a base64 image data URI')
    spec = body.get("spec")
    if spec is None:
        raise Invalid("spec: is required")
    return validate_spec(spec)


# ----------------------------------------------------------------------------------------- the server


class SigNozDouble:
    """Start with `with SigNozDouble(keys={"k": ("a@x", ADMIN)}) as api:`; `api.url` is its base URL."""

    def __init__(self, keys: dict[str, tuple[str, str]] | None = None, *, mode: str = "v2",
                 version: str | None = None, tls: tuple[str, str] | None = None) -> None:
        self.keys = keys or {}
        self.tls = tls  # (certfile, keyfile): serve https
        self.version = version or {"v1": "v0.125.1", "no-list": "v0.128.0", "both": "v0.132.0"}.get(mode, "v0.138.0")
        self.mode = mode
        self.v1_dashboards: dict[str, dict[str, Any]] = {}  # id -> {id, createdAt, ..., data, locked, org_id}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers (lower-cased)
        self.fail_writes_after: int | None = None
        self.writes = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> SigNozDouble:
        double = self

        class Handler(_Handler):
            api = double

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # direct manipulation, as a user in the UI would
    def ours(self) -> list[dict[str, Any]]:
        return [d for d in self.dashboards.values()
                if any(t["key"] == "managed-by" and t["value"] == "signoz-litellm" for t in d["tags"])]

    def edit(self, dashboard_id: str, change: Any) -> None:
        with self.lock:
            change(self.dashboards[dashboard_id]["spec"])
            self.dashboards[dashboard_id]["updatedAt"] = _now()

    def set_locked(self, dashboard_id: str, locked: bool) -> None:
        with self.lock:
            store = self.v1_dashboards if dashboard_id in self.v1_dashboards else self.dashboards
            store[dashboard_id]["locked"] = locked

    @property
    def has_v1(self) -> bool:
        return self.mode in ("v1", "no-list", "both")

    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version)[:3])

    def v1_ours(self) -> list[dict[str, Any]]:
        return [d for d in self.v1_dashboards.values() if "managed-by:signoz-litellm" in (d["data"].get("tags") or [])]

    def v1_edit(self, dashboard_id: str, change: Any) -> None:
        with self.lock:
            change(self.v1_dashboards[dashboard_id]["data"])
            self.v1_dashboards[dashboard_id]["updatedAt"] = _now()


def _error(status: int, kind: str, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"status": "error", "error": {"type": kind, "code": code, "message": message,
                                                 "errors": [], "suggestions": []}}


def _invalid(message: str) -> tuple[int, dict[str, Any]]:
    return _error(400, "invalid_input", "dashboard_invalid_input", message)


def _listed(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: d[k] for k in ("id", "createdAt", "updatedAt", "createdBy", "updatedBy", "orgId", "locked", "source",
                             "schemaVersion", "name", "tags")}
    if d.get("image"):
        out["image"] = d["image"]
    out["spec"] = {"display": d["spec"]["display"]}
    out["legacy"] = False
    return out


_CONDITION = re.compile(r"^\s*([A-Za-z$_@{#][A-Za-z0-9$_@#{}:/.-]*)\s*(=|!=)\s*'((?:[^'\\]|\\.)*)'\s*$")


def _matches(d: dict[str, Any], query: str) -> bool:
    if not query.strip():
        return True
    for part in re.split(r"\s+AND\s+", query.strip(), flags=re.IGNORECASE):
        m = _CONDITION.match(part)
        if m is None:
            if re.search(r"[=<>!']", part):
                raise Invalid(f"query {query!r}: only key = 'value' conditions joined by AND are understood here")
            text = part.strip().strip('"').lower()
            hay = [d["name"], d["spec"]["display"].get("name", ""), d["spec"]["display"].get("description", "")]
            hay += [t["key"] for t in d["tags"]] + [t["value"] for t in d["tags"]]
            if not any(text in h.lower() for h in hay):
                return False
            continue
        key, op, value = m.group(1), m.group(2), m.group(3)
        if key.lower() == "name":
            actual = [d["spec"]["display"].get("name", "")]
        elif key.lower() == "locked":
            actual = ["true" if d["locked"] else "false"]
        else:
            actual = [t["value"] for t in d["tags"] if t["key"].lower() == key.lower()]
        hit = value in actual
        if hit != (op == "="):
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    api: SigNozDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = b"" if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        api = self.api
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with api.lock:
            api.requests.append((method, parts.path, {k.lower(): v for k, v in self.headers.items()}))
        if api.mode == "hang":
            api._stop.wait(60)
            return
        if api.mode == "html":
            self._send(200, b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>login</body></html>",
                       "text/html; charset=utf-8")
            return
        if api.mode == "redirect":  # an http:// address in front of an https:// one
            self.send_response(301)
            self.send_header("Location", "https://signoz.example.com" + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if api.mode == "odd-json":
            self._send(200, {"items": []})
            return
        if api.mode == "no-list" and method == "GET" and parts.path == "/api/v2/dashboards":
            self._send(405, None)  # gorilla/mux: the path exists, not for GET (SigNoz v0.126-v0.128)
            return
        not_routed = (api.mode == "v1" and parts.path.startswith("/api/v2/dashboards")
                      or parts.path.startswith("/api/v2/rules") and api.version_tuple() < (0, 120))
        if not_routed:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        status, payload = self._route(method, parts.path, parse_qs(parts.query), raw)
        self._send(status, payload)

    def _route(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> tuple[int, Any]:
        api = self.api
        if path == "/api/v1/version" and method == "GET":  # open access, no envelope (query-service getVersion)
            return 200, {"version": api.version, "ee": "Y", "setupCompleted": True}
        identity = api.keys.get(self.headers.get("SIGNOZ-API-KEY") or "")
        if identity is None:
            return _error(401, "unauthenticated", "unauthenticated", "no valid credentials were found")
        email, role = identity
        if path.startswith("/api/v1/dashboards"):
            if not api.has_v1:
                return _error(501, "unsupported", "dashboard_v1_deprecated",
                              "the v1 dashboard API is deprecated; instead, use /api/v2/dashboards. "
                              "See https://signoz.io/docs/dashboards/dashboards-v2-api/")
            if method != "GET" and role == VIEWER:
                return _error(403, "forbidden", "forbidden", "only editors and admins may change dashboards")
            if method != "GET" and self._write_fails():
                return _error(500, "internal", "internal", "database is locked")
            try:
                with api.lock:
                    return self._v1(method, path, raw, email, role)
            except Invalid as exc:
                return _error(400, "invalid_input", "invalid_input", str(exc))
        if path == "/api/v1/rules":  # before v0.120: the older rule API (not written by signoz-litellm)
            if method == "GET":
                return 200, {"status": "success", "data": {"rules": []}}
            return _error(400, "invalid_input", "invalid_input", "failed to parse json: rule format of v0.119")
        r = re.fullmatch(r"/api/v2/rules(?:/([^/]+))?", path)
        if r is not None:
            if method != "GET" and role == VIEWER:
                return _error(403, "forbidden", "forbidden", "only editors and admins may change alert rules")
            if method != "GET" and self._write_fails():
                return _error(500, "internal", "internal", "database is locked")
            try:
                with api.lock:
                    return self._rules(method, r.group(1), raw, email)
            except Invalid as exc:
                return _error(400, "invalid_input", "invalid_input", str(exc))
        m = re.fullmatch(r"/api/v2/dashboards(?:/([^/]+)(/lock)?)?", path)
        if m is None:
            return 404, {"status": "error", "error": {"type": "not_found", "code": "not_found",
                                                      "message": "route not found", "errors": [], "suggestions": []}}
        dashboard_id, lock = m.group(1), m.group(2)
        writes = method != "GET"
        if writes and role == VIEWER:
            return _error(403, "forbidden", "forbidden", "only editors and admins may change dashboards")
        if writes and self._write_fails():
            return _error(500, "internal", "internal", "database is locked")
        try:
            with api.lock:
                if dashboard_id is None:
                    if method == "GET":
                        return 200, self._list(query)
                    if method == "POST":
                        return 201, self._create(raw, email)
                    return 405, None
                existing = api.dashboards.get(dashboard_id)
                if existing is None:
                    return _error(404, "not_found", "dashboard_not_found", f"dashboard {dashboard_id} not found")
                if lock:
                    if method not in ("PUT", "DELETE"):
                        return 405, None
                    if existing["createdBy"] != email and role != ADMIN:
                        return _error(403, "forbidden", "forbidden", "you are not authorized to lock/unlock this dashboard")
                    existing["locked"] = method == "PUT"
                    existing["updatedAt"], existing["updatedBy"] = _now(), email
                    return 204, None
                if method == "GET":
                    return 200, {"status": "success", "data": existing}
                if method == "PUT":
                    return 200, self._update(existing, raw, email)
                if method == "DELETE":
                    if existing["locked"]:
                        raise Invalid("cannot delete a locked dashboard, please unlock the dashboard to delete")
                    del api.dashboards[dashboard_id]
                    return 204, None
                return 405, None
        except Invalid as exc:
            return _invalid(str(exc))

    def _write_fails(self) -> bool:
        api = self.api
        if api.fail_writes_after is None:
            return False
        with api.lock:
            api.writes += 1
            return api.writes > api.fail_writes_after

    def _decode(self, raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise Invalid(f"invalid JSON: {exc}") from None

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        text = (query.get("query") or [""])[0]
        if len(text) > 1024:
            raise Invalid("query cannot be longer than 1024 characters")
        limit = int((query.get("limit") or ["20"])[0] or 20)
        offset = int((query.get("offset") or ["0"])[0] or 0)
        if limit < 0 or offset < 0:
            raise Invalid("invalid limit or offset")
        limit = min(limit or 20, 200)
        found = [d for d in sorted(self.api.dashboards.values(), key=lambda d: d["updatedAt"], reverse=True)
                 if _matches(d, text)]
        tags = sorted({(t["key"], t["value"]) for d in self.api.dashboards.values() for t in d["tags"]})
        return {"status": "success", "data": {
            "dashboards": [_listed(d) for d in found[offset:offset + limit]], "total": len(found),
            "tags": [{"key": k, "value": v} for k, v in tags],
            "reservedKeywords": sorted(_RESERVED_TAG_KEYS)}}

    def _create(self, raw: bytes, email: str) -> dict[str, Any]:
        body = self._decode(raw)
        stored_spec = validate_body(body, postable=True)
        now = _now()
        name = body.get("name") or f"dashboard-{uuid.uuid4().hex[:8]}"
        dashboard = {"id": str(uuid.uuid4()), "createdAt": now, "updatedAt": now, "createdBy": email,
                     "updatedBy": email, "orgId": "00000000-0000-0000-0000-000000000001", "locked": False,
                     "source": "user", "schemaVersion": "v6", "image": body.get("image", ""), "name": name,
                     "tags": [{"key": t["key"].strip(), "value": t["value"].strip()} for t in body["tags"]],
                     "spec": stored_spec}
        self.api.dashboards[dashboard["id"]] = dashboard
        return {"status": "success", "data": dashboard}

    def _update(self, existing: dict[str, Any], raw: bytes, email: str) -> dict[str, Any]:
        body = self._decode(raw)
        stored_spec = validate_body(body, postable=False)
        if existing["locked"]:
            raise Invalid("cannot update a locked dashboard, please unlock the dashboard to update")
        if body["name"] != existing["name"]:
            raise Invalid(f"name is immutable; cannot change from {existing['name']!r} to {body['name']!r}")
        existing.update({"image": body.get("image", ""), "spec": stored_spec, "updatedAt": _now(), "updatedBy": email,
                         "tags": [{"key": t["key"].strip(), "value": t["value"].strip()} for t in body["tags"]]})
        return {"status": "success", "data": existing}

    # ------------------------------------------------------------------------------------------ v1 dashboards

    def _v1(self, method: str, path: str, raw: bytes, email: str, role: str) -> tuple[int, Any]:
        store = self.api.v1_dashboards
        m = re.fullmatch(r"/api/v1/dashboards(?:/([^/]+)(/lock)?)?", path)
        if m is None:
            return 404, b"404 page not found\n"
        dashboard_id, lock = m.group(1), m.group(2)
        if dashboard_id is None:
            if method == "GET":  # APIHandler.List: every dashboard, full data, no paging
                return 200, {"status": "success", "data": list(store.values())}
            if method == "POST":
                data = self._v1_data(raw)
                now = _now()
                dashboard = {"id": str(uuid.uuid4()), "createdAt": now, "updatedAt": now, "createdBy": email,
                             "updatedBy": email, "data": data, "locked": False,
                             "org_id": "00000000-0000-0000-0000-000000000001"}
                store[dashboard["id"]] = dashboard
                return 201, {"status": "success", "data": dashboard}
            return 405, None
        if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", dashboard_id):
            raise Invalid(f"invalid uuid: {dashboard_id!r}")
        existing = store.get(dashboard_id)
        if existing is None:
            return _error(404, "not_found", "dashboard_not_found", f"dashboard with id {dashboard_id} doesn't exist")
        if lock:
            if method != "PUT":
                return 405, None
            body = self._decode(raw)
            if not isinstance(body, dict) or not isinstance(body.get("lock"), bool):
                raise Invalid("lock is missing in the request payload")
            if existing["createdBy"] != email and role != ADMIN:
                return _error(403, "forbidden", "forbidden", "you are not authorized to lock/unlock this dashboard")
            existing.update(locked=body["lock"], updatedAt=_now(), updatedBy=email)
            return 200, {"status": "success", "data": None}
        if method == "GET":
            return 200, {"status": "success", "data": existing}
        if method == "PUT":
            data = self._v1_data(raw)
            if existing["locked"]:
                raise Invalid("cannot update a locked dashboard, please unlock the dashboard to update")
            existing.update(data=data, updatedAt=_now(), updatedBy=email)
            return 200, {"status": "success", "data": existing}
        if method == "DELETE":
            if existing["locked"]:
                raise Invalid("dashboard is locked, please unlock the dashboard to be delete it")
            del store[dashboard_id]
            return 204, None
        return 405, None

    def _v1_data(self, raw: bytes) -> dict[str, Any]:
        """json.Decode into StorableDashboardData (a map): any object; without version "v5" the handler runs
        its v4->v5 query migration, which stamps the version (the queries it would rewrite are not modelled)."""
        data = self._decode(raw)
        if not isinstance(data, dict):
            raise Invalid("json: cannot unmarshal into Go value of type dashboardtypes.StorableDashboardData")
        if data.get("version") != "v5":
            data["version"] = "v5"
        return data

    # ------------------------------------------------------------------------------------------ alert rules

    def _rules(self, method: str, rule_id: str | None, raw: bytes, email: str) -> tuple[int, Any]:
        rules = self.api.rules
        if rule_id is None:
            if method == "GET":
                return 200, {"status": "success", "data": list(rules.values())}
            if method == "POST":
                body = self._decode(raw)
                validate_rule(body)
                now = _now()
                rule = {"id": str(uuid.uuid4()), "state": "inactive", "disabled": False, **body, "createdAt": now,
                        "updatedAt": now, "createdBy": email, "updatedBy": email}
                rules[rule["id"]] = rule
                return 201, {"status": "success", "data": rule}
            return 405, None
        existing = rules.get(rule_id)
        if existing is None:
            return _error(404, "not_found", "rule_not_found", f"rule {rule_id} not found")
        if method == "GET":
            return 200, {"status": "success", "data": existing}
        if method == "PUT":
            body = self._decode(raw)
            validate_rule(body)
            keep = {k: existing[k] for k in ("id", "state", "createdAt", "createdBy")}
            rules[rule_id] = {"disabled": False, **body, **keep, "updatedAt": _now(), "updatedBy": email}
            return 204, None
        if method == "DELETE":
            del rules[rule_id]
            return 204, None
        return 405, None


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


# ----------------------------------------------------------------------------------------- v1 -> v2


_V1_PANEL_KINDS = {"graph": "signoz/TimeSeriesPanel", "bar": "signoz/BarChartPanel", "value": "signoz/NumberPanel",
                   "table": "signoz/TablePanel", "list": "signoz/ListPanel"}
_V1_REQUEST_TYPES = {"signoz/NumberPanel": "scalar", "signoz/TablePanel": "scalar", "signoz/ListPanel": "raw"}


def _v1_envelope(q: dict[str, Any], list_panel: bool) -> dict[str, Any]:
    """querybuildertypesv5.WrapInV5Envelope (migrate_envelope.go) of one v5-shaped queryData / formula, with the
    converter's normalizations that apply to it (pageSize -> limit on list/table panels, formula backfill)."""
    spec: dict[str, Any] = {"name": q["queryName"], "disabled": q.get("disabled"), "legend": q.get("legend")}
    if q["queryName"] != q.get("expression"):
        spec["expression"] = q["expression"]
        spec.update({k: q[k] for k in ("functions", "limit", "having") if k in q})
        spec["order"] = [{"key": {"name": o["columnName"]}, "direction": o["order"]} for o in q.get("orderBy") or []]
        return {"type": "builder_formula", "spec": spec}
    spec["signal"] = q.get("dataSource")
    for key in ("stepInterval", "aggregations", "filter"):
        if key in q:
            spec[key] = q[key]
    spec["groupBy"] = [{"name": g["key"], "fieldDataType": g.get("dataType"), "fieldContext": g.get("type")}
                       for g in q.get("groupBy") or []]
    spec["order"] = [{"key": {"name": o["columnName"], "fieldDataType": o.get("dataType"),
                              "fieldContext": o.get("type")}, "direction": o["order"]} for o in q.get("orderBy") or []]
    if "selectColumns" in q:
        spec["selectFields"] = [{"name": c["key"], "fieldDataType": c.get("dataType"), "fieldContext": c.get("type")}
                                for c in q["selectColumns"]]
    limit = q.get("limit")
    if limit is None and list_panel:
        limit = q.get("pageSize")
    spec.update(limit=limit, having=q.get("having"), functions=q.get("functions"))
    return {"type": "builder_query", "spec": spec}


def convert_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """SigNoz's v1 -> v2 conversion (v0.135+ `pkg/types/dashboardtypes/perses_v1_to_v2*.go`, run on every stored
    v1 dashboard at the upgrade and on a v1 body posted to the v2 create route), for the v1 shapes
    signoz-litellm writes: builder queries in the v5 shape, DYNAMIC variables, open rows. Returns the v2 spec."""
    panels: dict[str, Any] = {}
    for w in data.get("widgets") or []:
        kind = _V1_PANEL_KINDS.get(w.get("panelTypes"))
        if kind is None:
            continue
        visual = {"timePreference": str(w.get("timePreferance") or "global_time").lower()}
        formatting = {"unit": w.get("yAxisUnit", ""), "decimalPrecision": str(w.get("decimalPrecision", 2))}
        axes = {"softMin": w.get("softMin"), "softMax": w.get("softMax"), "isLogScale": bool(w.get("isLogScale"))}
        legend = {"position": w.get("legendPosition") or "bottom", "customColors": w.get("customLegendColors")}
        builder = w["query"]["builder"]
        if kind == "signoz/TimeSeriesPanel":
            plugin = {"visualization": {**visual, "fillSpans": bool(w.get("fillSpans"))}, "formatting": formatting,
                      "chartAppearance": {"lineInterpolation": w.get("lineInterpolation"),
                                          "showPoints": bool(w.get("showPoints")), "lineStyle": w.get("lineStyle"),
                                          "fillMode": w.get("fillMode"), "spanGaps": {"fillOnlyBelow": False}},
                      "axes": axes, "legend": legend}
        elif kind == "signoz/BarChartPanel":
            plugin = {"visualization": {**visual, "fillSpans": bool(w.get("fillSpans")),
                                        "stackedBarChart": bool(w.get("stackedBarChart"))},
                      "formatting": formatting, "axes": axes, "legend": legend}
        elif kind == "signoz/NumberPanel":
            plugin = {"visualization": visual, "formatting": formatting}
        elif kind == "signoz/TablePanel":
            plugin = {"visualization": visual, "formatting": {"columnUnits": w.get("columnUnits"),
                                                              "decimalPrecision": formatting["decimalPrecision"]}}
        else:
            signal = (builder["queryData"] or [{}])[0].get("dataSource")
            fields = (w.get("selectedTracesFields") if signal == "traces" else w.get("selectedLogFields")) or []
            plugin = {"selectFields": [{k: f[k] for k in ("name", "fieldContext", "fieldDataType", "signal") if k in f}
                                       for f in fields]}
        envelopes = [_v1_envelope(q, kind in ("signoz/ListPanel", "signoz/TablePanel"))
                     for q in (builder.get("queryData") or []) + (builder.get("queryFormulas") or [])]
        if len(envelopes) == 1:
            query = {"name": envelopes[0]["spec"]["name"],
                     "plugin": {"kind": "signoz/BuilderQuery", "spec": envelopes[0]["spec"]}}
        else:
            query = {"plugin": {"kind": "signoz/CompositeQuery", "spec": {"queries": envelopes}}}
        panels[w["id"]] = {"kind": "Panel", "spec": {
            "display": {"name": w.get("title", ""), "description": w.get("description", "")},
            "plugin": {"kind": kind, "spec": plugin},
            "queries": [{"kind": _V1_REQUEST_TYPES.get(kind, "time_series"), "spec": query}], "links": []}}
    # Layouts: each row owns the panels below it until the next row; items compacted vertically.
    rows = {w["id"]: w.get("title", "") for w in data.get("widgets") or [] if w.get("panelTypes") == "row"}
    sections: list[tuple[str | None, list[dict[str, Any]]]] = [(None, [])]
    for item in sorted(data.get("layout") or [], key=lambda i: (i["y"], i["x"])):
        if item["i"] in rows:
            sections.append((rows[item["i"]], []))
        elif item["i"] in panels:
            sections[-1][1].append(item)
    layouts = []
    for title, items in sections:
        if not items and title is None:
            continue
        placed: list[dict[str, Any]] = []
        for item in items:
            cell = {"x": item["x"], "y": item["y"], "width": item["w"], "height": item["h"]}
            collides = lambda c: any(c["x"] < p["x"] + p["width"] and p["x"] < c["x"] + c["width"]  # noqa: E731
                                     and c["y"] < p["y"] + p["height"] and p["y"] < c["y"] + c["height"]
                                     for p in placed)
            while cell["y"] > 0 and not collides(dict(cell, y=cell["y"] - 1)):
                cell["y"] -= 1
            placed.append(dict(cell, content={"$ref": f"#/spec/panels/{item['i']}"}))
        spec: dict[str, Any] = {"items": placed}
        if title is not None:
            spec["display"] = {"title": title, "collapse": {"open": True}}
        layouts.append({"kind": "Grid", "spec": spec})
    variables = []
    for v in sorted((data.get("variables") or {}).values(), key=lambda v: (v.get("order", 0), v.get("id", ""))):
        assert v.get("type") == "DYNAMIC", v
        variables.append({"kind": "ListVariable", "spec": {
            "display": {"name": v["name"], "description": v.get("description", "")},
            "allowAllValue": bool(v.get("showALLOption")), "allowMultiple": bool(v.get("multiSelect")),
            "customAllValue": "", "capturingRegexp": "",
            "sort": {"ASC": "alphabetical-asc", "DESC": "alphabetical-desc"}.get(v.get("sort"), "none"),
            "plugin": {"kind": "signoz/DynamicVariable", "spec": {
                "name": v["dynamicVariablesAttribute"], "signal": str(v.get("dynamicVariablesSource", "")).lower()}},
            "name": v["name"]}})
    return {"display": {"name": data.get("title", ""), "description": data.get("description", "")},
            "variables": variables, "panels": panels, "layouts": layouts}

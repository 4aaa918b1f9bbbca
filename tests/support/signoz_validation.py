"""SigNoz's checks of a dashboard body, ported for the double (`signoz_double.py`; its docstring names the SigNoz
files and commit each check follows): `validate_spec` / `validate_body` raise `Invalid` (a 400) or return the
spec with the defaults SigNoz writes back."""

from __future__ import annotations

import json
import re
from typing import Any

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

"""The same dashboards in SigNoz's older JSON, for servers that only have `/api/v1/dashboards` (v0.95-v0.128).

Built from the v2 form (definitions.py stays the one source of truth), as the inverse of SigNoz's own v1->v2
converter (SigNoz/signoz v0.135+, `pkg/types/dashboardtypes/perses_v1_to_v2_{panels,queries,layouts,variables,
tags}.go`, which upgrades every stored v1 dashboard when a server moves to v2): a panel becomes a widget whose
`panelTypes`, options and v5 builder queries that converter maps back to our panel; a section becomes a `row`
widget followed by its panels in `layout`; a variable a DYNAMIC variable; a tag `key: value` the string
`key:value` (the converter splits on the first colon). The fields are those of the frontend's types at v0.125
(`frontend/src/types/api/dashboard/getAll.ts`, `types/api/queryBuilder/queryBuilderData.ts`).

`version: "v5"` matters: the v1 create handler rewrites a body without it through its v4->v5 query migration
(`impldashboard/handler.go`), and the frontend reads `filter.expression` / `aggregations` queries only from
v0.95 (before that behind ENABLE_QB_V5).

The server stores v1 data as it is sent, but the UI writes back layout and variable-selection state
(`moved`, `static`, `selectedValue`, `allSelected`, ...) that says nothing about the content, so a revision
of the v1 form leaves those out.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signoz_litellm_run.dashboards.definitions import Dashboard, Panel, Variable

VERSION = "v5"
_PANEL_TYPES = {"time_series": "graph", "bar": "bar", "number": "value", "table": "table", "list": "list"}
_NAMESPACE = uuid.UUID("7d1c5e0a-4f7b-4b0e-9a59-1f3b2c6d8e90")  # stable ids for variables and queries
# Written back by the UI when someone opens, drags or filters a dashboard; not content (see the docstring).
_GRID = ("i", "x", "y", "w", "h")
_SELECTION = frozenset({"selectedValue", "allSelected", "haveCustomValuesSelected", "modificationUUID", "change",
                        "key"})


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def tag_text(key: str, value: str) -> str:
    return f"{key}:{value}"


def tag_pairs(tags: Any) -> list[dict[str, str]]:
    """v1 tag strings as {key, value} pairs, split on the first colon as SigNoz's converter does."""
    pairs = []
    for item in tags if isinstance(tags, list) else ():
        if isinstance(item, str) and ":" in item:
            key, value = item.split(":", 1)
            pairs.append({"key": key.strip(), "value": value.strip()})
    return pairs


def _field_key(key: Mapping[str, Any]) -> dict[str, Any]:
    """A v5 TelemetryFieldKey as a v1 groupBy / selectColumns entry (WrapInV5Envelope reads key/dataType/type)."""
    name, data_type, context = key.get("name", ""), key.get("fieldDataType", ""), key.get("fieldContext", "")
    return {"id": f"{name}--{data_type}--{context}", "key": name, "dataType": data_type, "type": context,
            "isColumn": context in ("span", "log", "resource"), "isJSON": False}


def _query_data(spec: Mapping[str, Any], list_panel: bool) -> dict[str, Any]:
    """A v5 builder query as the v1 `queryData` entry that WrapInV5Envelope turns back into it."""
    name = spec["name"]
    limit = spec.get("limit") or None
    out: dict[str, Any] = {
        "queryName": name, "expression": name, "dataSource": spec["signal"], "disabled": bool(spec.get("disabled")),
        "aggregations": [dict(a) for a in spec.get("aggregations") or []],
        "filter": {"expression": (spec.get("filter") or {}).get("expression", "")},
        "groupBy": [_field_key(k) for k in spec.get("groupBy") or []],
        "orderBy": [{"columnName": o["key"]["name"], "order": o["direction"], "dataType": o["key"].get(
            "fieldDataType", ""), "type": o["key"].get("fieldContext", "")} for o in spec.get("order") or []],
        "having": {"expression": ""}, "functions": [], "legend": spec.get("legend", ""), "limit": limit,
        "stepInterval": None, "source": "",
    }
    if list_panel:
        out["pageSize"] = limit or 10
        if spec.get("selectFields"):
            out["selectColumns"] = [_field_key(k) for k in spec["selectFields"]]
    return out


def _formula(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"queryName": spec["name"], "expression": spec["expression"], "disabled": bool(spec.get("disabled")),
            "legend": spec.get("legend", ""), "limit": None, "having": {"expression": ""}, "orderBy": [],
            "stepInterval": None}


def _query(dashboard_id: str, panel: Panel) -> dict[str, Any]:
    plugin = panel.query
    if plugin["kind"] == "signoz/BuilderQuery":
        builders, formulas = [plugin["spec"]], []
    elif plugin["kind"] == "signoz/CompositeQuery":
        builders = [q["spec"] for q in plugin["spec"]["queries"] if q["type"] == "builder_query"]
        formulas = [q["spec"] for q in plugin["spec"]["queries"] if q["type"] == "builder_formula"]
    else:
        raise ValueError(plugin["kind"])
    blank = [{"name": "A", "query": "", "legend": "", "disabled": False}]
    return {
        "id": _id(dashboard_id, panel.key, "query"), "queryType": "builder", "unit": "",
        "builder": {"queryData": [_query_data(b, panel.kind == "list") for b in builders],
                    "queryFormulas": [_formula(f) for f in formulas], "queryTraceOperator": []},
        "promql": blank, "clickhouse_sql": [dict(b) for b in blank],
    }


def widget(dashboard_id: str, panel: Panel) -> dict[str, Any]:
    """One panel as a v1 widget (IBaseWidget + query), with the options our v2 panel spells out."""
    select: list[dict[str, Any]] | None = None
    signal = ""
    if panel.kind == "list":
        signal = panel.query["spec"]["signal"]
        select = [dict(k, signal=signal) for k in panel.query["spec"].get("selectFields") or []] or None
    return {
        "id": panel.key, "panelTypes": _PANEL_TYPES[panel.kind], "title": panel.title,
        "description": panel.description, "opacity": "1", "nullZeroValues": "zero", "timePreferance": "GLOBAL_TIME",
        "yAxisUnit": panel.unit, "decimalPrecision": 2, "stackedBarChart": panel.kind == "bar", "softMin": None,
        "softMax": None, "fillSpans": False, "isLogScale": False, "legendPosition": "bottom",
        "lineInterpolation": "spline", "showPoints": False, "lineStyle": "solid", "fillMode": "none",
        "spanGaps": True, "thresholds": [], "columnUnits": {}, "customLegendColors": {},
        "contextLinks": {"linksData": []},
        "selectedLogFields": select if signal == "logs" else None,
        "selectedTracesFields": select if signal == "traces" else None,
        "query": _query(dashboard_id, panel),
    }


def _variable(dashboard_id: str, order: int, variable: Variable) -> dict[str, Any]:
    var_id = _id(dashboard_id, "variable", variable.name)
    return {"id": var_id, "name": variable.name, "description": f"Values of {variable.attribute}",
            "type": "DYNAMIC", "dynamicVariablesAttribute": variable.attribute,
            "dynamicVariablesSource": variable.signal.capitalize(), "queryValue": "", "customValue": "",
            "textboxValue": "", "defaultValue": "", "sort": "ASC", "multiSelect": True, "showALLOption": True,
            "allSelected": True, "order": order}


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def data(dashboard: Dashboard, tags: Sequence[str]) -> dict[str, Any]:
    """The v1 dashboard data (what `POST /api/v1/dashboards` takes and `GET` answers in `data`)."""
    widgets: list[dict[str, Any]] = []
    layout: list[dict[str, Any]] = []
    panel_map: dict[str, dict[str, Any]] = {}
    y = 0
    for title, panels in dashboard.sections:
        row_id = f"row-{_slug(title)}"
        widgets.append({"id": row_id, "panelTypes": "row", "title": title, "description": ""})
        layout.append({"i": row_id, "x": 0, "y": y, "w": 12, "h": 1, "minH": 1, "maxH": 1, "minW": 12,
                       "moved": False, "static": False})
        y += 1
        items, x, row_y, row_height = [], 0, y, 0
        for panel in panels:
            if x + panel.width > 12:
                x, row_y, row_height = 0, row_y + row_height, 0
            items.append({"i": panel.key, "x": x, "y": row_y, "w": panel.width, "h": panel.height,
                          "moved": False, "static": False})
            widgets.append(widget(dashboard.id, panel))
            x += panel.width
            row_height = max(row_height, panel.height)
        y = row_y + row_height
        layout += items
        panel_map[row_id] = {"widgets": [dict(i) for i in items], "collapsed": False}
    return {
        "title": dashboard.title, "description": dashboard.description, "tags": list(tags), "version": VERSION,
        "uploadedGrafana": False,
        "variables": {v["id"]: v for v in (_variable(dashboard.id, i, var) for i, var in
                                           enumerate(dashboard.variables))},
        "layout": layout, "panelMap": panel_map, "widgets": widgets,
    }


def _numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _content(stored: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in stored.items() if k != "tags"}
    grid = lambda items: [{k: i.get(k) for k in _GRID} if isinstance(i, dict) else i for i in items or []]  # noqa: E731
    if isinstance(out.get("layout"), list):
        out["layout"] = grid(out["layout"])
    if isinstance(out.get("panelMap"), dict):
        out["panelMap"] = {k: dict(v, widgets=grid(v.get("widgets"))) if isinstance(v, dict) else v
                           for k, v in out["panelMap"].items()}
    if isinstance(out.get("variables"), dict):
        out["variables"] = {k: {f: x for f, x in v.items() if f not in _SELECTION} if isinstance(v, dict) else v
                            for k, v in out["variables"].items()}
    return _numbers(out)


def revision(stored: Mapping[str, Any]) -> str:
    """12 hex digits naming a v1 dashboard's content: its tags and the UI's view state left out."""
    text = json.dumps(_content(dict(stored)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def converted_unchanged(stored_spec: Mapping[str, Any], dashboard: Dashboard) -> bool:
    """Whether a v2 spec is our v1 form as SigNoz's upgrade to v0.135 converted it, unchanged since.

    The conversion keeps each panel, query and layout (tests/test_dashboards.py checks it with the double's port
    of SigNoz's converter) and differs only where v1 cannot say something (variable titles, the default time
    range) or the converter adds something (query names, open sections, empty links, list columns' signal)."""
    from signoz_litellm_run.dashboards.revision import _strip

    def norm(spec: Any) -> Any:
        spec = json.loads(json.dumps(spec))
        if not isinstance(spec, dict):
            return None
        spec.pop("duration", None)
        for variable in spec.get("variables") or []:
            variable.get("spec", {}).get("display", {}).pop("name", None)
        for panel in (spec.get("panels") or {}).values():
            panel.get("spec", {}).pop("links", None)
            for column in panel.get("spec", {}).get("plugin", {}).get("spec", {}).get("selectFields") or []:
                column.pop("signal", None)
            for query in panel.get("spec", {}).get("queries") or []:
                query.get("spec", {}).pop("name", None)
        for layout in spec.get("layouts") or []:
            (layout.get("spec", {}).get("display") or {}).pop("collapse", None)
        return _strip(spec)

    try:
        return bool(norm(stored_spec) == norm(dashboard.spec()))
    except (AttributeError, TypeError):
        return False

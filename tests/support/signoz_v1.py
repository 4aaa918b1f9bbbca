"""SigNoz's v1 -> v2 dashboard conversion, ported for the double (`signoz_double.py`) and for the tests that check
our v1 form converts to our v2 form."""

from __future__ import annotations

from typing import Any

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

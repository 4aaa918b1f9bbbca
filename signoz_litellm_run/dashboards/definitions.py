"""Our three dashboards, written for the telemetry `run` and `proxy` actually deliver.

Every name a query uses is one a real run delivered to the receiver (tests/test_dashboard_fields.py runs a
LiteLLM app and the LiteLLM proxy and checks each key, metric and span name here against what arrived), so a
panel never charts a name we do not send. LLM calls are the `litellm_request` spans: error rates count those,
not every span; tokens and cost are the span's own attributes (present with or without LiteLLM's metrics).

The JSON is SigNoz's v2 dashboard (`schemaVersion: "v6"`, a Perses spec with SigNoz plugins), as the server's
types in SigNoz/signoz `pkg/types/dashboardtypes` define it: unknown fields are rejected there, so every
object here carries only fields those types declare, and the enumerated options the server would fill in
with its default are written out (what it stores is then what we sent, which is how `install` tells an
edited dashboard from ours).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from signoz_litellm_run.dashboards.revision import revision

SCHEMA_VERSION = "v6"
MANAGED_BY_KEY, MANAGED_BY_VALUE = "managed-by", "signoz-litellm"
ID_KEY = "signoz-litellm-id"
REV_KEY = "signoz-litellm-rev"
LLM_SPAN = "litellm_request"
GRID_COLUMNS = 12  # SigNoz's grid (perses_replicas.go: gridColumnCount)


# ------------------------------------------------------------------------------------------- query parts


@dataclass(frozen=True)
class Where:
    """One condition of a filter expression (SigNoz's filter language)."""

    key: str
    op: str  # "=", "IN", "NOT IN", "EXISTS"
    value: Any = None

    def render(self) -> str:
        if self.op == "EXISTS":
            return f"{self.key} EXISTS"
        if isinstance(self.value, str) and self.value.startswith("$"):
            return f"{self.key} {self.op} {self.value}"
        if isinstance(self.value, (list, tuple)):
            return f"{self.key} {self.op} [{', '.join(_literal(v) for v in self.value)}]"
        return f"{self.key} {self.op} {_literal(self.value)}"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _expression(conditions: Sequence[Where]) -> str:
    return " AND ".join(c.render() for c in conditions)


def _key(name: str, context: str, data_type: str = "string") -> dict[str, Any]:
    """A TelemetryFieldKey as the server writes it back (signal, fieldContext, fieldDataType always present)."""
    return {"name": name, "signal": "", "fieldContext": context, "fieldDataType": data_type}


_RESOURCE = {"service.name", "deployment.environment", "cicd.pipeline.name", "cicd.pipeline.run.id",
             "cicd.pipeline.run.url.full", "cicd.pipeline.task.name", "vcs.ref.head.name", "vcs.repository.name"}
_NUMBERS = {"duration_nano", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.total_tokens",
            "gen_ai.cost.total_cost", "http.status_code", "http.response.status_code"}
_SPAN_INTRINSIC = {"name", "duration_nano", "has_error", "kind_string", "timestamp", "trace_id", "span_id"}


def _field(name: str, signal: str = "traces") -> dict[str, Any]:
    if "(" in name:  # an aggregation, in an order-by
        return _key(name, "", "")
    if name in _RESOURCE:
        context = "resource"
    elif name in _SPAN_INTRINSIC:
        context = "span" if signal == "traces" else "log"
    else:
        context = "attribute"
    return _key(name, context, "number" if name in _NUMBERS else "string")


def _traces(name: str, aggregations: Sequence[str], where: Sequence[Where], *, group_by: Sequence[str] = (),
            order: Sequence[tuple[str, str]] = (), limit: int = 0, aliases: Sequence[str] = (),
            disabled: bool = False, legend: str = "", select: Sequence[str] = (), signal: str = "traces",
            ) -> dict[str, Any]:
    """A builder query on spans (or logs): QueryBuilderQuery[TraceAggregation] in querybuildertypesv5."""
    spec: dict[str, Any] = {"name": name, "signal": signal}
    if aggregations:
        spec["aggregations"] = [{"expression": e, **({"alias": aliases[i]} if i < len(aliases) else {})}
                                for i, e in enumerate(aggregations)]
    spec["disabled"] = disabled
    spec["filter"] = {"expression": _expression(where)}
    if group_by:
        spec["groupBy"] = [_field(g) for g in group_by]
    if order:
        spec["order"] = [{"key": _field(k, signal), "direction": d} for k, d in order]
    if select:
        spec["selectFields"] = [_field(s, signal) for s in select]
    if limit:
        spec["limit"] = limit
    spec["legend"] = legend
    return spec


def _metric(name: str, metric: str, space: str, where: Sequence[Where], *, time: str = "", group_by: Sequence[str] = (),
            legend: str = "", reduce_to: str = "") -> dict[str, Any]:
    """A builder query on a metric: QueryBuilderQuery[MetricAggregation]."""
    aggregation: dict[str, Any] = {"metricName": metric, "temporality": "", "timeAggregation": time,
                                   "spaceAggregation": space}
    if reduce_to:
        aggregation["reduceTo"] = reduce_to
    spec: dict[str, Any] = {"name": name, "signal": "metrics", "aggregations": [aggregation], "disabled": False,
                            "filter": {"expression": _expression(where)}}
    if group_by:
        spec["groupBy"] = [_key(g, "resource" if g in _RESOURCE else "attribute") for g in group_by]
    spec["legend"] = legend
    return spec


def _builder(spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "signoz/BuilderQuery", "spec": spec}


def _formula(queries: Sequence[dict[str, Any]], expression: str, legend: str = "") -> dict[str, Any]:
    envelopes = [{"type": "builder_query", "spec": {**q, "disabled": True}} for q in queries]
    envelopes.append({"type": "builder_formula", "spec": {"name": "F1", "expression": expression,
                                                          "disabled": False, "legend": legend}})
    return {"kind": "signoz/CompositeQuery", "spec": {"queries": envelopes}}


# ------------------------------------------------------------------------------------------- panels


@dataclass(frozen=True)
class Panel:
    key: str  # the panel's id in spec.panels
    title: str
    description: str
    kind: str  # "time_series", "number", "table", "list", "bar"
    query: dict[str, Any]  # a query plugin {kind, spec}
    unit: str = ""
    width: int = 6
    height: int = 6

    def plugin(self) -> dict[str, Any]:
        formatting = {"unit": self.unit, "decimalPrecision": "2"}
        basic = {"timePreference": "global_time"}
        legend = {"position": "bottom"}  # "mode" exists from SigNoz v0.131 on; the default is written back
        if self.kind == "time_series":
            return {"kind": "signoz/TimeSeriesPanel", "spec": {
                "visualization": {**basic, "fillSpans": False}, "formatting": formatting,
                "chartAppearance": {"lineInterpolation": "spline", "showPoints": False, "lineStyle": "solid",
                                    "fillMode": "none", "spanGaps": {"fillOnlyBelow": False, "fillLessThan": ""}},
                "axes": {"isLogScale": False}, "legend": legend}}
        if self.kind == "bar":
            return {"kind": "signoz/BarChartPanel", "spec": {
                "visualization": {**basic, "fillSpans": False, "stackedBarChart": True}, "formatting": formatting,
                "axes": {"isLogScale": False}, "legend": legend}}
        if self.kind == "number":
            return {"kind": "signoz/NumberPanel", "spec": {"visualization": basic, "formatting": formatting}}
        if self.kind == "table":
            return {"kind": "signoz/TablePanel", "spec": {
                "visualization": basic, "formatting": {"decimalPrecision": "2"}}}
        if self.kind == "list":
            spec = self.query["spec"]
            return {"kind": "signoz/ListPanel", "spec": {"selectFields": spec.get("selectFields", [])}}
        raise ValueError(self.kind)

    @property
    def request_type(self) -> str:
        return {"number": "scalar", "table": "scalar", "list": "raw"}.get(self.kind, "time_series")

    def json(self) -> dict[str, Any]:
        return {"kind": "Panel", "spec": {
            "display": {"name": self.title, "description": self.description},
            "plugin": self.plugin(),
            "queries": [{"kind": self.request_type, "spec": {"plugin": self.query}}],
        }}


@dataclass(frozen=True)
class Variable:
    name: str
    title: str
    attribute: str
    signal: str = "traces"

    def json(self) -> dict[str, Any]:
        return {"kind": "ListVariable", "spec": {
            "display": {"name": self.title, "description": f"Values of {self.attribute}"},
            "allowAllValue": True, "allowMultiple": True, "customAllValue": "", "capturingRegexp": "",
            "sort": "alphabetical-asc",
            "plugin": {"kind": "signoz/DynamicVariable", "spec": {"name": self.attribute, "signal": self.signal}},
            "name": self.name}}


@dataclass(frozen=True)
class Dashboard:
    id: str  # ours, stable: the tag signoz-litellm-id and the file name of `export`
    title: str
    description: str
    variables: tuple[Variable, ...]
    sections: tuple[tuple[str, tuple[Panel, ...]], ...]
    tags: tuple[tuple[str, str], ...] = field(default=(("integration", "litellm"),))

    @property
    def panels(self) -> list[Panel]:
        return [p for _, panels in self.sections for p in panels]

    @property
    def name(self) -> str:
        """The server's internal name: a DNS label, immutable once created (perses_dashboard.go)."""
        return f"signoz-litellm-{self.id}"

    def spec(self) -> dict[str, Any]:
        layouts = []
        for title, panels in self.sections:
            items, x, y, row_height = [], 0, 0, 0
            for panel in panels:
                if x + panel.width > GRID_COLUMNS:
                    x, y, row_height = 0, y + row_height, 0
                items.append({"x": x, "y": y, "width": panel.width, "height": panel.height,
                              "content": {"$ref": f"#/spec/panels/{panel.key}"}})
                x += panel.width
                row_height = max(row_height, panel.height)
            layouts.append({"kind": "Grid", "spec": {"display": {"title": title}, "items": items}})
        # A copy of its own: the query parts are shared between panels, and a caller may edit what it gets.
        return copy.deepcopy({
            "display": {"name": self.title, "description": self.description},
            "variables": [v.json() for v in self.variables],
            "panels": {p.key: p.json() for p in self.panels},
            "layouts": layouts,
            "duration": "1h",
        })

    def revision(self) -> str:
        return revision(self.spec())

    def body(self) -> dict[str, Any]:
        """What `POST /api/v2/dashboards` takes (PostableDashboardV2), and what `export` writes."""
        return {"schemaVersion": SCHEMA_VERSION, "image": "", "name": self.name, "generateName": False,
                "tags": self.our_tags(), "spec": self.spec()}

    def our_tags(self) -> list[dict[str, str]]:
        return [{"key": MANAGED_BY_KEY, "value": MANAGED_BY_VALUE}, {"key": ID_KEY, "value": self.id},
                {"key": REV_KEY, "value": self.revision()}, *({"key": k, "value": v} for k, v in self.tags)]

    # The older form, for SigNoz v0.95-v0.128 (`/api/v1/dashboards`): built from the same panels (v1form.py).

    def v1_revision(self) -> str:
        from signoz_litellm_run.dashboards import v1form

        return v1form.revision(v1form.data(self, ()))

    def v1_data(self, extra_tags: Sequence[str] = ()) -> dict[str, Any]:
        """What `POST /api/v1/dashboards` takes: tags as `key:value` strings, ours first."""
        from signoz_litellm_run.dashboards import v1form

        ours = [v1form.tag_text(MANAGED_BY_KEY, MANAGED_BY_VALUE), v1form.tag_text(ID_KEY, self.id),
                v1form.tag_text(REV_KEY, self.v1_revision()), *(v1form.tag_text(k, v) for k, v in self.tags)]
        return v1form.data(self, [*ours, *extra_tags])


# ------------------------------------------------------------------------------------------- the dashboards

SERVICE = Variable("service", "Service", "service.name")
ENVIRONMENT = Variable("environment", "Environment", "deployment.environment")
MODEL = Variable("model", "Model", "gen_ai.request.model")
PIPELINE = Variable("pipeline", "CI pipeline", "cicd.pipeline.name")

_SCOPE = (Where("service.name", "IN", "$service"), Where("deployment.environment", "IN", "$environment"))
_CALLS = (Where("name", "=", LLM_SPAN), *_SCOPE, Where("gen_ai.request.model", "IN", "$model"))
_FAILED = (*_CALLS, Where("has_error", "=", True))
_METRIC_SCOPE = (*_SCOPE, Where("gen_ai.request.model", "IN", "$model"))


def _error_rate(key: str, calls: Sequence[Where], by: Sequence[str] = ()) -> Panel:
    failed = (*calls, Where("has_error", "=", True))
    return Panel(key, "Error rate of LLM calls (%)", "Failed litellm_request spans per 100 LLM calls (other spans "
                 "are not counted).", "time_series",
                 _formula([_traces("A", ["count()"], failed, group_by=by), _traces("B", ["count()"], calls, group_by=by)],
                          "A * 100 / B", "{{" + by[0] + "}}" if by else "error rate"), unit="percent")


def _overview() -> Dashboard:
    model = ("gen_ai.request.model",)
    top = (
        Panel("llm-calls-total", "LLM calls", "litellm_request spans in the time range.", "number",
              _builder(_traces("A", ["count()"], _CALLS)), width=3, height=4),
        Panel("llm-errors-total", "Failed LLM calls", "litellm_request spans with an error status.", "number",
              _builder(_traces("A", ["count()"], _FAILED)), width=3, height=4),
        Panel("tokens-total", "Tokens", "Input + output tokens of the LLM calls (gen_ai.usage.total_tokens).",
              "number", _builder(_traces("A", ["sum(gen_ai.usage.total_tokens)"], _CALLS)), width=3, height=4),
        Panel("cost-total", "Cost (USD)", "LiteLLM's cost of the calls (gen_ai.cost.total_cost).", "number",
              _builder(_traces("A", ["sum(gen_ai.cost.total_cost)"], _CALLS)), unit="USD", width=3, height=4),
    )
    traffic = (
        Panel("llm-calls", "LLM calls by model", "litellm_request spans per interval, by requested model.",
              "time_series", _builder(_traces("A", ["count()"], _CALLS, group_by=model,
                                              legend="{{gen_ai.request.model}}"))),
        _error_rate("llm-error-rate", _CALLS, model),
        Panel("latency", "Latency p50 / p95 by model", "Duration of the litellm_request spans.", "time_series",
              _builder(_traces("A", ["p50(duration_nano)", "p95(duration_nano)"], _CALLS, group_by=model,
                               aliases=("p50", "p95"))), unit="ns"),
        # SigNoz stores an OTLP histogram's buckets as <name>.bucket, which a percentile reads (its own
        # example: pkg/apiserver/signozapiserver/querier.go, "http.server.duration.bucket" with p99).
        Panel("ttft", "Time to first token p95 by model", "LiteLLM's gen_ai.server.time_to_first_token histogram "
              "(streaming calls).", "time_series",
              _builder(_metric("A", "gen_ai.server.time_to_first_token.bucket", "p95", _METRIC_SCOPE,
                               group_by=model, legend="{{gen_ai.request.model}}")), unit="s"),
    )
    usage = (
        Panel("tokens", "Input / output tokens by model", "Sums of gen_ai.usage.input_tokens and output_tokens.",
              "bar", _builder(_traces("A", ["sum(gen_ai.usage.input_tokens)", "sum(gen_ai.usage.output_tokens)"],
                                      _CALLS, group_by=model, aliases=("input", "output")))),
        Panel("cost-by-model", "Cost by model (USD)", "Sum of gen_ai.cost.total_cost by model.", "bar",
              _builder(_traces("A", ["sum(gen_ai.cost.total_cost)"], _CALLS, group_by=model,
                               legend="{{gen_ai.request.model}}")), unit="USD"),
        Panel("cost-by-service", "Cost by service (USD)", "Sum of gen_ai.cost.total_cost by service.name.",
              "table", _builder(_traces("A", ["sum(gen_ai.cost.total_cost)"], _CALLS, group_by=("service.name",),
                                        order=(("sum(gen_ai.cost.total_cost)", "desc"),), limit=50))),
        Panel("cost-by-user", "Cost by user (USD)", "Sum of gen_ai.cost.total_cost by llm.user (the `user` "
              "argument of the call).", "table",
              _builder(_traces("A", ["sum(gen_ai.cost.total_cost)", "count()"], (*_CALLS, Where("llm.user", "EXISTS")),
                               group_by=("llm.user",), aliases=("cost", "calls"),
                               order=(("sum(gen_ai.cost.total_cost)", "desc"),), limit=50))),
    )
    calls = (
        Panel("slowest-calls", "Slowest LLM calls", "The longest litellm_request spans; open one for its trace.",
              "list", _builder(_traces("A", [], _CALLS, order=(("duration_nano", "desc"),), limit=20, select=(
                  "service.name", "gen_ai.request.model", "duration_nano", "gen_ai.usage.total_tokens",
                  "gen_ai.cost.total_cost")))),
        Panel("latest-errors", "Latest failed LLM calls", "litellm_request spans with an error status, newest "
              "first; open one for its trace.", "list",
              _builder(_traces("A", [], _FAILED, order=(("timestamp", "desc"),), limit=20, select=(
                  "service.name", "gen_ai.request.model", "error.type", "error.message")))),
        Panel("logs", "Logs of these services", "Log records of the selected services, newest first; records "
              "written during a call carry its trace id.", "list",
              _builder(_traces("A", [], _SCOPE, order=(("timestamp", "desc"),), limit=50, signal="logs")),
              width=12, height=8),
    )
    return Dashboard(
        "litellm-overview", "LiteLLM overview",
        "LLM calls of LiteLLM SDK apps and batch jobs sent by signoz-litellm: traffic, errors, latency, tokens, cost.",
        (SERVICE, ENVIRONMENT, MODEL),
        (("Summary", top), ("Traffic and latency", traffic), ("Tokens and cost", usage), ("Calls and logs", calls)))


def _proxy() -> Dashboard:
    # SigNoz's own filter for server spans (frontend/src/api/v5/queryRange/constants.ts: SERVER_SPANS).
    server = (Where("kind_string", "=", "Server"), Where("http.route", "EXISTS"), *_SCOPE,
              Where("http.route", "NOT IN", ["/health/liveliness", "/health/liveness", "/health/readiness"]))
    deployment = ("litellm.model_group", "litellm.provider.model")
    http = (
        Panel("requests", "Proxy requests by route", "HTTP server spans of the proxy (health probes left out).",
              "time_series", _builder(_traces("A", ["count()"], server, group_by=("http.route",),
                                              legend="{{http.route}}"))),
        Panel("status-codes", "Responses by status code", "HTTP server spans by http.status_code.", "bar",
              _builder(_traces("A", ["count()"], server, group_by=("http.status_code",),
                               legend="{{http.status_code}}"))),
        Panel("proxy-latency", "Proxy latency p95 by route", "Duration of the HTTP server spans.", "time_series",
              _builder(_traces("A", ["p95(duration_nano)"], server, group_by=("http.route",),
                               legend="{{http.route}}")), unit="ns"),
        _error_rate("llm-error-rate", _CALLS, ("litellm.model_group",)),
    )
    models = (
        Panel("calls-by-deployment", "LLM calls by model deployment", "litellm_request spans by model group and "
              "the deployment that served them.", "time_series",
              _builder(_traces("A", ["count()"], _CALLS, group_by=deployment))),
        Panel("latency-by-deployment", "LLM latency p50 / p95 by deployment", "Duration of the litellm_request "
              "spans.", "time_series",
              _builder(_traces("A", ["p50(duration_nano)", "p95(duration_nano)"], _CALLS, group_by=deployment,
                               aliases=("p50", "p95"))), unit="ns"),
        Panel("tokens-by-deployment", "Tokens by deployment", "Input and output tokens.", "bar",
              _builder(_traces("A", ["sum(gen_ai.usage.input_tokens)", "sum(gen_ai.usage.output_tokens)"], _CALLS,
                               group_by=deployment, aliases=("input", "output")))),
        Panel("cost-by-deployment", "Cost by deployment (USD)", "Sum of gen_ai.cost.total_cost.", "table",
              _builder(_traces("A", ["sum(gen_ai.cost.total_cost)", "count()"], _CALLS, group_by=deployment,
                               aliases=("cost", "calls"), order=(("sum(gen_ai.cost.total_cost)", "desc"),),
                               limit=50))),
        Panel("latest-errors", "Latest failed LLM calls", "Newest first; open one for its trace.", "list",
              _builder(_traces("A", [], _FAILED, order=(("timestamp", "desc"),), limit=20, select=(
                  "litellm.model_group", "litellm.provider.model", "error.type", "error.message"))),
              width=12, height=8),
    )
    return Dashboard(
        "litellm-proxy", "LiteLLM proxy",
        "The LiteLLM proxy run by signoz-litellm: HTTP traffic, status codes and latency (probes left out), and "
        "its LLM calls per model deployment.",
        (SERVICE, ENVIRONMENT, MODEL), (("HTTP", http), ("Model deployments", models)))


def _batch() -> Dashboard:
    in_ci = (*_CALLS, Where("cicd.pipeline.name", "IN", "$pipeline"))
    run = ("cicd.pipeline.name", "cicd.pipeline.run.id")
    runs = (
        Panel("runs", "Job runs", "Per CI run: LLM calls, failed calls, tokens, cost, and time spent in LLM calls.",
              "table", _builder(_traces(
                  "A", ["count()", "countIf(has_error = true)", "sum(gen_ai.usage.input_tokens)",
                        "sum(gen_ai.usage.output_tokens)", "sum(gen_ai.cost.total_cost)", "sum(duration_nano)"],
                  in_ci, group_by=(*run, "cicd.pipeline.run.url.full"),
                  aliases=("calls", "failed", "input_tokens", "output_tokens", "cost_usd", "llm_time_ns"),
                  order=(("count()", "desc"),), limit=100)), width=12, height=8),
    )
    trends = (
        Panel("cost-per-run", "Cost per run (USD)", "Sum of gen_ai.cost.total_cost by pipeline and run.", "bar",
              _builder(_traces("A", ["sum(gen_ai.cost.total_cost)"], in_ci, group_by=run)), unit="USD"),
        Panel("calls-per-run", "LLM calls per run", "litellm_request spans by pipeline and run.", "bar",
              _builder(_traces("A", ["count()"], in_ci, group_by=run))),
        _error_rate("failure-rate", in_ci, ("cicd.pipeline.name",)),
        Panel("tokens-per-task", "Tokens by job", "Input and output tokens by pipeline job (cicd.pipeline.task.name).",
              "bar", _builder(_traces("A", ["sum(gen_ai.usage.input_tokens)", "sum(gen_ai.usage.output_tokens)"],
                                      in_ci, group_by=("cicd.pipeline.task.name",), aliases=("input", "output")))),
        Panel("failures", "Latest failed calls in jobs", "Newest first, with the run's URL.", "list",
              _builder(_traces("A", [], (*in_ci, Where("has_error", "=", True)), order=(("timestamp", "desc"),),
                               limit=20, select=("cicd.pipeline.name", "cicd.pipeline.run.url.full",
                                                 "gen_ai.request.model", "error.type", "error.message"))),
              width=12, height=8),
    )
    return Dashboard(
        "batch-jobs", "LiteLLM batch jobs",
        "Batch jobs run by signoz-litellm in CI: per run, LLM calls, failures, tokens, cost and time in LLM calls "
        "(the run comes from the CI metadata signoz-litellm attaches).",
        (SERVICE, ENVIRONMENT, MODEL, PIPELINE), (("Runs", runs), ("Trends", trends)))


DASHBOARDS: tuple[Dashboard, ...] = (_overview(), _proxy(), _batch())
BY_ID = {d.id: d for d in DASHBOARDS}


def select(names: Sequence[str]) -> list[Dashboard]:
    """The dashboards named (by id, or by title, case-insensitively); all of them for none."""
    from signoz_litellm_run.errors import UsageError

    if not names:
        return list(DASHBOARDS)
    chosen: list[Dashboard] = []
    for name in names:
        wanted = name.strip().lower()
        found = next((d for d in DASHBOARDS if wanted in (d.id, d.title.lower(), d.name)), None)
        if found is None:
            raise UsageError(f"There is no dashboard {name!r}.",
                             f"Ours are: {', '.join(d.id for d in DASHBOARDS)} (signoz-litellm dashboards list).")
        if found not in chosen:
            chosen.append(found)
    return chosen


def builder_queries(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every builder query spec of a dashboard spec (a composite's parts included)."""
    for panel in spec["panels"].values():
        for query in panel["spec"]["queries"]:
            plugin = query["spec"]["plugin"]
            if plugin["kind"] == "signoz/BuilderQuery":
                yield plugin["spec"]
            elif plugin["kind"] == "signoz/CompositeQuery":
                for envelope in plugin["spec"]["queries"]:
                    if envelope["type"] == "builder_query":
                        yield envelope["spec"]

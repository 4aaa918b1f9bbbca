"""Every name our dashboards query was delivered by a real run: a dashboard never charts a name we do not send.

A LiteLLM app (calls with a user, a streaming call, a failed call, logs; in CI, with an environment) runs under
`signoz-litellm run`, and the LiteLLM proxy under `signoz-litellm run -- litellm`, each against the real OTLP
receiver. Then each builder query of each dashboard is read as SigNoz would read it: its signal, the span
names, span kinds and error status its filter selects, and every key in its filter, aggregations, group-by,
order and columns; each must be an attribute or resource attribute of what arrived for that selection, or one
of SigNoz's own span/log columns (pkg/telemetryschema/tracestelemetryschema/const.go in SigNoz/signoz).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from signoz_litellm_run.dashboards import definitions
from signoz_litellm_run.received import SpanRecord
from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import app, clean_env, launcher

# One worker runs the module under pytest-xdist: its two module fixtures (a job, a proxy) then run once each.
pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("dashboard-fields")]

# SigNoz's span columns a query may name (tracestelemetryschema/const.go), and its log columns.
SPAN_COLUMNS = {"name", "duration_nano", "has_error", "kind_string", "timestamp", "trace_id", "span_id",
                "status_code_string"}
LOG_COLUMNS = {"timestamp", "body", "severity_text", "severity_number", "trace_id", "span_id"}
_KIND = {"Server": 2, "Client": 3, "Internal": 1}  # kind_string -> OTLP SpanKind
_STATUS_ERROR = 2
_KEYWORDS = {"AND", "OR", "NOT", "IN", "EXISTS", "LIKE", "ILIKE", "CONTAINS", "BETWEEN", "REGEXP", "HAS",
             "HASANY", "HASALL", "TRUE", "FALSE"}
_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\$[A-Za-z0-9_.]+|!=|<=|>=|[=<>()\[\],]|"""
                    r"""[A-Za-z$_@{#][A-Za-z0-9$_@#{}:/.\-]*|-?\d+(?:\.\d+)?""")


@dataclass
class Delivered:
    spans: list[SpanRecord]
    metrics: dict[str, set[str]] = field(default_factory=dict)  # name -> data point + resource attribute keys
    log_keys: set[str] = field(default_factory=set)


def _delivered(receiver: Receiver, spans: list[SpanRecord] | None = None) -> Delivered:
    metrics: dict[str, set[str]] = {}
    for metric in receiver.metrics():
        # SigNoz keeps an OTLP histogram as <name>.bucket (with `le`), .count, .sum, .min, .max series.
        names = [metric.name]
        if metric.kind == "histogram":
            names += [f"{metric.name}.{part}" for part in ("bucket", "count", "sum", "min", "max")]
        for name in names:
            keys = metrics.setdefault(name, set(metric.resource))
            for point in metric.data_points:
                keys |= set(point["attributes"])
    logs: set[str] = set()
    for record in receiver.log_records():
        logs |= set(record.attributes) | set(record.resource)
    return Delivered(spans if spans is not None else receiver.spans(), metrics, logs)


# ---------------------------------------------------------------------------------------------- reading a query


def _tokens(expression: str) -> list[str]:
    return _TOKEN.findall(expression)


def _keys(expression: str) -> set[str]:
    """The field names in a filter or aggregation expression (not functions, keywords, values, $variables)."""
    tokens = _tokens(expression)
    keys = set()
    for i, token in enumerate(tokens):
        if token[0] in "'\"$" or token[0].isdigit() or token[0] == "-" or token.upper() in _KEYWORDS:
            continue
        if not re.match(r"[A-Za-z$_@{#]", token):
            continue
        if i + 1 < len(tokens) and tokens[i + 1] == "(":
            continue  # a function: count(, p95(, countIf(
        keys.add(token)
    return keys


def _equalities(expression: str) -> dict[str, str]:
    """key -> value of each `key = value` in a filter."""
    tokens = _tokens(expression)
    return {tokens[i]: tokens[i + 2].strip("'\"") for i in range(len(tokens) - 2) if tokens[i + 1] == "="}


def _query_fields(query: dict[str, Any]) -> set[str]:
    keys = _keys(query.get("filter", {}).get("expression", ""))
    for aggregation in query.get("aggregations") or []:
        keys |= _keys(aggregation.get("expression", ""))
    for part in ("groupBy", "selectFields"):
        keys |= {k["name"] for k in query.get(part) or []}
    for order in query.get("order") or []:
        keys |= _keys(order["key"]["name"])
    return keys


def problems(dashboard_spec: dict[str, Any], delivered: Delivered) -> list[str]:
    """Every name the dashboard uses that the run did not deliver, as sentences (empty: all delivered)."""
    found: list[str] = []
    all_span_keys = {k for s in delivered.spans for k in (*s.attributes, *s.resource)}
    for variable in dashboard_spec["variables"]:
        plugin = variable["spec"]["plugin"]
        if plugin["kind"] == "signoz/DynamicVariable" and plugin["spec"]["name"] not in all_span_keys:
            found.append(f"variable {variable['spec']['name']}: {plugin['spec']['name']} never arrived on a span")
    return found + query_problems(definitions.builder_queries(dashboard_spec), delivered)


def query_problems(queries: Iterable[dict[str, Any]], delivered: Delivered) -> list[str]:
    found: list[str] = []
    for query in queries:
        where = f"query {query['name']} ({query['signal']}) filter {query.get('filter', {}).get('expression')!r}"
        keys = _query_fields(query)
        if query["signal"] == "metrics":
            for aggregation in query["aggregations"]:
                metric = aggregation["metricName"]
                if metric not in delivered.metrics:
                    found.append(f"{where}: metric {metric} never arrived")
                    continue
                found += [f"{where}: {k} is not an attribute of {metric}" for k in keys - delivered.metrics[metric]]
            continue
        if query["signal"] == "logs":
            found += [f"{where}: {k} never arrived on a log record" for k in keys - delivered.log_keys - LOG_COLUMNS]
            continue
        spans = delivered.spans
        equal = _equalities(query.get("filter", {}).get("expression", ""))
        if "name" in equal:
            spans = [s for s in spans if s.name == equal["name"]]
            if not spans:
                found.append(f"{where}: no span named {equal['name']!r} arrived")
        if "kind_string" in equal:
            spans = [s for s in spans if s.kind == _KIND.get(equal["kind_string"])]
            if not spans:
                found.append(f"{where}: no span of kind {equal['kind_string']} arrived")
        if equal.get("has_error") == "true" or "has_error" in _keys(" ".join(
                a.get("expression", "") for a in query.get("aggregations") or [])):
            if not any(s.status_code == _STATUS_ERROR for s in spans):
                found.append(f"{where}: no failed span arrived among those it selects")
        present = {k for s in spans for k in (*s.attributes, *s.resource)}
        found += [f"{where}: {k} never arrived on the spans it selects" for k in keys - present - SPAN_COLUMNS]
    return found


def _keys_of(dashboards: Iterable[definitions.Dashboard]) -> set[str]:
    return {k for d in dashboards for q in definitions.builder_queries(d.spec()) for k in _query_fields(q)}


# ---------------------------------------------------------------------------------------------- the runs

CI = {"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "4242", "GITHUB_WORKFLOW": "nightly-eval",
      "GITHUB_REPOSITORY": "acme/evals", "GITHUB_JOB": "eval", "GITHUB_SERVER_URL": "https://github.com"}


@pytest.fixture(scope="module")
def sdk_run() -> Delivered:
    with Receiver() as receiver, FakeProvider() as provider:
        result = launcher(["run", "--endpoint", receiver.endpoint("grpc"), "--environment", "ci", "--",
                           sys.executable, app("dashboard_app.py")],
                          env=clean_env({"FAKE_BASE_URL": provider.base_url, **CI}))
        assert result.returncode == 0, result.stderr
        assert receiver.wait_for(lambda r: sum(s.name == definitions.LLM_SPAN for s in r.spans()) >= 4, timeout=30)
        assert receiver.wait_for(lambda r: "gen_ai.server.time_to_first_token" in r.metric_names(), timeout=30)
        assert any(m.kind == "histogram" for m in receiver.metrics() if m.name == "gen_ai.server.time_to_first_token")
        assert receiver.wait_for(lambda r: any("dashboard app finished" in str(x.body) for x in r.log_records()))
        return _delivered(receiver)


@pytest.fixture(scope="module")
def proxy_run(tmp_path_factory: pytest.TempPathFactory) -> Delivered:
    from tests.test_proxy import _run_proxy

    command = ["run", "--environment", "ci", "--", "litellm", "--config", "{config}", "--host", "127.0.0.1",
               "--port", "{port}"]
    # One request the provider fails (its content says FAIL), for the error panels.
    run = _run_proxy(Path(tmp_path_factory.mktemp("dashboard_proxy")), "", command, fail_one=True)
    assert run.chat_statuses[:3] == [200, 200, 200], run.stderr[-3000:]
    return Delivered(run.spans)


@pytest.mark.parametrize("dashboard_id", ["litellm-overview", "batch-jobs"])
def test_sdk_dashboards_query_only_what_a_run_delivers(sdk_run: Delivered, dashboard_id: str) -> None:
    assert problems(definitions.BY_ID[dashboard_id].spec(), sdk_run) == []


def test_proxy_dashboard_queries_only_what_the_proxy_delivers(proxy_run: Delivered) -> None:
    assert problems(definitions.BY_ID["litellm-proxy"].spec(), proxy_run) == []


def test_alert_rules_query_only_what_a_run_delivers(sdk_run: Delivered) -> None:
    from signoz_litellm_run.dashboards import alerts

    rules = alerts.rules(alerts.Thresholds(environment="ci"))
    queries = [q["spec"] for r in rules for q in r.body["condition"]["compositeQuery"]["queries"]
               if q["type"] == "builder_query"]
    assert len(queries) == 4
    assert query_problems(queries, sdk_run) == []


def test_the_check_reads_the_queries_and_catches_a_name_we_do_not_send(sdk_run: Delivered) -> None:
    """The check above cannot pass by reading nothing: it sees the keys of every kind of place a query holds
    them, and a dashboard with a name LiteLLM stopped sending (SigNoz's published templates chart
    gen_ai.usage.prompt_tokens... we send that alias; not this one) fails it."""
    seen = _keys_of(definitions.DASHBOARDS)
    assert {"gen_ai.request.model", "deployment.environment", "gen_ai.cost.total_cost", "duration_nano", "has_error",
            "cicd.pipeline.run.id", "llm.user", "error.message", "http.route", "litellm.model_group"} <= seen
    spec = definitions.BY_ID["litellm-overview"].spec()
    query = next(q for q in definitions.builder_queries(spec) if q["signal"] == "traces" and q.get("groupBy"))
    query["groupBy"][0]["name"] = "llm.request.model"
    query["aggregations"][0]["expression"] = "sum(gen_ai.usage.cached_tokens)"
    spec["variables"][0]["spec"]["plugin"]["spec"]["name"] = "service.namespace"
    metric = next(q for q in definitions.builder_queries(spec) if q["signal"] == "metrics")
    metric["aggregations"][0]["metricName"] = "gen_ai.client.token.cost"
    found = problems(spec, sdk_run)
    assert any("llm.request.model never arrived" in p for p in found), found
    assert any("gen_ai.usage.cached_tokens never arrived" in p for p in found), found
    assert any("service.namespace never arrived" in p for p in found), found
    assert any("metric gen_ai.client.token.cost never arrived" in p for p in found), found
    # What a query selects matters: the proxy's HTTP server spans are not in an SDK app's run.
    found = problems(definitions.BY_ID["litellm-proxy"].spec(), sdk_run)
    assert any("no span of kind Server arrived" in p for p in found), found

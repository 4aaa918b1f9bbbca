"""The `--local` report: what a job's LiteLLM calls did, from the telemetry the embedded receiver got.

`build_report()` is pure: decoded spans (and log / metric counts) in, a `LocalReport` out, with per-model
calls, errors, tokens, cost and latency percentiles, the slowest calls and the failed ones. `render()`
prints it with Rich; `LocalReport.to_dict()` is the same data as JSON. `read_jsonl()` reads back a
`--local-output` file, so a report can be rebuilt from it later.

A call is one `litellm_request` span, the span LiteLLM's `otel` callback writes for every completion,
embedding or other call (streaming and async ones included). Its attributes give the model
(`gen_ai.request.model`, else `gen_ai.response.model`), the tokens (`gen_ai.usage.input_tokens`,
`output_tokens`, `total_tokens`) and the cost in USD (`gen_ai.cost.total_cost`); a call failed when
its span status is ERROR. Calls are also summed per user (`user.id`) and per session (`session.id`) when their
spans carry them (hook/attribution.py); the report says whether prompts and completions were captured and how
many values were scrubbed (`signoz_litellm.scrubbed`, hook/export_filter.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from signoz_litellm_run.received import SpanRecord

CALL_SPAN = "litellm_request"
STATUS_ERROR = 2  # OTLP Status.code STATUS_CODE_ERROR
UNKNOWN_MODEL = "(unknown model)"
SLOWEST = 5  # how many of the slowest calls the report lists
MAX_ERROR_CHARS = 300
MAX_GROUPS = 10  # users or sessions listed; the rest are summed in one line
SCRUBBED = "signoz_litellm.scrubbed"
# A call span holding any of these carried its prompt or completion (LiteLLM's newer and older names).
CONTENT_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt.0.content",
                      "gen_ai.completion.0.content")


@dataclass(frozen=True)
class Call:
    """One LiteLLM call, from its `litellm_request` span."""

    model: str
    duration_ms: float
    ok: bool
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    streaming: bool = False
    operation: str | None = None
    error: str | None = None
    trace_id: str = ""
    span_id: str = ""
    user: str | None = None
    session: str | None = None


@dataclass(frozen=True)
class GroupStats:
    """Totals for the calls of one user or one session."""

    name: str
    calls: int
    errors: int
    total_tokens: int
    cost: float | None


@dataclass(frozen=True)
class ModelStats:
    """Totals for one model. Token and cost sums cover the calls that reported them."""

    model: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float | None  # None when no call of this model reported a cost
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True)
class LocalReport:
    models: list[ModelStats]
    slowest: list[Call]
    failures: list[Call]
    spans: int
    span_names: dict[str, int] = field(default_factory=dict)
    log_records: int = 0
    metrics: int = 0  # distinct metric names
    metric_points: int = 0
    users: list[GroupStats] = field(default_factory=list)
    sessions: list[GroupStats] = field(default_factory=list)
    content_captured: bool | None = None  # None: no call, so nothing to tell
    scrubbed: int = 0  # values replaced by the scrubber, in spans and log records

    @property
    def calls(self) -> int:
        return sum(m.calls for m in self.models)

    @property
    def errors(self) -> int:
        return sum(m.errors for m in self.models)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"calls": self.calls, "errors": self.errors}


# --------------------------------------------------------------------------------------------- pure part


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the smallest value with at least `pct` % of the values at or below it)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _error_text(span: SpanRecord) -> str:
    text = span.status_message
    if not text:
        for name, attributes in span.events:
            if name == "exception":
                text = str(attributes.get("exception.message") or attributes.get("exception.type") or "")
                break
    if not text:
        text = str(span.attributes.get("error.message") or span.attributes.get("error.type") or "error")
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def call_from_span(span: SpanRecord) -> Call:
    a = span.attributes
    ok = span.status_code != STATUS_ERROR
    return Call(
        model=str(a.get("gen_ai.request.model") or a.get("gen_ai.response.model") or UNKNOWN_MODEL),
        duration_ms=max(0, span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
        ok=ok,
        input_tokens=_int(a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens"))),
        output_tokens=_int(a.get("gen_ai.usage.output_tokens", a.get("gen_ai.usage.completion_tokens"))),
        total_tokens=_int(a.get("gen_ai.usage.total_tokens", a.get("llm.usage.total_tokens"))),
        cost=_float(a.get("gen_ai.cost.total_cost")),
        streaming=str(a.get("llm.is_streaming", "")).lower() == "true",
        operation=str(a["gen_ai.operation.name"]) if a.get("gen_ai.operation.name") else None,
        error=None if ok else _error_text(span),
        trace_id=span.trace_id,
        span_id=span.span_id,
        user=str(a["user.id"]) if a.get("user.id") else None,
        session=str(a["session.id"]) if a.get("session.id") else None,
    )


def group_stats(calls: Sequence[Call], key: str) -> list[GroupStats]:
    """Per user or per session (`key`): the calls that have one, most calls first."""
    groups: dict[str, list[Call]] = {}
    for call in calls:
        name = getattr(call, key)
        if name is not None:
            groups.setdefault(name, []).append(call)
    stats = []
    for name, members in groups.items():
        costs = [c.cost for c in members if c.cost is not None]
        stats.append(GroupStats(
            name=name, calls=len(members), errors=sum(not c.ok for c in members),
            total_tokens=sum(c.total_tokens or (c.input_tokens or 0) + (c.output_tokens or 0) for c in members),
            cost=sum(costs) if costs else None))
    return sorted(stats, key=lambda g: (-g.calls, g.name))


def scrubbed_values(attributes: dict[str, Any]) -> int:
    found = attributes.get(SCRUBBED)
    return len(found) if isinstance(found, (list, tuple)) else 1 if found else 0


def model_stats(model: str, calls: Sequence[Call]) -> ModelStats:
    durations = [c.duration_ms for c in calls]
    costs = [c.cost for c in calls if c.cost is not None]

    def tokens(name: str) -> int:
        return sum(getattr(c, name) or 0 for c in calls)

    total = tokens("total_tokens") or tokens("input_tokens") + tokens("output_tokens")
    return ModelStats(
        model=model, calls=len(calls), errors=sum(not c.ok for c in calls),
        input_tokens=tokens("input_tokens"), output_tokens=tokens("output_tokens"), total_tokens=total,
        cost=sum(costs) if costs else None,
        p50_ms=percentile(durations, 50), p95_ms=percentile(durations, 95),
    )


def build_report(spans: Iterable[SpanRecord], *, log_records: int = 0, metrics: int = 0,
                 metric_points: int = 0, slowest: int = SLOWEST, capture_content: str | None = None,
                 scrubbed_in_logs: int = 0) -> LocalReport:
    """Per-model statistics, the slowest calls and the failed calls, from the spans received. `capture_content`:
    the job's setting; without it, content counts as captured when a call's span carries some."""
    spans = list(spans)
    calls = [call_from_span(s) for s in spans if s.name == CALL_SPAN]
    by_model: dict[str, list[Call]] = {}
    for call in calls:
        by_model.setdefault(call.model, []).append(call)
    models = sorted((model_stats(m, cs) for m, cs in by_model.items()), key=lambda s: (-s.calls, s.model))
    names: dict[str, int] = {}
    for span in spans:
        names[span.name] = names.get(span.name, 0) + 1
    return LocalReport(
        models=models,
        slowest=sorted((c for c in calls if c.ok), key=lambda c: -c.duration_ms)[:slowest],
        failures=[c for c in calls if not c.ok],
        spans=len(spans),
        span_names=dict(sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))),
        log_records=log_records,
        metrics=metrics,
        metric_points=metric_points,
        users=group_stats(calls, "user"),
        sessions=group_stats(calls, "session"),
        content_captured=None if not calls else capture_content == "full" if capture_content else any(
            name in s.attributes for s in spans if s.name == CALL_SPAN for name in CONTENT_ATTRIBUTES),
        scrubbed=sum(scrubbed_values(s.attributes) for s in spans) + scrubbed_in_logs,
    )


# --------------------------------------------------------------------------------------------- rendering


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _cost(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:.6f}" if value < 1 else f"${value:.2f}"


def _tokens(call: Call) -> str:
    if call.input_tokens is None and call.output_tokens is None:
        return "-"
    return f"{call.input_tokens or 0} in / {call.output_tokens or 0} out"


def _kind(call: Call) -> str:
    return " ".join(x for x in (call.operation or "", "stream" if call.streaming else "") if x) or "-"


def render(report: LocalReport, file: IO[str], *, output_file: str | None = None) -> None:
    """Print the report with Rich on `file` (stderr in the launcher, so stdout stays the program's)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file, highlight=False)

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True, padding=(0, 1))
        for column in columns:
            wide = column in ("error", "model", "name")
            t.add_column(column, justify="left" if wide or column in ("tokens", "kind", "trace") else "right",
                         no_wrap=column != "error", overflow="fold" if column == "error" else "ellipsis")
        return t

    console.print()
    console.rule("[bold]signoz-litellm --local: what the command sent", style="dim")
    if report.models:
        t = table(f"LiteLLM calls: {report.calls}, failed: {report.errors}",
                  "model", "calls", "errors", "tokens in", "out", "total", "cost", "p50", "p95")
        for m in report.models:
            t.add_row(m.model, str(m.calls), str(m.errors), str(m.input_tokens), str(m.output_tokens),
                      str(m.total_tokens), _cost(m.cost), _ms(m.p50_ms), _ms(m.p95_ms))
        console.print(t)
    else:
        console.print("No LiteLLM calls were seen (no litellm_request span arrived).")
        console.print("Is the command a Python program that imports litellm, run with the Python where "
                      "signoz-litellm is installed?", style="dim")
    for title, groups in (("Per user (user.id)", report.users), ("Per session (session.id)", report.sessions)):
        if groups:
            t = table(title, "name", "calls", "errors", "tokens", "cost")
            for g in groups[:MAX_GROUPS]:
                t.add_row(g.name, str(g.calls), str(g.errors), str(g.total_tokens), _cost(g.cost))
            if len(groups) > MAX_GROUPS:
                rest = groups[MAX_GROUPS:]
                t.add_row(f"({len(rest)} more)", str(sum(g.calls for g in rest)), str(sum(g.errors for g in rest)),
                          str(sum(g.total_tokens for g in rest)), _cost(sum(g.cost or 0 for g in rest)))
            console.print(t)
    if report.slowest:
        t = table("Slowest calls", "model", "latency", "tokens", "kind", "trace")
        for c in report.slowest:
            t.add_row(c.model, _ms(c.duration_ms), _tokens(c), _kind(c), c.trace_id[:8])
        console.print(t)
    if report.failures:
        t = table("Failed calls", "model", "latency", "trace", "error")
        for c in report.failures:
            t.add_row(c.model, _ms(c.duration_ms), c.trace_id[:8], c.error or "")
        console.print(t)
    names = ", ".join(f"{n} {name}" for name, n in report.span_names.items())
    console.print(f"Received: {report.spans} spans" + (f" ({names})" if names else "")
                  + f", {report.log_records} log records, {report.metrics} metrics"
                  f" ({report.metric_points} data points).")
    if report.content_captured is not None:
        console.print("Content: " + ("prompts and completions captured (--capture-content none leaves them out)"
                                     if report.content_captured else "prompts and completions not captured")
                      + f"; {report.scrubbed} value{'s' if report.scrubbed != 1 else ''} scrubbed"
                      + (" (signoz_litellm.scrubbed names them)." if report.scrubbed else "."))
    if output_file:
        console.print(f"All of it, one OTLP request per line: {output_file}")


# --------------------------------------------------------------------------------------------- JSON lines


def _any_value(value: dict[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as a plain value (int64 values are strings in OTLP/JSON)."""
    if not value:
        return None
    kind, raw = next(iter(value.items()))
    if kind == "intValue":
        return int(raw)
    if kind == "doubleValue":
        return float(raw)
    if kind == "arrayValue":
        return [_any_value(v) for v in raw.get("values", [])]
    if kind == "kvlistValue":
        return _attributes(raw.get("values", []))
    return raw


def _attributes(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {kv["key"]: _any_value(kv.get("value", {})) for kv in items}


_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _span(raw: dict[str, Any], resource: dict[str, Any], scope: str) -> SpanRecord:
    status = raw.get("status", {})
    code = status.get("code", 0)
    return SpanRecord(
        name=raw.get("name", ""), trace_id=raw.get("traceId", ""), span_id=raw.get("spanId", ""),
        parent_span_id=raw.get("parentSpanId", ""), kind=0,
        status_code=_STATUS_CODES.get(code, code) if isinstance(code, str) else int(code),
        status_message=status.get("message", ""),
        start_time_unix_nano=int(raw.get("startTimeUnixNano", 0)),
        end_time_unix_nano=int(raw.get("endTimeUnixNano", 0)),
        attributes=_attributes(raw.get("attributes", [])), resource=resource, scope=scope,
        events=[(e.get("name", ""), _attributes(e.get("attributes", []))) for e in raw.get("events", [])],
    )


def _metric_points(metric: dict[str, Any]) -> int:
    for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
        if kind in metric:
            return len(metric[kind].get("dataPoints", []))
    return 0


def read_jsonl(lines: Iterable[str]) -> LocalReport:
    """Rebuild the report from the lines of a `--local-output` file."""
    spans: list[SpanRecord] = []
    logs = points = scrubbed = 0
    metric_names: set[str] = set()
    for line in lines:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("outcome", "accepted") != "accepted":
            continue
        body = request.get("body", {})
        for rs in body.get("resourceSpans", []):
            resource = _attributes(rs.get("resource", {}).get("attributes", []))
            for ss in rs.get("scopeSpans", []):
                scope = ss.get("scope", {}).get("name", "")
                spans.extend(_span(s, resource, scope) for s in ss.get("spans", []))
        for rl in body.get("resourceLogs", []):
            for sl in rl.get("scopeLogs", []):
                records = sl.get("logRecords", [])
                logs += len(records)
                scrubbed += sum(scrubbed_values(_attributes(lr.get("attributes", []))) for lr in records)
        for rm in body.get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                for metric in sm.get("metrics", []):
                    metric_names.add(metric.get("name", ""))
                    points += _metric_points(metric)
    return build_report(spans, log_records=logs, metrics=len(metric_names), metric_points=points,
                        scrubbed_in_logs=scrubbed)

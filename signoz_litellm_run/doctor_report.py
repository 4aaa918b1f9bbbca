"""doctor's findings and their rendering: a frozen `Check` each (pass / warn / fail / skip, one line of detail,
a hint naming the fix), the `Report` over them, `exit_code`, and the table / JSON views (apart from the checks,
so each can be tested without running any)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
CONFIGURATION, ENVIRONMENT, NETWORK, INGESTION, SEND_TEST = (
    "configuration", "environment", "network", "ingestion", "send-test")


@dataclass(frozen=True)
class Check:
    """One finding. `hint` names the fix and is empty for a passing check."""

    name: str
    category: str
    status: str
    detail: str
    hint: str = ""


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    endpoint: str | None
    protocol: str | None
    service_name: str | None
    elapsed_s: float
    test: Mapping[str, str] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return exit_code(self.checks) == 0


def exit_code(checks: Sequence[Check]) -> int:
    """0 when nothing failed (warnings allowed), 1 when any check failed."""
    return 1 if any(c.status == FAIL for c in checks) else 0


_STYLE = {PASS: ("ok", "green"), WARN: ("warn", "yellow"), FAIL: ("FAIL", "bold red"), SKIP: ("skip", "dim")}


def render_json(report: Report) -> str:
    """One document with stable keys: ok, endpoint, protocol, service_name, elapsed_s, test, checks."""
    return json.dumps({
        "ok": report.ok,
        "endpoint": report.endpoint,
        "protocol": report.protocol,
        "service_name": report.service_name,
        "elapsed_s": report.elapsed_s,
        "test": dict(report.test) if report.test else None,
        "checks": [asdict(c) for c in report.checks],
    }, indent=2)


def render_table(report: Report, file: Any = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=False)
    table = Table(title="signoz-litellm doctor", title_justify="left", show_lines=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", overflow="fold")
    category = None
    for check in report.checks:
        if check.category != category:
            if category is not None:
                table.add_section()
            category = check.category
            table.add_row("", f"[bold]{category}[/bold]", "")
        label, style = _STYLE[check.status]
        detail = escape(check.detail)
        if check.hint and check.status in (WARN, FAIL):
            detail += f"\n[dim]-> {escape(check.hint)}[/dim]"
        table.add_row(f"[{style}]{label}[/{style}]", check.name, detail)
    console.print(table)
    failed = sum(c.status == FAIL for c in report.checks)
    warned = sum(c.status == WARN for c in report.checks)
    if report.test:
        console.print(f"test telemetry: service.name={report.test['service_name']} "
                      f"trace id {report.test['trace_id']}")
    if failed:
        verdict = f"[bold red]{failed} failed[/bold red], {warned} warning(s)"
    elif warned:
        verdict = f"[yellow]{warned} warning(s)[/yellow]"
    else:
        verdict = "[green]all checks passed[/green]"
    console.print(f"{verdict} in {report.elapsed_s:.1f} s")

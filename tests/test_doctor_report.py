"""doctor's findings and their rendering, apart from the checks."""

from __future__ import annotations

import json

from signoz_litellm_run.doctor_report import Check, Report, exit_code, render_json


def test_exit_code_and_rendering_are_separate_from_the_checks() -> None:
    checks = (Check("a", "network", "pass", "fine"), Check("b", "network", "warn", "hm", "do x"))
    assert exit_code(checks) == 0
    assert exit_code((*checks, Check("c", "network", "fail", "bad", "fix"))) == 1
    report = Report(checks=checks, endpoint=None, protocol=None, service_name=None, elapsed_s=0.1)
    assert json.loads(render_json(report))["checks"][1] == {
        "name": "b", "category": "network", "status": "warn", "detail": "hm", "hint": "do x"}

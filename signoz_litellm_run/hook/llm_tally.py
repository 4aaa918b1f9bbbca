"""What a process's LLM calls came to, for the job's delivery report: calls, failed calls, tokens and cost per
model, as LiteLLM logged them to our OTel logger (`hook/litellm_arm.py` counts each call it logs).

These are the calls the job made, whatever became of their spans: a CI owner sees in the job's summary what
the run cost, next to whether its telemetry arrived. A few dictionary reads per call; a forked child starts
from nothing (its parent reports the parent's calls).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from signoz_litellm_run.delivery import LLM_FIELDS

_lock = threading.Lock()
# model -> [calls, failed, input tokens, output tokens, cost in USD, calls without a cost]: LLM_FIELDS
_models: dict[str, list[float]] = {}


def count(kwargs: Any) -> None:
    """One logged call: its standard logging payload, as LiteLLM hands it to its loggers."""
    logged = kwargs.get("standard_logging_object") if type(kwargs) is dict else None
    if type(logged) is not dict:
        return
    model = logged.get("model") or "unknown"
    failed = logged.get("status") == "failure"
    cost = logged.get("response_cost")
    priced = type(cost) in (int, float)
    with _lock:
        row = _models.get(model)
        if row is None:
            row = _models[model] = [0, 0, 0, 0, 0.0, 0]
        row[0] += 1
        row[1] += failed
        row[2] += _tokens(logged.get("prompt_tokens"))
        row[3] += _tokens(logged.get("completion_tokens"))
        if priced:
            row[4] += cost
        else:
            row[5] += 1


def _tokens(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def snapshot() -> dict[str, dict[str, float]]:
    """Per model: calls, failed, input_tokens, output_tokens, cost_usd, calls_without_cost."""
    with _lock:
        return {model: dict(zip(LLM_FIELDS, row)) for model, row in _models.items()}


def _reset() -> None:
    global _lock
    _lock = threading.Lock()
    _models.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset)

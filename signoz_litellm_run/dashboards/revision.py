"""A dashboard spec's content as a short name (our `signoz-litellm-rev` tag): empty values and the server's defaults
left out, so a stored dashboard compares equal to ours when only SigNoz's write-back differs. Shared by the v2
form (`definitions.py`), the v1 form (`v1form.py`), the plan and the alert rules."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# What SigNoz writes back for an option it was not given (the `ValueOrDefault` of each enumerated type in
# perses_signoz_plugins.go / perses_replicas.go, and the dynamic variable's signal): a stored dashboard may
# carry them where ours has nothing, so they do not make it "edited".
_SERVER_DEFAULTS = frozenset({"global_time", "bottom", "list", "spline", "solid", "none", "text", "above", "2", "all"})


def _strip(value: Any) -> Any:
    """The dashboard with empty values and the server's defaults left out, for comparison."""
    if isinstance(value, dict):
        out = {k: _strip(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _empty(v)}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _empty(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {} or (
        isinstance(value, str) and value in _SERVER_DEFAULTS)


def revision(spec: Any) -> str:
    """12 hex digits naming a dashboard spec's content (a tag value: at most 32 characters)."""
    text = json.dumps(_strip(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]

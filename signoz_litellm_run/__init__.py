"""signoz-litellm: run any LiteLLM application with its traces, logs and metrics going to SigNoz.

`init()` starts the same telemetry from the program's own code (notebooks, platform-started apps). This module
stays tiny: every Python process of a job under `run` imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signoz_litellm_run.in_process import Telemetry

__version__ = "0.1.0"
__all__ = ["init", "__version__"]


def init(**settings: Any) -> Telemetry:
    """Send this process's LiteLLM traces, logs and metrics to SigNoz, as `signoz-litellm run` would.

    Keywords are `run`'s flags with underscores (region="us", service_name="notebook", endpoint=..., local=True);
    each not given comes from its environment variable (SIGNOZ_INGESTION_KEY, ...), the config file, or its
    default. Returns a handle with `flush(timeout)`, `shutdown(timeout)` and the resolved `settings` (key masked).
    A second call with the same settings does nothing. See docs/in-your-code.md.
    """
    from signoz_litellm_run.in_process import init as _init

    return _init(**settings)

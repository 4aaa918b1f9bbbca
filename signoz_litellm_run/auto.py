"""`import signoz_litellm_run.auto`: `init()` from the environment and the config file only.

For platforms that start the app themselves but let you add an import (the first line of a gunicorn or uvicorn
app module, a serverless handler). A setting missing or wrong (no destination, a bad value) does not stop the app:
the error and its hint go to stderr once, and the app runs without telemetry.
"""

from __future__ import annotations

import sys

from signoz_litellm_run.errors import SettingsError
from signoz_litellm_run.in_process import Telemetry, init

telemetry: Telemetry | None = None
try:
    telemetry = init()
except SettingsError as _error:
    print(f"signoz-litellm: error: {_error.message} Telemetry is off in this process.", file=sys.stderr)
    if _error.hint:
        print(f"hint: {_error.hint}", file=sys.stderr)

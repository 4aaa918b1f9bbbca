"""doctor's checks of SigNoz's own API, run only when an API key is given: the key, the version, our dashboards.

The version comes from `GET /api/v1/version` (open access in SigNoz's query service: `{"version", "ee",
"setupCompleted"}`, no envelope); the key from the dashboards list it has to read anyway; the dashboards from
the same plan `dashboards install` makes, so doctor says exactly what install would do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from signoz_litellm_run.dashboards.client import ApiError, Client, KeyRefused, parse_api_key, parse_url
from signoz_litellm_run.doctor_report import FAIL, PASS, SKIP, WARN, Check
from signoz_litellm_run.errors import LauncherError

SIGNOZ_API = "signoz-api"
MIN_VERSION = (0, 95)  # dashboards install: v1 API from v0.95, v2 from v0.129 (see docs/dashboards.md)


def _version_tuple(text: str) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def api_checks(url: str | None, api_key: str | None, environ: Mapping[str, str], timeout: float) -> list[Check]:
    names = ("signoz-version", "api-key", "dashboards")
    try:
        client = Client(parse_url(url or environ.get("SIGNOZ_URL")), parse_api_key(api_key or environ.get("SIGNOZ_API_KEY")),
                        timeout=timeout)
    except LauncherError as exc:
        return [Check(names[0], SIGNOZ_API, FAIL, exc.message, exc.hint or ""),
                *(Check(n, SIGNOZ_API, SKIP, "skipped: no usable SigNoz URL or API key") for n in names[1:])]
    checks = [_version_check(client)]
    try:
        from signoz_litellm_run.dashboards import definitions, install, plan

        steps = install.read_ours(client).plan(definitions.DASHBOARDS)
    except KeyRefused as exc:
        return [*checks, Check("api-key", SIGNOZ_API, FAIL, exc.message, exc.hint or ""),
                Check("dashboards", SIGNOZ_API, SKIP, "skipped: the API key was refused")]
    except ApiError as exc:
        return [*checks, Check("api-key", SIGNOZ_API, SKIP, "not confirmed: the dashboards could not be read"),
                Check("dashboards", SIGNOZ_API, FAIL, exc.message, exc.hint or "")]
    checks.append(Check("api-key", SIGNOZ_API, PASS, f"accepted by {client.url}"))
    states = {plan.CREATE: "not installed", plan.UPDATE: "an older version", plan.UNCHANGED: "current",
              plan.SKIP_EDITED: "edited in SigNoz", plan.SKIP_LOCKED: "locked, an older version"}
    detail = "; ".join(f"{s.dashboard.title}: {states[s.action]}" for s in steps)
    if all(s.action == plan.UNCHANGED for s in steps):
        checks.append(Check("dashboards", SIGNOZ_API, PASS, detail))
    else:
        checks.append(Check("dashboards", SIGNOZ_API, WARN, detail,
                            "signoz-litellm dashboards install (--dry-run shows what it would change)."))
    return checks


def _version_check(client: Client) -> Check:
    try:
        data = client.request("GET", "/api/v1/version", expect_json=False).data
    except ApiError as exc:
        return Check("signoz-version", SIGNOZ_API, FAIL, exc.message, exc.hint or "")
    version = str(data.get("version") or "") if isinstance(data, dict) else ""
    parsed = _version_tuple(version)
    if parsed is None:
        return Check("signoz-version", SIGNOZ_API, WARN, f"{client.url} did not say its version",
                     "Check that the URL is the address you open SigNoz at.")
    if parsed[:2] < MIN_VERSION:
        return Check("signoz-version", SIGNOZ_API, WARN, f"SigNoz {version}: dashboards install needs v0.95 or later",
                     "Upgrade SigNoz to install the dashboards from the command line.")
    return Check("signoz-version", SIGNOZ_API, PASS, f"SigNoz {version}")

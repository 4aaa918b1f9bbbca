"""`dashboards list | export | install` as plain functions (cli.py forwards to them) and what they print.

Output is plain lines, one per dashboard, so it reads the same in a terminal and in a CI log. The API key is
never printed: only the URL is.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from signoz_litellm_run.dashboards import definitions
from signoz_litellm_run.dashboards.client import Client, parse_api_key, parse_url
from signoz_litellm_run.dashboards.plan import CREATE, SKIP_EDITED, SKIP_LOCKED, UNCHANGED, UPDATE
from signoz_litellm_run.errors import UsageError

URL_ENV, API_KEY_ENV = "SIGNOZ_URL", "SIGNOZ_API_KEY"


def list_dashboards(names: Sequence[str] = (), out: TextIO | None = None) -> int:
    out = out or sys.stdout
    for dashboard in definitions.select(names):
        out.write(f"{dashboard.id}  {dashboard.title}  ({len(dashboard.panels)} panels; variables: "
                  f"{', '.join(v.name for v in dashboard.variables)})\n")
        out.write(f"    {dashboard.description}\n")
        for panel in dashboard.panels:
            out.write(f"    - {panel.title}: {panel.description}\n")
    return 0


def export(names: Sequence[str] = (), directory: str | None = None, out: TextIO | None = None,
           api: str = "v2") -> int:
    """`api`: "v2" writes what POST /api/v2/dashboards takes, "v1" the older JSON of POST /api/v1/dashboards."""
    out = out or sys.stdout
    if api not in ("v1", "v2"):
        raise UsageError(f"--api must be v2 or v1, not {api!r}.",
                         "v2 for SigNoz v0.129 and later (and SigNoz Cloud), v1 for SigNoz v0.95-v0.128.")
    target = Path(directory or ".").expanduser()
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file, not a directory.", "Pass --dir DIRECTORY.")
    chosen = definitions.select(names)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for dashboard in chosen:
            path = target / f"{dashboard.id}.json"
            body = dashboard.v1_data() if api == "v1" else dashboard.body()
            path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
            out.write(f"{path}\n")
    except OSError as exc:
        raise UsageError(f"Cannot write to {target}: {exc.strerror or exc}.", "Pass a writable --dir.") from None
    return 0


def connect(url: str | None, api_key: str | None, environ: Mapping[str, str] | None = None) -> Client:
    environ = os.environ if environ is None else environ
    return Client(parse_url(url or environ.get(URL_ENV)), parse_api_key(api_key or environ.get(API_KEY_ENV)))


_VERB = {CREATE: ("created", "would create"), UPDATE: ("updated", "would update"),
         UNCHANGED: ("unchanged", "unchanged"), SKIP_LOCKED: ("skipped", "would skip"),
         SKIP_EDITED: ("skipped", "would skip")}


def install(names: Sequence[str] = (), *, url: str | None = None, api_key: str | None = None, force: bool = False,
            dry_run: bool = False, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    from signoz_litellm_run.dashboards import install as flow

    out = out or sys.stdout
    wanted = definitions.select(names)
    client = connect(url, api_key, environ)
    server, steps, done = flow.install(client, wanted, force=force, dry_run=dry_run)
    ids = {d.step.dashboard.id: d.id for d in done}
    api = f" (SigNoz {server.version}, v1 dashboards API)" if server.api == "v1" else ""
    out.write(f"{'Dry run: nothing is changed. ' if dry_run else ''}Dashboards on {client.url}{api}:\n")
    for step in steps:
        verb = _VERB[step.action][1 if dry_run else 0]
        server_id = ids.get(step.dashboard.id) or (step.existing or {}).get("id")
        link = f"  {client.url}/dashboard/{server_id}" if server_id else ""
        out.write(f"  {verb:<12} {step.dashboard.title} ({step.reason}){link}\n")
        if step.duplicates:
            more = "1 more copy carries" if len(step.duplicates) == 1 else f"{len(step.duplicates)} more copies carry"
            out.write(f"  {'':<12} note: {more} the same id tag ({', '.join(step.duplicates)}); only the newest "
                      "is kept up to date\n")
    skipped = [s for s in steps if s.action in (SKIP_LOCKED, SKIP_EDITED)]
    if skipped:
        out.write(f"{len(skipped)} left as they are; run again with --force to overwrite "
                  f"{'it' if len(skipped) == 1 else 'them'}.\n")
    return 0


def install_alerts(*, url: str | None = None, api_key: str | None = None, error_rate: float | None = None,
                   p95_latency: float | None = None, hourly_cost: float | None = None, environment: str | None = None,
                   channels: Sequence[str] = (), force: bool = False, dry_run: bool = False,
                   environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    from signoz_litellm_run.dashboards import alerts

    thresholds = alerts.parse_thresholds(error_rate, p95_latency, hourly_cost, environment, channels)
    return alerts.install(connect(url, api_key, environ), thresholds, force=force, dry_run=dry_run, out=out)

"""`dashboards install`: read what the server has, plan, then write; never a half-written plan without saying so.

Every read happens before the first write, so a wrong key, a wrong URL or a server that is not SigNoz ends the
command with nothing changed. Each dashboard is one request (POST or PUT, which the server applies whole);
if one of them fails, the error names the dashboards written before it and the ones not written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from signoz_litellm_run.dashboards.client import ApiError, Client, KeyRefused, NotFound
from signoz_litellm_run.dashboards.definitions import MANAGED_BY_KEY, MANAGED_BY_VALUE, Dashboard
from signoz_litellm_run.dashboards.plan import CREATE, UPDATE, Step, is_ours, merged_tags, plan

LIST_PATH = "/api/v2/dashboards"
PAGE = 200  # list_v2.go: MaxListLimit


@dataclass(frozen=True)
class Done:
    step: Step
    id: str  # the server's id of the dashboard written (or found)


def read_ours(client: Client) -> list[dict[str, Any]]:
    """Our dashboards on the server, each with its full spec."""
    listed: list[dict[str, Any]] = []
    offset = 0
    while True:
        try:
            answer = client.request("GET", LIST_PATH, query={
                "query": f"{MANAGED_BY_KEY} = '{MANAGED_BY_VALUE}'", "limit": PAGE, "offset": offset}).data
        except NotFound:
            raise _no_v2_api(client) from None
        except ApiError as exc:
            if exc.status != 405:
                raise
            raise ApiError(f"This SigNoz at {client.url} predates the v2 dashboard list (SigNoz v0.129), which "
                           "signoz-litellm finds its dashboards with.",
                           "Upgrade SigNoz, or import by hand: signoz-litellm dashboards export writes the JSON "
                           "that POST /api/v2/dashboards takes.", status=405) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("dashboards"), list):
            raise ApiError(f"{client.url} answered the dashboard list with an unexpected shape "
                           "(no \"dashboards\" list).", "Check that the URL is SigNoz's UI/API address.")
        page = answer["dashboards"]
        listed += [d for d in page if isinstance(d, dict)]
        offset += len(page)
        total = answer.get("total")
        if not page or not isinstance(total, int) or offset >= total:
            break
    full = []
    for item in listed:
        # A legacy (v1-schema) dashboard cannot be read through the v2 API: never one we wrote.
        if not is_ours(item) or item.get("legacy") or not item.get("id"):
            continue
        data = client.request("GET", f"{LIST_PATH}/{item['id']}").data
        if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
            raise ApiError(f"{client.url} answered GET {LIST_PATH}/{item['id']} without a dashboard spec.",
                           "Check that the URL is SigNoz's UI/API address.")
        full.append(data)
    return full


def _no_v2_api(client: Client) -> ApiError:
    """404 on the v2 list: a SigNoz before the v2 API (v0.126), or not SigNoz at all."""
    try:
        client.request("GET", "/api/v1/dashboards")
    except NotFound:
        return ApiError(f"{client.url} has no SigNoz dashboards API (GET {LIST_PATH} and /api/v1/dashboards "
                        "are not found).", "Use the address you open SigNoz at, not an ingestion or collector "
                        "address.", status=404)
    return ApiError(f"This SigNoz at {client.url} predates the v2 dashboards API (SigNoz v0.126), which "
                    "signoz-litellm installs through.",
                    "Upgrade SigNoz, or import by hand: signoz-litellm dashboards export writes the JSON.", status=404)


def install(client: Client, wanted: Sequence[Dashboard], *, force: bool = False, dry_run: bool = False,
            ) -> tuple[list[Step], list[Done]]:
    steps = plan(wanted, read_ours(client), force=force)
    if dry_run:
        return steps, []
    done: list[Done] = []
    for step in steps:
        try:
            done.append(Done(step, _apply(client, step)))
        except KeyRefused as exc:
            if not any(d.step.writes for d in done):  # a key that may read but not write: nothing was written
                raise
            raise _partial(exc, step, steps, done) from None
        except ApiError as exc:
            raise _partial(exc, step, steps, done) from None
    return steps, done


def _apply(client: Client, step: Step) -> str:
    dashboard, existing = step.dashboard, step.existing
    if step.action == CREATE:
        data = client.request("POST", LIST_PATH, dashboard.body()).data
        if not isinstance(data, dict) or not data.get("id"):
            raise ApiError(f"{client.url} accepted {dashboard.title} but answered without its id.")
        return str(data["id"])
    assert existing is not None
    server_id = str(existing["id"])
    if step.action != UPDATE:
        return server_id
    body = {"schemaVersion": dashboard.body()["schemaVersion"], "image": existing.get("image") or "",
            "name": existing["name"], "tags": merged_tags(dashboard, existing), "spec": dashboard.spec()}
    path = f"{LIST_PATH}/{server_id}"
    if step.unlock:
        client.request("DELETE", path + "/lock")
    try:
        client.request("PUT", path, body)
    finally:
        if step.unlock:
            client.request("PUT", path + "/lock")
    return server_id


def _partial(exc: ApiError, failed: Step, steps: Sequence[Step], done: Sequence[Done]) -> ApiError:
    written = [d for d in done if d.step.writes]
    not_written = [s.dashboard.title for s in steps[len(done):] if s.writes]
    parts = [f"{failed.dashboard.title} was not {'created' if failed.action == CREATE else 'updated'}: "
             f"{exc.message.rstrip('.')}."]
    if written:
        parts.append("Installed before the failure: " + ", ".join(
            f"{d.step.dashboard.title} ({'created' if d.step.action == CREATE else 'updated'})" for d in written) + ".")
    else:
        parts.append("Nothing was installed.")
    if len(not_written) > 1:
        parts.append("Not installed: " + ", ".join(not_written[1:]) + ".")
    return ApiError(" ".join(parts), exc.hint or "Run the same command again once the cause is fixed: it "
                    "picks up where this one stopped.", status=exc.status, code=exc.code)

"""`dashboards install`: find which API the server has, read what it holds, plan, then write.

Every read happens before the first write, so a wrong key, a wrong URL or a server that is not SigNoz ends the
command with nothing changed. Each dashboard is one request (POST or PUT, which the server applies whole);
if one of them fails, the error names the dashboards written before it and the ones not written.

The API is chosen from the server's answers, never from a flag: the v2 list (`GET /api/v2/dashboards`, SigNoz
v0.129+) answers -> v2; it is missing (404 before v0.126, 405 on v0.126-v0.128, which have a v2 create but no
list) and `GET /api/v1/dashboards` answers -> v1, on SigNoz v0.95+ (`GET /api/v1/version`; older frontends
cannot read the v5 queries our dashboards use). From v0.135 the v1 routes answer 501, and the v2 list is there.
On v0.129-v0.134 (both APIs) ours are looked for in v1 too when the v2 list has none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from signoz_litellm_run.dashboards import v1form
from signoz_litellm_run.dashboards.client import ApiError, Client, KeyRefused, NotFound
from signoz_litellm_run.dashboards.definitions import ID_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE, REV_KEY, Dashboard
from signoz_litellm_run.dashboards.plan import CREATE, UPDATE, Step, is_ours, merged_tags, plan, tag
from signoz_litellm_run.dashboards.revision import revision

LIST_PATH = "/api/v2/dashboards"
V1_PATH = "/api/v1/dashboards"
PAGE = 200  # list_v2.go: MaxListLimit
V1_MIN_VERSION = (0, 95)  # the frontend reads v5 builder queries without ENABLE_QB_V5 from v0.95
_OUR_V1_KEYS = (MANAGED_BY_KEY, ID_KEY, REV_KEY)


@dataclass(frozen=True)
class Done:
    step: Step
    id: str  # the server's id of the dashboard written (or found)


@dataclass(frozen=True)
class Server:
    """What install found: the API it talks (`v2` or `v1`), and our dashboards there with their full content
    (v1 ones carry `tags` as {key, value} pairs parsed from the strings, and the v1 `data`)."""

    api: str
    found: list[dict[str, Any]] = field(default_factory=list)
    version: str = ""

    def plan(self, wanted: Sequence[Dashboard], *, force: bool = False) -> list[Step]:
        if self.api == "v1":
            return plan(wanted, self.found, force=force, stored_revision=lambda d: v1form.revision(d["data"]),
                        our_revision=Dashboard.v1_revision)
        return plan(wanted, [_converted(d, wanted) for d in self.found], force=force)


def _converted(existing: dict[str, Any], wanted: Sequence[Dashboard]) -> dict[str, Any]:
    """A dashboard we installed through the v1 API, converted to v2 by SigNoz's upgrade (v0.135 converts every
    v1 dashboard in place; our `key:value` tags become our v2 tags) and not changed since, is an older version of
    ours, not an edited one: its rev tag (the v1 revision) is read as the revision of what is stored."""
    dashboard = next((d for d in wanted if tag(existing, ID_KEY) == d.id), None)
    if dashboard is None or tag(existing, REV_KEY) != dashboard.v1_revision():
        return existing
    if not v1form.converted_unchanged(existing.get("spec") or {}, dashboard):
        return existing
    stored = revision(existing.get("spec") or {})
    return {**existing, "tags": [t if str(t.get("key", "")).lower() != REV_KEY else {"key": REV_KEY, "value": stored}
                                 for t in existing.get("tags") or ()]}


def read_ours(client: Client) -> Server:
    """Which API the server has, and our dashboards on it."""
    try:
        first = _v2_page(client, 0)
    except NotFound:
        return _v1_server(client, v2_status=404)
    except ApiError as exc:
        if exc.status != 405:
            raise
        return _v1_server(client, v2_status=405)
    found = _v2_ours(client, first)
    if not found:
        # SigNoz v0.129-v0.134 have both APIs; a v1-stored dashboard keeps its tags in its data, not in the tag
        # table the v2 list's query reads. Ours, installed through v1 before an upgrade, are found in the v1 list
        # and kept up to date there (no second copy) until the upgrade to v0.135 converts them in place.
        try:
            v1 = _v1_server(client, v2_status=200)
        except ApiError:
            v1 = None
        if v1 is not None and v1.found:
            return v1
    return Server("v2", found)


def _v2_page(client: Client, offset: int) -> dict[str, Any]:
    answer = client.request("GET", LIST_PATH, query={
        "query": f"{MANAGED_BY_KEY} = '{MANAGED_BY_VALUE}'", "limit": PAGE, "offset": offset}).data
    if not isinstance(answer, dict) or not isinstance(answer.get("dashboards"), list):
        raise ApiError(f"{client.url} answered the dashboard list with an unexpected shape "
                       "(no \"dashboards\" list).", "Check that the URL is SigNoz's UI/API address.")
    return answer


def _v2_ours(client: Client, answer: dict[str, Any]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = answer["dashboards"]
        listed += [d for d in page if isinstance(d, dict)]
        offset += len(page)
        total = answer.get("total")
        if not page or not isinstance(total, int) or offset >= total:
            break
        answer = _v2_page(client, offset)
    full = []
    for item in listed:
        # A legacy (v1-schema) dashboard cannot be read through the v2 API: never one we wrote through it.
        if not is_ours(item) or item.get("legacy") or not item.get("id"):
            continue
        data = client.request("GET", f"{LIST_PATH}/{item['id']}").data
        if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
            raise ApiError(f"{client.url} answered GET {LIST_PATH}/{item['id']} without a dashboard spec.",
                           "Check that the URL is SigNoz's UI/API address.")
        full.append(data)
    return full


def _v1_server(client: Client, v2_status: int) -> Server:
    """The v1 API and ours there: a SigNoz before v0.129 (no v2 list), one of v0.129-v0.134 (both), or an error
    that says what the server is not."""
    try:
        listed = client.request("GET", V1_PATH).data
    except NotFound:
        raise ApiError(f"{client.url} has no SigNoz dashboards API (GET {LIST_PATH} and {V1_PATH} are not found).",
                       "Use the address you open SigNoz at, not an ingestion or collector address.",
                       status=404) from None
    except KeyRefused:
        raise
    except ApiError as exc:
        if exc.status != 501:
            raise
        raise ApiError(f"{client.url} has neither the v2 dashboard list (HTTP {v2_status}) nor the v1 dashboards "
                       "API (501).", "Check that the URL is SigNoz's own address, not a proxy that rewrites "
                       "/api/ paths.", status=501) from None
    if not isinstance(listed, list):
        raise ApiError(f"{client.url} answered GET {V1_PATH} with an unexpected shape (not a list).",
                       "Check that the URL is SigNoz's UI/API address.")
    version = _version(client)
    if version is None or version[1][:2] < V1_MIN_VERSION:
        said = f"SigNoz {version[0]}" if version else "A SigNoz that does not say its version"
        raise ApiError(f"{said} at {client.url} predates v0.95: its dashboards cannot read the query format of "
                       "signoz-litellm's dashboards (SigNoz's v5 query builder).",
                       "Upgrade SigNoz to v0.95 or later (v0.129+ for the v2 dashboards API).", status=v2_status)
    found = []
    for item in listed:
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict) or not item.get("id"):
            continue  # integration dashboards are listed here too; they never carry our tags
        view = {"id": str(item["id"]), "locked": bool(item.get("locked")), "updatedAt": item.get("updatedAt", ""),
                "tags": v1form.tag_pairs(item["data"].get("tags")), "data": item["data"]}
        if is_ours(view):
            found.append(view)
    return Server("v1", found, version[0])


def _version(client: Client) -> tuple[str, tuple[int, ...]] | None:
    try:
        data = client.request("GET", "/api/v1/version", expect_json=False).data
    except ApiError:
        return None
    text = str(data.get("version") or "") if isinstance(data, dict) else ""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    return (text, tuple(int(g) for g in match.groups() if g is not None)) if match else None


def install(client: Client, wanted: Sequence[Dashboard], *, force: bool = False, dry_run: bool = False,
            ) -> tuple[Server, list[Step], list[Done]]:
    server = read_ours(client)
    steps = server.plan(wanted, force=force)
    if dry_run:
        return server, steps, []
    apply = _apply_v1 if server.api == "v1" else _apply
    done: list[Done] = []
    for step in steps:
        try:
            done.append(Done(step, apply(client, step)))
        except KeyRefused as exc:
            if not any(d.step.writes for d in done):  # a key that may read but not write: nothing was written
                raise
            raise _partial(exc, step, steps, done) from None
        except ApiError as exc:
            raise _partial(exc, step, steps, done) from None
    return server, steps, done


def _create(client: Client, path: str, body: Any, title: str) -> str:
    """POST a new dashboard (either API) and return the id the server gave it."""
    data = client.request("POST", path, body).data
    if not isinstance(data, dict) or not data.get("id"):
        raise ApiError(f"{client.url} accepted {title} but answered without its id.")
    return str(data["id"])


def _apply(client: Client, step: Step) -> str:
    dashboard, existing = step.dashboard, step.existing
    if step.action == CREATE:
        return _create(client, LIST_PATH, dashboard.body(), dashboard.title)
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


def _apply_v1(client: Client, step: Step) -> str:
    """The same steps through `/api/v1/dashboards` (SigNoz v0.125 `impldashboard/handler.go`): create 201, update
    200 with the whole data, lock/unlock `PUT .../lock {"lock": bool}`. Tags a user added are kept."""
    dashboard, existing = step.dashboard, step.existing
    if step.action == CREATE:
        return _create(client, V1_PATH, dashboard.v1_data(), dashboard.title)
    assert existing is not None
    server_id = str(existing["id"])
    if step.action != UPDATE:
        return server_id
    theirs = [t for t in existing["data"].get("tags") or [] if isinstance(t, str) and not any(
        t.split(":", 1)[0].strip().lower() == key for key in (*_OUR_V1_KEYS, *(k for k, _ in dashboard.tags)))]
    path = f"{V1_PATH}/{server_id}"
    if step.unlock:
        client.request("PUT", path + "/lock", {"lock": False})
    try:
        client.request("PUT", path, dashboard.v1_data(theirs))
    finally:
        if step.unlock:
            client.request("PUT", path + "/lock", {"lock": True})
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

"""What `dashboards install` will do to each dashboard, decided before anything is written.

Ours are found by their tags (`managed-by: signoz-litellm`, `signoz-litellm-id: <id>`), never by title: SigNoz
does not keep names unique, and a user may rename one. The tag `signoz-litellm-rev` is the revision of the
spec we last wrote; a stored spec whose revision is something else was changed in SigNoz since, so it is
left alone without `--force`, as is a locked one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from signoz_litellm_run.dashboards.definitions import ID_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE, REV_KEY, Dashboard
from signoz_litellm_run.dashboards.revision import revision

CREATE, UPDATE, UNCHANGED, SKIP_LOCKED, SKIP_EDITED = "create", "update", "unchanged", "skip-locked", "skip-edited"
MAX_TAGS = 10  # perses_dashboard.go: MaxTagsPerDashboard


@dataclass(frozen=True)
class Step:
    dashboard: Dashboard
    action: str
    existing: Mapping[str, Any] | None = None  # the server's dashboard (v2: GET /api/v2/dashboards/{id} data)
    reason: str = ""
    unlock: bool = False  # locked, and --force: unlock, update, lock again
    duplicates: tuple[str, ...] = field(default=())  # other server ids carrying the same id tag

    @property
    def writes(self) -> bool:
        return self.action in (CREATE, UPDATE)


def tag(dashboard: Mapping[str, Any], key: str) -> str | None:
    for item in dashboard.get("tags") or ():
        if str(item.get("key", "")).lower() == key:
            return str(item.get("value"))
    return None


def is_ours(dashboard: Mapping[str, Any]) -> bool:
    return tag(dashboard, MANAGED_BY_KEY) == MANAGED_BY_VALUE and tag(dashboard, ID_KEY) is not None


def _v2_stored(existing: Mapping[str, Any]) -> str:
    return revision(existing.get("spec") or {})


def plan(wanted: Sequence[Dashboard], found: Sequence[Mapping[str, Any]], *, force: bool = False,
         stored_revision: Callable[[Mapping[str, Any]], str] = _v2_stored,
         our_revision: Callable[[Dashboard], str] = Dashboard.revision) -> list[Step]:
    """One step per wanted dashboard. `found`: the server's dashboards of ours, each with its full content and
    `tags` as {key, value} pairs; the two revision functions name the stored and our content in the API's form
    (v2 spec, or v1 data)."""
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for existing in found:
        if is_ours(existing):
            by_id.setdefault(str(tag(existing, ID_KEY)), []).append(existing)
    steps = []
    for dashboard in wanted:
        copies = sorted(by_id.get(dashboard.id, []), key=lambda d: str(d.get("updatedAt", "")), reverse=True)
        if not copies:
            steps.append(Step(dashboard, CREATE, reason="not in SigNoz yet"))
            continue
        existing, duplicates = copies[0], tuple(str(d.get("id")) for d in copies[1:])
        stored = stored_revision(existing)
        ours = our_revision(dashboard)
        edited = stored != tag(existing, REV_KEY)
        locked = bool(existing.get("locked"))
        if stored == ours:
            if tag(existing, REV_KEY) == ours or locked:
                steps.append(Step(dashboard, UNCHANGED, existing, "already this version", duplicates=duplicates))
            else:
                steps.append(Step(dashboard, UPDATE, existing, "same content, tags brought up to date",
                                  duplicates=duplicates))
        elif locked and not force:
            steps.append(Step(dashboard, SKIP_LOCKED, existing, "locked in SigNoz; --force unlocks, updates and "
                              "locks it again", duplicates=duplicates))
        elif edited and not force:
            steps.append(Step(dashboard, SKIP_EDITED, existing, "changed in SigNoz since signoz-litellm installed "
                              "it; --force overwrites the changes", duplicates=duplicates))
        else:
            why = "edited in SigNoz, overwritten (--force)" if edited else "an older version of ours"
            if locked:
                why += "; locked, so unlocked and locked again (--force)"
            steps.append(Step(dashboard, UPDATE, existing, why, unlock=locked, duplicates=duplicates))
    return steps


def merged_tags(dashboard: Dashboard, existing: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Our tags, then the ones a user added in SigNoz (kept, up to SigNoz's limit of ten)."""
    ours = dashboard.our_tags()
    keys = {t["key"].lower() for t in ours}
    theirs = [{"key": str(t.get("key")), "value": str(t.get("value"))} for t in (existing or {}).get("tags") or ()
              if str(t.get("key", "")).lower() not in keys]
    return (ours + theirs)[:MAX_TAGS]

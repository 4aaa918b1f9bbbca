"""The names of the installed OpenTelemetry distros and instrumentors (their entry points), cached.

A scan of the entry points costs a process 150 M instructions; the cache, a few stats. The cache is keyed on the
interpreter and `sys.path`'s entries holding distributions, with their modification times: a package installed or
removed in any of them changes the key. Read by hook/lazy_triggers.py in every process `run` starts.
"""

from __future__ import annotations

import os
import sys

CACHE_FORMAT = "signoz-litellm entry points 1"
_DIST_MARKERS = (".dist-info", ".egg-info")
_GROUPS = {"distro": "opentelemetry_distro", "instrumentor": "opentelemetry_instrumentor"}


def entry_point_survey() -> dict[str, list[str]] | None:
    """The names of the installed distros and instrumentors (entry points): from the cache when `sys.path`'s entries
    holding distributions are those of the last scan, at the same modification times (whatever the working
    directory), else scanned (and cached); None when the scan fails."""
    key = _survey_key()
    path = _cache_path(key)
    survey: dict[str, list[str]] = {kind: [] for kind in _GROUPS}
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().split("\n")
        if len(lines) >= 2 and lines[0] == CACHE_FORMAT and lines[1] == key:
            for line in lines[2:]:
                kind, _, name = line.partition(":")
                if kind in survey and name:
                    survey[kind].append(name)
            return survey
    except (OSError, ValueError):
        pass
    try:
        from importlib.metadata import entry_points

        for kind, group in _GROUPS.items():
            survey[kind] = sorted({ep.name for ep in entry_points(group=group)})
    except Exception:
        return None
    lines = [f"{kind}:{name}" for kind, names in survey.items() for name in names]
    _write_cache(path, "\n".join([CACHE_FORMAT, key, *lines, ""]))
    return survey


def _survey_key() -> str:
    parts = [sys.executable, sys.version.replace("\n", " ")]
    for entry in sys.path:
        try:
            if os.path.isdir(entry or "."):
                with os.scandir(entry or ".") as found:
                    holds = any(item.name.endswith(_DIST_MARKERS) for item in found)
                if holds:  # a directory without any (the working directory, usually) may change: it is looked at
                    parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
            else:
                parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    return "\0".join(parts).replace("\n", " ")


def _cache_path(key: str) -> str:
    """One file per interpreter and set of package directories (as they were): processes of other environments, or
    with other PYTHONPATHs, do not overwrite each other's survey."""
    import zlib

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = zlib.crc32(key.encode("utf-8", "surrogateescape"))
    return os.path.join(base, "signoz-litellm", f"entry-points-{digest:08x}.txt")


def _write_cache(path: str, text: str) -> None:
    """Atomically; a cache that cannot be written costs the next process a scan."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        pass

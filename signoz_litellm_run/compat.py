"""The LiteLLM and OpenTelemetry releases signoz-litellm supports, and the installed ones outside them.

The ranges are read from our own package metadata (the `dependencies` of pyproject.toml as installed), so
there is no second list to keep in step. An environment outside them still runs the command (`run` says
so once on stderr); `doctor` reports it as a failed check with the pip command that fixes it.
`run` pays nothing for this on its ready path: the result is computed where bootstrap surveys the
command's environment and is kept in bootstrap's cache with the rest of the survey.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DISTRIBUTION = "signoz-litellm"


def _watched(name: str) -> bool:
    """The libraries whose internals we depend on: LiteLLM and OpenTelemetry."""
    return name == "litellm" or name.startswith("opentelemetry-")


def norm_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Outside:
    """An installed package whose version is outside the range we support."""

    name: str
    version: str
    supported: str  # the specifier, e.g. ">=1.38,<2"

    def requirement(self) -> str:
        return f"{self.name}{self.supported}"

    def describe(self) -> str:
        return f"{self.name} {self.version} (supported: {self.supported})"


def supported_ranges(requires: list[str] | None = None) -> dict[str, str]:
    """Normalised name -> specifier for LiteLLM and every OpenTelemetry package we depend on, from our own
    metadata (`requires` overrides it, for tests). Empty when the metadata cannot be read."""
    from packaging.requirements import InvalidRequirement, Requirement

    if requires is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import requires as read_requires

        try:
            requires = read_requires(DISTRIBUTION) or []
        except PackageNotFoundError:
            return {}
    ranges: dict[str, str] = {}
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue  # an extra's requirement (dev, proxy) is not part of the supported range
        name = norm_name(requirement.name)
        if _watched(name) and str(requirement.specifier):
            ranges[name] = _ordered(str(requirement.specifier))
    return ranges


def _ordered(specifier: str) -> str:
    """`<2,>=1.38` -> `>=1.38,<2`: the floor first, as people write a range."""
    parts = specifier.split(",")
    return ",".join(sorted(parts, key=lambda p: (not p.startswith(">"), p.startswith("!"), p)))


def outside(installed: Mapping[str, str], ranges: Mapping[str, str]) -> list[Outside]:
    """The installed packages (normalised name -> version) with a supported range that their version is not in."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion

    found = []
    for name, supported in sorted(ranges.items()):
        version = installed.get(name)
        if version is None:
            continue
        try:
            if SpecifierSet(supported).contains(version, prereleases=True):
                continue
        except InvalidVersion:
            pass
        found.append(Outside(name, version, supported))
    return found


def fix_command(found: list[Outside], python: str = "python") -> str:
    """The pip command that brings them into range. The OpenTelemetry packages move together: pip picks one
    consistent release set for the ranges."""
    import shlex

    return f"{shlex.quote(python)} -m pip install " + " ".join(shlex.quote(o.requirement()) for o in found)


def warning(found: list[Outside], python: str) -> str:
    """The one line `run` prints."""
    names = "; ".join(o.describe() for o in found)
    return (f"signoz-litellm: warning: {names}: outside the range signoz-litellm supports; the command runs "
            f"unchanged, but its telemetry may be incomplete. Fix: {fix_command(found, python)}")


def check_installed(installed: Mapping[str, str]) -> list[dict[str, str]]:
    """For bootstrap's cache (plain data): the packages of `installed` outside our ranges."""
    try:
        return [vars(o).copy() for o in outside(installed, supported_ranges())]
    except Exception:  # never let this stop a run: an unreadable range only loses the warning
        return []

"""The docs as a user reads them: the examples marked runnable run, the links lead somewhere, the settings table
is the code's.

A fenced ```sh, ```bash or ```python block preceded by the line `<!-- runnable -->` is run, the blocks of one page
in order in one fresh directory (so a later block can read what an earlier one wrote), with the venv's
`signoz-litellm` and `python` first on PATH and the developer's SIGNOZ_/OTEL_ variables scrubbed. Each must exit 0.
The marker takes options: `expect="text"` (the block's stdout or stderr must contain it; may repeat) and
`receiver` (a real OTLP receiver is started, and `localhost:4317` / `localhost:4318` in the block point at its
gRPC / HTTP port).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.launch import REPO, clean_env

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_MARKER = re.compile(r"^<!--\s*runnable\b(.*?)-->\s*$")
_FENCE = re.compile(r"^(```|~~~)\s*([\w+-]*)")
_LANGS = {"sh": "sh", "bash": "sh", "shell": "sh", "python": "python", "py": "python"}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str  # "sh" or "python"
    code: str
    expect: tuple[str, ...]
    receiver: bool

    def __str__(self) -> str:
        return f"{_name(self.page)}:{self.line}"


def _name(page: Path) -> str:
    return str(page.relative_to(REPO)) if page.is_relative_to(REPO) else str(page)


def runnable_blocks(page: Path) -> list[Block]:
    """The blocks of `page` marked runnable; a marker not followed by a shell or Python fence is an error."""
    lines = page.read_text().splitlines()
    blocks = []
    for i, line in enumerate(lines):
        marker = _MARKER.match(line)
        if not marker:
            continue
        options = marker.group(1)
        fence = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if not fence or fence.group(2) not in _LANGS:
            raise AssertionError(f"{_name(page)}:{i + 1}: a runnable marker must be followed by a "
                                 f"```sh, ```bash or ```python fence")
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith(fence.group(1)))
        blocks.append(Block(page, i + 2, _LANGS[fence.group(2)], "\n".join(lines[i + 2:end]) + "\n",
                            tuple(re.findall(r'expect="((?:[^"\\]|\\.)*)"', options)),
                            bool(re.search(r"\breceiver\b", options))))
    return blocks


def _run(block: Block, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["COLUMNS"] = "160"  # Rich tables wide enough that an expected fragment is not wrapped
    code = block.code
    with Receiver() if block.receiver else contextlib.nullcontext() as receiver:
        if receiver is not None:
            code = code.replace("localhost:4317", f"127.0.0.1:{receiver.grpc_port}")
            code = code.replace("localhost:4318", f"127.0.0.1:{receiver.http_port}")
        argv = ["bash", "-e", "-o", "pipefail", "-c", code] if block.lang == "sh" else [sys.executable, "-c", code]
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        if receiver is not None:  # the example really talked to it
            assert receiver.requests, f"{block}: the receiver got no request:\n{result.stdout}{result.stderr}"
        return result


PAGES_WITH_EXAMPLES = [page for page in PAGES if runnable_blocks(page)]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_runnable_examples(page: Path, tmp_path: Path) -> None:
    for block in runnable_blocks(page):
        result = _run(block, tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{block} exited {result.returncode}:\n{output}"
        for fragment in block.expect:
            assert fragment.replace('\\"', '"') in output, f"{block}: {fragment!r} not in its output:\n{output}"


def test_the_front_page_and_the_docs_have_runnable_examples() -> None:
    """So a marker or parser gone wrong cannot pass by running nothing."""
    assert len(runnable_blocks(REPO / "README.md")) >= 3
    assert len(PAGES_WITH_EXAMPLES) >= 5


def test_a_marker_without_a_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- runnable -->\n\n```sh\necho hi\n```\n")
    with pytest.raises(AssertionError, match="must be followed by"):
        runnable_blocks(page)
    page.write_text('<!-- runnable expect="hi" receiver -->\n```bash\necho hi\n```\n')
    assert runnable_blocks(page) == [Block(page, 2, "sh", "echo hi\n", ("hi",), True)]


# ------------------------------------------------------------------------------------------------------ links

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The page without fenced blocks and inline code, where a `[x](y)` is not a link."""
    out, fence = [], None
    for line in text.splitlines():
        opener = _FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)
        elif fence is not None and line.startswith(fence):
            fence = None
        elif fence is None:
            out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes for the page's headings: lower case, punctuation dropped, spaces as hyphens."""
    seen: dict[str, int] = {}
    result = set()
    for line in _prose(page.read_text().replace("`", "")).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in _LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target} (no such heading)")
    return broken


@pytest.mark.parametrize("page", [*PAGES, REPO / "CHANGELOG.md", REPO / "DEVELOPERS.md"],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_lead_somewhere(page: Path) -> None:
    assert broken_links(page) == []


def test_the_link_check_sees_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# The other page\n\n## What the command's `env` gets\n")
    page = tmp_path / "page.md"
    page.write_text("# Page\n[ok](other.md#what-the-commands-env-gets) [ok](#page) [web](https://x.org/a#b)\n"
                    "`[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n"
                    "[gone](missing.md) [bad anchor](other.md#nope)\n")
    assert broken_links(page) == ["missing.md (no such file)", "other.md#nope (no such heading)"]


# --------------------------------------------------------------------------------------------- settings table


def _settings_table_script():
    spec = importlib.util.spec_from_file_location("settings_table", REPO / "scripts" / "settings_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_settings_tables_are_generated_from_options() -> None:
    from signoz_litellm_run.settings import OPTIONS

    script = _settings_table_script()
    for path, kind in script.PLACES.items():
        text = path.read_text()
        assert f"<!-- settings-table:{kind} -->" in text, path
        assert script.updated(text) == text, f"{path.name}: run python scripts/settings_table.py"
        for option in OPTIONS:
            assert f"`{option.flag}" in text and all(f"`{env}`" in text for env in option.envs), option.name


def test_the_settings_table_check_sees_a_stale_table() -> None:
    script = _settings_table_script()
    stale = "<!-- settings-table:short -->\n| flag |\n<!-- /settings-table -->\n"
    assert script.updated(stale) != stale
    assert script.updated(script.updated(stale)) == script.updated(stale)

"""The settings tables of README.md and docs/settings.md, generated from `settings.OPTIONS` so they stay true.

Each table sits between `<!-- settings-table:NAME -->` and `<!-- /settings-table -->`; tests/test_docs.py fails
when a table differs from what this script makes.
Usage: python scripts/settings_table.py          # rewrite both tables in place
       python scripts/settings_table.py --check  # exit 1 when a table is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from signoz_litellm_run.settings import CONFIG_ENV, OPTIONS, Option

REPO = Path(__file__).resolve().parent.parent
# Where each table goes: file -> table name. "short" is the front page's, "full" adds the config key.
PLACES = {REPO / "README.md": "short", REPO / "docs" / "settings.md": "full"}
_BLOCK = re.compile(r"(<!-- settings-table:(\w+) -->\n)(.*?)(<!-- /settings-table -->)", re.S)

# A default that is not a plain value: what happens when the setting is not given.
_DEFAULT_WORDS = {
    "service_name": "from the command",
    "report": "on in CI",
    "max_request_size": "4MB",
}


def _flag(option: Option) -> str:
    """A boolean on by default (or decided at run time) also has its `--no-` form."""
    name = option.flag.removeprefix("--")
    if option.parse.__name__ == "parse_bool" and option.default is not False:
        return f"`--{name}/--no-{name}`"
    return f"`{option.flag}`"


def _default(option: Option) -> str:
    if option.name in _DEFAULT_WORDS:
        return _DEFAULT_WORDS[option.name]
    value = option.default
    if value is None or value == ():
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)} s" if "seconds" in option.parse.__name__ else str(int(value))
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(kind: str) -> str:
    """The Markdown table: flag, environment variable(s), [config key,] default, meaning."""
    full = kind == "full"
    head = ["flag", "environment variable", *(["config key"] if full else []), "default", "meaning"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for option in OPTIONS:
        envs = ", then ".join(f"`{e}`" for e in option.envs)
        meaning = option.help if full else re.split(r"(?<=\.)\s+(?=[A-Z])", option.help)[0]  # one line
        cells = [_flag(option), envs, *([f"`{option.config_key}`"] if full else []), _default(option),
                 _cell(meaning)]
        rows.append("| " + " | ".join(cells) + " |")
    config = ["`--config`", f"`{CONFIG_ENV}`", *([""] if full else []), "`./signoz-litellm.toml`",
              "TOML config file; else `[tool.signoz-litellm]` in `./pyproject.toml`."]
    rows.append("| " + " | ".join(config) + " |")
    return "\n".join(rows) + "\n"


def updated(text: str) -> str:
    """`text` with every settings table in it replaced by the current one."""
    return _BLOCK.sub(lambda m: m.group(1) + render(m.group(2)) + m.group(4), text)


def main(argv: list[str]) -> int:
    stale = []
    for path in PLACES:
        text = path.read_text()
        new = updated(text)
        if new != text:
            stale.append(path)
            if "--check" not in argv:
                path.write_text(new)
    if stale and "--check" in argv:
        print("out of date: " + ", ".join(str(p.relative_to(REPO)) for p in stale)
              + " (python scripts/settings_table.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The console script's entry: `run`'s command line read without Typer, everything else handed to `cli.py`.

Importing Typer, Click and Rich costs the launcher about 300 M instructions (0.15 s) before it can exec the command,
in every process a CI script or a coding assistant starts through `signoz-litellm run`. A `run` command line made
only of the flags `settings.OPTIONS` defines (as `cli.py` declares them for `run`) and the command is parsed here,
with Click's rules for what it recognises: options until the first argument or `--`, `--flag VALUE` or
`--flag=VALUE`, the last of a repeated flag wins. Anything else (`--help`, `-h`, an unknown or misspelt flag, a
missing value, a value that looks like a flag, shell completion) goes to `cli.main`, whose Typer command line
gives the help and the errors users know. `tests/test_entry.py` checks this table against Typer's `run`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

# Boolean settings whose flag also has a --no- form on `run` (cli.py: "--bootstrap/--no-bootstrap").
NEGATABLE = frozenset({"bootstrap", "report", "system_metrics"})
REPEATABLE = frozenset({"scrub_patterns", "tags"})  # Typer's list options: every occurrence counts, in order
CONFIG_FLAG = "--config"


def run_flags() -> tuple[dict[str, tuple[str, Any]], frozenset[str]]:
    """`run`'s flags: flag -> (setting name, the value a flag alone gives, or None when it takes a value); and
    the value flags. Built from `settings.OPTIONS` the way `cli.py` declares them."""
    from signoz_litellm_run.settings import OPTIONS, parse_bool

    flags: dict[str, tuple[str, Any]] = {CONFIG_FLAG: ("config", None)}
    for option in OPTIONS:
        if option.parse is parse_bool:
            flags[option.flag] = (option.name, True)
            if option.name in NEGATABLE:
                flags["--no-" + option.flag[2:]] = (option.name, False)
        else:
            flags[option.flag] = (option.name, None)
    return flags, frozenset(flag for flag, (_, alone) in flags.items() if alone is None)


def parse_run(args: Sequence[str]) -> tuple[dict[str, Any], list[str]] | None:
    """`run`'s arguments (after the word `run`) as (the values given, by setting name, `config` included; the
    command), or None when Typer must read them."""
    flags, _ = run_flags()
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break  # the command: options end at the first argument (allow_interspersed_args=False)
        flag, has_value, value = arg.partition("=")
        known = flags.get(flag)
        if known is None or not flag.startswith("--"):
            return None  # help, a short option, an unknown flag: Typer says what it says
        name, alone = known
        if alone is not None:
            if has_value:
                return None  # Click: "Option does not take a value"
            values[name] = alone
            i += 1
            continue
        if not has_value:
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                return None  # a missing value, or one Click might read otherwise
            value = args[i + 1]
            i += 1
        if name in REPEATABLE:
            values.setdefault(name, []).append(value)
        else:
            values[name] = value
        i += 1
    command = list(args[i:])
    if command and command[0] == "--":
        command = command[1:]  # as cli.run does
    return values, command


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: `run` with flags we fully recognise runs here; anything else goes to Typer."""
    args = list(sys.argv[1:] if argv is None else argv)
    parsed = parse_run(args[1:]) if args[:1] == ["run"] and not _completion_requested() else None
    if parsed is None:
        from signoz_litellm_run import cli

        cli.main(args)
        return
    values, command = parsed
    from signoz_litellm_run.errors import LauncherError

    try:
        _run(values, command)
    except LauncherError as exc:
        print(f"signoz-litellm: error: {exc.message}", file=sys.stderr)  # as cli._print_error
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    sys.exit(0)


def _run(values: dict[str, Any], command: list[str]) -> None:
    """What `cli.run` does with the same values."""
    from pathlib import Path

    from signoz_litellm_run import runner
    from signoz_litellm_run.errors import UsageError
    from signoz_litellm_run.settings import resolve

    if not command:
        raise UsageError("No command to run.", "Put it after the options: signoz-litellm run --region us -- python app.py")
    config = values.pop("config", None)
    settings = resolve(values, os.environ, Path.cwd(), command, config_path=config)
    runner.run(settings, command)


def _completion_requested() -> bool:
    """Click's shell completion (`_SIGNOZ_LITELLM_COMPLETE=...`): only Typer answers it."""
    return "_SIGNOZ_LITELLM_COMPLETE" in os.environ

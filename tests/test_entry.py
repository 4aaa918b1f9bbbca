"""`run` read without Typer (signoz_litellm_run/entry.py): the same flags as Typer's `run`, the same command and
environment for the child, no Typer, Click or Rich on its path, and Typer for everything it does not recognise."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from signoz_litellm_run.entry import REPEATABLE, parse_run, run_flags
from tests.support.launch import clean_env, launcher

pytestmark = pytest.mark.timeout(120)
ENDPOINT = "http://127.0.0.1:4317"
TYPER_ONLY = {"--dry-run", "--no-scrub"}  # run's flags that are not settings (`--no-scrub`: `_flags` reads it)
SHOW_ENV = ("import json, os, sys; print(json.dumps({'argv': sys.argv[1:], 'env': {k: v for k, v in os.environ.items() "
            "if k.startswith(('OTEL_', 'SIGNOZ_', 'PYTHONPATH', 'USE_OTEL', 'LITELLM_'))}}))")


def test_the_flags_are_typers_run_flags() -> None:
    """Every flag Typer's `run` takes, with the same kind (a value, a flag alone, its --no- form), and no other."""
    import typer.main

    from signoz_litellm_run import cli

    command = typer.main.get_command(cli.app).commands["run"]
    typer_flags: dict[str, tuple[str, object]] = {}
    for param in command.params:
        if param.param_type_name != "option" or param.name == "help":
            continue
        for flag in param.opts:
            typer_flags[flag] = (param.name, True if param.is_flag else None)
        for flag in param.secondary_opts:
            typer_flags[flag] = (param.name, False)
    ours, _ = run_flags()
    assert {param.name for param in command.params if getattr(param, "multiple", False)} == REPEATABLE
    assert TYPER_ONLY <= typer_flags.keys()  # `--dry-run` prints the plan: Typer's path, never the fast one
    assert ours == {flag: kind for flag, kind in typer_flags.items() if flag not in TYPER_ONLY}


@pytest.mark.parametrize("args, values, command", [
    (["--endpoint", ENDPOINT, "--", "python", "-c", "pass"], {"endpoint": ENDPOINT}, ["python", "-c", "pass"]),
    (["--endpoint=" + ENDPOINT, "python", "--", "x"], {"endpoint": ENDPOINT}, ["python", "--", "x"]),
    (["--no-bootstrap", "--insecure", "--local", "--", "--", "cmd"], {"bootstrap": False, "insecure": True,
                                                                      "local": True}, ["cmd"]),
    (["--region", "us", "--region", "eu", "cmd"], {"region": "eu"}, ["cmd"]),  # Click: the last wins
    (["--config", "x.toml", "--report", "--system-metrics", "cmd", "--help"],
     {"config": "x.toml", "report": True, "system_metrics": True}, ["cmd", "--help"]),
    (["--endpoint", ENDPOINT], {"endpoint": ENDPOINT}, []),
    (["--service-name=", "cmd"], {"service_name": ""}, ["cmd"]),
    (["--tag", "a=1", "--scrub-pattern", "x+", "--tag=b=2", "cmd"],
     {"tags": ["a=1", "b=2"], "scrub_patterns": ["x+"]}, ["cmd"]),  # repeatable: every one, in order
])
def test_parsed_as_click_parses_them(args: list[str], values: dict, command: list[str]) -> None:
    assert parse_run(args) == (values, command)


@pytest.mark.parametrize("args", [
    ["--help"], ["-h", "cmd"], ["--regoin", "us", "cmd"], ["--endpoint"], ["--endpoint", "--local", "cmd"],
    ["--insecure=true", "cmd"], ["--no-insecure", "cmd"], ["--dry-run", "cmd"], ["--no-scrub", "cmd"], ["--endp", ENDPOINT, "cmd"], ["-x", "cmd"],
])
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert parse_run(args) is None


@pytest.mark.parametrize("flags", [
    ["--endpoint", ENDPOINT, "--no-bootstrap"],
    ["--endpoint=" + ENDPOINT, "--service-name", "svc", "--environment", "ci", "--resource-attributes", "a=1,b=2",
     "--protocol", "http/protobuf", "--shutdown-timeout", "3", "--max-request-size", "8MB", "--no-system-metrics",
     "--raw-request-span", "--trace-health-probes", "--no-report", "--bootstrap-timeout", "5", "--no-bootstrap"],
    ["--region", "eu", "--ingestion-key", "k" * 20, "--insecure", "--no-bootstrap"],
])
def test_the_child_gets_what_typer_would_give_it(flags: list[str], tmp_path) -> None:
    """The same command line through the fast path and through Typer's `run`: the same argv and environment."""
    args = ["run", *flags, "--", sys.executable, "-c", SHOW_ENV, "arg"]
    env = clean_env()
    fast = launcher(args, env=env, cwd=tmp_path)
    typer_run = subprocess.run([sys.executable, "-c", "import sys; from signoz_litellm_run.cli import main; "
                                "main(sys.argv[1:])", *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                               timeout=60)
    assert fast.returncode == typer_run.returncode == 0, (fast.stderr, typer_run.stderr)
    ours, theirs = json.loads(fast.stdout), json.loads(typer_run.stdout)
    assert ours["argv"] == theirs["argv"] == ["arg"]
    differing = {k for k in ours["env"].keys() | theirs["env"].keys() if ours["env"].get(k) != theirs["env"].get(k)}
    assert differing == {"SIGNOZ_LITELLM_ROOT_PID"}  # each launcher's own pid



def test_run_imports_no_typer_click_or_rich() -> None:
    """What the launcher imported before it exec'd the command (`-X importtime` writes it as it goes)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "signoz_litellm_run", "run", "--endpoint",
                             ENDPOINT, "--", "true"], env=clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "signoz_litellm_run.runner" in modules  # it did read the command line and run it
    assert not {m for m in modules if m.split(".")[0] in ("typer", "click", "rich")}


def test_help_and_errors_still_come_from_typer() -> None:
    helped = launcher(["run", "--help"])
    assert helped.returncode == 0 and "Usage" in helped.stdout and "--endpoint" in helped.stdout
    wrong = launcher(["run", "--endpoint", ENDPOINT, "--regoin", "us", "--", "true"])
    assert wrong.returncode == 2 and "--regoin" in wrong.stderr and "Traceback" not in wrong.stderr
    missing = launcher(["run", "--endpoint"])
    assert missing.returncode == 2 and "--endpoint" in missing.stderr and "Traceback" not in missing.stderr


def test_a_users_error_on_the_fast_path_is_one_sentence_and_a_hint() -> None:
    result = launcher(["run", "--endpoint", ENDPOINT, "--", "no-such-command-xyz"])
    assert result.returncode == 127
    assert result.stderr.splitlines()[0] == "signoz-litellm: error: Command not found: no-such-command-xyz."
    assert result.stderr.splitlines()[1].startswith("hint: ") and len(result.stderr.splitlines()) == 2

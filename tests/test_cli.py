"""The command line as a user meets it: exit statuses, one-sentence errors with hints, no tracebacks, no key."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.launch import clean_env, launcher

KEY = "sk-secret-ingestion-key-4242"
pytestmark = pytest.mark.timeout(60)


def _env(**extra: str) -> dict[str, str]:
    return clean_env({"SIGNOZ_INGESTION_KEY": KEY, **extra})


def _assert_user_error(result, status: int, *phrases: str) -> None:
    assert result.returncode == status, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("signoz-litellm: error: "), result.stderr
    assert lines[1].startswith("hint: ")
    assert len(lines) == 2, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr
    assert "Traceback" not in result.stderr
    assert KEY not in result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args, status, phrases", [
    (["run", "--region", "mars", "--", "python", "-c", "pass"], 2, ["'mars'", "us, eu, in, us2, eu2, in2"]),
    (["run", "--endpoint", "tcp://x:1", "--", "python", "-c", "pass"], 2, ["http://", "https://"]),
    (["run", "--endpoint", "http://127.0.0.1:4317", "--protocol", "thrift", "--", "python"], 2, ["'thrift'"]),
    (["run", "--endpoint", "http://127.0.0.1:4317"], 2, ["No command to run"]),
    (["run", "--endpoint", "http://127.0.0.1:4317", "--"], 2, ["No command to run"]),
    (["run", "--endpoint", "http://127.0.0.1:4317", "--", "no-such-command-xyz"], 127, ["no-such-command-xyz"]),
    (["run", "--endpoint", "http://127.0.0.1:4317", "--", "./no/such/file"], 127, ["./no/such/file"]),
    # Numbers and paths are checked as the same value from env or config would be: one format, not Click's.
    (["run", "--endpoint", "http://127.0.0.1:4317", "--shutdown-timeout", "soon", "--", "python"], 2,
     ["Invalid flag --shutdown-timeout: 'soon' is not a number of seconds"]),
    (["run", "--endpoint", "http://127.0.0.1:4317", "--bootstrap-timeout", "-5", "--", "python"], 2,
     ["Invalid flag --bootstrap-timeout"]),
    (["run", "--endpoint", "http://127.0.0.1:4317", "--report-file", "", "--", "python"], 2,
     ["Invalid flag --report-file: the path is empty"]),
])
def test_user_errors(args: list[str], status: int, phrases: list[str]) -> None:
    _assert_user_error(launcher(args, env=_env()), status, *phrases)


def test_cloud_region_without_key() -> None:
    result = launcher(["run", "--region", "us", "--", "python", "-c", "pass"], env=clean_env())
    _assert_user_error(result, 2, "ingestion key", "SIGNOZ_INGESTION_KEY")


def test_no_destination_points_at_the_choices() -> None:
    result = launcher(["run", "--", "python", "-c", "pass"], env=clean_env())
    _assert_user_error(result, 2, "--region", "--endpoint", "--local")


def test_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    result = launcher(["run", "--endpoint", "http://127.0.0.1:4317", "--", str(script)], env=_env())
    _assert_user_error(result, 126, "not executable", str(script))
    result = launcher(["run", "--endpoint", "http://127.0.0.1:4317", "--", "job.sh"],
                      env=_env(PATH=f"{tmp_path}:/usr/bin:/bin"))
    _assert_user_error(result, 126, "not executable")
    result = launcher(["run", "--endpoint", "http://127.0.0.1:4317", "--", str(tmp_path)], env=_env())
    _assert_user_error(result, 126, "not executable")


def test_broken_shebang_is_command_not_found(tmp_path: Path) -> None:
    script = tmp_path / "job"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    result = launcher(["run", "--endpoint", "http://127.0.0.1:4317", "--", str(script)], env=_env())
    _assert_user_error(result, 127, "#! line")


def test_bad_config_file(tmp_path: Path) -> None:
    (tmp_path / "signoz-litellm.toml").write_text("endpont = 'http://x:4317'\n")
    result = launcher(["run", "--", "python", "-c", "pass"], env=_env(), cwd=tmp_path)
    _assert_user_error(result, 2, "unknown setting 'endpont'", "endpoint")


def test_unknown_option_is_a_usage_error() -> None:
    result = launcher(["run", "--regoin", "us", "--", "python"], env=_env())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--regoin" in result.stderr


def test_version_both_ways() -> None:
    from signoz_litellm_run import __version__

    assert launcher(["--version"]).stdout.strip() == f"signoz-litellm {__version__}"
    script = Path(sys.executable).parent / "signoz-litellm"
    if script.exists():
        import subprocess

        out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == f"signoz-litellm {__version__}"


def test_env_masks_the_key_unless_asked() -> None:
    args = ["env", "--region", "us", "--service-name", "svc"]
    shown = launcher(args, env=_env())
    assert shown.returncode == 0, shown.stderr
    assert KEY not in shown.stdout and "signoz-ingestion-key=****4242" in shown.stdout
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=https://ingest.us.signoz.cloud:443" in shown.stdout
    as_json = json.loads(launcher([*args, "--format", "json"], env=_env()).stdout)
    assert as_json["OTEL_SERVICE_NAME"] == "svc" and KEY not in json.dumps(as_json)
    secret = launcher([*args, "--format", "dotenv", "--show-secrets"], env=_env())
    assert f"signoz-ingestion-key={KEY}" in secret.stdout
    bad = launcher([*args, "--format", "yaml"], env=_env())
    _assert_user_error(bad, 2, "'yaml'")


def test_config_explains_sources_and_masks_the_key(tmp_path: Path) -> None:
    (tmp_path / "signoz-litellm.toml").write_text("environment = 'staging'\n")
    result = launcher(["config", "--region", "eu"], env=_env(OTEL_SERVICE_NAME="billing"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert KEY not in out and "****4242" in out
    assert "flag --region" in out and "env OTEL_SERVICE_NAME" in out and "staging" in out
    assert "https://ingest.eu.signoz.cloud:443" in out
    assert launcher(["env", "--explain"], env=_env(), cwd=tmp_path).returncode == 0


# --------------------------------------------------------------------------------------------- --help

def _command_paths() -> list[tuple[list[str], object]]:
    """Every command and group of the CLI, with its Click object (the options --help must show)."""
    import typer.main

    from signoz_litellm_run import cli

    paths: list[tuple[list[str], object]] = []

    def walk(path: list[str], command: object) -> None:
        paths.append((path, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk([*path, name], sub)

    walk([], typer.main.get_command(cli.app))
    return paths


def _row_after_names(help_text: str, names: list[str]) -> str:
    """What --help shows right after a parameter's names: its metavar, else the first word of its help."""
    for line in help_text.splitlines():
        words = [part for word in re.split(r"[\s│]+", line) if word
                 for part in (word.split(",") if word.startswith("-") else [word])]  # old Typer: --a,--no-a
        if words and words[0] == names[0]:
            rest = [w for w in words if w not in names]
            return rest[0] if rest else ""
    raise AssertionError(f"{names[0]} is not in the help:\n{help_text}")


_COMMANDS = _command_paths()


@pytest.mark.parametrize("path, command", _COMMANDS, ids=[" ".join(path) or "signoz-litellm" for path, _ in _COMMANDS])
def test_help_shows_a_metavar_for_each_value_and_nothing_beside_a_flag(path: list[str], command: object) -> None:
    shown = launcher([*path, "--help"], env=clean_env({"COLUMNS": "240"}))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert not re.search(r"<(str|bool|int|float|path|list\[.*?\])>", text), text  # no Python type tags
    params = [*command.params, SimpleNamespace(opts=["--help", "-h"], secondary_opts=[], is_flag=True,
                                               param_type_name="option", help="Show this message and exit.",
                                               hidden=False)]
    for param in params:
        if getattr(param, "hidden", False):
            continue
        help_words = (param.help or "").split()
        if param.param_type_name == "argument":  # named in the usage line (its row's look is Typer's own)
            assert param.metavar and param.metavar.isupper(), (path, param.name)
            assert param.metavar in text.split("Usage:")[1].splitlines()[0], (path, param.metavar)
            continue
        names = [*param.opts, *param.secondary_opts]
        names.sort(key=lambda n: not n.startswith("--"))  # the row starts with the long name
        after = _row_after_names(text, names)
        if getattr(param, "is_flag", False):
            assert after == help_words[0], (path, names, after)  # a flag takes no value: nothing beside it
        else:
            assert param.metavar and re.fullmatch(r"[A-Z][A-Z0-9=.,]*|[a-z0-9]+(\|[a-z0-9]+)+", param.metavar), \
                (path, names, param.metavar)
            assert after == param.metavar, (path, names, after)


def test_help_names_what_each_setting_takes() -> None:
    text = launcher(["run", "--help"], env=clean_env({"COLUMNS": "240"})).stdout
    for option, metavar in (("--endpoint", "URL"), ("--shutdown-timeout", "SECONDS"), ("--ca-cert", "FILE"),
                            ("--report-file", "FILE"), ("--max-request-size", "BYTES"), ("--config", "FILE"),
                            ("--region", "REGION"), ("--resource-attributes", "KEY=VALUE,...")):
        assert _row_after_names(text, [option]) == metavar, option
    for flag in ("--insecure", "--local", "--help", "--fail-on-telemetry-loss"):
        assert not _row_after_names(text, [flag]).isupper(), flag


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    args = ["run", "--endpoint", "http://127.0.0.1:4317", "--report", "--dry-run", "--", "sh", "-c", f"touch {marker}"]
    shown = launcher(args, env=_env())
    assert shown.returncode == 0, shown.stderr
    assert not marker.exists()  # nothing ran
    out = shown.stdout
    assert "mode: supervise" in out and "report: yes" in out and "python: -" in out  # sh is not a Python program
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317" in out
    assert "signoz-ingestion-key=****4242" in out and KEY not in out + shown.stderr
    python = launcher(["run", "--endpoint", "http://127.0.0.1:4317", "--dry-run", "--", sys.executable, "-I", "x.py"],
                      env=_env())
    assert python.returncode == 0 and "mode: exec" in python.stdout
    assert "python -I isolates Python from PYTHONPATH" in python.stdout

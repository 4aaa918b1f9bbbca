"""Finding the interpreter that will run a command."""

from __future__ import annotations

from pathlib import Path

from signoz_litellm_run.child_python import find_python


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_find_python_follows_the_command_and_script_lines(tmp_path: Path) -> None:
    python = _executable(tmp_path / "venv" / "bin" / "python3.11", "")
    spaced = _executable(tmp_path / "venv dir" / "bin" / "python", "")  # too odd for #!: pip's sh form
    on_path = _executable(tmp_path / "bin" / "python3", "")
    env = {"PATH": str(on_path.parent)}
    _executable(tmp_path / "bin" / "tool", f"#!{python} -u\nprint()\n")
    via_env = _executable(tmp_path / "bin" / "envtool", "#!/usr/bin/env python3\n")
    _executable(tmp_path / "bin" / "longtool", f"#!/bin/sh\n'''exec' \"{spaced}\" \"$0\" \"$@\"\n' '''\n")
    _executable(tmp_path / "bin" / "job.sh", "#!/bin/sh\necho hi\n")

    assert find_python(["python3"], env) == str(on_path)
    assert find_python([str(python), "app.py"], env) == str(python)
    assert find_python(["tool"], env) == str(python)
    assert find_python([str(via_env)], env) == str(on_path)
    assert find_python(["longtool"], env) == str(spaced)
    assert find_python(["job.sh"], env) is None
    assert find_python(["no-such-command"], env) is None

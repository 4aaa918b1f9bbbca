"""The config file: `--config` / SIGNOZ_LITELLM_CONFIG, else ./signoz-litellm.toml, else pyproject.toml's
[tool.signoz-litellm] table; keys are the settings' names (dashes or underscores), unknown keys refused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signoz_litellm_run.errors import UsageError

if TYPE_CHECKING:
    from signoz_litellm_run.settings import Option

CONFIG_FILE_NAME = "signoz-litellm.toml"
PYPROJECT_TABLE = "signoz-litellm"


def _toml_loads(text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads(text)


def load_config_file(explicit: str | None, cwd: Path,
                     options: Sequence[Option]) -> tuple[dict[str, Any], str | None]:
    """Read the config file: the explicit one, else ./signoz-litellm.toml, else [tool.signoz-litellm]."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_absolute():
            path = cwd / path
        if not path.is_file():
            raise UsageError(f"Config file {explicit} does not exist.",
                             "Check the path given to --config or SIGNOZ_LITELLM_CONFIG.")
        return _read_table(path, None, options), str(path)
    own = cwd / CONFIG_FILE_NAME
    if own.is_file():
        return _read_table(own, None, options), str(own)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        table = _read_table(pyproject, PYPROJECT_TABLE, options)
        if table:
            return table, f"{pyproject} [tool.{PYPROJECT_TABLE}]"
    return {}, None


def _read_table(path: Path, table: str | None, options: Sequence[Option]) -> dict[str, Any]:
    try:
        data = _toml_loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Config file {path} cannot be read: {exc.strerror}.",
                         "Check the file's permissions.") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise UsageError(f"Config file {path} is not valid TOML: {exc}.",
                         "Fix the syntax; see the README's configuration section for an example.") from None
    if table is not None:
        data = data.get("tool", {}).get(table, {})
        if not isinstance(data, dict):
            raise UsageError(f"[tool.{table}] in {path} is not a table.", "Write it as a TOML table.")
    known = {o.config_key for o in options} | {o.name for o in options}
    for key in data:
        if key not in known:
            raise UsageError(
                f"Config file {path} has an unknown setting {key!r}.",
                f"Known settings: {', '.join(o.config_key for o in options)}.",
            )
    return {k.replace("-", "_"): v for k, v in data.items()}

"""The one exception type the launcher raises for a user's mistake.

Each error carries a one-sentence message, a hint that names the fix, and the documented exit
status. `cli.py` catches it once and prints it; nothing else prints errors.
"""

from __future__ import annotations

# Documented exit statuses (README, "Exit status").
EXIT_USAGE = 2  # usage or configuration error
EXIT_NOT_EXECUTABLE = 126  # the command exists but cannot be executed
EXIT_NOT_FOUND = 127  # the command was not found


class LauncherError(Exception):
    """A problem the user can fix; never shown with a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(LauncherError):
    """Bad flags, environment variables or configuration file (exit 2)."""

    exit_code = EXIT_USAGE


class CommandNotFound(LauncherError):
    exit_code = EXIT_NOT_FOUND


class CommandNotExecutable(LauncherError):
    exit_code = EXIT_NOT_EXECUTABLE


class SettingsError(UsageError, ValueError):
    """What `signoz_litellm_run.init()` raises for a setting `run` would refuse: the same sentence and hint, as a
    ValueError a program can catch; its text holds both, so a notebook shows the fix."""

    def __str__(self) -> str:
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message

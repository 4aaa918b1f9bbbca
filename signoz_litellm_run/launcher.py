"""The edge where the launcher becomes the user's command: resolve it, then exec it.

`exec_command` is the one place that replaces this process. The command keeps our pid, receives
signals directly, and its exit status is the job's. `spawn_and_wait` + `exit_like` are the same
promise for a launcher that must outlive the command (`run --local` hosts a receiver): signals passed
on, the same descriptors, errors and exit status.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import NoReturn

from signoz_litellm_run.errors import CommandNotExecutable, CommandNotFound, UsageError


def resolve_executable(command: str, env: Mapping[str, str]) -> str:
    """The path `command` names, looked up on the child's PATH like a shell would."""
    if not command:
        raise UsageError("No command to run.", "Put the command after the options: signoz-litellm run -- python app.py")
    if os.sep in command or (os.altsep and os.altsep in command):
        if not os.path.exists(command):
            raise CommandNotFound(f"Command not found: {command}.", "Check the path.")
        if os.path.isdir(command) or not os.access(command, os.X_OK):
            raise CommandNotExecutable(
                f"Command is not executable: {command}.",
                f"Run it through its interpreter (e.g. python {command}) or chmod +x it.",
            )
        return command
    found = shutil.which(command, path=env.get("PATH", os.defpath))
    if found is None:
        # Present on PATH but not executable?
        for directory in env.get("PATH", os.defpath).split(os.pathsep):
            candidate = os.path.join(directory or ".", command)
            if os.path.isfile(candidate):
                raise CommandNotExecutable(
                    f"Command is not executable: {candidate}.", f"chmod +x {candidate}, or run it through its interpreter."
                )
        raise CommandNotFound(
            f"Command not found: {command}.",
            "Check the spelling, or activate the virtual environment that provides it.",
        )
    return found


def exec_command(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Replace this process with `argv`, or raise a LauncherError saying why it cannot start."""
    path = resolve_executable(argv[0], env)
    sys.stdout.flush()
    sys.stderr.flush()
    restore_signals()
    try:
        os.execve(path, list(argv), dict(env))
    except OSError as exc:
        raise start_error(argv[0], exc) from None


def restore_signals() -> None:
    """Python ignores SIGPIPE and SIGXFSZ at start-up, and an exec keeps ignored signals ignored: the
    command would then behave differently from the same command run from a shell (`yes | head` would
    never end `yes` by SIGPIPE). Put them back to their defaults, as subprocess does."""
    import signal

    for name in ("SIGPIPE", "SIGXFSZ"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, signal.SIG_DFL)


def start_error(command: str, exc: OSError) -> CommandNotFound | CommandNotExecutable:
    """The error for a command the system refused to start (exec or spawn): 127 or 126, as a shell."""
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return CommandNotFound(f"Command not found: {command} ({exc.strerror}).",
                               "If it is a script, check its #! line names an installed interpreter.")
    return CommandNotExecutable(
        f"Command cannot be executed: {command} ({exc.strerror}).",
        "Check it is a program or a script with a #! line, and that you may execute it.",
    )


# --------------------------------------------------------------------------------------------- spawn
# For a launcher that must stay alive while the command runs (`run --local` hosts a receiver).

FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
# Keys a terminal turns into signals for its whole foreground process group (the command included).
TERMINAL_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGQUIT") if hasattr(signal, n))


def spawn_and_wait(argv: Sequence[str], path: str, env: Mapping[str, str], *,
                   on_start: Callable[[int], object] | None = None) -> int:
    """Run the command as a child instead of becoming it, for a launcher that must outlive it.

    Keeps what exec promises: the same descriptors and errors (127 / 126); FORWARDED signals sent to
    the launcher are passed on (the command stays in our process group, so what a terminal sends the
    whole foreground group, and group-wide kills, reach it directly: a terminal key is not passed on
    a second time while we are in the terminal's foreground). `on_start` gets the command's pid. Returns
    the command's `returncode` (-N when signal N killed it); see `exit_like`.
    """
    import subprocess  # here: `run` without --local execs, and importing it costs every such launch

    child: subprocess.Popen[bytes] | None = None
    early: list[int] = []  # signals that came before the command existed

    def send(signum: int) -> None:
        if child is not None and child.returncode is None:
            try:
                child.send_signal(signum)
            except OSError:
                pass

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child is None:
            early.append(signum)  # the command did not exist yet, so nothing reached it
        elif signum in TERMINAL_SIGNALS and _in_terminal_foreground():
            pass  # the terminal sent it to the whole foreground group: the command has it already
        else:
            send(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            # The command inherits the descriptors exec would give it (our own sockets are not
            # inheritable). Passing them explicitly, rather than close_fds=False, also keeps CPython off
            # posix_spawn, which leaves glibc's internal signals 32 and 33 ignored in the command.
            child = subprocess.Popen(list(argv), executable=path, env=dict(env), pass_fds=_inheritable_fds())
        except OSError as exc:
            raise start_error(argv[0], exc) from None
        if on_start is not None:
            on_start(child.pid)
        for signum in early:
            send(signum)
        # Not a plain wait(): the kernel may hand a signal sent to the launcher to any of its threads (the
        # --local receiver's, say), and then a main thread blocked in waitpid is never woken to run
        # `forward`. Popen.wait with a timeout sleeps in steps of at most 50 ms, so it runs between them.
        while True:
            try:
                return child.wait(timeout=3600)
            except subprocess.TimeoutExpired:
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _inheritable_fds() -> tuple[int, ...]:
    """Open descriptors above 2 that an exec would pass on (those not marked close-on-exec)."""
    directory = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    try:
        names = os.listdir(directory)
    except OSError:
        return ()
    fds = []
    for name in names:
        try:
            fd = int(name)
            if fd > 2 and os.get_inheritable(fd):
                fds.append(fd)
        except (ValueError, OSError):  # the directory's own descriptor, closed by now
            continue
    return tuple(sorted(fds))


def _in_terminal_foreground() -> bool:
    """True when this process's group is the foreground group of the terminal on stdin/stdout/stderr."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


_CORE_SIGNALS = {getattr(signal, n) for n in ("SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
                                              "SIGSEGV", "SIGSYS", "SIGXCPU", "SIGXFSZ") if hasattr(signal, n)}


def shell_status(returncode: int) -> int:
    """A `Popen.returncode` as a shell shows it: -N (killed by signal N) becomes 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def exit_like(returncode: int) -> NoReturn:
    """Exit with the command's status; when a signal killed it, die of the same signal."""
    if returncode < 0:
        signum = -returncode
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        if signum in _CORE_SIGNALS:
            try:
                import resource

                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the command's core, not ours
            except (ImportError, OSError, ValueError):
                pass
        try:
            signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
            os.kill(os.getpid(), signum)
        except (OSError, ValueError):
            pass
    sys.exit(shell_status(returncode))

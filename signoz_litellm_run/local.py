"""`run --local`: the command's telemetry goes to an OTLP receiver inside the launcher, then a report.

The launcher must stay alive to host the receiver, so here it spawns the command instead of exec'ing
it, and keeps what exec mode promises:

- the same errors before start: command not found 127, not executable 126 (`launcher.resolve_executable`,
  `launcher.start_error`);
- the same signals: SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGINT and SIGQUIT sent to the launcher are passed
  on to the command. The command stays in the launcher's process group, so what a terminal sends to the
  whole foreground group (Ctrl-C, Ctrl-\\) and group-wide kills reach it directly; a terminal key is
  therefore not passed on a second time when the launcher is in the terminal's foreground;
- the same exit status: the command's own, and when a signal killed it the launcher dies of the same
  signal after the report (a shell shows 128+N, `subprocess` shows -N, as for the command itself).

After the command ends, the launcher waits until requests stop arriving (the command's exporters flush
at exit; processes it left behind may still be sending), prints the report on stderr (stdout stays the
program's), writes `--local-output` if asked, and exits.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from types import FrameType, MappingProxyType
from typing import NoReturn

from signoz_litellm_run import environment
from signoz_litellm_run.errors import LauncherError
from signoz_litellm_run.launcher import resolve_executable, start_error
from signoz_litellm_run.receiver import Receiver
from signoz_litellm_run.settings import Settings

FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
# Keys a terminal turns into signals for its whole foreground process group (the command included).
TERMINAL_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGQUIT") if hasattr(signal, n))
QUIET_PERIOD = 0.1  # seconds without a new request after which delivery is taken as finished
# Where the user's environment would send telemetry: replaced by the embedded receiver.
_DESTINATION_VAR = re.compile(
    r"^OTEL_EXPORTER_OTLP_(TRACES_|METRICS_|LOGS_)?"
    r"(ENDPOINT|PROTOCOL|HEADERS|CERTIFICATE|CLIENT_KEY|CLIENT_CERTIFICATE|INSECURE)$"
)


# --------------------------------------------------------------------------------------------- pure part


def local_base_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The user's environment without the variables that would send telemetry elsewhere."""
    return {k: v for k, v in environ.items() if not _DESTINATION_VAR.match(k)}


def local_settings(settings: Settings, endpoint: str) -> Settings:
    """The same settings, pointed at the embedded receiver (no key, no TLS, no cloud region)."""
    sources = dict(settings.sources)
    sources["endpoint"] = "local receiver (--local)"
    return dataclasses.replace(settings, endpoint=endpoint, region=None, ingestion_key=None, insecure=True,
                               ca_cert=None, sources=MappingProxyType(sources))


def shell_status(returncode: int) -> int:
    """A `Popen.returncode` as a shell shows it: -N (killed by signal N) becomes 128+N."""
    return 128 - returncode if returncode < 0 else returncode


# --------------------------------------------------------------------------------------------- edges


def run_local(settings: Settings, argv: Sequence[str]) -> NoReturn:
    base = local_base_environment(os.environ)
    path = resolve_executable(argv[0], base)  # `run` never changes PATH: 127 / 126 before anything starts
    receiver = Receiver(grpc=settings.protocol == "grpc", http=settings.protocol != "grpc")
    try:
        receiver.start()
    except Exception as exc:
        raise LauncherError(f"The local receiver could not start: {exc}.",
                            "Check that this machine allows listening on 127.0.0.1.") from None
    try:
        env = environment.child_environment(local_settings(settings, receiver.endpoint(settings.protocol)),
                                            base, cwd=os.getcwd(), pid=os.getpid())
        returncode = _run_child(argv, path, env)
        _wait_until_quiet(receiver, max(1.0, settings.shutdown_timeout))
    finally:
        receiver.stop()
    _finish(receiver, settings.local_output)
    _exit_like(returncode)


def _run_child(argv: Sequence[str], path: str, env: Mapping[str, str]) -> int:
    """Spawn the command, pass signals on to it, and return its `returncode`."""
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
        for signum in early:
            send(signum)
        return child.wait()
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


def _wait_until_quiet(receiver: Receiver, limit: float) -> None:
    """Wait until no request arrived for QUIET_PERIOD, at most `limit` seconds."""
    deadline = time.monotonic() + limit
    count = -1
    while time.monotonic() < deadline:
        now = len(receiver.requests) + len(receiver.rejected)
        if now == count:
            return
        count = now
        time.sleep(QUIET_PERIOD)


def _finish(receiver: Receiver, output: str | None) -> None:
    """Write --local-output, then print the report on stderr. Never changes the exit status."""
    from signoz_litellm_run.local_report import build_report, render

    written = None
    if output:
        try:
            with open(output, "w", encoding="utf-8") as f:
                for line in receiver.to_jsonl():
                    f.write(line + "\n")
            written = output
        except OSError as exc:
            print(f"signoz-litellm: could not write {output}: {exc.strerror or exc}.", file=sys.stderr)
    metrics = receiver.metrics()
    report = build_report(receiver.spans(), log_records=len(receiver.log_records()),
                          metrics=len({m.name for m in metrics}),
                          metric_points=sum(len(m.data_points) for m in metrics))
    try:
        render(report, sys.stderr, output_file=written)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed or gone: the report is lost, the exit status is not


_CORE_SIGNALS = {getattr(signal, n) for n in ("SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
                                              "SIGSEGV", "SIGSYS", "SIGXCPU", "SIGXFSZ") if hasattr(signal, n)}


def _exit_like(returncode: int) -> NoReturn:
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

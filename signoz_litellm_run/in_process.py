"""`signoz_litellm_run.init()`: what `run` gives a process, started from the program's own code.

For programs nothing can wrap: a notebook's kernel, an app a platform starts (a serverless handler, `streamlit run`,
a process manager's app factory). One implementation serves both doors: the settings resolve exactly as `run`
resolves them (`settings.resolve`, keywords named as the flags), `environment.child_updates` says what this
process's environment must hold (applied here to `os.environ`, as `run` gives it to the command), and the same
start-up runs (`hook.boot.start`, which `run`'s sitecustomize calls). Processes this one starts are instrumented
as under `run` (our sitecustomize first on their PYTHONPATH, without the working directory `run` adds, which would
change what they import).

- A second `init()` with the same settings does nothing; with others it raises, naming what differs.
- Inside a process already under `run`, `init()` does nothing and says so once.
- A program that set its own providers keeps them: ours join them (`hook/app_providers.py`).
- `local=True`: an OTLP receiver inside this process, and the `--local` report at `shutdown()` or exit.
- In IPython (a notebook), what a cell produced is sent when the cell finishes, so it shows within seconds.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signoz_litellm_run import environment
from signoz_litellm_run import settings as settings_module
from signoz_litellm_run.errors import SettingsError, UsageError
from signoz_litellm_run.settings import OPTIONS, OPTIONS_BY_NAME, Settings, parse_bool

# Settings only a launcher can act on: not keywords of init() (from the environment or a config file they change
# nothing in-process).
RUN_ONLY = ("bootstrap", "bootstrap_timeout", "fail_on_telemetry_loss")
KEYWORDS = tuple(o.name for o in OPTIONS if o.name not in RUN_ONLY) + ("config",)
FLUSH_AFTER_CELL_SECONDS = 5.0
_LOG_HANDLER_ENV = "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION"  # opentelemetry-instrumentation-logging's handler switch

_lock = threading.RLock()
_handle: Telemetry | None = None
_said_under_run = False
_environ_before: dict[str, str] = {}
_environ_after: dict[str, str] = {}


class Telemetry:
    """What `init()` returns: the settings it resolved (key masked), `flush()` and `shutdown()`."""

    def __init__(self, settings: Settings, *, under_run: bool = False, receiver: Any = None) -> None:
        self._settings = settings
        self.under_run = under_run
        self._receiver = receiver

    @property
    def settings(self) -> Settings:
        """The resolved settings, the ingestion key masked."""
        import dataclasses

        return dataclasses.replace(self._settings, ingestion_key=self._settings.masked_key)

    @property
    def endpoint(self) -> str | None:
        return self._settings.endpoint

    @property
    def service_name(self) -> str | None:
        return self._settings.service_name

    def flush(self, timeout: float = 5.0) -> bool:
        """Send what was produced so far (spans, log records, metrics), waiting at most `timeout` seconds; True
        when everything was handed over in time. Telemetry goes on."""
        from signoz_litellm_run.hook import shutdown

        return shutdown.flush(max(0.0, float(timeout)))

    def shutdown(self, timeout: float | None = None) -> None:
        """Send what is left, within `timeout` seconds (default: shutdown_timeout), and stop; what exit would do.
        With local=True, the report is printed then. Nothing is sent from this process afterwards."""
        from signoz_litellm_run.hook import shutdown

        shutdown.final_flush("shutdown()", None if timeout is None else max(0.0, float(timeout)))

    def __repr__(self) -> str:
        s = self._settings
        where = "the local receiver (local=True)" if s.local else f"{s.endpoint} ({s.protocol})"
        key = f", key {s.masked_key}" if s.ingestion_key else ""
        mode = "signoz-litellm run" if self.under_run else "init()"
        return f"<signoz-litellm telemetry from {mode}: service {s.service_name!r} -> {where}{key}>"


def init(**kwargs: Any) -> Telemetry:
    """Start telemetry in this process as `signoz-litellm run` would: keywords are `run`'s flags with underscores
    (`region="us"`, `service_name="notebook"`, `endpoint=...`, `local=True`, ...), each falling back to its
    environment variable, the config file and the default, as under `run`. Raises `SettingsError` (a ValueError)
    with `run`'s sentence and hint for a setting `run` would refuse, TypeError for an unknown keyword."""
    unknown = [name for name in kwargs if name not in KEYWORDS]
    if unknown:
        reason = (f"{unknown[0]!r} is for `signoz-litellm run` (a launcher) and has no effect in-process"
                  if unknown[0] in RUN_ONLY else f"init() got an unexpected keyword argument {unknown[0]!r}")
        raise TypeError(f"{reason}; valid keywords: {', '.join(KEYWORDS)}")
    config = kwargs.pop("config", None)
    flags = {name: value for name, value in kwargs.items() if value is not None}
    from signoz_litellm_run.hook import boot

    global _handle, _said_under_run
    with _lock:
        if boot._started and boot.started_by != "init":
            _resolve(flags, os.environ, config, require_destination=False)  # still checked
            settings = _resolve({}, os.environ, None, require_destination=False)  # what applies: run's
            if not _said_under_run:
                _said_under_run = True
                print("signoz-litellm: note: init() does nothing here: this process already sends its telemetry "
                      "under `signoz-litellm run`, whose settings apply.", file=sys.stderr)
                _handle = Telemetry(settings, under_run=True)
            return _handle
        if _handle is not None:
            if not flags and config is None:
                return _handle  # no settings asked for (`import signoz_litellm_run.auto` after an init(...))
            settings = _resolve(flags, _environ_as_the_program_has_it(), config)
            different = differences(_handle._settings, settings)
            if different:
                raise SettingsError(
                    f"init() was already called in this process with other settings ({'; '.join(different)}).",
                    "Restart the process (in a notebook: the kernel) to change them; calling init() again with "
                    "the same settings does nothing.")
            return _handle
        settings = _resolve(flags, os.environ, config)
        _handle = _start(settings)
        return _handle


def _resolve(flags: Mapping[str, Any], environ: Mapping[str, str], config: Any, *,
             require_destination: bool = True) -> Settings:
    try:
        return settings_module.resolve(flags, environ, Path.cwd(), _command(), config_path=config,
                                       require_destination=require_destination,
                                       given=settings_module.argument_origin)
    except UsageError as exc:
        raise SettingsError(exc.message, as_keywords(exc.hint) if exc.hint else None) from None


def _command() -> list[str]:
    """What the service name is derived from when none is given: the script (`python main.py` -> main); a
    notebook kernel, `python -c` or an interactive session: the working directory's name."""
    argv = list(getattr(sys, "argv", None) or [])
    if not argv or not argv[0] or argv[0] in ("-c", "-") or "ipykernel" in os.path.basename(argv[0]) or \
            "IPython" in sys.modules:
        return [sys.executable or "python", "-c"]
    if argv[0] == "-m":
        return [sys.executable or "python", "-m", getattr(sys.modules.get("__main__"), "__package__", "") or "app"]
    return [sys.executable or "python", argv[0]]


_FLAG = re.compile(r"--(no-)?([a-z][a-z-]*)(?: ([^\s,;()]+))?")


def as_keywords(hint: str) -> str:
    """`run`'s hint with its flags written as init()'s keywords (`--region us` -> `region="us"`)."""

    def keyword(match: re.Match[str]) -> str:
        name = match.group(2).replace("-", "_")
        option = OPTIONS_BY_NAME.get(name)
        if option is None:
            return match.group(0)
        if option.parse is parse_bool:
            rest = f" {match.group(3)}" if match.group(3) else ""
            return f"{name}={'False' if match.group(1) else 'True'}{rest}"
        return f'{name}="{match.group(3)}"' if match.group(3) else f"{name}=..."

    return _FLAG.sub(keyword, hint)


def differences(before: Settings, now: Settings) -> list[str]:
    """The settings that differ, each named with both values (the key only as "differs")."""
    found = []
    for option in OPTIONS:
        old, new = getattr(before, option.name), getattr(now, option.name)
        if old != new:
            found.append(f"{option.name} differs" if option.secret else f"{option.name}: {old!r} before, {new!r} now")
    return found


def _environ_as_the_program_has_it() -> dict[str, str]:
    """The environment init() resolved against, with what the program changed since: variables init() set are
    read as they were before it (a second init() must not see the first one's work as the user's settings)."""
    names = set(_environ_before) | set(_environ_after) | set(os.environ)
    view = {}
    for name in names:
        now = os.environ.get(name)
        value = _environ_before.get(name) if now == _environ_after.get(name) else now
        if value is not None:
            view[name] = value
    return view


def _start(settings: Settings) -> Telemetry:
    global _environ_before, _environ_after
    from signoz_litellm_run.hook import app_providers, boot, shutdown

    _environ_before = dict(os.environ)
    for notice in environment.notices(os.environ):
        print(f"signoz-litellm: note: {notice}", file=sys.stderr)
    receiver = None
    applied = settings
    if settings.local:
        applied, receiver = _local(settings)
    updates = environment.child_updates(applied, os.environ, cwd=os.getcwd())
    site_first = [environment.SITE_DIR, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                          if p and p != environment.SITE_DIR)]
    updates["PYTHONPATH"] = os.pathsep.join(site_first)
    os.environ.update(updates)
    os.environ[environment.ROOT_PID_ENV] = str(os.getpid())  # this process publishes the report, if one is wanted
    os.environ.pop(environment.JOB_DIR_ENV, None)
    if os.environ.get(environment.REPORT_ENV) == "1" or settings.report_file:
        import tempfile

        os.environ[environment.JOB_DIR_ENV] = tempfile.mkdtemp(prefix="signoz-litellm-job-")
    try:
        own = app_providers.current()
        notes = app_providers.join(own) if own else []
    except Exception as exc:  # never a traceback from OpenTelemetry's internals: our own providers, as without
        app_providers.restore()
        own, notes = {}, [f"the application's own providers could not be joined ({type(exc).__name__}: {exc})."]
    quiet_logging = "logs" in own and app_providers.has_otel_log_handler()
    log_switch = os.environ.get(_LOG_HANDLER_ENV)
    if quiet_logging:  # the program's own handler already sends the root logger's records to its provider
        os.environ[_LOG_HANDLER_ENV] = "false"
    try:
        boot.start(by="init")
    finally:
        app_providers.restore()
        if quiet_logging:
            if log_switch is None:
                os.environ.pop(_LOG_HANDLER_ENV, None)
            else:
                os.environ[_LOG_HANDLER_ENV] = log_switch
    app_providers.say(notes)
    if receiver is not None:
        shutdown.on_exit(lambda _ledger, _seconds: _report_local(receiver, settings))
    _environ_after = dict(os.environ)
    _flush_after_notebook_cells()
    return Telemetry(settings, receiver=receiver)


def _local(settings: Settings) -> tuple[Settings, Any]:
    """local=True: a receiver in this process, over OTLP/HTTP whatever the protocol (at exit, a gRPC server in the
    same process can no longer take requests: its thread pool is closed before exit handlers run)."""
    import dataclasses

    from signoz_litellm_run import local
    from signoz_litellm_run.receiver import Receiver

    receiver = Receiver(grpc=False, http=True)
    try:
        receiver.start()
    except Exception as exc:
        raise SettingsError(f"The local receiver could not start: {exc}.",
                            "Check that this machine allows listening on 127.0.0.1.") from None
    for name in [n for n in os.environ if local._DESTINATION_VAR.match(n)]:
        del os.environ[name]  # the program's own destination would win over the receiver's
    applied = local.local_settings(dataclasses.replace(settings, protocol="http/protobuf"),
                                   receiver.endpoint("http/protobuf"))
    return applied, receiver


def _report_local(receiver: Any, settings: Settings) -> None:
    from signoz_litellm_run import local

    try:
        local._wait_until_quiet(receiver, 0.5)
        local._finish(receiver, settings.local_output, capture_content=settings.capture_content)
    finally:
        receiver.stop()


_cell_flush_lock = threading.Lock()


def _flush_after_notebook_cells() -> None:
    """In IPython: after each cell, its telemetry is sent (on a thread; the next cell does not wait), instead of
    within the batch delay (spans, log records) or the metric export interval (a minute)."""
    ipython_module = sys.modules.get("IPython")
    get = getattr(ipython_module, "get_ipython", None)
    shell = get() if get is not None else None
    events = getattr(shell, "events", None)
    if events is None:
        return

    def after_cell(*_args: Any) -> None:
        if not _cell_flush_lock.acquire(blocking=False):
            return  # the previous cell's flush is still under way: it sends this one's too

        def flush() -> None:
            try:
                from signoz_litellm_run.hook import shutdown

                if not shutdown.is_shut_down():
                    shutdown.flush(FLUSH_AFTER_CELL_SECONDS)
            finally:
                _cell_flush_lock.release()

        threading.Thread(target=flush, name="signoz-litellm-cell-flush", daemon=True).start()

    try:
        events.register("post_run_cell", after_cell)
    except Exception:
        pass

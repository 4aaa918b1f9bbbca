"""`run --local`: the command's telemetry goes to an OTLP receiver inside the launcher, then a report.

The launcher must stay alive to host the receiver, so here it spawns the command instead of exec'ing
it (`launcher.spawn_and_wait`), and keeps what exec mode promises: the same errors before start
(command not found 127, not executable 126), the same inherited descriptors, signals sent to the launcher
passed on to the command (a terminal's Ctrl-C reaches it once), and the same exit status: the command's
own, and when a signal killed it the launcher dies of the same signal after the report
(`launcher.exit_like`: a shell shows 128+N, `subprocess` shows -N, as for the command itself).

After the command ends, the launcher waits until requests stop arriving (the command's exporters flush
at exit; processes it left behind may still be sending), prints the report on stderr (stdout stays the
program's), writes `--local-output` if asked, publishes the job's delivery report when one is wanted
(`--report-file`'s JSON, `--report`'s line: the same as without `--local`), and exits.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, NoReturn

from signoz_litellm_run import delivery
from signoz_litellm_run.errors import LauncherError
from signoz_litellm_run.launcher import exit_like, resolve_executable, spawn_and_wait
from signoz_litellm_run.settings import DEFAULT, Settings

if TYPE_CHECKING:
    from signoz_litellm_run.plan import RunPlan
    from signoz_litellm_run.receiver import Receiver

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


# --------------------------------------------------------------------------------------------- edges


def run_local(the_plan: RunPlan) -> NoReturn:
    """The `local` executor: `the_plan.local` says where the receiver's address goes once it has started."""
    local = the_plan.local
    assert local is not None
    argv, settings = the_plan.argv, local.settings
    path = resolve_executable(argv[0], local.base_env)  # `run` never changes PATH: 127 / 126 before anything starts
    if settings.protocol == "grpc" and settings.source("protocol") != DEFAULT:
        receiver, ready = _receiver_first(settings), None  # gRPC asked for: its server cannot take a bound socket
    else:
        settings = dataclasses.replace(settings, protocol="http/protobuf")
        local = dataclasses.replace(local, settings=settings)
        receiver, ready = _receiver_beside(settings)
    # With a report wanted (--report-file, --report, CI), the job's processes leave their counts in a directory and
    # the launcher publishes the job's report once the command has ended, as when it supervises (`supervisor`).
    job_dir = delivery.make_job_dir() if the_plan.needs_job_dir else None
    env: dict[str, str] = {}
    started: list[int] = []
    try:
        env = local.environment_for(receiver.endpoint(settings.protocol), job_dir=job_dir)
        returncode = spawn_and_wait(argv, path, env, on_start=started.append)
        if ready is not None:
            ready.join()
        received = ready is None or receiver.started()  # if not, it said why on stderr: the command ran, no report
        if received:
            _wait_until_quiet(receiver, local.wait_limit)
    finally:
        receiver.stop()
        job_report = delivery.job_report(job_dir, started[0] if started else None, env) if job_dir else None
    if received:
        try:
            _finish(receiver, settings.local_output, capture_content=settings.capture_content)
        except Exception as exc:  # the report must never cost the command's exit status
            print(f"signoz-litellm: the --local report failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    if job_report is not None:
        delivery.publish(job_report, env)  # the summary line when the report is on, the --report-file JSON
    exit_like(returncode)


def _receiver_first(settings: Settings) -> Receiver:
    from signoz_litellm_run.receiver import Receiver

    receiver = Receiver(grpc=settings.protocol == "grpc", http=settings.protocol != "grpc")
    try:
        receiver.start()
    except Exception as exc:
        raise LauncherError(f"The local receiver could not start: {exc}.",
                            "Check that this machine allows listening on 127.0.0.1.") from None
    return receiver


def _receiver_beside(settings: Settings) -> tuple[Receiver, threading.Thread]:
    """An OTLP/HTTP receiver on a socket that listens before the command starts, its server started while the
    command does: importing and starting a receiver delayed every command's start by some 100 ms (gRPC: 300 ms).
    The kernel keeps what the command sends meanwhile in the socket's backlog, until the server accepts it."""
    import socket

    try:
        listening = socket.create_server(("127.0.0.1", 0))
    except OSError as exc:
        raise LauncherError(f"The local receiver could not start: {exc}.",
                            "Check that this machine allows listening on 127.0.0.1.") from None
    port = listening.getsockname()[1]
    holder: list[Receiver] = []

    class _Pending:  # the receiver's endpoint and stop() before its module is imported
        def endpoint(self, protocol: str) -> str:
            return f"http://127.0.0.1:{port}"

        def started(self) -> bool:
            return bool(holder)

        def stop(self) -> None:
            if holder:
                holder[0].stop()
            else:
                listening.close()

        def __getattr__(self, name: str) -> object:
            return getattr(holder[0], name)

    def serve() -> None:
        from signoz_litellm_run.receiver import Receiver

        try:
            holder.append(Receiver(grpc=False, http=True, http_port=port, http_socket=listening).start())
        except Exception as exc:
            print(f"signoz-litellm: the local receiver could not start: {type(exc).__name__}: {exc}", file=sys.stderr)

    thread = threading.Thread(target=serve, name="signoz-litellm-local-receiver", daemon=True)
    thread.start()
    return _Pending(), thread  # type: ignore[return-value]


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


def _finish(receiver: Receiver, output: str | None, *, capture_content: str | None = None) -> None:
    """Write --local-output, then print the report on stderr. Never changes the exit status."""
    from signoz_litellm_run.local_report import build_report, render, scrubbed_values

    written = None
    if output:
        try:
            if os.path.dirname(output):
                os.makedirs(os.path.dirname(output), exist_ok=True)
            with open(output, "w", encoding="utf-8") as f:
                for line in receiver.to_jsonl():
                    f.write(line + "\n")
            written = output
        except OSError as exc:
            print(f"signoz-litellm: could not write {output}: {exc.strerror or exc}.", file=sys.stderr)
    metrics = receiver.metrics()
    logs = receiver.log_records()
    report = build_report(receiver.spans(), log_records=len(logs),
                          metrics=len({m.name for m in metrics}),
                          metric_points=sum(len(m.data_points) for m in metrics), capture_content=capture_content,
                          scrubbed_in_logs=sum(scrubbed_values(record.attributes) for record in logs))
    try:
        render(report, sys.stderr, output_file=written)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed or gone: the report is lost, the exit status is not

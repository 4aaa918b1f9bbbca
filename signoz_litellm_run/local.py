"""`run --local`: the command's telemetry goes to an OTLP receiver inside the launcher, then a report.

The launcher must stay alive to host the receiver, so here it spawns the command instead of exec'ing
it (`launcher.spawn_and_wait`), and keeps what exec mode promises: the same errors before start
(command not found 127, not executable 126), the same inherited descriptors, signals sent to the launcher
passed on to the command (a terminal's Ctrl-C reaches it once), and the same exit status: the command's
own, and when a signal killed it the launcher dies of the same signal after the report
(`launcher.exit_like`: a shell shows 128+N, `subprocess` shows -N, as for the command itself).

After the command ends, the launcher waits until requests stop arriving (the command's exporters flush
at exit; processes it left behind may still be sending), prints the report on stderr (stdout stays the
program's), writes `--local-output` if asked, and exits.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NoReturn

from signoz_litellm_run import environment
from signoz_litellm_run.errors import LauncherError
from signoz_litellm_run.launcher import exit_like, resolve_executable, spawn_and_wait
from signoz_litellm_run.receiver import Receiver
from signoz_litellm_run.settings import Settings

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
        returncode = spawn_and_wait(argv, path, env)
        _wait_until_quiet(receiver, max(1.0, settings.shutdown_timeout))
    finally:
        receiver.stop()
    try:
        _finish(receiver, settings.local_output, capture_content=settings.capture_content)
    except Exception as exc:  # the report must never cost the command's exit status
        print(f"signoz-litellm: the --local report failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    exit_like(returncode)


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

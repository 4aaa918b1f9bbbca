"""The OTLP exporters are built when first needed (hook/lazy_export.py): a process that sends nothing never imports
grpc, protobuf or the exporters; one that does sends to where the launcher said, whatever the program did to the
environment since; a LiteLLM process has them built at LiteLLM's import, as before its first call."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics.export import AggregationTemporality

from signoz_litellm_run.hook import lazy_export
from signoz_litellm_run.receiver import INGESTION_KEY_HEADER, Receiver
from tests.support.launch import clean_env, launcher

KEY = "sk-signoz-test-lazy-0123456789"
pytestmark = pytest.mark.timeout(120)

LOADED = ("print(*(name in sys.modules for name in ('grpc', 'google.protobuf', 'requests', "
          "'opentelemetry.exporter.otlp.proto.grpc.trace_exporter', "
          "'opentelemetry.exporter.otlp.proto.http.trace_exporter')))")


def _run(receiver: Receiver, protocol: str, script: str, *, options: tuple[str, ...] = (),
         env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = launcher(["run", "--endpoint", receiver.endpoint(protocol), "--protocol", protocol, *options, "--",
                       sys.executable, "-c", textwrap.dedent(script)],
                      env=clean_env({"SIGNOZ_INGESTION_KEY": KEY, **(env or {})}))
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_process_that_sends_nothing_never_loads_the_exporters(receiver: Receiver, protocol: str,
                                                                tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    status, out, err = _run(receiver, protocol, f"import sys\n{LOADED}", options=("--report-file", str(report)))
    assert status == 0, err
    assert out.split() == ["False"] * 5
    assert "could not" not in err
    receiver.wait_for(lambda r: False, timeout=1.0)
    # Nothing but what the SDK itself reports where it reports on itself (opentelemetry-sdk 1.41: the gauges of
    # its processors' queues, otel.sdk.*, exported by every process at exit)
    assert all(r.signal == "metrics" and _sdk_own_metrics(r) for r in receiver.requests)
    counts = json.loads(report.read_text())
    assert (counts["processes"], counts["processes_without_telemetry"], counts["lost"]) == (1, 0, 0)
    assert counts["signals"]["traces"] == counts["signals"]["logs"] == {"sent": 0, "failed": 0, "dropped": 0}
    assert counts["signals"]["metrics"] == {"sent": len(receiver.requests), "failed": 0, "dropped": 0}


def _sdk_own_metrics(request) -> bool:  # type: ignore[no-untyped-def]
    names = [m.name for rm in request.message.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    return bool(names) and all(name.startswith("otel.sdk.") for name in names)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_what_a_process_without_litellm_sends_arrives_and_is_counted(receiver: Receiver, protocol: str,
                                                                     tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    script = f"""
        import logging, sys
        {LOADED}
        logging.getLogger("lazy.test").warning("sent by a process that never imported litellm")
    """
    status, out, err = _run(receiver, protocol, script, options=("--report-file", str(report)))
    assert status == 0, err
    assert out.split() == ["False"] * 5  # nothing loaded before the first export
    assert receiver.wait_for(lambda r: any("never imported litellm" in str(x.body) for x in r.log_records()))
    sent = [r for r in receiver.requests if r.signal == "logs"]
    assert sent and all(r.headers.get(INGESTION_KEY_HEADER) == KEY for r in sent)
    counts = json.loads(report.read_text())
    assert counts["signals"]["logs"] == {"sent": 1, "failed": 0, "dropped": 0}
    assert (counts["processes_without_telemetry"], counts["lost"]) == (0, 0)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_the_launchers_destination_and_key_stand_when_the_program_rewrites_the_otlp_variables(
        receiver: Receiver, protocol: str, tmp_path: Path) -> None:
    # What LiteLLM's weave integration does at run time (and its arize/phoenix set-up, for the traces' headers).
    script = """
        import logging, os
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"
        os.environ["OTEL_EXPORTER_OTLP_HEADERS"] = "signoz-ingestion-key=someone-elses"
        os.environ["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = "signoz-ingestion-key=someone-elses"
        os.environ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] = "http://127.0.0.1:9/v1/logs"
        logging.getLogger("lazy.test").warning("after the program rewrote the OTLP variables")
        os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "somewhere/else"
        print(os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    """
    report = tmp_path / "report.json"
    status, out, err = _run(receiver, protocol, script, options=("--report-file", str(report)))
    assert status == 0, err
    assert out.split() == ["http://127.0.0.1:9"]  # the program's own environment is as it made it
    assert "cannot deliver" not in err
    assert receiver.wait_for(lambda r: any("rewrote the OTLP" in str(x.body) for x in r.log_records()))
    sent = [r for r in receiver.requests if r.signal == "logs"]
    assert sent and all(r.headers.get(INGESTION_KEY_HEADER) == KEY for r in sent)
    counts = json.loads(report.read_text())  # and the report names where it went
    assert (counts["endpoint"], counts["protocol"]) == (receiver.endpoint(protocol), protocol)
    assert counts["signals"]["logs"]["sent"] == 1


def test_importing_litellm_builds_the_exporters_before_the_first_call(receiver: Receiver) -> None:
    script = f"""
        import sys
        {LOADED}
        import litellm
        from signoz_litellm_run.hook import lazy_export
        print(sorted(type(s._exporter).__module__ for s in lazy_export.stand_ins()))
    """
    status, out, err = _run(receiver, "grpc", script)
    assert status == 0, err
    before, built = out.splitlines()
    assert before.split() == ["False"] * 5
    assert built == str(sorted(f"opentelemetry.exporter.otlp.proto.grpc.{m}"
                               for m in ("trace_exporter", "_log_exporter", "metric_exporter")))


def test_an_option_read_only_when_building_keeps_the_exporters_built_at_start(receiver: Receiver) -> None:
    # A timeout (like a compression, a client certificate or a metrics temporality) is OpenTelemetry's to check
    # when it builds the exporter: those are built at start, as OpenTelemetry builds them.
    status, out, err = _run(receiver, "grpc", f"import sys\n{LOADED}", env={"OTEL_EXPORTER_OTLP_TIMEOUT": "5"})
    assert status == 0, err
    assert out.split() == ["True", "True", "False", "True", "False"]


@pytest.mark.parametrize(("variables", "later"), [
    ({}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "x", "OTEL_EXPORTER_OTLP_HEADERS": "a=b", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
      "OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/ca.pem"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "x", "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "a=b",
      "OTEL_EXPORTER_OTLP_METRICS_INSECURE": "true", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/ca.pem"}, True),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}, False),
    ({"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "3"}, False),
    ({"OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem"}, False),
    ({"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "DELTA"}, False),
    ({"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "base2_exponential_bucket_histogram"}, False),
    ({"OTEL_PYTHON_EXPORTER_OTLP_GRPC_CREDENTIAL_PROVIDER": "x"}, False),
])
def test_which_variables_let_an_exporter_be_built_later(variables: dict[str, str], later: bool) -> None:
    assert lazy_export.may_build_later({"PATH": "/bin", "OTEL_SERVICE_NAME": "s", **variables}) is later


@pytest.mark.parametrize("module", ["grpc", "http"])
def test_the_metric_stand_in_prefers_what_opentelemetrys_exporter_prefers(module: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The metric reader takes its temporality and aggregation from the exporter when it is made: the stand-in's
    # must be those OpenTelemetry's own exporter has with no preference set.
    for name in list(os.environ):
        if name.startswith("OTEL_EXPORTER_OTLP_"):
            monkeypatch.delenv(name)
    if module == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    theirs = OTLPMetricExporter(endpoint="http://127.0.0.1:9")
    try:
        assert lazy_export.cumulative_temporality() == theirs._preferred_temporality
        assert set(lazy_export.cumulative_temporality().values()) == {AggregationTemporality.CUMULATIVE}
        ours = lazy_export.default_aggregation()
        assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs._preferred_aggregation.items()}
    finally:
        theirs.shutdown()


class _Unloadable:
    value = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter:OTLPSpanExporter"

    def load(self) -> type:
        raise ImportError("No module named 'grpc'")


def test_an_exporter_that_cannot_be_built_fails_its_exports_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from opentelemetry.sdk.trace.export import SpanExportResult

    stand_in = lazy_export.stand_in_class("traces", _Unloadable())()
    lost: list[int] = []
    stand_in.on_unbuilt = lost.append
    try:
        assert stand_in.export([object(), object()]) is SpanExportResult.FAILURE
        assert stand_in.export([object()]) is SpanExportResult.FAILURE  # tried once, then failed at once
        assert lost == [2, 1]
        err = capsys.readouterr().err
        assert err.count("the traces exporter could not be built in this process: ImportError: No module named 'grpc'"
                         ) == 1
        stand_in.shutdown()
        assert stand_in.force_flush() is True
    finally:
        lazy_export._stand_ins.remove(stand_in)


def test_what_an_exporter_that_cannot_be_built_could_not_send_is_in_the_report(receiver: Receiver,
                                                                               tmp_path: Path) -> None:
    # The exporter's module, shadowed by one that cannot be imported (a broken install): the process runs on, says
    # which exporter could not be built, and the report counts the log record as failed.
    shadow = tmp_path / "shadow" / "opentelemetry" / "exporter" / "otlp" / "proto" / "grpc" / "_log_exporter"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('a broken install')\n")
    report = tmp_path / "report.json"
    script = """
        import logging, sys
        import opentelemetry.exporter.otlp.proto.grpc
        sys.modules["opentelemetry.exporter.otlp.proto.grpc"].__path__.insert(0, sys.argv[1])
        logging.getLogger("lazy.test").warning("this one cannot be sent")
        print("done")
    """
    result = launcher(["run", "--endpoint", receiver.grpc_endpoint, "--report-file", str(report), "--", sys.executable,
                       "-c", textwrap.dedent(script), str(shadow.parent)], env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["done"]
    assert "the logs exporter could not be built in this process: ImportError: a broken install" in result.stderr
    counts = json.loads(report.read_text())
    assert counts["signals"]["logs"] == {"sent": 0, "failed": 1, "dropped": 0}
    assert counts["error"] == "the logs exporter could not be built"


@pytest.mark.parametrize("built_before_fork", [False, True])
def test_a_forked_child_sends_its_own_whether_or_not_the_parent_had_built_its_exporters(
        receiver: Receiver, built_before_fork: bool) -> None:
    # Not built: each process builds its own at its first export. Built (the parent exported before forking): the
    # child gets a new channel of its own (forks._renew_connections), as for exporters built at start.
    script = f"""
        import logging, os, sys
        from opentelemetry import _logs
        log = logging.getLogger("lazy.fork")
        log.warning("parent before the fork")
        if {built_before_fork}:
            _logs.get_logger_provider().force_flush()
        pid = os.fork()
        if pid == 0:
            log.warning("child after the fork")
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        log.warning("parent after the fork")
        print(os.waitstatus_to_exitcode(status))
    """
    status, out, err = _run(receiver, "grpc", script)
    assert status == 0, err
    assert out.split() == ["0"]
    expected = {"parent before the fork", "child after the fork", "parent after the fork"}
    assert receiver.wait_for(lambda r: expected <= {str(x.body) for x in r.log_records()}), \
        {str(x.body) for x in receiver.log_records()}
    assert sorted(str(x.body) for x in receiver.log_records() if str(x.body) in expected) == sorted(expected)


def test_a_child_forked_while_its_parent_builds_an_exporter_builds_its_own(receiver: Receiver) -> None:
    # The build lock, held in the parent by a thread the child does not have, is a new one in the child.
    script = """
        import logging, os, sys, threading
        import opentelemetry.trace  # telemetry starts at a program's first use of it (hook/lazy_start.py)
        from signoz_litellm_run.hook import lazy_export
        held = threading.Event()
        def build_for_ever():
            with lazy_export._lock:
                held.set()
                threading.Event().wait()
        threading.Thread(target=build_for_ever, daemon=True).start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            logging.getLogger("lazy.fork").warning("child of a parent building its exporters")
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
        os._exit(0)  # the parent's own build never ends: no exit flush for it
    """
    status, out, err = _run(receiver, "grpc", script)
    assert status == 0, err
    assert out.split() == ["0"]
    assert receiver.wait_for(lambda r: any("parent building" in str(x.body) for x in r.log_records()), timeout=5)

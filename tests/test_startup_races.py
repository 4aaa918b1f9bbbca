"""Telemetry started lazily (hook/lazy_start.py) loses nothing that happens right at a process's start: a log
record in its first millisecond, a LiteLLM call from a thread a sitecustomize started, a SIGTERM in the middle of
the start-up; and a process that uses none of it loads no OpenTelemetry. Real launcher, child, receiver."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import clean_env

pytestmark = pytest.mark.timeout(180)
REPORT_STATE = ("from signoz_litellm_run.hook import lazy_start as _l; "
                "print('lazy', _l.state, _l.reason, flush=True)")


def _popen(receiver: Receiver, program: str, *, env: dict[str, str] | None = None, cwd: Path | None = None,
           options: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint, *options, "--",
         sys.executable, "-c", program],
        env=clean_env(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _bodies(receiver: Receiver) -> list[str]:
    return [str(record.body) for record in receiver.log_records()]


def test_a_process_that_uses_nothing_loads_no_opentelemetry(receiver: Receiver) -> None:
    proc = _popen(receiver, "import sys; print(sorted(m for m in sys.modules if m.startswith('opentelemetry'))); "
                  + REPORT_STATE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["[]", "lazy armed None"]


def test_a_log_record_in_the_first_millisecond_arrives(receiver: Receiver) -> None:
    program = ("import logging; logging.getLogger('race').warning('first millisecond'); " + REPORT_STATE)
    proc = _popen(receiver, program)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "lazy started a log record"
    assert receiver.wait_for(lambda r: "first millisecond" in _bodies(r)), _bodies(receiver)


def test_a_litellm_call_from_a_thread_a_sitecustomize_started_arrives(
        receiver: Receiver, fake_provider: FakeProvider, tmp_path: Path) -> None:
    """The user's sitecustomize (run after ours) starts a thread that imports LiteLLM and calls it, while the main
    thread imports httpx and logs: two start-up triggers on two threads at once."""
    user_site = tmp_path / "usersite"
    user_site.mkdir()
    (user_site / "sitecustomize.py").write_text(textwrap.dedent("""
        import os, threading

        def call():
            import litellm
            r = litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"],
                                   api_key="sk-test", messages=[{"role": "user", "content": "from a thread"}])
            assert r.choices[0].message.content

        threading.Thread(target=call, name="early-caller").start()
    """))
    program = ("import threading, logging, httpx; logging.getLogger('main').warning('main thread here'); "
               "[t.join() for t in threading.enumerate() if t.name == 'early-caller']; " + REPORT_STATE)
    proc = _popen(receiver, program, env={"PYTHONPATH": str(user_site), "FAKE_BASE_URL": fake_provider.base_url,
                                          "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    out, err = proc.communicate(timeout=150)
    assert proc.returncode == 0, err
    assert out.strip().startswith("lazy started "), out
    assert receiver.wait_for(lambda r: any(s.name == "litellm_request" for s in r.spans()), timeout=20), err
    assert receiver.wait_for(lambda r: "main thread here" in _bodies(r))


def test_sigterm_during_the_start_up_a_log_record_began_still_delivers_it(receiver: Receiver) -> None:
    """The program's first record starts telemetry; SIGTERM comes 5 ms after the record was made (its own logger's
    handler says so, before the record reaches the root logger's), in the middle of that start-up: it waits for it,
    then the record is flushed and the process dies of SIGTERM."""
    program = textwrap.dedent("""
        import logging, os, time

        class Said(logging.Handler):
            def emit(self, record):
                os.write(1, b"made\\n")

        logger = logging.getLogger("race")
        logger.addHandler(Said())
        logger.warning("killed right after")
        time.sleep(30)
    """)
    proc = _popen(receiver, program)
    assert proc.stdout.readline() == "made\n"
    time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM), (proc.returncode, err)
    assert receiver.wait_for(lambda r: "killed right after" in _bodies(r)), (_bodies(receiver), err)


def test_sigterm_5_ms_after_the_process_starts_ends_it_and_loses_nothing_it_wrote(receiver: Receiver) -> None:
    program = ("import logging, time; logging.getLogger('race').warning('early record'); print('logged', flush=True);"
               " time.sleep(30)")
    proc = _popen(receiver, program)
    time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)  # reaches the launcher or the command it became: the same process
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM), (proc.returncode, err)
    if "logged" in out:  # the record was written before the signal: it must have been delivered
        assert receiver.wait_for(lambda r: "early record" in _bodies(r)), err


def test_an_instrumentor_it_does_not_know_starts_everything_at_once(receiver: Receiver, tmp_path: Path) -> None:
    """A lazy step that meets what it does not recognise falls back to the eager start-up."""
    dist = tmp_path / "mystery_instrumentation-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mystery-instrumentation\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[opentelemetry_instrumentor]\nmystery = mystery_module:Instrumentor\n")
    program = "import sys; print('opentelemetry.sdk.trace' in sys.modules); " + REPORT_STATE
    proc = _popen(receiver, program, env={"PYTHONPATH": str(tmp_path)})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["True", "lazy None None"]


def test_switched_off_it_starts_everything_at_once(receiver: Receiver) -> None:
    program = "import sys; print('opentelemetry.sdk.trace' in sys.modules); " + REPORT_STATE
    proc = _popen(receiver, program, env={"SIGNOZ_LITELLM_LAZY_START": "false"})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["True", "lazy None None"]


def test_a_program_using_opentelemetry_itself_gets_the_sdk(receiver: Receiver) -> None:
    program = textwrap.dedent("""
        from opentelemetry import trace
        with trace.get_tracer("mine").start_as_current_span("my-own-span"):
            pass
        print(type(trace.get_tracer_provider()).__module__)
    """)
    proc = _popen(receiver, program)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "opentelemetry.sdk.trace"
    assert receiver.wait_for(lambda r: any(s.name == "my-own-span" for s in r.spans())), err


def test_an_uncaught_exception_in_the_first_millisecond_is_logged_where_its_instrumentation_is(
        receiver: Receiver) -> None:
    from importlib.metadata import entry_points

    if "exceptions" not in {ep.name for ep in entry_points(group="opentelemetry_instrumentor")}:
        pytest.skip("opentelemetry-instrumentation-exceptions is not installed")
    proc = _popen(receiver, "raise RuntimeError('uncaught at once')")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "RuntimeError: uncaught at once" in err  # Python's own report, as ever
    assert receiver.wait_for(lambda r: any("uncaught at once" in str(rec.body) or "uncaught at once" in
                                           str(rec.attributes) for rec in r.log_records())), err


def test_the_start_up_waits_exactly_where_lazy_export_would_build_later() -> None:
    from signoz_litellm_run.hook import lazy_export, lazy_triggers

    for environ in ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "x", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=b"},
                    {"OTEL_EXPORTER_OTLP_TIMEOUT": "5"}, {"OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "gzip"},
                    {"OTEL_PYTHON_EXPORTER_OTLP_CREDENTIAL_PROVIDER": "x"}, {"OTEL_EXPORTER_OTLP_INSECURE": "true"}):
        assert lazy_triggers._exporters_may_wait(environ) == lazy_export.may_build_later(environ), environ

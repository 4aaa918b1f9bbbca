"""hook/callback_controls.py: LiteLLM's disabled-callbacks check answers as LiteLLM's own does, without importing the
proxy when the request disables nothing; a process's first call no longer pays that import after it returned."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoz_litellm_run.hook import callback_controls
from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.batch_jobs import llm_spans, run_job, settle

controls = pytest.importorskip(callback_controls.MODULE)  # LiteLLM's proxy extra brings litellm-enterprise
REGISTRY = "litellm.litellm_core_utils.custom_logger_registry"


@pytest.fixture
def both(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """(ours, LiteLLM's) check. The premium-licence check LiteLLM makes once a request disables a callback (it
    imports the proxy server) answers yes, so that the answers compared include True."""
    cls = controls.EnterpriseCallbackControls
    theirs = cls.__dict__["is_callback_disabled_dynamically"]
    monkeypatch.setattr(cls, "_should_allow_dynamic_callback_disabling", staticmethod(lambda: True))
    callback_controls._stand_in(controls)
    ours = cls.__dict__["is_callback_disabled_dynamically"]
    try:
        assert ours is not theirs
        yield ours.__func__, theirs.__func__
    finally:
        cls.is_callback_disabled_dynamically = theirs


def cases() -> list[tuple[Any, dict[str, Any], dict[str, Any]]]:
    from litellm.constants import X_LITELLM_DISABLE_CALLBACKS as header
    from litellm.integrations.custom_logger import CustomLogger
    from litellm.integrations.opentelemetry import OpenTelemetry

    otel = OpenTelemetry.__new__(OpenTelemetry)  # the class is what LiteLLM looks at
    plain = CustomLogger()
    requests = [
        ({}, {}),
        ({"proxy_server_request": None}, {}),
        ({"proxy_server_request": {"headers": {"user-agent": "x"}}}, {}),
        ({"proxy_server_request": {"headers": {header: "otel, Langfuse"}}}, {}),
        ({"proxy_server_request": {"headers": {header: "langfuse"}}}, {}),
        ({}, {"litellm_disabled_callbacks": ["otel"]}),
        ({}, {"litellm_disabled_callbacks": ["langfuse"]}),
        ({}, {"litellm_disabled_callbacks": None}),
    ]
    return [(callback, params, dynamic) for callback in ("otel", "langfuse", otel, plain, print)
            for params, dynamic in requests]


def test_the_check_answers_as_litellm_does(both: tuple[Any, Any]) -> None:
    ours, theirs = both
    answers = [(ours(*case), theirs(*case)) for case in cases()]
    assert [o for o, _ in answers] == [t for _, t in answers]
    assert {o for o, _ in answers} == {True, False}  # both answers were compared


def test_a_check_litellm_changed_is_left_alone() -> None:
    class Changed:
        @staticmethod
        def is_callback_disabled_dynamically(callback: Any, litellm_params: Any, dynamic: Any) -> bool:
            return True

        @staticmethod
        def get_disabled_callbacks(litellm_params: Any, dynamic: Any) -> None:
            return None

    module = type(sys)("changed")
    module.EnterpriseCallbackControls = Changed  # type: ignore[attr-defined]
    callback_controls._stand_in(module)
    assert Changed.is_callback_disabled_dynamically("otel", {}, {}) is True


FIRST_CALL_APP = """
import os, signal, sys
import litellm
from litellm.litellm_core_utils.thread_pool_executor import executor

litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE"], api_key="sk-test",
                   messages=[{"role": "user", "content": "first"}])
if sys.argv[1] == "wait":
    executor.shutdown(wait=True)  # LiteLLM's callbacks of the call have run: its span is made
    print("registry imported:", "%s" in sys.modules, flush=True)
else:
    os.kill(os.getpid(), signal.SIGTERM)  # as a Pool worker is terminated, the moment its task returned
""" % REGISTRY


def test_a_first_call_does_not_import_the_proxy(receiver: Receiver, fake_provider: FakeProvider,
                                                tmp_path: Path) -> None:
    """LiteLLM's first success callback in a process imported most of the proxy (0.75 s of CPU, seconds on a busy
    machine) on its logging thread, because our logger is a callback it checks."""
    script = tmp_path / "first_call.py"
    script.write_text(FIRST_CALL_APP)
    job = run_job(receiver.grpc_endpoint, fake_provider, command=[sys.executable, str(script), "wait"])
    assert job.returncode == 0, job.stderr
    assert "registry imported: False" in job.stdout, job.stdout
    settle(receiver, 1)
    assert len(llm_spans(receiver)) == 1


def test_a_process_ended_right_after_its_first_call_delivers_it(receiver: Receiver, fake_provider: FakeProvider,
                                                                tmp_path: Path) -> None:
    """The exit flush gives LiteLLM's callbacks most of its 1 s deadline; the first one spent it importing (the Pool
    workers of test_batch_forks.py lost every span this way on a busy machine, 20 runs of 20)."""
    script = tmp_path / "first_call.py"
    script.write_text(FIRST_CALL_APP)
    report_file = tmp_path / "report.json"
    job = run_job(receiver.grpc_endpoint, fake_provider, args=("--report-file", str(report_file)),
                  command=[sys.executable, str(script), "terminate"])
    assert job.returncode == -15, job.stderr
    settle(receiver, 1)
    assert len(llm_spans(receiver)) == 1, job.stderr
    report = json.loads(report_file.read_text())
    assert report["signals"]["traces"] == {"sent": len(receiver.spans()), "failed": 0, "dropped": 0}
    assert not job.warning_lines(), job.stderr

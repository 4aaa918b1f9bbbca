"""`init()` in a real IPython kernel (ipykernel, driven by jupyter_client as a notebook front end drives it):
telemetry arrives while the kernel is alive, re-running the init cell is harmless, and the kernel's shutdown
delivers what is left."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.support.launch import clean_env

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")
pytestmark = pytest.mark.timeout(240)
KEY = "sk-signoz-test-0123456789abcdef"


class Notebook:
    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self.client = manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str) -> str:
        """Execute a cell; its printed output (an error in the cell fails the test)."""
        output: list[str] = []
        errors: list[str] = []

        def hook(message: dict) -> None:
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content["traceback"]))

        reply = self.client.execute_interactive(code, timeout=120, output_hook=hook)
        assert reply["content"]["status"] == "ok" and not errors, errors
        return "".join(output)


@pytest.fixture
def notebook(tmp_path: Path, receiver: Receiver, fake_provider: FakeProvider) -> Iterator[Notebook]:
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = tmp_path / "kernels" / "signoz-test"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "signoz-litellm test", "language": "python"}))
    env = clean_env({"FAKE_BASE_URL": fake_provider.base_url, "SIGNOZ_INGESTION_KEY": KEY,
                     "EP": receiver.endpoint("grpc"),
                     # Log records wait a minute in their queue: only a flush (a cell's end, the exit) sends them.
                     "OTEL_BLRP_SCHEDULE_DELAY": "60000"})
    manager = KernelManager(kernel_name="signoz-test",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]))
    manager.start_kernel(env=env, cwd=str(tmp_path))
    book = Notebook(manager)
    try:
        yield book
    finally:
        book.client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


INIT_CELL = """
import os, signoz_litellm_run
telemetry = signoz_litellm_run.init(endpoint=os.environ["EP"], service_name="notebook")
print(id(telemetry), repr(telemetry))
"""
CALL_CELL = """
import litellm
reply = litellm.completion(model="openai/gpt-4o-mini", api_base=os.environ["FAKE_BASE_URL"], api_key="sk-test",
                           messages=[{"role": "user", "content": "hello from a notebook"}])
print(reply.choices[0].message.content[:20])
"""
LATE_CELL = """
import logging, threading, time
def later():
    time.sleep(0.3)
    logging.getLogger("notebook").warning("written after the last cell")
threading.Thread(target=later).start()
"""


def _llm_spans(receiver: Receiver) -> list:
    return [s for s in receiver.spans() if s.name == "litellm_request"]


def test_notebook_telemetry_arrives_while_the_kernel_runs(notebook: Notebook, receiver: Receiver) -> None:
    first = notebook.run(INIT_CELL)
    assert "service 'notebook'" in first and KEY not in first
    notebook.run(CALL_CELL)
    # While the kernel is alive, without shutdown(): the span, and the metrics (whose export interval is a minute).
    assert receiver.wait_for(lambda r: len(_llm_spans(r)) == 1, timeout=15)
    assert receiver.wait_for(lambda r: "gen_ai.client.operation.duration" in r.metric_names(), timeout=15)
    assert receiver.wait_for(lambda r: {"system.memory.usage", "process.memory.usage"} <= r.metric_names(),
                             timeout=15)
    assert notebook.manager.is_alive()
    span = _llm_spans(receiver)[0]
    assert span.resource["service.name"] == "notebook"
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"

    # Re-running the init cell is harmless: the same handle, and the next call makes one span, not two.
    again = notebook.run(INIT_CELL)
    assert again.split()[0] == first.split()[0]
    notebook.run(CALL_CELL)
    assert receiver.wait_for(lambda r: len(_llm_spans(r)) == 2, timeout=15)
    receiver.wait_for(lambda r: False, timeout=1.0)
    assert len(_llm_spans(receiver)) == 2

    # The kernel's shutdown delivers what is left: a record written after the last cell ended.
    notebook.run(LATE_CELL)
    assert not any("after the last cell" in str(r.body) for r in receiver.log_records())
    notebook.client.stop_channels()
    notebook.manager.shutdown_kernel(now=False)  # as a front end's "Shut down kernel"
    assert receiver.wait_for(lambda r: any("after the last cell" in str(l.body) for l in r.log_records()),
                             timeout=10)
    assert all(r.headers.get("signoz-ingestion-key") == KEY for r in receiver.requests)

"""The LiteLLM proxy with several worker processes under `run`, stopped with SIGTERM while requests are in flight.

`--num_workers N` (uvicorn's supervisor spawns N fresh interpreters) and `--run_gunicorn` (gunicorn's master
preloads the app, then forks N workers): each worker exports its own spans, and the top-level process (the one
`run` exec'd) sums every worker's counts into the job's report. The chats are sent concurrently against a slow
provider, and SIGTERM is sent while the provider holds some of them: the workers finish those during their
graceful shutdown, so their spans are the last a worker makes before it exits. Export delays are far beyond the
test's length, so what arrives was flushed by the workers' exits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from signoz_litellm_run.loopback import unused_port
from signoz_litellm_run.received import SpanRecord
from signoz_litellm_run.receiver import Receiver
from tests.support.fake_provider import FakeProvider
from tests.test_proxy import MASTER_KEY, _config, _path, wait_until_ready

CHATS = 24
CLIENTS = 8
IN_FLIGHT_AT_SIGTERM = 4  # SIGTERM once the provider holds this many of the last chats
PROVIDER_DELAY = 0.4


@dataclass
class WorkersRun:
    spans: list[SpanRecord]
    statuses: list[int]
    report: dict
    returncode: int
    log: str
    spans_before_sigterm: int
    chats_at_sigterm: int


def _run(directory: Path, server_args: list[str]) -> WorkersRun:
    directory.mkdir(parents=True, exist_ok=True)
    port = unused_port()
    report_file = directory / "report.json"
    with FakeProvider(delay=PROVIDER_DELAY) as provider, Receiver() as receiver:
        config = directory / "config.yaml"
        config.write_text(_config(provider.base_url, ""))
        env = dict(os.environ)
        env.update({
            "LITELLM_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true", "DISABLE_SCHEMA_UPDATE": "true",
            "OTEL_BSP_SCHEDULE_DELAY": "600000", "OTEL_METRIC_EXPORT_INTERVAL": "600000",
            "OTEL_BLRP_SCHEDULE_DELAY": "600000",
            "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        })
        for name in ("DATABASE_URL", "OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "OTEL_RESOURCE_ATTRIBUTES",
                     "SIGNOZ_LITELLM_SPAN_DETAIL", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"):
            env.pop(name, None)
        argv = [sys.executable, "-m", "signoz_litellm_run", "run", "--endpoint", receiver.grpc_endpoint,
                "--no-bootstrap", "--report-file", str(report_file), "--", "litellm", "--config", str(config),
                "--host", "127.0.0.1", "--port", str(port), *server_args]
        out = open(directory / "proxy.log", "w+b")
        child = subprocess.Popen(argv, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT)
        statuses: list[int] = []
        lock = threading.Lock()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0) as client:
                wait_until_ready(client, child, directory / "proxy.log")
                todo = list(range(CHATS))

                def chat_loop() -> None:
                    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120.0) as own:
                        while True:
                            with lock:
                                if not todo:
                                    return
                                i = todo.pop()
                            try:
                                response = own.post(
                                    "/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                                    json={"model": "fake-model",
                                          "messages": [{"role": "user", "content": f"hello number {i}"}]})
                                status = response.status_code
                            except httpx.TransportError:
                                status = 0  # refused: the server had stopped accepting
                            with lock:
                                statuses.append(status)

                threads = [threading.Thread(target=chat_loop) for _ in range(CLIENTS)]
                for thread in threads:
                    thread.start()
                # SIGTERM while the provider holds some of the last chats: the workers must finish them,
                # then export their spans on the way out.
                deadline = time.monotonic() + 300
                while _chats(provider) < CHATS - IN_FLIGHT_AT_SIGTERM + 1 and time.monotonic() < deadline:
                    time.sleep(0.02)
                spans_before = len(receiver.spans())
                child.send_signal(signal.SIGTERM)
                reached = _chats(provider)  # the provider holds or answered these: each must be answered
                for thread in threads:
                    thread.join(timeout=180)
            returncode = child.wait(timeout=180)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            out.close()
        report = json.loads(report_file.read_text()) if report_file.exists() else {}
        return WorkersRun(spans=receiver.spans(), statuses=statuses, report=report, returncode=returncode,
                          log=(directory / "proxy.log").read_text(errors="replace"),
                          spans_before_sigterm=spans_before, chats_at_sigterm=reached)


def _chats(provider: FakeProvider) -> int:
    """Chat requests the provider got (not the other requests a proxy may make to it)."""
    return sum(1 for path, _, _ in provider.requests if path.endswith("/chat/completions"))


@pytest.fixture(scope="module")
def uvicorn_workers(tmp_path_factory: pytest.TempPathFactory) -> WorkersRun:
    return _run(tmp_path_factory.mktemp("uvicorn_workers"), ["--num_workers", "2"])


@pytest.fixture(scope="module")
def gunicorn_workers(tmp_path_factory: pytest.TempPathFactory) -> WorkersRun:
    pytest.importorskip("gunicorn")
    return _run(tmp_path_factory.mktemp("gunicorn_workers"), ["--run_gunicorn", "--num_workers", "2"])


SERVERS = ("uvicorn_workers", "gunicorn_workers")


@pytest.mark.parametrize("server", SERVERS)
def test_every_answered_chat_has_its_litellm_span_after_sigterm(server: str, request: pytest.FixtureRequest) -> None:
    run: WorkersRun = request.getfixturevalue(server)
    answered = run.statuses.count(200)
    # The chats the provider held at SIGTERM were answered during the graceful shutdown.
    assert run.chats_at_sigterm >= CHATS - IN_FLIGHT_AT_SIGTERM + 1
    assert answered >= run.chats_at_sigterm, (run.chats_at_sigterm, Counter(run.statuses), run.log[-3000:])
    assert set(run.statuses) <= {0, 200}, Counter(run.statuses)
    assert run.spans_before_sigterm == 0  # nothing on a timer: everything below was flushed at the exits
    llm = [s for s in run.spans if s.name == "litellm_request"]
    assert len(llm) == answered, (len(llm), answered, Counter(s.name for s in run.spans), run.log[-3000:])
    assert len({s.attributes.get("gen_ai.response.id") or s.span_id for s in llm}) == answered
    server_spans = [s for s in run.spans if s.kind == 2 and _path(s) == "/v1/chat/completions"]
    assert len(server_spans) == answered
    # The proxy's own exit status (uvicorn and gunicorn end a SIGTERM'd server gracefully), unchanged by us.
    assert run.returncode in (0, -signal.SIGTERM), run.log[-3000:]


@pytest.mark.parametrize("server", SERVERS)
def test_the_jobs_report_sums_every_worker(server: str, request: pytest.FixtureRequest) -> None:
    run: WorkersRun = request.getfixturevalue(server)
    report = run.report
    assert report, "no report file: the top-level process did not publish\n" + run.log[-3000:]
    # The top-level process (uvicorn's supervisor, gunicorn's master) and its two workers.
    assert report["processes"] == 3, report
    assert report["lost"] == 0, report
    assert report["signals"]["traces"]["sent"] == len(run.spans), (report["signals"], len(run.spans))
    assert report["llm"]["calls"] == run.statuses.count(200), report["llm"]
    pids = {str(s.resource.get("process.pid")) for s in run.spans if s.name == "litellm_request"}
    assert pids and str(report["pid"]) not in pids  # the workers served, not the top-level process
